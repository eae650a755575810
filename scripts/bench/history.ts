import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fmt, median, now, scratchMysqlDatabase } from './common.ts';

/**
 * Metric histories (BENCH=history), on a server in its own process (so its resident memory is the server's alone,
 * read from /proc), seeded through log-batch:
 * - the UI's downsampled history of a 1M-point metric at 1,000 buckets by step (read from the rollups kept at
 *   ingest), server time from the access log; same-run baseline: the same request by time, which has no rollups and
 *   runs a GROUP BY over the points (what the step request did before);
 * - metrics/get-history of a 100k-point metric over REST (streamed page by page), time to the last byte and the
 *   server's RSS rise above its level just before; same-run baseline: the same history through tRPC, which builds the
 *   whole answer before writing it (what REST did before).
 * Goals: ≤ 50 ms server time; ≤ 0.3 s and ≤ 10 MB.
 */

export const TOKEN = `mltpat-bench-${crypto.randomBytes(8).toString('hex')}`;
export const BASE = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';

interface Server {
  port: number;
  pid: number;
  /** server ms of the request with this X-Request-Id, from the access log */
  serverMs(requestId: string): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export async function spawnServer(kind: 'sqlite' | 'mysql', mysqlUrl?: string): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-bench-history-'));
  let databaseUrl = '';
  let dropDb = async () => {};
  if (kind === 'mysql') {
    const scratch = await scratchMysqlDatabase(mysqlUrl!);
    databaseUrl = scratch.url;
    dropDb = scratch.drop;
  }
  const port = await freePort();
  const root = path.resolve(import.meta.dirname, '../..');
  const child: ChildProcess = spawn(process.execPath, [...(process.env.HISTORY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.HISTORY_PROF}`] : []), '--import', 'tsx', path.join(root, 'server/main.ts')], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: databaseUrl, MLTRACK_INITIAL_TOKEN: TOKEN, MLTRACK_ACCESS_LOG: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const waiting = new Map<string, (ms: number) => void>();
  const seen = new Map<string, number>();
  let buf = '';
  let ready!: () => void;
  const up = new Promise<void>((r) => (ready = r));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.includes(' listening on ')) ready();
      const m = / (\d+(?:\.\d+)?)ms user=\S+ id=(\S+)$/.exec(line);
      if (m) {
        const w = waiting.get(m[2]!);
        if (w) w(Number(m[1]));
        else seen.set(m[2]!, Number(m[1]));
      }
    }
  });
  await up;
  return {
    port,
    pid: child.pid!,
    serverMs: (id) => (seen.has(id) ? Promise.resolve(seen.get(id)!) : new Promise((r) => waiting.set(id, r))),
    async close() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await dropDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** A request; answers status, body bytes, the time to the last byte and the request id. */
function request(port: number, method: string, p: string, body?: string): Promise<{ status: number; text: string; ms: number; id: string }> {
  const t0 = now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port, method, path: p, agent,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8'), ms: now() - t0, id: String(res.headers['x-request-id']) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function ok(port: number, method: string, p: string, body?: unknown) {
  const r = await request(port, method, p, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  if (r.status !== 200) throw new Error(`${method} ${p} → ${r.status} ${r.text.slice(0, 300)}`);
  return r;
}

const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Runs `fn` while sampling the process's RSS every ms; answers its result and the peak rise in MB over the level before. */
async function withRss<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; riseMb: number }> {
  const before = rss(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rss(pid))), 1);
  try {
    const result = await fn();
    peak = Math.max(peak, rss(pid));
    return { result, riseMb: peak - before };
  } finally {
    clearInterval(timer);
  }
}

/** log-batch of `n` points of `key` (steps from 0), 1000 a request, 4 clients; answers points/s. */
async function seed(port: number, runId: string, key: string, n: number): Promise<number> {
  const t0 = now();
  let next = 0;
  const ts0 = Date.now();
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (;;) {
      const from = next;
      next += 1000;
      if (from >= n) return;
      const parts: string[] = [];
      for (let i = from; i < Math.min(n, from + 1000); i++) {
        const v = Math.sin(i / 1000) + (i % 99_991 === 0 ? 50 : 0); // a few spikes
        parts.push(`{"key":"${key}","value":${v},"timestamp":${ts0 + i},"step":${i}}`);
      }
      await ok(port, 'POST', `${BASE}/runs/log-batch`, `{"run_id":"${runId}","metrics":[${parts.join(',')}]}`);
    }
  }));
  return n / ((now() - t0) / 1000);
}

const trpc = (proc: string, input: unknown) => `/api/v4/projects/1/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`;

export async function benchHistory(kind: 'sqlite' | 'mysql', mysqlUrl?: string, opts = { big: 1_000_000, history: 100_000 }) {
  const s = await spawnServer(kind, mysqlUrl);
  try {
    const { experiment_id } = JSON.parse((await ok(s.port, 'POST', `${BASE}/experiments/create`, { name: 'history' })).text);
    const runId = JSON.parse((await ok(s.port, 'POST', `${BASE}/runs/create`, { experiment_id, start_time: Date.now() })).text).run.info.run_id;
    const seedBig = await seed(s.port, runId, 'big', opts.big);
    const seedHist = await seed(s.port, runId, 'hist', opts.history);
    console.log(`[${kind}] history: seeded ${fmt(opts.big)} + ${fmt(opts.history)} points through log-batch (4 clients) at ${fmt(seedBig)} · ${fmt(seedHist)} points/s`);

    // downsampled 1M-point history, 1,000 buckets
    const serverTimes = async (x: 'step' | 'time', times: number) => {
      const out: number[] = [];
      let points = 0;
      for (let i = 0; i < times; i++) {
        const r = await ok(s.port, 'GET', trpc('ui.metricHistory', { runId, key: 'big', x, points: 1000 }));
        points = JSON.parse(r.text).result.data.x.length;
        out.push(await s.serverMs(r.id));
      }
      return { ms: median(out), points };
    };
    await serverTimes('step', 2); // warm-up
    const ds = await serverTimes('step', 9);
    const byTime = await serverTimes('time', 3);
    console.log(
      `[${kind}] downsampled history of ${fmt(opts.big)} points, 1,000 buckets by step (rollups): server median ${fmt(ds.ms, 1)} ms, ${ds.points} points ` +
        `(goal ≤ 50 ms) | baseline, by time (GROUP BY over the points): ${fmt(byTime.ms, 1)} ms, ${byTime.points} points`,
    );

    // get-history of 100k points: streamed REST vs the whole answer built (tRPC)
    const rest = `${BASE}/metrics/get-history?run_id=${runId}&metric_key=hist`;
    await ok(s.port, 'GET', rest); // warm-up
    const streamed: number[] = [];
    let streamRise = 0;
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const { result, riseMb } = await withRss(s.pid, () => ok(s.port, 'GET', rest));
      streamed.push(result.ms);
      streamRise = Math.max(streamRise, riseMb);
      bytes = result.text.length;
      if (i === 0 && JSON.parse(result.text).metrics.length !== opts.history) throw new Error('get-history: wrong point count');
    }
    const built: number[] = [];
    let builtRise = 0;
    for (let i = 0; i < 3; i++) {
      const { result, riseMb } = await withRss(s.pid, () => ok(s.port, 'GET', trpc('metrics.getHistory', { run_id: runId, metric_key: 'hist' })));
      built.push(result.ms);
      builtRise = Math.max(builtRise, riseMb);
    }
    console.log(
      `[${kind}] get-history of ${fmt(opts.history)} points (${fmt(bytes / 1e6, 1)} MB): streamed ${fmt(median(streamed) / 1000, 3)} s, server RSS rise ≤ ${fmt(streamRise, 1)} MB ` +
        `(goal ≤ 0.3 s, ≤ 10 MB) | baseline, built whole (tRPC): ${fmt(median(built) / 1000, 3)} s, +${fmt(builtRise, 1)} MB`,
    );
    return { seedBig, downsampleMs: ds.ms, byTimeMs: byTime.ms, historyS: median(streamed) / 1000, historyRiseMb: streamRise };
  } finally {
    await s.close();
  }
}
