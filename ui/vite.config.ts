import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The UI is served by the express app: index.html at /api/v4/projects/:id/ml/mlflow/ and at /, hashed files under
// /assets/ (cached a year). React's JSX goes through Vite's own transform (no plugin needed for a build).
// main.tsx (the entry) starts the route's requests, then imports start.tsx (the app). The app chunk and its CSS are
// named in index.html too, so the browser fetches them alongside the entry instead of after it has run.
const preloadApp = {
  name: 'mltrack-preload-app',
  transformIndexHtml: {
    order: 'post' as const,
    handler(_html: string, ctx: { bundle?: Record<string, { type: string; fileName: string; facadeModuleId?: string | null; isEntry?: boolean; imports?: string[]; viteMetadata?: { importedCss: Set<string> } }> }) {
      const chunks = Object.values(ctx.bundle ?? {});
      const app = chunks.find((c) => c.type === 'chunk' && c.facadeModuleId?.endsWith('/src/start.tsx'));
      if (!app) return [];
      const entries = new Set(chunks.filter((c) => c.isEntry).map((c) => c.fileName));
      const files = [app.fileName, ...(app.imports ?? [])].filter((f) => !entries.has(f));
      return [
        ...files.map((f) => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: '', href: `/${f}` }, injectTo: 'head' as const })),
        ...[...(app.viteMetadata?.importedCss ?? [])].map((f) => ({ tag: 'link', attrs: { rel: 'stylesheet', crossorigin: '', href: `/${f}` }, injectTo: 'head' as const })),
      ];
    },
  },
};

export default defineConfig({
  plugins: [preloadApp],
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    // react-query's "use client" directives mean nothing in a client-only bundle
    rollupOptions: { onwarn(w: { code?: string }, warn: (w: unknown) => void) { if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w); } },
    outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', target: 'es2022', sourcemap: false, reportCompressedSize: false },
} as never);
