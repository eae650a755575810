import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import mysql from 'mysql2/promise';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../db/knex.ts';
import { migrateLatest } from '../../db/migrate.ts';
import { migrationSource } from '../../db/migrations/index.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../core/config.ts';
import { bootstrap } from '../../server/bootstrap.ts';

/**
 * mltrack on a 3-node MariaDB Galera cluster (scripts/cluster/galera-start.sh): servers that start together,
 * writes through one node read at once through another, per-project counters from concurrent creations through
 * different nodes. Each server talks to its own node directly (ports 3371-3373), the hardest case for the rules of
 * shared/reference/galera.md.
 */
const NODES = [3371, 3372, 3373];
const ADMIN = { host: '127.0.0.1', user: 'mltrack', password: 'mltrack' };

describe('three mltrack servers on a 3-node Galera cluster', () => {
  const name = `mltrack_cluster_${crypto.randomBytes(3).toString('hex')}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-cluster-'));
  const dbs: Db[] = [];
  const servers: Server[] = [];
  const bases: string[] = [];
  let token: string;

  beforeAll(async () => {
    const c = await mysql.createConnection({ ...ADMIN, port: NODES[0] });
    await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
    await c.end();
    for (const port of NODES) dbs.push(createDb(`mysql://mltrack:mltrack@127.0.0.1:${port}/${name}`, dataDir));
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const db of dbs) await db.destroy();
    const c = await mysql.createConnection({ ...ADMIN, port: NODES[0] });
    await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await c.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('start together on an empty database: migrations run once, one lock row, one admin; every table has a primary key', async () => {
    const results = await Promise.all(dbs.map((db) => migrateLatest(db, { waitMs: 120_000 })));
    const all = await migrationSource.getMigrations([]);
    expect(results.map((r) => r.length).sort()).toEqual([0, 0, all.length]);
    for (const db of dbs) {
      expect((await db('knex_migrations').select('name')).map((r) => r.name).sort()).toEqual([...all].sort());
      expect(await db('knex_migrations_lock').select('index', 'is_locked')).toEqual([{ index: 1, is_locked: 0 }]);
    }
    const boots = await Promise.all(dbs.map((db) => bootstrap(db, `cluster-${name}`)));
    expect(boots.filter((b) => b.created)).toHaveLength(1);
    token = `cluster-${name}`;
    for (const db of dbs) expect(await db('users').count({ n: '*' }).first()).toEqual({ n: 1 });
    for (const db of dbs) {
      const app = createApp({ db, config: loadConfig({ DATA_DIR: dataDir }) });
      const server = await new Promise<Server>((r) => {
        const listening = app.listen(0, '127.0.0.1', () => r(listening));
      });
      servers.push(server);
      bases.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
  });

  const call = (i: number, method: 'get' | 'post', p: string, body?: object) => {
    const req = supertest(bases[i % bases.length]!)[method](`/api/v4/projects/1/ml/mlflow/api/2.0/mlflow${p}`).set('Authorization', `Bearer ${token}`);
    return method === 'get' ? req.query(body ?? {}) : req.send(body ?? {});
  };

  it('a write answered by one server is read at once on another (each on its own node), 60 pairs under load', async () => {
    const run = (await call(0, 'post', '/runs/create', { experiment_id: '0' })).body.run.info.run_id as string;
    const misses: number[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const writer = i % 3;
        const reader = (i + 1) % 3;
        const w = await call(writer, 'post', '/runs/set-tag', { run_id: run, key: `k${i}`, value: `v${i}` });
        expect(w.status).toBe(200);
        const r = await call(reader, 'get', '/runs/get', { run_id: run });
        if (!r.body.run.data.tags.some((t: { key: string; value: string }) => t.key === `k${i}` && t.value === `v${i}`)) misses.push(i);
      }),
    );
    expect(misses).toEqual([]);
  });

  it('experiments created at once through three servers and nodes are numbered 1..12, no gap, no duplicate', async () => {
    const res = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i, 'post', '/experiments/create', { name: `e${i}` })));
    expect(res.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(res.map((r) => Number(r.body.experiment_id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('model versions created at once through three servers get 1..12', async () => {
    expect((await call(0, 'post', '/registered-models/create', { name: 'cluster-model' })).status).toBe(200);
    const res = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i, 'post', '/model-versions/create', { name: 'cluster-model', source: 's3://b/m' })));
    expect(res.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(res.map((r) => Number(r.body.model_version.version)).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('8 writers logging into one run through three nodes: only 200s, every point kept', async () => {
    const run = (await call(0, 'post', '/runs/create', { experiment_id: '0' })).body.run.info.run_id as string;
    const res = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        call(i, 'post', '/runs/log-batch', { run_id: run, metrics: Array.from({ length: 50 }, (_, j) => ({ key: 'm', value: j, timestamp: i, step: i * 50 + j })) }),
      ),
    );
    expect(res.map((r) => r.status)).toEqual(Array(24).fill(200));
    for (const db of dbs) {
      const runRow = await db('runs').where({ run_uuid: run }).first('id');
      expect(await db('metrics').where({ run_id: runRow.id }).count({ n: '*' }).first()).toEqual({ n: 1200 });
    }
  });
});
