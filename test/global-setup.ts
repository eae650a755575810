import { execFileSync } from 'node:child_process';

/** Builds the web UI once (when stale) before any test file runs: parallel test files must not race two builds. */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-ui-if-stale.mjs'], { stdio: 'inherit' });
}
