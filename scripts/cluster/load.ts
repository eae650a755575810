import http from 'node:http';

/**
 * Bounded write load for the cluster tests and the scaling bench: `writers` concurrent clients, each sending
 * log-batch requests into a set of runs until `durationMs` or `batchesPerWriter` is reached (whichever comes first).
 * Every batch is unique: writer w's batch b holds metric `w<w>` (or `sharedKey`) at steps stepOf(w, b*k+j), j < k
 * (value = step), so afterwards each acknowledged batch can be found and counted. A writer retries a batch like the MLflow client does (on 503, on
 * 429/502/504, and on a connection error), with exponential backoff (capped at 2 s) and jitter, for about a minute; a request without an answer after
 * `requestTimeoutMs` is a hang, counted and retried.
 */
export interface LoadOptions {
  port: number;
  token: string;
  runs: string[];
  writers: number;
  durationMs: number;
  batchesPerWriter: number;
  metricsPerBatch: number;
  requestTimeoutMs?: number;
  /** attempts per batch before the writer gives up on it (the batch stays unacknowledged) */
  attempts?: number;
  /** when false, a batch that fails is not retried (the bench counts failures instead) */
  retry?: boolean;
  /** one metric key for every writer (conflicts: all writers update the same latest_metrics rows); default `w<w>` */
  sharedKey?: string;
}

export interface Attempt {
  writer: number;
  batch: number;
  /** HTTP status, or 'reset' (connection error) or 'hang' (no answer within requestTimeoutMs) */
  status: number | 'reset' | 'hang';
  ms: number;
  /** start, ms since the load began */
  at: number;
  /** the body of a non-200 answer */
  body?: string;
}

export interface LoadResult {
  attempts: Attempt[];
  /** batches answered 200: writer -> batch numbers */
  acked: Map<number, number[]>;
  /** batches given up on after every attempt failed */
  unacked: { writer: number; batch: number }[];
  elapsedMs: number;
  /** the longest time a batch took from its first attempt to its 200, retries included */
  longestBatchMs: number;
}

/** The step of writer w's i-th point: unique across writers, so points of one shared key stay apart. */
export const stepOf = (w: number, i: number) => w * 1_000_000 + i;

export const API = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';

/** One request; resolves with the status and body, or 'reset' / 'hang'. Never rejects. */
export function request(
  agent: http.Agent,
  port: number,
  token: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number | 'reset' | 'hang'; body: string }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { status: number | 'reset' | 'hang'; body: string }) => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => finish({ status: 'reset', body: '' }));
      },
    );
    req.setTimeout(timeoutMs, () => {
      finish({ status: 'hang', body: '' });
      req.destroy();
    });
    req.on('error', () => finish({ status: 'reset', body: '' }));
    req.end(data);
  });
}

const RETRY = new Set<number | string>([429, 502, 503, 504, 'reset', 'hang']);

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.writers });
  const timeout = o.requestTimeoutMs ?? 30_000;
  // MLflow's client keeps retrying a 503 or a reset for about two minutes (urllib3 Retry, 7 retries, backoff factor 2);
  // 40 attempts here span about a minute. The old budget of 12 attempts with full jitter could run out in ~5 s, shorter
  // than a Galera failover stall (8.4 s seen in CI), and leave a batch unacknowledged that MLflow would have delivered.
  const maxAttempts = o.retry === false ? 1 : (o.attempts ?? 40);
  const attempts: Attempt[] = [];
  const acked = new Map<number, number[]>();
  const unacked: { writer: number; batch: number }[] = [];
  let longestBatchMs = 0;
  const t0 = performance.now();
  const k = o.metricsPerBatch;
  const ts = Date.now();
  await Promise.all(
    Array.from({ length: o.writers }, async (_, w) => {
      const mine: number[] = [];
      acked.set(w, mine);
      for (let b = 0; b < o.batchesPerWriter && performance.now() - t0 < o.durationMs; b++) {
        const body = {
          run_id: o.runs[(w + b) % o.runs.length],
          metrics: Array.from({ length: k }, (_, j) => ({ key: o.sharedKey ?? `w${w}`, value: stepOf(w, b * k + j), timestamp: ts, step: stepOf(w, b * k + j) })),
        };
        const first = performance.now();
        let ok = false;
        for (let a = 1; a <= maxAttempts; a++) {
          const start = performance.now();
          const r = await request(agent, o.port, o.token, 'POST', `${API}/runs/log-batch`, body, timeout);
          attempts.push({ writer: w, batch: b, status: r.status, ms: performance.now() - start, at: start - t0, ...(r.status === 200 ? {} : { body: r.body }) });
          if (r.status === 200) {
            ok = true;
            break;
          }
          if (!RETRY.has(r.status)) break;
          if (a < maxAttempts) await new Promise((res) => setTimeout(res, (0.5 + Math.random() / 2) * Math.min(2000, 50 * 2 ** a)));
        }
        if (ok) {
          mine.push(b);
          longestBatchMs = Math.max(longestBatchMs, performance.now() - first);
        } else unacked.push({ writer: w, batch: b });
      }
    }),
  );
  agent.destroy();
  return { attempts, acked, unacked, elapsedMs: performance.now() - t0, longestBatchMs };
}

/** Requests by status, e.g. { '200': 5120, '503': 12 }. */
export function byStatus(attempts: Attempt[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of attempts) out[String(a.status)] = (out[String(a.status)] ?? 0) + 1;
  return out;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
