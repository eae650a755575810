import path from 'node:path';

/** Every setting mltrack reads, from the environment. The README lists them. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** unset → SQLite file in dataDir; mysql://user:pass@host:port/db → MySQL */
  databaseUrl: string | undefined;
  /** Base for absolute URLs in answers (e.g. https://mltrack.example.com); optional. */
  publicUrl: string | undefined;
  /** If set on the first start, this value becomes the admin's first token. */
  initialToken: string | undefined;
  /** Project served at the root mount /api/2.0/mlflow (id or full path). */
  rootProject: string;
  artifactsDir: string;
  /** Largest artifact upload accepted, in bytes. */
  maxArtifactBytes: number;
  /** One line per request on stdout (MLTRACK_ACCESS_LOG=0 turns it off). */
  accessLog: boolean;
  /** Prometheus endpoint's own port (MLTRACK_METRICS_PORT); undefined: no metrics at all. Never the public port. */
  metricsPort: number | undefined;
  /** Address of the metrics listener (MLTRACK_METRICS_HOST), loopback by default. */
  metricsHost: string;
  /** Access log and server errors as text lines or one JSON object per line (MLTRACK_LOG_FORMAT). */
  logFormat: 'text' | 'json';
  /** MLflow's MLFLOW_TRUNCATE_LONG_VALUES: over-long param (6000) and tag (8000) values are truncated, not refused. */
  truncateLongValues: boolean;
  /** Bound on every database statement and connection acquisition, ms (MLTRACK_DB_TIMEOUT_MS); then 503. */
  dbTimeoutMs: number;
  /** How long a SIGTERM/SIGINT waits for requests in flight before forcing the exit, ms (MLTRACK_DRAIN_TIMEOUT_MS). */
  drainTimeoutMs: number;
}

function msSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number of milliseconds; got ${raw}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR || './data');
  return {
    port: env.PORT ? Number(env.PORT) : 5000,
    host: env.HOST || '127.0.0.1',
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : undefined,
    initialToken: env.MLTRACK_INITIAL_TOKEN || undefined,
    rootProject: env.MLTRACK_ROOT_PROJECT || '1',
    artifactsDir: path.resolve(env.ARTIFACTS_DIR || path.join(dataDir, 'artifacts')),
    maxArtifactBytes: env.MAX_ARTIFACT_BYTES ? Number(env.MAX_ARTIFACT_BYTES) : 5 * 1024 * 1024 * 1024,
    accessLog: !['0', 'false', 'off'].includes((env.MLTRACK_ACCESS_LOG ?? '1').toLowerCase()),
    metricsPort: portSetting(env, 'MLTRACK_METRICS_PORT'),
    metricsHost: env.MLTRACK_METRICS_HOST || '127.0.0.1',
    logFormat: logFormatSetting(env.MLTRACK_LOG_FORMAT),
    truncateLongValues: !['0', 'false'].includes((env.MLFLOW_TRUNCATE_LONG_VALUES ?? 'true').toLowerCase()),
    dbTimeoutMs: msSetting(env, 'MLTRACK_DB_TIMEOUT_MS', 30_000),
    drainTimeoutMs: msSetting(env, 'MLTRACK_DRAIN_TIMEOUT_MS', 30_000),
  };
}

function portSetting(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (0-65535); got ${raw}`);
  return n;
}

function logFormatSetting(raw: string | undefined): 'text' | 'json' {
  const v = (raw || 'text').toLowerCase();
  if (v !== 'text' && v !== 'json') throw new Error(`MLTRACK_LOG_FORMAT must be text or json; got ${raw}`);
  return v;
}
