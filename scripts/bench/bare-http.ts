/**
 * The floor of a Node HTTP server for issue 11's write figures: node:http alone (no framework, no router, no
 * validation), the body read and JSON.parse'd, the bare driver's statements for it, and an answer in MLflow's shape.
 *   POST …/runs/create: the bearer token's digest, then create.ts bareSqlite / bareMysql with the token check (the
 *     statements mltrack issues); answers the new run.
 *   POST …/runs/log-batch: the run's internal id (looked up once a run), then log-batch.ts bareWriter (the same rows
 *     as mltrack writes: history, latest values, rollups); answers {}.
 * create.ts and log-batch.ts run it in its own process beside mltrack's, at the same concurrency, and read its CPU the
 * same way: what no Node HTTP server doing the same work can beat. mltrack's distance to the bare driver in the
 * bench's own process then splits into HTTP's share (this server's) and mltrack's own.
 * Env: BARE_KIND sqlite|mysql, BARE_SQLITE_FILE or BARE_MYSQL_URL, BARE_TOKEN, BARE_CLIENTS (create's MySQL pools).
 * Answers {port} over IPC once listening; exits on 'stop'.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { bareMysql, bareSqlite, type Bare, type CreateBody } from './create.ts';
import { bareRowsOf, bareWriter, type BareWriter } from './log-batch.ts';
import { mysqlSettings } from './common.ts';

const kind = process.env.BARE_KIND as 'sqlite' | 'mysql';
const token = process.env.BARE_TOKEN!;
const digest = (t: string) => crypto.createHash('sha256').update(t, 'utf8').digest('hex');
const want = digest(token);
const file = process.env.BARE_SQLITE_FILE!;
const url = process.env.BARE_MYSQL_URL!;

// each made on first use: a bench uses one of them
let creator: Promise<Bare> | undefined;
let writer: Promise<BareWriter> | undefined;
const runKeys = new Map<string, number>();

async function create(b: CreateBody) {
  creator ??= kind === 'sqlite' ? Promise.resolve(bareSqlite(file, token, true)) : bareMysql(url, Number(process.env.BARE_CLIENTS || 1), token, true);
  const { uuid, artifactUri } = await (await creator).one(b);
  const info = {
    run_uuid: uuid, run_id: uuid, run_name: b.run_name, experiment_id: b.experiment_id, user_id: 'bench', status: 'RUNNING',
    start_time: b.start_time, artifact_uri: artifactUri, lifecycle_stage: 'active',
  };
  return { run: { info, data: { tags: [{ key: 'mlflow.runName', value: b.run_name }, ...b.tags] }, inputs: {} } };
}

async function logBatch(b: { run_id: string; metrics: { key: string; value: number; timestamp: number; step: number }[] }) {
  writer ??= bareWriter(kind === 'sqlite' ? { kind, file } : { kind, settings: mysqlSettings(url) });
  const w = await writer;
  let id = runKeys.get(b.run_id);
  if (id === undefined) runKeys.set(b.run_id, (id = await w.runKey(b.run_id)));
  await w.write(id, bareRowsOf(b.metrics));
  return {};
}

const answer = (res: http.ServerResponse, status: number, body: unknown) =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const server = http.createServer((req, res) => {
  const op = req.method === 'POST' ? (req.url!.endsWith('/runs/create') ? create : req.url!.endsWith('/runs/log-batch') ? logBatch : undefined) : undefined;
  if (!op) return answer(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: req.url });
  const auth = req.headers.authorization ?? '';
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      if (digest(auth.slice(7)) !== want) return answer(res, 401, { error_code: 'UNAUTHENTICATED', message: 'token' });
      answer(res, 200, await op(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    } catch (err) {
      answer(res, 500, { error_code: 'INTERNAL_ERROR', message: String(err) });
    }
  });
});
server.keepAliveTimeout = 600_000;
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('message', async (m) => {
  if (m !== 'stop') return;
  server.closeAllConnections();
  await (await creator)?.close();
  await (await writer)?.close();
  process.exit(0);
});
