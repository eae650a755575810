/**
 * Observers of what the database layer does, for the server's metrics (server/metrics.ts subscribes): db cannot
 * import server, so db announces and whoever cares listens. With no listener each note is one empty loop.
 * A listener that throws is ignored: counting must never fail a request.
 */

type Listener<T> = (value: T) => void;

function registry<T>() {
  const listeners = new Set<Listener<T>>();
  return {
    on(fn: Listener<T>): () => void {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    note(value: T): void {
      for (const fn of listeners) {
        try {
          fn(value);
        } catch {
          // a metrics bug must not fail the write it counts
        }
      }
    },
  };
}

const txRetries = registry<string>();
const pointsIngested = registry<number>();

/** `fn(code)` each time withTransaction retries a whole transaction; code is the driver's (ER_LOCK_DEADLOCK, SQLITE_BUSY…). */
export const onTxRetry = txRetries.on;

/** `fn(n)` each time a request's n metric points have been committed (routers/runs.ts: log-batch, log-metric). */
export const onPointsIngested = pointsIngested.on;

/** The error's code as a bounded label: the driver's symbolic code, else its errno, else "unknown". */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown } | undefined;
  if (typeof e?.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code)) return e.code;
  if (typeof e?.errno === 'number') return String(e.errno);
  return 'unknown';
}

export const noteTxRetry = (err: unknown) => txRetries.note(errorCode(err));
export const notePointsIngested = (n: number) => {
  if (n > 0) pointsIngested.note(n);
};
