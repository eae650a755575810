/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DB_KINDS } from '../helpers/db.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { mlflowApi } from '../helpers/mlflow.ts';
import { axe, CHROMIUM, launch, watchErrors } from './browser.ts';

/**
 * Journeys through the Models section of the web UI (#/models, #/models/<name>, the run page's registered versions),
 * in Debian's chromium, on both databases; models and versions are seeded over the MLflow REST API.
 */
const SHOTS = process.env.MLTRACK_SCREENSHOTS ?? '.tmp/screens';

describe.skipIf(!CHROMIUM).each(DB_KINDS)('browser: models journeys (%s)', (kind) => {
  let s: TestServer;
  let browser: Browser;
  let ui: string;
  let experimentId: string;
  const runs: Record<'trainA' | 'trainB' | 'bare', string> = { trainA: '', trainB: '', bare: '' };
  const contexts: BrowserContext[] = [];
  const api = mlflowApi(() => s);
  const ok = async (p: Promise<{ status: number; body: any }>) => {
    const res = await p;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [s, browser] = await Promise.all([startServer(kind), launch()]);
    ui = `${s.baseUrl}/api/v4/projects/${s.project.id}/ml/mlflow/`;
    experimentId = await api.newExperiment('registry-demo');
    const uris: Record<string, string> = {};
    for (const name of ['trainA', 'trainB', 'bare'] as const) {
      const run = await api.newRun(experimentId, { run_name: name });
      runs[name] = run.info.run_id;
      uris[name] = run.info.artifact_uri;
    }
    const version = (name: string, run: 'trainA' | 'trainB') => ok(api.post('/model-versions/create', { name, source: `${uris[run]}/model`, run_id: runs[run] }));
    await ok(api.post('/registered-models/create', { name: 'churn-model', description: 'Predicts churn.', tags: [{ key: 'team', value: 'growth' }] }));
    await version('churn-model', 'trainA');
    await version('churn-model', 'trainB');
    await ok(api.post('/model-versions/transition-stage', { name: 'churn-model', version: '2', stage: 'Production' }));
    await ok(api.post('/model-versions/transition-stage', { name: 'churn-model', version: '1', stage: 'Staging' }));
    await ok(api.post('/registered-models/alias', { name: 'churn-model', alias: 'champion', version: '2' }));
    await ok(api.post('/model-versions/set-tag', { name: 'churn-model', version: '1', key: 'validated', value: 'true' }));
    await ok(api.post('/registered-models/create', { name: 'churn-small' }));
    await version('churn-small', 'trainB');
    await ok(api.post('/registered-models/create', { name: 'fraud detector/v2' }));
    await version('fraud detector/v2', 'trainA');
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await s?.close();
  });

  async function open(path: string, token = s.tokens.write): Promise<{ page: Page; errors: string[] }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(ui + path);
    await page.getByLabel('Personal access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { page, errors };
  }
  const cells = (page: Page, table: string) =>
    page.getByRole('table', { name: table }).locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.replace(/\s+/g, ' ').trim())));

  it('lists the models with their latest versions and aliases; the filter narrows it and a bad filter shows the server message', async () => {
    const { page, errors } = await open('');
    await page.getByRole('banner').getByRole('link', { name: 'Models' }).click();
    await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'churn-model' }).waitFor();
    expect((await cells(page, 'Registered models')).map((r) => r.slice(0, 3))).toEqual([
      ['churn-model', 'Version 1 (Staging), Version 2 (Production)', '@champion → v2'],
      ['churn-small', 'Version 1 (None)', ''],
      ['fraud detector/v2', 'Version 1 (None)', ''],
    ]);
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/models-list-${kind}.png`, fullPage: true });

    await page.getByLabel('Filter').fill("name LIKE 'churn%'");
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForFunction(() => location.hash.includes('filter='));
    await expect.poll(async () => (await cells(page, 'Registered models')).map((r) => r[0])).toEqual(['churn-model', 'churn-small']);

    await page.getByLabel('Filter').fill('name LIKE');
    await page.getByRole('button', { name: 'Apply' }).click();
    const alert = page.locator('#model-filter-error');
    await alert.waitFor();
    const rest = await api.get('/registered-models/search', { filter: 'name LIKE' });
    expect(rest.status).toBe(400);
    expect(await alert.innerText()).toBe(rest.body.message);
    expect(await page.getByLabel('Filter').getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('Filter').fill("name = 'nothing'");
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No model matches').waitFor();
    expect(await axe(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('model page: versions with stages and aliases, tags, and the source run link opens the run page', async () => {
    const { page, errors } = await open(`#/models/${encodeURIComponent('churn-model')}`);
    await page.getByRole('heading', { name: 'churn-model', level: 1 }).waitFor();
    await page.getByText('Predicts churn.').waitFor();
    await page.getByRole('table', { name: 'Versions' }).getByRole('link', { name: 'trainB' }).waitFor();
    const rows = await cells(page, 'Versions');
    expect(rows.map((r) => [r[0], r[1], r[2], r[5], r[6]])).toEqual([
      ['2', 'Production', '@champion', 'trainB', ''],
      ['1', 'Staging', '', 'trainA', 'validated=true'],
    ]);
    expect(rows[0]![4]).toMatch(/\/model$/);
    expect(await cells(page, 'Aliases')).toEqual([['@champion', '2', 'Move alias champion Delete alias champion']]);
    expect((await cells(page, 'Model tags')).map((r) => r.slice(0, 2))).toEqual([['team', 'growth']]);
    expect(await axe(page)).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/model-page-${kind}.png`, fullPage: true });

    await page.getByRole('table', { name: 'Versions' }).getByRole('link', { name: 'trainA' }).click();
    await page.getByRole('heading', { name: 'trainA', level: 1 }).waitFor();
    expect(page.url()).toContain(`#/experiments/${experimentId}/runs/${runs.trainA}`);
    expect(errors).toEqual([]);
  });

  it('a writer sets and moves an alias, adds a tag, deletes an alias; the REST API sees each change', async () => {
    const { page, errors } = await open(`#/models/${encodeURIComponent('churn-model')}`);
    await page.getByRole('button', { name: 'Set alias' }).click();
    await page.getByLabel('Alias name').fill('staging');
    await page.getByLabel('Version').selectOption('1');
    await page.getByRole('button', { name: 'Save alias' }).click();
    await page.getByRole('button', { name: 'Move alias staging' }).waitFor();
    expect(await cells(page, 'Aliases')).toEqual([
      ['@champion', '2', 'Move alias champion Delete alias champion'],
      ['@staging', '1', 'Move alias staging Delete alias staging'],
    ]);
    expect((await ok(api.get('/registered-models/alias', { name: 'churn-model', alias: 'staging' }))).model_version.version).toBe('1');
    // the versions table shows it too
    expect((await cells(page, 'Versions')).map((r) => r[2])).toEqual(['@champion', '@staging']);

    await page.getByRole('button', { name: 'Move alias staging' }).click();
    await page.getByLabel('Version').selectOption('2');
    await page.getByRole('button', { name: 'Save alias' }).click();
    await expect.poll(() => cells(page, 'Aliases')).toEqual([
      ['@champion', '2', 'Move alias champion Delete alias champion'],
      ['@staging', '2', 'Move alias staging Delete alias staging'],
    ]);
    expect((await ok(api.get('/registered-models/alias', { name: 'churn-model', alias: 'staging' }))).model_version.version).toBe('2');

    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByLabel('Tag name').fill('owner');
    await page.getByLabel('Tag value').fill('ana');
    await page.getByRole('button', { name: 'Save tag' }).click();
    await page.getByRole('cell', { name: 'ana', exact: true }).waitFor();
    const model = (await ok(api.get('/registered-models/get', { name: 'churn-model' }))).registered_model;
    expect(model.tags).toEqual([{ key: 'owner', value: 'ana' }, { key: 'team', value: 'growth' }]);

    await page.getByRole('button', { name: 'Delete alias staging' }).click();
    await page.getByRole('button', { name: 'Move alias staging' }).waitFor({ state: 'detached' });
    expect((await ok(api.get('/registered-models/get', { name: 'churn-model' }))).registered_model.aliases).toEqual([{ alias: 'champion', version: '2' }]);
    await page.getByRole('button', { name: 'Delete tag owner' }).click();
    await page.getByRole('cell', { name: 'ana', exact: true }).waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  });

  it('a guest sees the models and versions but no edit buttons, and the server refuses the write', async () => {
    const { page, errors } = await open(`#/models/${encodeURIComponent('churn-model')}`, s.tokens.guest);
    await page.getByRole('heading', { name: 'churn-model', level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Versions' }).waitFor();
    expect(await page.getByText('(read only)').count()).toBe(1);
    expect(await page.locator('main button').count()).toBe(0);
    expect(await cells(page, 'Aliases')).toEqual([['@champion', '2']]);
    const res = await api.post('/registered-models/alias', { name: 'churn-model', alias: 'x', version: '1' }, { token: s.tokens.guest });
    expect(res.status).toBe(403);
    expect(errors).toEqual([]);
  });

  it('the run page lists the versions registered from that run, and nothing for a run without any', async () => {
    const { page, errors } = await open(`#/experiments/${experimentId}/runs/${runs.trainB}`);
    await page.getByRole('heading', { name: 'Registered model versions' }).waitFor();
    const links = page.locator('h2:text("Registered model versions") + ul a');
    expect((await links.allInnerTexts()).sort()).toEqual(['churn-model version 2', 'churn-small version 1']);
    await page.getByRole('link', { name: 'churn-small version 1' }).click();
    await page.getByRole('heading', { name: 'churn-small', level: 1 }).waitFor();
    expect(page.url()).toContain('#/models/churn-small');

    await page.goto(ui + `#/experiments/${experimentId}/runs/${runs.bare}`);
    await page.getByRole('heading', { name: 'Parameters' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Registered model versions' }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('keyboard only: from the models list to a model with a slash in its name, and setting an alias', async () => {
    const { page, errors } = await open('#/models');
    await page.getByRole('link', { name: 'fraud detector/v2' }).waitFor();
    await page.getByRole('link', { name: 'fraud detector/v2' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'fraud detector/v2', level: 1 }).waitFor();
    expect(page.url()).toContain('#/models/fraud%20detector%2Fv2');
    expect(await axe(page)).toEqual([]);
    await page.getByRole('button', { name: 'Set alias' }).focus();
    await page.keyboard.press('Enter');
    // the alias name field takes focus
    await page.keyboard.type('prod');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Move alias prod' }).waitFor();
    expect((await ok(api.get('/registered-models/alias', { name: 'fraud detector/v2', alias: 'prod' }))).model_version.version).toBe('1');
    expect(errors).toEqual([]);
  });
});
