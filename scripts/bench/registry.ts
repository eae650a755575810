import { call, fmt, median, now, type BenchTarget } from './common.ts';

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

/** Every registry figure, on one fresh target. */
export async function benchRegistry(t: BenchTarget): Promise<void> {
  await benchRegistryCreate(t);
}
