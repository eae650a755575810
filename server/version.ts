import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** package.json is one level up from server/ and two from the compiled dist/server/. */
function readVersion(): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'mltrack' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  throw new Error('mltrack: package.json not found next to the server');
}

export const VERSION: string = readVersion();
