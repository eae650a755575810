// Compiles the server to JavaScript in dist/ (tsc, tsconfig.build.json) when a source is newer than the last build.
// Plain JavaScript so that `npm start` runs it with node alone. Run at install (`prepare`) and by `npm start`.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const SOURCES = ['server', 'routers', 'db', 'core', 'artifacts', 'scripts', 'client', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

function newest(p) {
  let st;
  try { st = fs.statSync(p); } catch { return 0; }
  if (!st.isDirectory()) return p.endsWith('.ts') || p.endsWith('.json') ? st.mtimeMs : 0;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
const force = process.argv.includes('--force');
if (!force && built && SOURCES.every((s) => newest(path.join(root, s)) <= built)) process.exit(0);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const t0 = Date.now();
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
fs.writeFileSync(stamp, new Date().toISOString() + '\n');
console.error(`build:server: compiled to dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
