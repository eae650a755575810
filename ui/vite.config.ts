import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The UI is served by the express app: index.html at /api/v4/projects/:id/ml/mlflow/ and at /, hashed files under
// /assets/ (cached a year). React's JSX goes through Vite's own transform (no plugin needed for a build).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    // react-query's "use client" directives mean nothing in a client-only bundle
    rollupOptions: { onwarn(w: { code?: string }, warn: (w: unknown) => void) { if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w); } },
    outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', target: 'es2022', sourcemap: false, reportCompressedSize: false },
} as never);
