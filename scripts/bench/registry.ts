import { call, fmt, median, now, type BenchTarget } from './common.ts';
import { chunk, INSERT_CHUNK } from '../../db/tx.ts';

const CREATES = Number(process.env.BENCH_REGISTRY_CREATES ?? 300);

/**
 * Model registry: model-versions/create through HTTP, one client and 8 concurrent clients on one model (they queue
 * on the model's version counter), next to the same minimal transaction (bump the counter, read it, insert the
 * version row) issued by knex directly in the same run.
 */
export async function benchRegistryCreate(t: BenchTarget): Promise<void> {
  await call(t, 'POST', '/registered-models/create', { name: 'bench-seq' });
  const seq: number[] = [];
  const t0 = now();
  for (let i = 0; i < CREATES; i++) {
    const s = now();
    await call(t, 'POST', '/model-versions/create', { name: 'bench-seq', source: 's3://bucket/model', tags: [{ key: 'k', value: 'v' }] });
    seq.push(now() - s);
  }
  const seqRate = CREATES / ((now() - t0) / 1000);

  await call(t, 'POST', '/registered-models/create', { name: 'bench-par' });
  const t1 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < CREATES) await call(t, 'POST', '/model-versions/create', { name: 'bench-par', source: 's3://bucket/model' });
    }),
  );
  const parRate = CREATES / ((now() - t1) / 1000);
  const versions = await t.db('model_versions as v').join('registered_models as m', 'm.id', 'v.model_id').where('m.name', 'bench-par').count({ n: '*' }).first();
  if (Number(versions!.n) !== CREATES) throw new Error(`expected ${CREATES} versions, found ${versions!.n}`);

  // baseline: the same transaction without HTTP, auth, validation or answer
  const model = await t.db('registered_models').where({ name: 'bench-seq' }).first('id');
  const raw: number[] = [];
  const t2 = now();
  for (let i = 0; i < CREATES; i++) {
    const s = now();
    await t.db.transaction(async (trx) => {
      await trx('registered_models').where({ id: model.id }).update({ next_version: trx.raw('next_version + 1'), last_updated_time: Date.now() });
      const c = await trx('registered_models').where({ id: model.id }).first('next_version');
      const [id] = await trx('model_versions').insert({
        model_id: model.id, version: Number(c.next_version) - 1, creation_time: Date.now(), last_updated_time: Date.now(),
        description: '', current_stage: 'None', source: 's3://bucket/model', run_id: '', run_link: '', status: 'READY',
      });
      await trx('model_version_tags').insert({ version_id: Number(id), key: 'k', value: 'v' });
    });
    raw.push(now() - s);
  }
  const rawRate = CREATES / ((now() - t2) / 1000);
  console.log(
    `[${t.name}] model-versions/create, 1 client: median ${fmt(median(seq), 2)} ms → ${fmt(seqRate)} /s | 8 clients on one model: ${fmt(parRate)} /s` +
      ` | baseline: the same transaction by knex: median ${fmt(median(raw), 2)} ms → ${fmt(rawRate)} /s | ratio (1 client) ${fmt(seqRate / rawRate, 2)}`,
  );
}

const SEARCH_VERSIONS = Number(process.env.BENCH_REGISTRY_VERSIONS ?? 10_000);

/**
 * model-versions/search over 10,000 versions of 100 models (3 tags each): a filter on name and a tag, ordered by
 * last update, pages of 1000 through HTTP; and registered-models/search as the clients send it (with the prompt
 * clause). Baseline in the same run: the plain indexed SELECT of 1000 version rows.
 */
export async function benchRegistrySearch(t: BenchTarget): Promise<void> {
  const t0 = now();
  const base = Date.now() - SEARCH_VERSIONS * 1000;
  await t.db.transaction(async (trx) => {
    for (let m = 0; m < 100; m++) {
      const [id] = await trx('registered_models').insert({
        project_id: 1, name: `model-${String(m).padStart(3, '0')}`, creation_time: base, last_updated_time: base + m, next_version: SEARCH_VERSIONS / 100 + 1,
      });
      const versions = Array.from({ length: SEARCH_VERSIONS / 100 }, (_, v) => ({
        model_id: Number(id), version: v + 1, creation_time: base + v * 100 + m, last_updated_time: base + v * 100 + m, description: '',
        current_stage: v % 10 === 0 ? 'Production' : 'None', source: `s3://bucket/model-${m}/${v}`, run_id: `${m}`.padStart(32, '0'), run_link: '', status: 'READY',
      }));
      for (const part of chunk(versions, INSERT_CHUNK)) await trx('model_versions').insert(part);
      const ids = await trx('model_versions').where({ model_id: Number(id) }).select('id', 'version');
      const tags = ids.flatMap((r) => [0, 1, 2].map((k) => ({ version_id: r.id, key: `t${k}`, value: `v${(Number(r.version) + k) % 7}` })));
      for (const part of chunk(tags, INSERT_CHUNK)) await trx('model_version_tags').insert(part);
    }
  });
  console.log(`[${t.name}] registry fixture: ${fmt(SEARCH_VERSIONS)} versions of 100 models × 3 tags in ${fmt((now() - t0) / 1000, 1)} s`);

  const qs = (o: Record<string, string | number>) => Object.entries(o).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
  const byTag = { filter: "name LIKE 'model-0%' AND tags.t1 = 'v3'", max_results: 1000, order_by: 'last_updated_timestamp DESC' };
  const pages: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = now();
    const r = await call(t, 'GET', `/model-versions/search?${qs(byTag)}`);
    pages.push(now() - s);
    if (!r.model_versions?.length) throw new Error('expected versions');
  }
  const all = { max_results: 1000 };
  const s1 = now();
  let token: string | undefined;
  let seen = 0;
  do {
    const r = await call(t, 'GET', `/model-versions/search?${qs(token ? { ...all, page_token: token } : all)}`);
    seen += r.model_versions.length;
    token = r.next_page_token;
  } while (token);
  const pagingAll = now() - s1;
  const total = Number((await t.db('model_versions').count({ n: '*' }).first())!.n);
  if (seen !== total) throw new Error(`paged ${seen} versions, expected ${total}`);
  const models: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = now();
    await call(t, 'GET', `/registered-models/search?${qs({ filter: "name LIKE 'model-%' AND tag.`mlflow.prompt.is_prompt` != 'true'", max_results: 100 })}`);
    models.push(now() - s);
  }
  const raw: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = now();
    await t.db('model_versions').orderBy('last_updated_time', 'desc').limit(1000).select('*');
    raw.push(now() - s);
  }
  console.log(
    `[${t.name}] model-versions/search page of 1000 (name LIKE + tag, by last update): median ${fmt(median(pages), 1)} ms` +
      ` | all ${fmt(seen)} in pages of 1000: ${fmt(pagingAll / 1000, 2)} s | registered-models/search 100 models with latest versions: median ${fmt(median(models), 1)} ms` +
      ` | baseline: plain SELECT of 1000 version rows: median ${fmt(median(raw), 1)} ms`,
  );
}

/** Every registry figure, on one fresh target. */
export async function benchRegistry(t: BenchTarget): Promise<void> {
  await benchRegistryCreate(t);
  await benchRegistrySearch(t);
}
