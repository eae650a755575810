import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { hotScriptTransaction, SCRIPT_POOL_SIZE } from '../db/hot.ts';
import { appRouter, createCaller } from '../routers/index.ts';
import { loadConfig } from '../core/config.ts';

/**
 * runs/create's one-round-trip transaction on MySQL (db/hot.ts hotScriptTransaction, db/runs.ts insertRunScript) and
 * the statement-by-statement one on SQLite: all or nothing, and the pool's connections stay usable after a failure.
 */
describe.each(DB_KINDS)('runs/create transaction (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  const auth = () => ({ Authorization: `Bearer ${s.tokens.write}` });
  const create = (body: object) => s.request.post(s.mlflow() + '/runs/create').set(auth()).send(body);
  const count = async (table: string, where: Record<string, unknown>) => Number(((await s.t.db(table).where(where).count({ n: '*' })) as { n: number }[])[0]!.n);

  it('a failing tag insert leaves no run and no tags, and later creates succeed on the same connections', async () => {
    // a trigger refuses one tag key: the run's INSERT has run by then, inside the same transaction
    if (kind === 'mysql') {
      await s.t.db.raw("CREATE TRIGGER refuse_boom BEFORE INSERT ON tags FOR EACH ROW BEGIN IF NEW.`key` = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom refused'; END IF; END");
    } else {
      await s.t.db.raw("CREATE TRIGGER refuse_boom BEFORE INSERT ON tags WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
    }
    try {
      expect((await create({ experiment_id: '0', run_name: 'warm' })).status).toBe(200);
      const runsBefore = await count('runs', {});
      const tagsBefore = await count('tags', {});
      // more failures than the script pool has connections: each must have been rolled back and handed back clean
      for (let i = 0; i < SCRIPT_POOL_SIZE + 2; i++) {
        const res = await create({ experiment_id: '0', run_name: `doomed-${i}`, tags: [{ key: 'ok', value: '1' }, { key: 'boom', value: '2' }] });
        expect(res.status).toBe(500);
        expect(res.body.error_code).toBe('INTERNAL_ERROR');
      }
      expect(await count('runs', {})).toBe(runsBefore);
      expect(await count('tags', {})).toBe(tagsBefore);
      // concurrent creates afterwards: every connection of the pool commits whole runs
      const made = await Promise.all(Array.from({ length: 12 }, (_, i) => create({ experiment_id: '0', run_name: `after-${i}`, tags: [{ key: 'k', value: String(i) }] })));
      for (const res of made) expect(res.status).toBe(200);
      for (const [i, res] of made.entries()) {
        const run = await s.t.db('runs').where({ run_uuid: res.body.run.info.run_id }).first('id', 'name');
        expect(run.name).toBe(`after-${i}`);
        const tags = await s.t.db('tags').where({ run_id: run.id }).orderBy('key').select('key', 'value');
        expect(tags).toEqual([{ key: 'k', value: String(i) }, { key: 'mlflow.runName', value: `after-${i}` }]);
      }
    } finally {
      await s.t.db.raw('DROP TRIGGER refuse_boom');
    }
  });

  it('the tags of a run whose experiment went away are never written to an earlier run', async () => {
    const { experiment_id } = (await s.request.post(s.mlflow() + '/experiments/create').set(auth()).send({ name: `brief-${kind}` })).body;
    const first = await create({ experiment_id, run_name: 'kept', tags: [{ key: 'a', value: '1' }] });
    expect(first.status).toBe(200);
    // deleted behind the server's back (no request of this server sees it): the cached experiment is stale
    await s.t.db('experiments').where({ experiment_id: Number(experiment_id) }).update({ lifecycle_stage: 'deleted' });
    const refused = await create({ experiment_id, run_name: 'refused', tags: [{ key: 'b', value: '2' }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect(await count('runs', { name: 'refused' })).toBe(0);
    expect(await count('tags', { key: 'b' })).toBe(0);
    const kept = await s.t.db('runs').where({ run_uuid: first.body.run.info.run_id }).first('id');
    expect((await s.t.db('tags').where({ run_id: kept.id }).orderBy('key').select('key')).map((t: { key: string }) => t.key)).toEqual(['a', 'mlflow.runName']);
  });

  it('runs/create and runs/get answer exactly what their declared output schema accepts (it is not parsed per call)', async () => {
    const procs = appRouter._def.procedures as unknown as Record<string, { _def: { output: { parse(v: unknown): unknown } } }>;
    const check = (name: string, out: unknown) => expect(procs[name]!._def.output.parse(out)).toEqual(out);
    // the procedures' own results (int64 above 2^53 as bigint), as the REST facade and /trpc receive them
    const caller = createCaller({
      db: s.t.db, config: loadConfig({ DATA_DIR: s.t.dataDir }), artifacts: undefined as never, requestId: 'schema', scopes: ['api'],
      user: { id: 1, username: 'admin', isAdmin: true },
      project: { id: s.project.id, path: s.project.path, name: 'p', visibility: 'private', accessLevel: 50 },
    });
    for (const input of [
      { experiment_id: '0' },
      { experiment_id: '0', run_name: 'n', user_id: 'u', start_time: '9007199254740993', tags: [{ key: 'a', value: '' }, { key: 'mlflow.user', value: 'x' }] },
    ]) {
      const created = await caller.runs.create(input as never);
      check('runs.create', created);
      const run_id = created.run.info.run_id;
      await caller.runs.logBatch({
        run_id, params: [{ key: 'p', value: 'v' }], tags: [],
        metrics: [{ key: 'm', value: 'NaN', timestamp: 1, step: 2 }, { key: 'i', value: 1.5, timestamp: '9007199254740993', step: 0 }],
      } as never);
      await caller.runs.logInputs({ run_id, datasets: [{ tags: [{ key: 't', value: 'v' }], dataset: { name: 'd', digest: 'x', source_type: 'local', source: '{}' } }] } as never);
      await caller.runs.update({ run_id, status: 'FINISHED', end_time: 5 } as never);
      const got = await caller.runs.get({ run_id } as never);
      expect(got.run.data.metrics).toHaveLength(2);
      expect(got.run.inputs.dataset_inputs).toHaveLength(1);
      check('runs.get', got);
    }
  });

  it(kind === 'mysql' ? 'runs a script as one transaction: a failing statement rolls back the ones before it' : 'has no script pool: the caller runs statement by statement', async () => {
    const stmts = [
      { sql: 'INSERT INTO users (username, is_admin, created_at) VALUES (?, 0, 1)', bindings: [`script-${kind}`] },
      { sql: 'INSERT INTO users (username, is_admin, created_at) VALUES (?, 0, 1)', bindings: [`script-${kind}`] }, // duplicate
    ];
    if (kind === 'sqlite') {
      expect(await hotScriptTransaction(s.t.db, stmts)).toBeUndefined();
      expect(await count('users', { username: `script-${kind}` })).toBe(0);
      return;
    }
    await expect(hotScriptTransaction(s.t.db, stmts)).rejects.toMatchObject({ errno: 1062 });
    expect(await count('users', { username: `script-${kind}` })).toBe(0);
    const ok = await hotScriptTransaction(s.t.db, [stmts[0]!, { sql: 'SELECT username FROM users WHERE username = ?', bindings: [`script-${kind}`] }]);
    expect(ok![0]).toMatchObject({ changes: 1 });
    expect(ok![1]).toEqual([{ username: `script-${kind}` }]);
    // values travel as bound values, never as SQL
    const evil = `x'; DROP TABLE users; -- ${kind}`;
    await hotScriptTransaction(s.t.db, [{ sql: 'INSERT INTO users (username, is_admin, created_at) VALUES (?, 0, 1)', bindings: [evil] }]);
    expect(await count('users', { username: evil })).toBe(1);
  });
});

describe.each(DB_KINDS.filter((k) => k === 'mysql'))('runs/create when its connection breaks mid-transaction (%s)', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(kind);
  });
  afterAll(async () => s?.close());

  it('the transaction rolled back, the run is created once on a new connection', async () => {
    // a tag that makes its INSERT wait, long enough to kill the connection running it
    await s.t.db.raw("CREATE TRIGGER slow_tag BEFORE INSERT ON tags FOR EACH ROW BEGIN IF NEW.`key` = 'slow' THEN SET @mltrack_cut_test = SLEEP(2); END IF; END");
    try {
      let settled = false;
      const sent = s.request.post(s.mlflow() + '/runs/create').set({ Authorization: `Bearer ${s.tokens.write}` })
        .send({ experiment_id: '0', run_name: `cut-${kind}`, tags: [{ key: 'slow', value: '1' }] }).then((r) => ((settled = true), r));
      let killed = false;
      // only this test's database: the MariaDB may be shared with other suites
      for (let i = 0; i < 600 && !killed && !settled; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [rows] = (await s.t.db.raw(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'SET @mltrack\\_cut\\_test = SLEEP%' AND ID <> CONNECTION_ID()",
        )) as [{ ID: number }[]];
        if (rows.length) {
          await s.t.db.raw(`KILL CONNECTION ${Number(rows[0]!.ID)}`);
          killed = true;
        }
      }
      expect(killed).toBe(true);
      const res = await sent;
      // without the retry, the killed connection's error would have answered 503
      expect(res.status).toBe(200);
      const runs = await s.t.db('runs').where({ name: `cut-${kind}` }).select('id', 'run_uuid');
      expect(runs).toHaveLength(1);
      expect(runs[0].run_uuid).toBe(res.body.run.info.run_id);
      const tags = await s.t.db('tags').where({ run_id: runs[0].id }).orderBy('key').select('key');
      expect(tags.map((t: { key: string }) => t.key)).toEqual(['mlflow.runName', 'slow']);
    } finally {
      await s.t.db.raw('DROP TRIGGER slow_tag');
    }
  });
});
