import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Server } from 'node:http';
import type { WriteGate } from '../db/tx.ts';

/**
 * Worker processes (MLTRACK_WORKERS): the primary runs migrations and bootstrap once, then forks W workers that each
 * serve the whole API on the one port (node:cluster's shared listening socket; the primary hands connections out
 * round-robin). Workers keep no state of their own beyond their database pool, so any worker answers any request.
 *
 * Defaults, measured with scripts/bench/write.ts on this machine kind (2 cores; figures in the comments below):
 * - MySQL: one worker per core. The database runs in its own process, so workers only add parallel CPU.
 * - SQLite: SQLITE_DEFAULT_WORKERS (capped at the core count). Writes are serialized by SQLite's file lock whatever
 *   the process count; workers parallelize the request's CPU (HTTP, JSON, validation, auth) around it. Transactions
 *   start with BEGIN IMMEDIATE (db/knex.ts) so that a writer in another process waits on busy_timeout instead of
 *   failing with SQLITE_BUSY on the read→write lock upgrade.
 */
export const SQLITE_DEFAULT_WORKERS = 2;

export function defaultWorkers(mysql: boolean, cores = os.availableParallelism()): number {
  return mysql ? cores : Math.max(1, Math.min(cores, SQLITE_DEFAULT_WORKERS));
}

/** A worker marks every answer with its pid, so tests and operators can see which process served a request. */
export function markWorker(server: Server): void {
  const pid = String(process.pid);
  server.prependListener('request', (_req, res) => res.setHeader('X-Mltrack-Worker', pid));
}

export interface PrimaryOptions {
  workers: number;
  /** each worker drains within this; the primary allows it plus a margin before killing what is left */
  drainTimeoutMs: number;
  /** called once, when the first `workers` workers all listen */
  onListening(pids: number[]): void;
}

/** A worker that dies within this long of its start is restarted only after RESTART_DELAY_MS (no tight crash loop). */
const QUICK_DEATH_MS = 5000;
const RESTART_DELAY_MS = 1000;

/**
 * The primary: forks the workers, restarts one that dies unexpectedly (logged), and on SIGTERM/SIGINT forwards the
 * signal so every worker drains (server/drain.ts), then exits 0 when all exited 0, else 1. A worker that exits before
 * the server ever listened (port taken, database unreachable) stops the whole server with status 1.
 */
export function runPrimary(opts: PrimaryOptions): void {
  const startedAt = new Map<number, number>();
  const listening = new Set<number>();
  let announced = false;
  let stopping = 0;
  let failed = false;

  const fork = () => {
    const w = cluster.fork();
    startedAt.set(w.id, Date.now());
    w.once('listening', () => {
      listening.add(w.id);
      if (!announced && listening.size >= opts.workers) {
        announced = true;
        opts.onListening(Object.values(cluster.workers ?? {}).map((x) => x!.process.pid!));
      }
    });
  };

  cluster.on('exit', (w: Worker, code: number | null, signal: string | null) => {
    const how = signal ? `signal ${signal}` : `status ${code}`;
    if (stopping) {
      if (code !== 0) failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        console.log(failed ? '[mltrack] workers stopped; some were cut' : '[mltrack] all workers drained; bye');
        process.exit(failed ? 1 : 0);
      }
      return;
    }
    if (!announced && !listening.has(w.id)) {
      console.error(`[mltrack] worker ${w.process.pid} exited (${how}) before listening; stopping`);
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
      process.exit(1);
    }
    const lived = Date.now() - (startedAt.get(w.id) ?? 0);
    startedAt.delete(w.id);
    console.error(`[mltrack] worker ${w.process.pid} died unexpectedly (${how}) after ${lived} ms; starting another`);
    setTimeout(fork, lived < QUICK_DEATH_MS ? RESTART_DELAY_MS : 0);
  });

  // The same stop often arrives twice (to the process group and forwarded by npm): one sooner than 2 s is ignored,
  // a later one is passed on, and each worker then exits at once with the requests it still has (status 1).
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping && Date.now() - stopping < 2000) return;
    const again = stopping !== 0;
    stopping = Date.now();
    const workers = Object.values(cluster.workers ?? {});
    console.log(`[mltrack] ${signal}${again ? ' again' : ''}: stopping ${workers.length} worker(s)`);
    for (const w of workers) w?.process.kill(signal);
    if (workers.length === 0) process.exit(0);
    if (!again) {
      setTimeout(() => {
        console.error('[mltrack] workers did not stop in time; killing them');
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        process.exit(1);
      }, opts.drainTimeoutMs + 5000).unref();
    }
  };
  process.on('SIGINT', (s) => shutdown(s));
  process.on('SIGTERM', (s) => shutdown(s));

  serveWriteGate();
  for (let i = 0; i < opts.workers; i++) fork();
}

interface GateMessage {
  mltrackGate: 'lock' | 'grant' | 'unlock';
  id: number;
}
const isGateMessage = (m: unknown): m is GateMessage => typeof m === 'object' && m !== null && 'mltrackGate' in m;

/**
 * The primary's side of the SQLite write gate (db/tx.ts setWriteGate): one write transaction at a time over all
 * workers, in the order asked. A worker that dies holding its turn gives it up.
 */
function serveWriteGate(): void {
  const queue: { w: Worker; id: number }[] = [];
  let holder: { w: Worker; id: number } | undefined;
  const grantNext = () => {
    while (!holder && queue.length) {
      const next = queue.shift()!;
      if (next.w.isDead() || !next.w.isConnected()) continue;
      holder = next;
      next.w.send({ mltrackGate: 'grant', id: next.id } satisfies GateMessage);
    }
  };
  cluster.on('message', (w: Worker, m: unknown) => {
    if (!isGateMessage(m)) return;
    if (m.mltrackGate === 'lock') queue.push({ w, id: m.id });
    else if (m.mltrackGate === 'unlock' && holder?.w === w && holder.id === m.id) holder = undefined;
    grantNext();
  });
  cluster.on('exit', (w: Worker) => {
    if (holder?.w === w) holder = undefined;
    grantNext();
  });
}

/**
 * A worker's side of the write gate: asks the primary for a turn, runs the transaction, gives the turn back. A turn
 * not granted within `timeoutMs` fails as SQLite's busy error would (503, which MLflow clients retry).
 */
export function workerWriteGate(timeoutMs: number): WriteGate {
  let nextId = 0;
  const waiting = new Map<number, () => void>();
  process.on('message', (m: unknown) => {
    if (!isGateMessage(m) || m.mltrackGate !== 'grant') return;
    const go = waiting.get(m.id);
    if (go) {
      waiting.delete(m.id);
      go();
    } else process.send!({ mltrackGate: 'unlock', id: m.id } satisfies GateMessage); // it timed out meanwhile
  });
  return async (run) => {
    const id = ++nextId;
    await new Promise<void>((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => {
        waiting.delete(id);
        reject(Object.assign(new Error('no turn to write within the database timeout'), { code: 'SQLITE_BUSY' }));
      }, timeoutMs) : undefined;
      waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      process.send!({ mltrackGate: 'lock', id } satisfies GateMessage);
    });
    try {
      return await run();
    } finally {
      process.send!({ mltrackGate: 'unlock', id } satisfies GateMessage);
    }
  };
}
