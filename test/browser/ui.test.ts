/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DB_KINDS } from '../helpers/db.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { axe, CHROMIUM, launch, watchErrors } from './browser.ts';
import { seed, type Seeded } from './seed.ts';

/**
 * Journeys through the web UI in Debian's chromium, asserting what the user sees (roles, names, counts, values),
 * with axe-core (wcag2a, wcag2aa) on every route. Screenshots go to .tmp/screens/, or to the directory in
 * MLTRACK_SCREENSHOTS (`npm run screenshots` writes the README's under docs/).
 * One file over 300 lines on purpose: the journeys share one seeded server and one chromium per database (starting
 * them is most of the cost), and each journey reads top to bottom as a user would walk it.
 */
const SHOTS = process.env.MLTRACK_SCREENSHOTS ?? '.tmp/screens';

/** The UI keeps each drawn uPlot chart here (ui/src/views/Chart.tsx), so tests read what is drawn. */
interface DrawnChart { data: number[][]; series: { label?: string }[] }
declare global { interface Window { __mltrackCharts?: Record<string, DrawnChart> } }

describe.skipIf(!CHROMIUM).each(DB_KINDS)('browser: web UI journeys (%s)', (kind) => {
  let s: TestServer;
  let browser: Browser;
  let data: Seeded;
  let ui: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [s, browser] = await Promise.all([startServer(kind), launch()]);
    data = await seed(s);
    ui = `${s.baseUrl}/api/v4/projects/${s.project.id}/ml/mlflow/`;
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await s?.close();
  });

  async function open(path = '', viewport = { width: 1280, height: 800 }): Promise<{ page: Page; errors: string[] }> {
    const ctx = await browser.newContext({ viewport, acceptDownloads: true });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(ui + path);
    return { page, errors };
  }

  async function signInWithToken(page: Page, token: string) {
    await page.getByLabel('Personal access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  const text = async (page: Page, selector: string) => (await page.locator(selector).allInnerTexts()).map((t) => t.trim());

  it('signs in with a token, lists experiments with run counts, and opens the link the MLflow client prints', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}/runs/${data.runs.baseline}`);
    await page.getByRole('heading', { name: 'Sign in to mltrack' }).waitFor();
    expect(await axe(page)).toEqual([]);
    await page.getByLabel('Personal access token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').innerText()).toBe('That access token is not valid (unknown, expired or revoked).');
    await signInWithToken(page, s.tokens.write);
    // the deep link the MLflow client printed opens the run page
    await page.getByRole('heading', { name: 'baseline', level: 1 }).waitFor();
    expect(page.url()).toContain(`#/experiments/${data.experimentId}/runs/${data.runs.baseline}`);
    expect(page.url()).not.toContain(s.tokens.write);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['mltrack_session', true, 'Strict']]);
    expect(await page.evaluate(() => document.cookie)).toBe('');

    await page.getByRole('link', { name: 'mltrack' }).click();
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'vision' });
    await row.waitFor();
    expect((await row.getByRole('cell').allInnerTexts()).slice(0, 3)).toEqual([data.experimentId, 'vision', '3']);
    expect(await axe(page)).toEqual([]);
    // search by name
    await page.getByLabel('Search').fill('nothing-like-this');
    await page.getByText('No experiment matches “nothing-like-this”.').waitFor();
    await page.getByLabel('Search').fill('vis');
    await row.waitFor();
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('link', { name: 'group/project' }).waitFor();
    expect(await text(page, 'main li a')).toEqual(['group/another', 'group/project', 'open/public']);
    expect(await axe(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('experiments: create, rename, delete and restore', async () => {
    const { page, errors } = await open();
    await signInWithToken(page, s.tokens.write);
    await page.getByLabel('New experiment').fill('scratch');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('link', { name: 'scratch' }).waitFor();
    await page.getByRole('button', { name: 'Rename scratch' }).click();
    await page.getByLabel('New name for scratch').fill('scratch-2');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'scratch-2' }).waitFor();
    await page.getByRole('button', { name: 'Delete scratch-2' }).click();
    await page.getByRole('link', { name: 'scratch-2' }).waitFor({ state: 'detached' });
    await page.getByLabel('Show deleted').check();
    await page.getByRole('button', { name: 'Restore scratch-2' }).click();
    await page.getByText('No deleted experiments.').waitFor();
    await page.getByLabel('Show deleted').uncheck();
    await page.getByRole('link', { name: 'scratch-2' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('runs table: counts, sort by a metric, filter with inline parse errors, column chooser, state in the URL, CSV', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}`);
    await signInWithToken(page, s.tokens.write);
    await page.getByText('3 of 3 runs').waitFor();
    const grid = page.getByRole('grid', { name: 'Runs' });
    expect(await grid.getAttribute('aria-rowcount')).toBe('4');
    const names = () => grid.locator('[role=row] [aria-colindex="2"] a').allInnerTexts();
    // newest first by default
    expect(await names()).toEqual(['deep', 'wide', 'baseline']);
    expect(await axe(page)).toEqual([]);
    await page.getByRole('button', { name: 'acc', exact: true }).click();
    await page.waitForFunction(() => location.hash.includes('sort=metrics.acc'));
    expect(await names()).toEqual(['wide', 'baseline', 'deep']);
    expect(await page.getByRole('columnheader', { name: /^acc/ }).getAttribute('aria-sort')).toBe('descending');
    await page.getByRole('button', { name: /^acc/ }).click();
    expect(await names()).toEqual(['deep', 'baseline', 'wide']);

    await page.getByLabel('Filter').fill('metrics.acc >');
    await page.getByRole('button', { name: 'Apply' }).click();
    const alert = page.locator('#filter-error');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/filter|Invalid|expected|parse/i);
    await page.getByLabel('Filter').fill('metrics.acc > 0.5 and params.model = "cnn"');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('2 of 2 runs').waitFor();
    expect(await names()).toEqual(['baseline', 'wide']);

    await page.getByRole('button', { name: /^Columns/ }).click();
    const chooser = page.getByRole('dialog', { name: 'Choose columns' });
    // the experiment's keys with the number of runs that have each
    expect(await chooser.getByRole('group', { name: /Metrics/ }).getByRole('checkbox').evaluateAll((els) => els.map((e) => e.parentElement!.textContent!.replace(/\s+/g, ' ').trim()))).toEqual(['acc (3)', 'loss (3)']);
    expect(await chooser.getByRole('group', { name: /Params/ }).getByRole('checkbox').evaluateAll((els) => els.map((e) => e.parentElement!.textContent!.replace(/\s+/g, ' ').trim()))).toEqual(['lr (3)', 'model (3)']);
    await chooser.getByLabel('Search keys').fill('tea');
    await chooser.getByRole('checkbox', { name: 'team (3)' }).check();
    await chooser.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('columnheader', { name: 'team' }).waitFor();
    expect(decodeURIComponent(page.url())).toContain('t:team');
    // the URL alone restores filter, sort and columns
    const again = await page.context().newPage();
    await again.goto(page.url());
    await again.getByText('2 of 2 runs').waitFor();
    await again.getByRole('columnheader', { name: 'team' }).waitFor();
    expect(await again.getByRole('grid').locator('[role=row] [aria-colindex="2"] a').allInnerTexts()).toEqual(['baseline', 'wide']);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8').split('\r\n');
    expect(csv[0]).toBe('run_id,Run name,Status,Started,Duration,User,Source,acc,loss,lr,model,team');
    expect(csv[1]).toMatch(new RegExp(`^${data.runs.baseline},baseline,FINISHED,\\d+,90000,.*,train.py,0.6,`));
    expect(csv.length).toBe(4);
    expect(errors).toEqual([]);
  });

  it('running runs refresh by themselves without re-sorting under the user', async () => {
    const auth = { Authorization: `Bearer ${s.tokens.write}` };
    const post = (path: string, body: object) => s.request.post(s.mlflow() + path).set(auth).send(body);
    const eid = (await post('/experiments/create', { name: 'live' })).body.experiment_id;
    const done = (await post('/runs/create', { experiment_id: eid, run_name: 'done', start_time: 1 })).body.run.info.run_id;
    const live = (await post('/runs/create', { experiment_id: eid, run_name: 'live', start_time: 2 })).body.run.info.run_id;
    await post('/runs/log-metric', { run_id: done, key: 'acc', value: 0.5, timestamp: 1, step: 0 });
    await post('/runs/update', { run_id: done, status: 'FINISHED', end_time: 10 });
    await post('/runs/log-metric', { run_id: live, key: 'acc', value: 0.1, timestamp: 1, step: 0 });
    const { page, errors } = await open(`#/experiments/${eid}?sort=metrics.acc:desc`);
    await signInWithToken(page, s.tokens.write);
    const grid = page.getByRole('grid', { name: 'Runs' });
    await grid.getByRole('row').filter({ hasText: 'RUNNING' }).waitFor();
    const names = () => grid.locator('[role=row] [aria-colindex="2"] a').allInnerTexts();
    expect(await names()).toEqual(['done', 'live']);
    await post('/runs/log-metric', { run_id: live, key: 'acc', value: 0.9, timestamp: 2, step: 1 });
    // within a refresh (5 s) the new value shows, and the row stays where the user saw it
    await grid.getByRole('row').filter({ hasText: 'live' }).getByText('0.9', { exact: true }).waitFor();
    expect(await names()).toEqual(['done', 'live']);
    expect(errors).toEqual([]);
  });

  it('run page: info, params, description, charts of the whole history downsampled, tags add/edit/delete', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}/runs/${data.runs.baseline}`);
    await signInWithToken(page, s.tokens.write);
    await page.getByRole('heading', { name: 'baseline', level: 1 }).waitFor();
    const info = page.getByRole('table', { name: 'Run information' });
    expect(await info.getByRole('row', { name: /Status/ }).innerText()).toContain('FINISHED');
    expect(await info.getByRole('row', { name: /Duration/ }).innerText()).toContain('1.5 min');
    expect(await info.getByRole('row', { name: /Source/ }).innerText()).toContain('train.py');
    expect(await page.getByRole('table', { name: 'Parameters' }).innerText()).toMatch(/lr\s+0\.1/);
    await page.getByText('The first try.').waitFor();
    const metrics = page.getByRole('table', { name: 'Metrics' });
    await metrics.getByRole('row', { name: /loss/ }).getByText(String(data.lossPoints)).waitFor();
    // min/max kept through downsampling: the spike of 50 at step 2500 is the max
    expect(await metrics.getByRole('row', { name: /loss/ }).getByRole('cell').allInnerTexts()).toEqual(['loss', expect.any(String), expect.stringMatching(/^0\.0/), '50', '5000']);
    expect(await axe(page)).toEqual([]);

    // tags
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByLabel('Tag name').fill('stage');
    await page.getByLabel('Tag value').fill('draft');
    await page.getByRole('button', { name: 'Save tag' }).click();
    const tags = page.getByRole('table', { name: 'Tags' });
    await tags.getByRole('row', { name: /stage\s+draft/ }).waitFor();
    await page.getByRole('button', { name: 'Edit tag stage' }).click();
    await page.getByLabel('Tag value').fill('final');
    await page.getByRole('button', { name: 'Save tag' }).click();
    await tags.getByRole('row', { name: /stage\s+final/ }).waitFor();
    await page.getByRole('button', { name: 'Delete tag stage' }).click();
    await tags.getByRole('row', { name: /stage/ }).waitFor({ state: 'detached' });

    await page.getByRole('link', { name: 'Charts' }).click();
    const card = page.getByRole('figure', { name: 'Chart of loss' });
    const caption = card.getByTestId('chart-caption');
    await caption.getByText(/points drawn of 5,000 logged/).waitFor();
    const drawn = Number((await caption.innerText()).split(' ')[0]!.replace(/,/g, ''));
    const width = await card.evaluate((el) => el.clientWidth);
    expect(drawn).toBeGreaterThan(100);
    expect(drawn).toBeLessThanOrEqual(2 * width);
    const chart = await page.evaluate(() => {
      const u = window.__mltrackCharts!.loss!;
      const xs = u.data[0]!, band = u.data[3]!;
      return { n: xs.length, maxBand: Math.max(...band), first: xs[0], last: xs[xs.length - 1] };
    });
    expect(chart).toEqual({ n: drawn, maxBand: 50, first: 0, last: 4999 });
    if (!process.env.MLTRACK_SCREENSHOTS) await page.screenshot({ path: `${SHOTS}/run-page-${kind}.png` });
    if (kind === 'sqlite' && process.env.MLTRACK_SCREENSHOTS) await page.screenshot({ path: `${SHOTS}/run-charts.png` });
    await page.getByLabel('Log scale').check();
    await page.getByLabel('X axis').selectOption('relative');
    await page.waitForFunction(() => location.hash.includes('x=relative') && location.hash.includes('log=1'));
    await caption.getByText(/points drawn/).waitFor();
    expect(await axe(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('compare two runs: params side by side, only differences, an overlay chart', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}`);
    await signInWithToken(page, s.tokens.write);
    await page.getByText('3 of 3 runs').waitFor();
    await page.getByRole('checkbox', { name: 'Select run wide' }).check();
    await page.getByRole('checkbox', { name: 'Select run deep' }).check();
    if (kind === 'sqlite' && process.env.MLTRACK_SCREENSHOTS) await page.screenshot({ path: `${SHOTS}/runs-table.png` });
    await page.getByRole('link', { name: 'Compare (2)' }).click();
    await page.getByRole('heading', { name: 'Comparing 2 runs' }).waitFor();
    const table = page.getByRole('table', { name: 'Parameters and latest metrics side by side' });
    expect(await table.getByRole('row').allInnerTexts()).toEqual([
      'Name\twide\tdeep', 'param lr\t0.01\t0.01', 'param model\tcnn\tresnet', 'metric acc\t0.9\t0.3', 'metric loss\t2.06236\t2.16236',
    ]);
    await page.getByLabel('Only differences').check();
    expect(await table.getByRole('row').allInnerTexts()).toEqual(['Name\twide\tdeep', 'param model\tcnn\tresnet', 'metric acc\t0.9\t0.3', 'metric loss\t2.06236\t2.16236']);
    // one overlay chart per chosen metric: the first one by default, more from the picker
    const picker = page.getByRole('group', { name: /^Metrics to chart/ });
    await page.getByRole('figure', { name: 'Chart of acc' }).getByText('2 points drawn of 2 logged').waitFor();
    await picker.getByRole('checkbox', { name: 'loss' }).check();
    await page.getByRole('figure', { name: 'Chart of loss' }).getByText('40 points drawn of 40 logged').waitFor();
    expect(await page.getByRole('figure', { name: /^Chart of / }).count()).toBe(2);
    const labels = () => page.evaluate(() => Object.fromEntries(Object.entries(window.__mltrackCharts!).map(([k, u]) => [k, u.series.map((x) => x.label)])));
    expect(await labels()).toEqual({ acc: ['step', 'wide', 'deep'], loss: ['step', 'wide', 'deep'] });
    expect(await axe(page)).toEqual([]);
    await picker.getByRole('checkbox', { name: 'acc' }).uncheck();
    await page.getByRole('figure', { name: 'Chart of acc' }).waitFor({ state: 'detached' });
    expect(await labels()).toEqual({ loss: ['step', 'wide', 'deep'] });
    expect(decodeURIComponent(page.url())).toContain('charts=loss');
    expect(errors).toEqual([]);
  });

  it('compare three runs: the picked metrics each get an overlay chart with one series per run, in the URL', async () => {
    const charts = encodeURIComponent('acc\nloss');
    const ids = [data.runs.baseline, data.runs.wide, data.runs.deep].join(',');
    const { page, errors } = await open(`#/experiments/${data.experimentId}/compare?runs=${ids}&charts=${charts}`);
    await signInWithToken(page, s.tokens.write);
    await page.getByRole('heading', { name: 'Comparing 3 runs' }).waitFor();
    await page.getByRole('figure', { name: 'Chart of loss' }).getByText(/points drawn of 5,040 logged/).waitFor();
    await page.getByRole('figure', { name: 'Chart of acc' }).getByText('3 points drawn of 3 logged').waitFor();
    const drawn = await page.evaluate(() => Object.fromEntries(Object.entries(window.__mltrackCharts!).map(([k, u]) => [k, { series: u.series.map((x) => x.label), columns: u.data.length }])));
    // x + one series per run, each named after its run
    expect(drawn).toEqual({ acc: { series: ['step', 'baseline', 'wide', 'deep'], columns: 4 }, loss: { series: ['step', 'baseline', 'wide', 'deep'], columns: 4 } });
    expect(await page.getByRole('group', { name: 'Metrics to chart (2 of 2)' }).getByRole('checkbox', { checked: true }).count()).toBe(2);
    expect(errors).toEqual([]);
  });

  it('filter box: suggests keys, operators and `and` as you type, taken with the keyboard (combobox pattern)', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}`);
    await signInWithToken(page, s.tokens.write);
    await page.getByText('3 of 3 runs').waitFor();
    const box = page.getByRole('combobox', { name: 'Filter' });
    const list = page.getByRole('listbox', { name: 'Suggestions' });
    const options = () => list.locator('[role=option] > span:first-child').allInnerTexts();
    await box.focus();
    await page.keyboard.type('met');
    await list.waitFor();
    await expect.poll(options).toEqual(['metrics.acc', 'metrics.loss']);
    expect(await box.getAttribute('aria-expanded')).toBe('true');
    expect(await list.getByRole('option', { name: /metrics\.acc/ }).innerText()).toContain('3 runs');
    await page.keyboard.press('Escape');
    await list.waitFor({ state: 'hidden' });
    expect(await box.getAttribute('aria-expanded')).toBe('false');
    await page.keyboard.press('ArrowDown');
    const first = list.getByRole('option').first();
    expect(await box.getAttribute('aria-activedescendant')).toBe(await first.getAttribute('id'));
    expect(await first.getAttribute('aria-selected')).toBe('true');
    expect(await axe(page)).toEqual([]);
    await page.keyboard.press('Enter');
    expect(await box.inputValue()).toBe('metrics.acc ');
    // after a metric key: numeric operators
    await expect.poll(options).toEqual(['=', '!=', '>', '>=', '<', '<=']);
    await page.keyboard.type('>');
    await expect.poll(options).toEqual(['>', '>=']);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.keyboard.type('0.5 ');
    await expect.poll(options).toEqual(['and']);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    await page.keyboard.type('params.mo');
    await expect.poll(options).toEqual(['params.model']);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    // after a param key: string operators
    await expect.poll(options).toEqual(['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN']);
    await page.keyboard.type('= "cnn"');
    expect(await box.getAttribute('aria-expanded')).toBe('false');
    expect(await box.inputValue()).toBe('metrics.acc > 0.5 and params.model = "cnn"');
    // Enter with no option chosen applies the filter
    await page.keyboard.press('Enter');
    await page.getByText('2 of 2 runs').waitFor();
    expect(new URLSearchParams(page.url().split('?')[1]).get('filter')).toBe('metrics.acc > 0.5 and params.model = "cnn"');
    expect(errors).toEqual([]);
  });

  it('artifacts: tree, text preview with load more, JSON, CSV table, sandboxed HTML, download', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}/runs/${data.runs.baseline}?tab=artifacts`);
    await signInWithToken(page, s.tokens.write);
    const tree = page.getByRole('tree', { name: 'Artifacts' });
    await tree.getByRole('button', { name: 'notes.txt' }).click();
    const preview = page.getByRole('region', { name: 'Preview of notes.txt' });
    await preview.getByText('hello from the baseline run').waitFor();
    await preview.getByRole('button', { name: /Load more \(65,536 of 100,028 bytes shown\)/ }).click();
    await preview.getByRole('button', { name: /Load more/ }).waitFor({ state: 'detached' });
    const [download] = await Promise.all([page.waitForEvent('download'), preview.getByRole('link', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe('notes.txt');
    expect(readFileSync((await download.path())!, 'utf8').length).toBe(100_028);
    expect(await axe(page)).toEqual([]);

    await tree.getByRole('button', { name: '▸ eval' }).click();
    await tree.getByRole('button', { name: 'metrics.json' }).click();
    await page.getByRole('region', { name: 'Preview of eval/metrics.json' }).getByText('"accuracy": 0.6').waitFor();
    await tree.getByRole('button', { name: 'predictions.csv' }).click();
    const csv = page.getByRole('region', { name: 'Preview of eval/predictions.csv' }).getByRole('table');
    await csv.waitFor();
    expect(await csv.getByRole('row').allInnerTexts()).toEqual(['id\tlabel\tscore', '1\tcat\t0.9', '2\tdog\t0.7']);
    await tree.getByRole('button', { name: 'report.html' }).click();
    const frame = page.frameLocator('iframe[title="HTML preview"]');
    await frame.getByRole('heading', { name: 'Report' }).waitFor();
    expect(await page.locator('iframe[title="HTML preview"]').getAttribute('sandbox')).toBe('');
    expect(await page.title()).toBe('mltrack'); // the artifact's script did not run
    expect(await axe(page)).toEqual([]);
    expect(errors.filter((e) => !/Blocked script execution/.test(e))).toEqual([]);
  });

  it('a guest sees no edit buttons, and the server refuses the write anyway; sign-out ends the session', async () => {
    const { page, errors } = await open(`#/experiments/${data.experimentId}/runs/${data.runs.baseline}`);
    await signInWithToken(page, s.tokens.guest);
    await page.getByRole('heading', { name: 'baseline', level: 1 }).waitFor();
    await page.getByText('(read only)').waitFor();
    await page.getByRole('table', { name: 'Tags' }).waitFor();
    expect(await page.getByRole('button', { name: /Add tag|Edit|Delete/ }).count()).toBe(0);
    await page.getByRole('link', { name: 'mltrack' }).click();
    await page.getByRole('row').filter({ hasText: 'vision' }).waitFor();
    expect(await page.getByRole('button', { name: /Create|Rename|Delete/ }).count()).toBe(0);
    await page.goto(`${ui}#/experiments/${data.experimentId}`);
    await page.getByText('3 of 3 runs').waitFor();
    expect(await page.getByRole('button', { name: /Delete selected/ }).count()).toBe(0);
    const status = await page.evaluate(async ([base, run]) => {
      const r = await fetch(`${base}api/2.0/mlflow/runs/set-tag`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mltrack-ui': '1' }, body: JSON.stringify({ run_id: run, key: 'x', value: 'y' }) });
      return [r.status, (await r.json()).error_code];
    }, [ui, data.runs.baseline]);
    expect(status).toEqual([403, 'PERMISSION_DENIED']);
    expect(await axe(page)).toEqual([]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to mltrack' }).waitFor();
    const after = await page.evaluate(async (base) => (await fetch(`${base}api/2.0/mlflow/experiments/list`)).status, ui);
    expect(after).toBe(401);
    expect(errors).toEqual([]);
  });

  it('keyboard only: sign in, open an experiment, sort, open a run', async () => {
    const { page, errors } = await open();
    const tabTo = async (match: (el: { tag: string; text: string; label: string }) => boolean, max = 60) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        const el = await page.evaluate(() => {
          const a = document.activeElement as HTMLElement | null;
          return { tag: a?.tagName ?? '', text: (a?.innerText ?? '').trim(), label: a?.getAttribute('aria-label') ?? (a as HTMLInputElement | null)?.labels?.[0]?.innerText ?? '' };
        });
        if (match(el)) return;
      }
      throw new Error('focus never reached the element');
    };
    await page.getByRole('heading', { name: 'Sign in to mltrack' }).waitFor();
    await tabTo((e) => e.label.includes('Personal access token'));
    await page.keyboard.type(s.tokens.write);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await tabTo((e) => e.tag === 'A' && e.text === 'vision');
    await page.keyboard.press('Enter');
    await page.getByText('3 of 3 runs').waitFor();
    await tabTo((e) => e.tag === 'BUTTON' && e.text === 'acc');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash.includes('sort=metrics.acc'));
    await tabTo((e) => e.tag === 'A' && e.text === 'wide');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'wide', level: 1 }).waitFor();
    // focus is visible
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    expect(errors).toEqual([]);
  });

  it('empty, 404 and unknown-route states tell the user what to do', async () => {
    const { page, errors } = await open(`#/experiments/999`);
    await signInWithToken(page, s.tokens.write);
    const alert = page.getByRole('alert');
    await alert.getByText('Not found').waitFor();
    expect(await alert.innerText()).toContain('Go back to the list');
    expect(await axe(page)).toEqual([]);
    await page.goto(`${ui}#/nowhere/at/all`);
    await page.getByText('There is no page at this address.').waitFor();
    await page.goto(`${s.baseUrl}/api/v4/projects/${s.another.id + 1000}/ml/mlflow/`);
    await page.getByText('Project not found').waitFor();
    expect(await axe(page)).toEqual([]);
    expect(errors).toEqual([]);
  });
});
