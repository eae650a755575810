/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Browser tests drive Debian's chromium through playwright-core (no browser download). Without chromium they skip
 * with a message locally; with CI=true a missing chromium is an error (and .ci/run fails on skipped browser tests).
 */
export const CHROMIUM = process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  if (process.env.CI) throw new Error('CI=true but chromium is missing: install it with `apt-get install -y chromium` (or set CHROMIUM=/path/to/chromium).');
  console.warn('[mltrack] browser tests SKIPPED: no chromium. Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or set CHROMIUM=/path/to/chromium.');
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Fails the journey on any uncaught page error. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(15_000);
  return errors;
}

/** axe-core (wcag2a, wcag2aa) on the current page: the ids and targets of violations, [] when clean. */
export async function axe(page: Page): Promise<string[]> {
  const has = await page.evaluate(() => Boolean((window as unknown as { axe?: unknown }).axe));
  if (!has) await page.addScriptTag({ path: 'node_modules/axe-core/axe.min.js' });
  const r = await page.evaluate(() => (window as unknown as { axe: { run(d: Document, o: unknown): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}
