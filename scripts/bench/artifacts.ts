/**
 * Artifact proxy throughput: `npm run bench:artifacts [-- --mb 500]`.
 *
 * Starts the real server in a child process (node --import tsx server/main.ts: one process, so its /proc entry is
 * the server's) on a temp DATA_DIR and a free port, creates a run, then:
 *   - uploads an N MB file (default 500) with one PUT, streamed from a generator (never held in memory);
 *   - downloads it, checking every byte against the generator's pattern;
 *   - samples the server's /proc/<pid>/status (VmRSS, VmHWM) every 20 ms;
 * and, as a baseline in the same run and on the same filesystem, writes and reads the same bytes with fs streams.
 * The server does not fsync uploads (temp file + rename), so neither does the baseline; the reads of both come
 * from the page cache right after the writes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOKEN = 'bench-artifacts-token';
const CHUNK = 1024 * 1024;

const argMb = process.argv.indexOf('--mb');
const MB = argMb >= 0 ? Number(process.argv[argMb + 1]) : 500;
const TOTAL = MB * CHUNK;

// ---------------------------------------------------------------------------------------------------------------
// The bytes: chunk i is a fixed pseudo-random 1 MiB block whose first 8 bytes hold i, so every chunk differs and
// any byte can be checked from its offset alone.

const BASE = (() => {
  const b = Buffer.allocUnsafe(CHUNK);
  let x = 0x9e3779b9;
  for (let i = 0; i < CHUNK; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
})();

function chunkAt(i: number): Buffer {
  const c = Buffer.allocUnsafe(CHUNK);
  BASE.copy(c);
  c.writeBigUInt64LE(BigInt(i), 0);
  return c;
}

function* generate(): Generator<Buffer> {
  for (let i = 0; i < MB; i++) yield chunkAt(i);
}

/** A sink that checks the bytes against the pattern and counts them. */
function verifier(): Writable & { bytes: number } {
  let offset = 0;
  let current = -1;
  let expected: Buffer = BASE;
  const w = new Writable({
    highWaterMark: 4 * CHUNK,
    write(buf: Buffer, _enc, cb) {
      let pos = 0;
      while (pos < buf.length) {
        const i = Math.floor(offset / CHUNK);
        if (i !== current) {
          current = i;
          expected = chunkAt(i);
        }
        const within = offset % CHUNK;
        const n = Math.min(buf.length - pos, CHUNK - within);
        if (buf.compare(expected, within, within + n, pos, pos + n) !== 0) {
          return cb(new Error(`byte mismatch in chunk ${i} (offset ${offset})`));
        }
        pos += n;
        offset += n;
      }
      w.bytes = offset;
      cb();
    },
  }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
}

// ---------------------------------------------------------------------------------------------------------------
// The server.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function request(port: number, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port, method, path: p,
        headers: { authorization: `Bearer ${TOKEN}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: any = text;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode!, json });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function waitHealthy(port: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await request(port, 'GET', '/health');
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become healthy in 30 s');
}

interface MemSample {
  rss: number;
  hwm: number;
}

function readMem(pid: number): MemSample | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Samples the process every 20 ms; `peak()` is the highest VmRSS seen since start and the latest VmHWM. */
function sampler(pid: number) {
  let maxRss = 0;
  let hwm = 0;
  const tick = () => {
    const m = readMem(pid);
    if (m) {
      maxRss = Math.max(maxRss, m.rss);
      hwm = Math.max(hwm, m.hwm);
    }
  };
  tick();
  const t = setInterval(tick, 20);
  return {
    peak() {
      tick();
      return { maxRss, hwm };
    },
    stop() {
      clearInterval(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

const mbps = (bytes: number, ms: number) => bytes / CHUNK / (ms / 1000);
const mib = (b: number) => `${(b / CHUNK).toFixed(0)} MiB`;

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mltrack-bench-artifacts-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', MLTRACK_INITIAL_TOKEN: TOKEN, DATABASE_URL: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const cleanup = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    await waitHealthy(port, child);
    const pid = child.pid!;
    const idle = readMem(pid)!;
    const B = '/api/v4/projects/1/ml/mlflow/api/2.0/mlflow';
    const exp = await request(port, 'POST', `${B}/experiments/create`, { name: 'bench-artifacts' });
    if (exp.status !== 200) throw new Error(`experiments/create → ${exp.status} ${JSON.stringify(exp.json)}`);
    const run = await request(port, 'POST', `${B}/runs/create`, { experiment_id: exp.json.experiment_id });
    const artifactUri: string = run.json.run.info.artifact_uri;
    const rel = `${artifactUri.replace(/^mlflow-artifacts:\/+/, '')}/big.bin`;
    const url = `/api/v4/projects/1/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${rel}`;
    const mem = sampler(pid);

    // upload: one PUT, body streamed from the generator with backpressure
    let t0 = performance.now();
    const up = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port, method: 'PUT', path: url,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream', 'content-length': TOTAL },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      pipeline(Readable.from(generate(), { objectMode: false, highWaterMark: 4 * CHUNK }), req).catch(reject);
    });
    const upMs = performance.now() - t0;
    if (up.status !== 200) throw new Error(`upload → ${up.status} ${up.body}`);
    const upPeak = mem.peak();

    // download: streamed into the byte checker
    t0 = performance.now();
    const sink = verifier();
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: url, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`download → ${res.statusCode}`));
          pipeline(res, sink).then(resolve, reject);
        })
        .on('error', reject);
    });
    const downMs = performance.now() - t0;
    if (sink.bytes !== TOTAL) throw new Error(`downloaded ${sink.bytes} of ${TOTAL} bytes`);
    const downPeak = mem.peak();
    mem.stop();

    // baseline: the same bytes through fs streams on the same filesystem (the server's artifacts are in dataDir)
    const file = path.join(dataDir, 'baseline.bin');
    t0 = performance.now();
    await pipeline(Readable.from(generate(), { objectMode: false, highWaterMark: 4 * CHUNK }), fs.createWriteStream(file));
    const fsWriteMs = performance.now() - t0;
    t0 = performance.now();
    const fsSink = verifier();
    await pipeline(fs.createReadStream(file, { highWaterMark: CHUNK }), fsSink);
    const fsReadMs = performance.now() - t0;
    if (fsSink.bytes !== TOTAL) throw new Error('baseline read short');

    const row = (name: string, ms: number, base: number) =>
      `  ${name.padEnd(26)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${mbps(TOTAL, ms).toFixed(0).padStart(6)} MB/s   ${((base / ms) * 100).toFixed(0).padStart(4)} % of fs`;
    console.log(`\nmltrack artifact proxy, ${MB} MiB in one file (${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version})\n`);
    console.log(row('upload   PUT (proxy)', upMs, fsWriteMs));
    console.log(row('baseline fs write stream', fsWriteMs, fsWriteMs));
    console.log(row('download GET (proxy)', downMs, fsReadMs));
    console.log(row('baseline fs read stream', fsReadMs, fsReadMs));
    console.log('\n  server memory (/proc/<pid>/status)');
    console.log(`    idle after start        VmRSS ${mib(idle.rss)}, VmHWM ${mib(idle.hwm)}`);
    console.log(`    peak during upload      VmRSS ${mib(upPeak.maxRss)}, VmHWM ${mib(upPeak.hwm)}`);
    console.log(`    peak during download    VmRSS ${mib(downPeak.maxRss)}, VmHWM ${mib(downPeak.hwm)}`);
    console.log(`    growth of the peak over idle: ${mib(downPeak.hwm - idle.hwm)} for a ${MB} MiB file\n`);
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
