// Builds ui/ into ui/dist when any input is newer than the last build (run from `prestart`, so
// `npm install && npm start` serves a current UI with no extra step). A fresh build takes a few seconds (Vite 8).
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'ui/dist/.build-stamp');

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = s.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

const inputs = ['ui/src', 'ui/index.html', 'ui/vite.config.ts', 'package-lock.json'].map((p) => join(root, p));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (process.argv.includes('--force') || Math.max(...inputs.map(newest)) > built) {
  console.log('[mltrack] building the web UI (ui/ → ui/dist)…');
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'ui/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
    // Vite keeps an inherited NODE_ENV: under vitest (NODE_ENV=test) it bundled React's development build (561 kB)
    env: { ...process.env, NODE_ENV: 'production' },
  });
  writeFileSync(stamp, new Date().toISOString() + '\n');
} else {
  console.log('[mltrack] web UI is up to date (ui/dist)');
}
