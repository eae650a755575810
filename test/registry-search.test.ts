import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { mlflowApi } from './helpers/mlflow.ts';

/** registered-models/search and model-versions/search over HTTP, as the clients send them (model-registry.md §4). */
describe.each(DB_KINDS)('model registry search (%s)', (kind) => {
  let s: TestServer;
  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });
  const api = mlflowApi(() => s);
  const post = (path: string, body: object) => api.post(path, body);
  const get = (path: string, query: string) => api.get(path, query);
  const q = (params: Record<string, string | number | string[]>) =>
    Object.entries(params).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${encodeURIComponent(String(x))}`)).join('&');
  const models = async (params: Record<string, string | number | string[]>) => {
    const res = await get('/registered-models/search', q(params));
    expect(res.status, res.text).toBe(200);
    return res.body as { registered_models?: { name: string }[]; next_page_token?: string };
  };
  const versions = async (params: Record<string, string | number | string[]>) => {
    const res = await get('/model-versions/search', q(params));
    expect(res.status, res.text).toBe(200);
    return res.body as { model_versions?: { name: string; version: string; run_id: string; aliases?: string[] }[]; next_page_token?: string };
  };
  const error = async (path: string, params: Record<string, string | number | string[]>) => {
    const res = await get(path, q(params));
    expect(res.status, res.text).toBe(400);
    expect(res.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    return res.body.message as string;
  };
  const PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'";
  let runA: string;
  let runB: string;

  beforeAll(async () => {
    s = await startServer(kind);
    runA = (await post('/runs/create', { experiment_id: '0' })).body.run.info.run_id;
    runB = (await post('/runs/create', { experiment_id: '0' })).body.run.info.run_id;
    for (const [name, tags] of [
      ['churn', [{ key: 'team', value: 'growth' }]],
      ['Churn-EU', [{ key: 'team', value: 'growth eu' }]],
      ['fraud', [{ key: 'team', value: 'risk' }, { key: 'stage', value: 'beta' }]],
      ['my prompt', [{ key: 'mlflow.prompt.is_prompt', value: 'true' }]],
      ['plain', []],
    ] as const) {
      expect((await post('/registered-models/create', { name, tags })).status).toBe(200);
    }
    for (const [name, run, n] of [['churn', runA, 3], ['fraud', runB, 2], ['Churn-EU', runA, 1], ['my prompt', runB, 1]] as const) {
      for (let i = 0; i < n; i++) {
        const res = await post('/model-versions/create', { name, source: `s3://bucket/${name}/${i}`, run_id: run, tags: [{ key: 'i', value: String(i) }] });
        expect(res.status).toBe(200);
      }
    }
    await post('/registered-models/alias', { name: 'churn', alias: 'champion', version: '2' });
    await s.request.delete(`${s.mlflow()}/model-versions/delete`).set(auth()).send({ name: 'churn', version: '3' });
  });
  afterAll(async () => s?.close());

  it('registered models: the clients\' prompt clause, name and tag filters, case-sensitive = and LIKE, ILIKE', async () => {
    const names = async (filter: string) => (await models({ filter, max_results: 100 })).registered_models?.map((m) => m.name) ?? [];
    expect(await names(PROMPT_CLAUSE)).toEqual(['Churn-EU', 'churn', 'fraud', 'plain']);
    expect(await names('')).toEqual(['Churn-EU', 'churn', 'fraud', 'plain']);
    expect(await names(`name = 'churn' AND ${PROMPT_CLAUSE}`)).toEqual(['churn']);
    expect(await names("name LIKE 'churn%'")).toEqual(['churn']);
    expect(await names("name ILIKE 'churn%'")).toEqual(['Churn-EU', 'churn']);
    expect(await names('name != "churn"')).toEqual(['Churn-EU', 'fraud', 'plain']);
    expect(await names("tags.team LIKE 'growth%'")).toEqual(['Churn-EU', 'churn']);
    // a tag clause needs the tag, != included
    expect(await names("tag.team != 'risk'")).toEqual(['Churn-EU', 'churn']);
    expect(await names("tag.`mlflow.prompt.is_prompt` = 'true'")).toEqual(['my prompt']);
    const m = (await models({ filter: "name = 'churn'" })).registered_models![0] as Record<string, unknown>;
    expect(m.aliases).toEqual([{ alias: 'champion', version: '2' }]);
    expect((m.latest_versions as { version: string }[]).map((v) => v.version)).toEqual(['2']);
  });

  it('registered models: order_by, paging that equals one large page, max_results bounds', async () => {
    const all = (await models({ max_results: 100, order_by: ['timestamp DESC'] })).registered_models!.map((m) => m.name);
    expect([...all].sort()).toEqual(['Churn-EU', 'churn', 'fraud', 'plain']);
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const p = await models({ max_results: 1, order_by: ['timestamp DESC'], ...(token ? { page_token: token } : {}) });
      paged.push(...p.registered_models!.map((m) => m.name));
      token = p.next_page_token;
    } while (token);
    expect(paged).toEqual(all);
    expect((await models({ max_results: 100, order_by: ['name DESC'] })).registered_models!.map((m) => m.name)).toEqual(['plain', 'fraud', 'churn', 'Churn-EU']);
    expect((await models({ max_results: 4 })).next_page_token).toBeUndefined();
    expect(await error('/registered-models/search', { max_results: 1001 })).toBe('Invalid value for request parameter max_results. It must be at most 1000, but got value 1001');
    expect(await error('/registered-models/search', { max_results: 0 })).toBe('Invalid value for max_results. It must be a positive integer, but got 0');
    expect(await error('/registered-models/search', { order_by: 'creation_timestamp' })).toBe("Invalid order by key 'creation_timestamp' specified. Valid keys are '{'timestamp', 'name'}'");
    expect(await error('/registered-models/search', { order_by: 'name DOWN' })).toBe("Invalid ordering key in order_by clause 'name DOWN'.");
    expect(await error('/registered-models/search', { order_by: ['name', 'name DESC'] })).toMatch(/^`order_by` contains duplicate fields/);
    expect(await error('/registered-models/search', { filter: "description = 'x'" })).toBe("Invalid attribute key 'description' specified. Valid keys are '{'name'}'");
    expect(await error('/registered-models/search', { filter: "name > 'a'" })).toBe('Invalid comparator for attribute: >');
    expect(await error('/registered-models/search', { filter: "metrics.x = 'a'" })).toBe("Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
    expect(await error('/registered-models/search', { filter: "name = 'a' OR name = 'b'" })).toMatch(/OR/);
    expect(await error('/registered-models/search', { page_token: 'garbage!' })).toMatch(/^Invalid page token/);
  });

  it('model versions: attributes, run_id IN, version_number, tags; deleted and prompt versions never returned', async () => {
    const vs = async (filter: string, extra: Record<string, string | number | string[]> = {}) =>
      ((await versions({ filter, max_results: 10000, ...extra })).model_versions ?? []).map((v) => `${v.name}/${v.version}`);
    // default order: last updated first, then name, then version descending
    expect((await vs("name = 'churn'")).sort()).toEqual(['churn/1', 'churn/2']);
    expect(await vs("name = 'churn'", { order_by: 'version_number ASC' })).toEqual(['churn/1', 'churn/2']);
    expect(await vs(`run_id = '${runB}'`, { order_by: 'version_number' })).toEqual(['fraud/1', 'fraud/2']);
    expect((await vs(`run_id IN ('${runA}', '${runB}')`)).sort()).toEqual(['Churn-EU/1', 'churn/1', 'churn/2', 'fraud/1', 'fraud/2']);
    expect(await vs("version_number > 1.5 AND name ILIKE 'CHURN%'", { order_by: ['name', 'version_number'] })).toEqual(['churn/2']);
    expect(await vs("source_path LIKE 's3://bucket/fraud/%'", { order_by: 'version_number DESC' })).toEqual(['fraud/2', 'fraud/1']);
    expect(await vs("tags.i = '1'", { order_by: 'name' })).toEqual(['churn/2', 'fraud/2']);
    expect(await vs("name = 'my prompt'")).toEqual([]);
    // search results carry tags but no aliases
    const v = (await versions({ filter: "name = 'churn'", order_by: 'version_number DESC' })).model_versions![0]!;
    expect(v).toMatchObject({ version: '2', tags: [{ key: 'i', value: '1' }] });
    expect(v.aliases).toBeUndefined();
  });

  it('model versions: paging equals one large page; errors with MLflow\'s messages', async () => {
    const one = (await versions({ max_results: 100 })).model_versions!.map((v) => `${v.name}/${v.version}`);
    expect(one).toHaveLength(5);
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const p = await versions({ max_results: 2, ...(token ? { page_token: token } : {}) });
      paged.push(...p.model_versions!.map((v) => `${v.name}/${v.version}`));
      token = p.next_page_token;
    } while (token);
    expect(paged).toEqual(one);
    expect(await error('/model-versions/search', { filter: "current_stage = 'None'" })).toBe(
      "Invalid attribute key 'current_stage' specified. Valid keys are '{'name', 'run_id', 'source_path', 'version_number'}'",
    );
    expect(await error('/model-versions/search', { filter: "name IN ('a')" })).toBe("Only the 'run_id' attribute supports comparison with a list of quoted string values.");
    expect(await error('/model-versions/search', { max_results: 0 })).toBe('Invalid value for max_results. It must be a positive integer, but got 0');
    expect(await error('/model-versions/search', { max_results: 200001 })).toBe('Invalid value for request parameter max_results. It must be at most 200000, but got value 200001');
    expect(await error('/model-versions/search', { order_by: 'version' })).toMatch(/^Invalid order by key 'version' specified/);
    // a token of the models search is not accepted here
    const modelsToken = (await models({ max_results: 1 })).next_page_token!;
    expect(await error('/model-versions/search', { page_token: modelsToken })).toMatch(/^Invalid page token: it was issued by another kind of search/);
  });

  it('another project sees none of these models or versions', async () => {
    const res = await s.request.get(`${s.mlflow(s.another)}/registered-models/search`).set(auth());
    expect(res.body).toEqual({});
    const vres = await s.request.get(`${s.mlflow(s.another)}/model-versions/search`).set(auth());
    expect(vres.body).toEqual({});
  });
});
