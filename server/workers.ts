import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Server } from 'node:http';
import type { WriteGate } from '../db/tx.ts';

/**
 * Worker processes (MLTRACK_WORKERS): the primary runs migrations and bootstrap once, then forks W workers that each
 * serve the whole API on the one port (node:cluster's shared listening socket; the primary hands connections out
 * round-robin). Workers keep no state of their own beyond their database pool, so any worker answers any request.
 * With SQLite, write transactions take turns through the primary (serveWriteGate) and start with BEGIN IMMEDIATE
 * (db/knex.ts), so no SQLITE_BUSY reaches a client.
 *
 * The default, measured on this machine kind (2 cores, shared with other sessions: load average 11-16 throughout;
 * the bench client and, for MySQL, MariaDB on the same cores) with scripts/bench/workers-ab.ts, 1 against 2 workers
 * loaded in alternating 2.5 s turns, medians of 4-5 rounds (req/s; server CPU ms per request):
 *   SQLite  runs/create ×20:      1: 45-130, 3.2-4.4 ms   2: 30-110, 4.9-6.3 ms   (1 ahead in 4 of 4 runs)
 *           10 metrics ×20:       1: 78-211, 2.5-3.4 ms   2: 54-143, 3.7-4.7 ms   (1 ahead in 4 of 4)
 *           1000 points ×4:       1: 8-14,   20-21 ms     2: 7-10,   23-28 ms
 *           64 writers, one run:  1: p99 2.7-3.5 s         2: p99 1.0-1.9 s        (throughput mixed)
 *   MySQL   runs/create ×20:      1: 109, 4.6 ms           2: 80, 8.5 ms
 *           10 metrics ×20:       1: 153, 3.0 ms           2: 106, 4.1 ms
 *           1000 points ×4:       1: 25, 12.2 ms           2: 21, 15.6 ms
 *           64 writers, one run:  1: 162, p99 0.6 s        2: 111, p99 1.4 s
 * On 2 cores one process gives the best write throughput on both databases: the second core is already taken (by
 * MariaDB, the client, SQLite's lock holder), and a second process costs CPU per request (on SQLite each process
 * drops its page cache whenever another one wrote, plus the gate's messages). So the default is 1 on SQLite, and on
 * MySQL 1 up to 2 cores, else one per core (MySQL workers share nothing but the database server, which is often
 * elsewhere; not measured here, as this machine has 2 cores). On SQLite 2 workers lower the tail under many
 * concurrent writers (p99 above): set MLTRACK_WORKERS=2 when that matters more than throughput.
 */
export function defaultWorkers(mysql: boolean, cores = os.availableParallelism()): number {
  return mysql && cores > 2 ? cores : 1;
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
    if (stopping) return; // a restart that was waiting when the stop came
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
 * workers, in the order asked. A worker that dies holding its turn gives it up. Measured at 2 workers, with against
 * without the gate (workers-ab.ts, same run): 64 writers into one run p99 1.1 s against 3.3 s; 10-metric batches at
 * 20 clients 142 against 86 req/s; CPU per request the same within noise (the primary's share: 0.4 ms).
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
 * not granted within `timeoutMs` fails as a pool timeout does (503, which MLflow clients retry).
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
        // named as knex's pool timeout: answered 503 and, like it, not retried (a retry would stretch the bound)
        reject(Object.assign(new Error('no turn to write within the database timeout'), { name: 'KnexTimeoutError' }));
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
