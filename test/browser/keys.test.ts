/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { DB_KINDS } from '../helpers/db.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { axe, CHROMIUM, launch, watchErrors } from './browser.ts';

/**
 * An experiment with 12,000 metric keys (MLflow's UI crashes or takes minutes there: mlflow#11927) opens in the
 * browser: the column chooser lists the keys with counts and searches them, the runs table asks the server only
 * for the chosen columns, and the filter box suggests among them.
 */
const KEYS = 12_000;
const key = (i: number) => `k${String(i).padStart(5, '0')}`;

describe.skipIf(!CHROMIUM).each(DB_KINDS)('browser: an experiment with 12,000 metric keys (%s)', (kind) => {
  let s: TestServer;
  let browser: Browser;
  let ctx: BrowserContext | undefined;
  let experimentId: string;

  beforeAll(async () => {
    [s, browser] = await Promise.all([startServer(kind), launch()]);
    const auth = { Authorization: `Bearer ${s.tokens.write}` };
    const post = async (path: string, body: object) => {
      const res = await s.request.post(s.mlflow() + path).set(auth).send(body);
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    experimentId = (await post('/experiments/create', { name: 'many-keys' })).experiment_id;
    const wide = (await post('/runs/create', { experiment_id: experimentId, run_name: 'wide', start_time: 2 })).run.info.run_id;
    const narrow = (await post('/runs/create', { experiment_id: experimentId, run_name: 'narrow', start_time: 1 })).run.info.run_id;
    for (let i = 0; i < KEYS; i += 1000) {
      const metrics = Array.from({ length: 1000 }, (_, j) => ({ key: key(i + j), value: i + j, timestamp: 1, step: 0 }));
      await post('/runs/log-batch', { run_id: wide, metrics });
    }
    await post('/runs/log-batch', { run_id: narrow, metrics: [{ key: key(0), value: -1, timestamp: 1, step: 0 }, { key: key(KEYS - 1), value: -2, timestamp: 1, step: 0 }] });
  });
  afterAll(async () => {
    await ctx?.close().catch(() => {});
    await browser?.close();
    await s?.close();
  });

  it('opens; the chooser counts and searches the keys; only chosen columns are fetched; the filter box suggests them', async () => {
    ctx = await browser.newContext({ viewport: { width: 1900, height: 900 } });
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    // what the table asks the server for: the input of every ui.runs request
    const asked: { metrics: string[]; params: string[]; tags: string[] }[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('/trpc/ui.runs')) asked.push(JSON.parse(u.searchParams.get('input')!));
    });
    await page.goto(`${s.baseUrl}/api/v4/projects/${s.project.id}/ml/mlflow/#/experiments/${experimentId}`);
    await page.getByLabel('Personal access token').fill(s.tokens.write);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('2 of 2 runs').waitFor();
    // by default the first 4 metric keys are columns, and only those were asked for
    const defaults = [key(0), key(1), key(2), key(3)];
    for (const k of defaults) await page.getByRole('columnheader', { name: k }).waitFor();
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((a) => JSON.stringify(a.metrics) === JSON.stringify(defaults) && a.params.length === 0 && a.tags.length === 0)).toBe(true);

    await page.getByRole('button', { name: /^Columns/ }).click();
    const chooser = page.getByRole('dialog', { name: 'Choose columns' });
    const metrics = chooser.getByRole('group', { name: /Metrics/ });
    expect(await metrics.locator('legend').innerText()).toBe('Metrics (12,000)');
    expect(await metrics.getByRole('checkbox').count()).toBe(100);
    await metrics.getByText('11,900 more: type to narrow.').waitFor();
    expect(await axe(page)).toEqual([]);
    await chooser.getByLabel('Search keys').fill(key(KEYS - 1));
    // the key with the number of runs that have it
    await chooser.getByRole('checkbox', { name: `${key(KEYS - 1)} (2)` }).check();
    expect(await metrics.locator('legend').innerText()).toBe('Metrics (1)');
    await chooser.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('columnheader', { name: key(KEYS - 1) }).waitFor();
    const last = asked[asked.length - 1]!;
    expect(last.metrics).toEqual([...defaults, key(KEYS - 1)]);
    const grid = page.getByRole('grid', { name: 'Runs' });
    expect(await grid.getAttribute('aria-colcount')).toBe(String(1 + 6 + 5));
    const wideRow = grid.getByRole('row').filter({ hasText: 'wide' });
    expect(await wideRow.locator('[aria-colindex="12"]').innerText()).toBe(String(KEYS - 1));

    // the filter box suggests among the 12,000 keys
    const box = page.getByRole('combobox', { name: 'Filter' });
    await box.focus();
    await page.keyboard.type('metrics.k1199');
    const list = page.getByRole('listbox', { name: 'Suggestions' });
    await expect.poll(() => list.locator('[role=option] > span:first-child').allInnerTexts()).toEqual(Array.from({ length: 10 }, (_, i) => `metrics.${key(11990 + i)}`));
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await page.keyboard.type('< 0');
    expect(await box.inputValue()).toBe(`metrics.${key(KEYS - 1)} < 0`);
    await page.keyboard.press('Enter');
    await page.getByText('1 of 1 runs').waitFor();
    expect(await grid.getByRole('row').filter({ hasText: 'narrow' }).count()).toBe(1);
    expect(await axe(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
