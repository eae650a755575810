/// <reference lib="dom" />
import { existsSync, readFileSync } from 'node:fs';
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

/** Collects uncaught page errors and Content-Security-Policy refusals; journeys expect none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  page.setDefaultTimeout(15_000);
  return errors;
}

const AXE_SOURCE = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');

/** axe-core (wcag2a, wcag2aa) on the current page: the ids and targets of violations, [] when clean. */
export async function axe(page: Page): Promise<string[]> {
  const has = await page.evaluate(() => Boolean((window as unknown as { axe?: unknown }).axe));
  // evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused)
  if (!has) await page.evaluate(AXE_SOURCE);
  const r = await page.evaluate(() => (window as unknown as { axe: { run(d: Document, o: unknown): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}
