import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Load for the outage, shutdown and kill tests: writers logging one metric point per log-batch, each point
 * (run, step) unique, every outcome recorded (status and MLflow error code, or the network error), with the time
 * each request waited.
 */

export interface Outcome {
  writer: number;
  step: number;
  status?: number;
  errorCode?: string;
  network?: string;
  ms: number;
  start: number;
  connectionClose?: boolean;
}

export function post(port: number, path: string, token: string, body: unknown, agent: http.Agent): Promise<{ status: number; body: any; close: boolean }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), Authorization: `Bearer ${token}` } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { unparsable: text };
          }
          resolve({ status: res.statusCode!, body: parsed, close: res.headers.connection === 'close' });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export interface Writers {
  outcomes: Outcome[];
  /** acknowledged points: `${runId}:${step}` */
  acked: Set<string>;
  /** resolves when every writer stopped (by stop(), or because the server said it is going away) */
  done: Promise<void>;
  stop(): void;
  runIds: string[];
  /** Date.now() at the writers' start; each outcome's `start` counts from it */
  t0: number;
}

/**
 * `n` writers, each on its own keep-alive connection and run. A writer stops when told to, or (with stopOnGone) when
 * the server answers `Connection: close` or refuses the connection: a server that is going away.
 */
export async function startWriters(opts: { port: number; base: string; token: string; n: number; stopOnGone: boolean; pauseMs?: number }): Promise<Writers> {
  const { port, base, token, n } = opts;
  const runIds: string[] = [];
  const setup = new http.Agent({ keepAlive: false });
  for (let i = 0; i < n; i++) {
    const r = await post(port, `${base}/runs/create`, token, { experiment_id: '0', run_name: `w${i}` }, setup);
    if (r.status !== 200) throw new Error(`runs/create: ${r.status} ${JSON.stringify(r.body)}`);
    runIds.push(r.body.run.info.run_id);
  }
  const outcomes: Outcome[] = [];
  const acked = new Set<string>();
  let stopped = false;
  const t0 = Date.now();
  const writer = async (w: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let step = 0; !stopped; step++) {
      const start = Date.now();
      const body = { run_id: runIds[w], metrics: [{ key: 'm', value: step, timestamp: 1, step }] };
      try {
        const r = await post(port, `${base}/runs/log-batch`, token, body, agent);
        outcomes.push({ writer: w, step, status: r.status, errorCode: r.body?.error_code, ms: Date.now() - start, start: start - t0, connectionClose: r.close });
        if (r.status === 200) acked.add(`${runIds[w]}:${step}`);
        if (opts.stopOnGone && r.close) break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        outcomes.push({ writer: w, step, network: code, ms: Date.now() - start, start: start - t0 });
        if (opts.stopOnGone && code === 'ECONNREFUSED') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
    agent.destroy();
  };
  const done = Promise.all(Array.from({ length: n }, (_, w) => writer(w))).then(() => undefined);
  return { outcomes, acked, done, stop: () => void (stopped = true), runIds, t0 };
}

/** Resolves once `count` acknowledged points were written. */
export async function waitForAcks(w: Writers, count: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (w.acked.size < count) {
    if (Date.now() > until) throw new Error(`only ${w.acked.size} acks`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Stored points per `${runId}:${step}`, counted (each must be 1). */
export async function storedPoints(db: import('../../db/knex.ts').Db, runIds: string[]): Promise<Map<string, number>> {
  const rows: { run_uuid: string; step: number | string }[] = await db('metrics as m')
    .join('runs as r', 'r.id', 'm.run_id')
    .whereIn('r.run_uuid', runIds)
    .select('r.run_uuid', 'm.step');
  const out = new Map<string, number>();
  for (const r of rows) out.set(`${r.run_uuid}:${r.step}`, (out.get(`${r.run_uuid}:${r.step}`) ?? 0) + 1);
  return out;
}

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface StartedServer {
  proc: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output: () => string;
}

/** A free TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The server started as the README says (`npm start`), in its own process group, on the given database. */
export async function startNpm(env: Record<string, string>, port: number): Promise<StartedServer> {
  const proc = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MLTRACK_ACCESS_LOG: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const until = Date.now() + 120_000;
  while (!/listening on/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > until) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, port, exited, output: () => out };
}

/** Whether something accepts connections on the port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** pids of the processes in a process group (from /proc). */
export async function groupPids(pgid: number): Promise<number[]> {
  const fs = await import('node:fs');
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}
