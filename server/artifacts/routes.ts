/**
 * MLflow's artifact proxy (`mlflow-artifacts` service, mlflow_artifacts.proto; handlers `_upload_artifact`,
 * `_download_artifact`, `_list_artifacts_mlflow_artifacts`, `_delete_artifact_mlflow_artifacts`), per project:
 *
 *   PUT    /artifacts/<path>          upload: the request body is streamed into the store, never buffered → {}
 *   GET    /artifacts/<path>          download, streamed, as an attachment
 *   GET    /artifacts?path=<dir>      list → {files: [{path (basename), is_dir, file_size?}]} ("files" omitted if empty)
 *   DELETE /artifacts/<path>          delete a file or a directory tree → {}
 *   POST   /mpu/{create,complete,abort}/<path>   501: the client falls back to a single PUT
 *
 * `<path>` is relative to the project (`<experiment_id>/<run_id>/artifacts/...`, `<experiment_id>/models/<model_id>/
 * artifacts/...`) and is stored under the project's scope `p/<project id>`: no project reaches another's files.
 * The path is taken raw from the URL (express decodes route parameters; we don't use them) and goes through
 * safeRelativePath, which decodes repeatedly, so double-encoded traversal (`%252e%252e`) is seen and refused.
 *
 * Access: reading needs read access to the project, writing and deleting the developer role and the api scope —
 * the tracking API's rules, applied by the same procedures (routers/artifacts.ts `proxyAccess`). Writes must land
 * inside the artifact root of an existing run or logged model of the project (404 otherwise).
 */
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { MlflowError } from '../../core/errors.ts';
import { toMlflowError } from '../../core/error-map.ts';
import { sendJson } from '../rest.ts';
import { invalidPath, safeRelativePath } from '../../artifacts/paths.ts';
import { proxyAccess } from '../../routers/artifacts.ts';

const MIME: Record<string, string> = {
  txt: 'text/plain', log: 'text/plain', md: 'text/markdown', csv: 'text/csv', tsv: 'text/tab-separated-values',
  html: 'text/html', htm: 'text/html', css: 'text/css', xml: 'text/xml', js: 'text/javascript',
  py: 'text/x-python', sh: 'text/x-sh', r: 'text/plain', ipynb: 'application/x-ipynb+json',
  yaml: 'text/plain', yml: 'text/plain', toml: 'text/plain', ini: 'text/plain', cfg: 'text/plain',
  json: 'application/json', jsonl: 'application/jsonl', geojson: 'application/geo+json',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', bmp: 'image/bmp', webp: 'image/webp',
  svg: 'image/svg+xml', ico: 'image/vnd.microsoft.icon', tif: 'image/tiff', tiff: 'image/tiff',
  pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', tgz: 'application/gzip',
  tar: 'application/x-tar', bz2: 'application/x-bzip2', xz: 'application/x-xz', '7z': 'application/x-7z-compressed',
  mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', mp4: 'video/mp4', webm: 'video/webm', avi: 'video/x-msvideo',
  parquet: 'application/octet-stream', pkl: 'application/octet-stream', pt: 'application/octet-stream',
  onnx: 'application/octet-stream', h5: 'application/x-hdf5', npy: 'application/octet-stream',
};
/** Extension-less files MLflow writes next to models (mime_type_utils: MLmodel, MLproject are text). */
const MIME_BY_NAME: Record<string, string> = { MLmodel: 'text/plain', MLproject: 'text/plain' };

/** Content-Type from the file name; text types carry `charset=utf-8` as Flask sends them. */
export function contentTypeFor(name: string): string {
  const base = path.posix.basename(name);
  const ext = path.posix.extname(base).slice(1).toLowerCase();
  const type = MIME_BY_NAME[base] ?? (ext ? MIME[ext] : undefined) ?? 'application/octet-stream';
  return type.startsWith('text/') ? `${type}; charset=utf-8` : type;
}

/** `attachment; filename=...`, quoted when needed, with an RFC 5987 `filename*` for non-ASCII names. */
export function contentDisposition(name: string): string {
  if (/^[!#$&+.^_`|~0-9A-Za-z-]+$/.test(name)) return `attachment; filename=${name}`;
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&');
  const header = `attachment; filename="${ascii}"`;
  if (/^[\x20-\x7e]*$/.test(name)) return header;
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${header}; filename*=UTF-8''${encoded}`;
}

const tooLarge = (max: number) => new MlflowError('INVALID_PARAMETER_VALUE', `Artifact exceeds the maximum size of ${max} bytes`, 413);
const mpuUnsupported = () =>
  new MlflowError('NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository');

type Handler = (req: Request, res: Response, raw: string) => Promise<void>;

async function upload(req: Request, res: Response, raw: string): Promise<void> {
  const rel = safeRelativePath(raw);
  if (rel === '') throw invalidPath();
  const { scope } = await proxyAccess(req.ctx).write({ path: rel, allowRoot: false });
  const max = req.ctx.config.maxArtifactBytes;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw tooLarge(max);
  await req.ctx.artifacts.put(scope, rel, req, max);
  sendJson(res, 200, {});
}

async function download(req: Request, res: Response, raw: string): Promise<void> {
  const rel = safeRelativePath(raw);
  const { scope } = await proxyAccess(req.ctx).read({ path: rel });
  // HTTP Range (one range): the UI previews the head of a large file and loads more on demand.
  const rangeHeader = typeof req.headers.range === 'string' ? req.headers.range : undefined;
  let unsatisfiable = false;
  const pick = rangeHeader
    ? (size: number) => {
        const r = parseRange(rangeHeader, size);
        if (r === 'unsatisfiable') unsatisfiable = true;
        return r === 'unsatisfiable' ? undefined : r;
      }
    : undefined;
  const { stream, size, range } = await req.ctx.artifacts.get(scope, rel, pick);
  const name = path.posix.basename(rel);
  res.setHeader('Accept-Ranges', 'bytes');
  if (unsatisfiable) {
    (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
    res.status(416).setHeader('Content-Range', `bytes */${size}`);
    res.end();
    return;
  }
  res.status(range ? 206 : 200);
  res.setHeader('Content-Type', contentTypeFor(name));
  res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
  if (range) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  res.setHeader('Content-Disposition', contentDisposition(name));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.method === 'HEAD') {
    (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
    res.end();
    return;
  }
  await pipeline(stream, res);
}

async function list(req: Request, res: Response, _raw: string): Promise<void> {
  const q = req.query.path;
  if (q !== undefined && typeof q !== 'string') throw invalidPath();
  const rel = q === undefined ? '' : safeRelativePath(q);
  const { scope } = await proxyAccess(req.ctx).read({ path: rel });
  const files = await req.ctx.artifacts.list(scope, rel);
  sendJson(res, 200, files.length ? { files } : {});
}

async function remove(req: Request, res: Response, raw: string): Promise<void> {
  const rel = safeRelativePath(raw);
  if (rel === '') throw invalidPath();
  const { scope } = await proxyAccess(req.ctx).write({ path: rel, allowRoot: true });
  await req.ctx.artifacts.delete(scope, rel);
  sendJson(res, 200, {});
}

async function multipart(_req: Request, res: Response, raw: string): Promise<void> {
  safeRelativePath(raw);
  // answered here rather than thrown: the app's error handler logs every 5xx as a failure, and this one is expected
  const err = mpuUnsupported();
  sendJson(res, err.status, err.toJSON());
}

function run(fn: Handler, req: Request, res: Response, next: NextFunction, raw: string): void {
  fn(req, res, raw).catch((err: unknown) => {
    // The client went away (interrupted upload or download): the store has cleaned up, nobody is left to answer.
    if (res.headersSent || res.destroyed || req.destroyed) {
      res.destroy();
      return;
    }
    // An error before the body was read whole: don't drain a possibly huge upload to keep the connection.
    if (!req.complete) res.setHeader('Connection', 'close');
    next(toMlflowError(err) ?? err);
  });
}

/**
 * The proxy's routes, relative to its mount (`.../api/2.0/mlflow-artifacts`): the dispatch below and the route
 * index (ROUTES.md) both read this table. `<path>` is the artifact path, still percent-encoded; HEAD is served as GET.
 */
export const PROXY_ROUTES: { method: 'GET' | 'PUT' | 'DELETE' | 'POST'; path: string; operation: string; handler: Handler }[] = [
  { method: 'GET', path: '/artifacts', operation: 'ListArtifacts', handler: list },
  { method: 'GET', path: '/artifacts/<path>', operation: 'DownloadArtifact', handler: download },
  { method: 'PUT', path: '/artifacts/<path>', operation: 'UploadArtifact', handler: upload },
  { method: 'DELETE', path: '/artifacts/<path>', operation: 'DeleteArtifact', handler: remove },
  { method: 'POST', path: '/mpu/create/<path>', operation: 'CreateMultipartUpload', handler: multipart },
  { method: 'POST', path: '/mpu/complete/<path>', operation: 'CompleteMultipartUpload', handler: multipart },
  { method: 'POST', path: '/mpu/abort/<path>', operation: 'AbortMultipartUpload', handler: multipart },
];

/** The route of a request path and method, with the raw artifact path it names ('' for the listing). */
function matchRoute(pathname: string, method: string): { handler: Handler; raw: string } | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const r of PROXY_ROUTES) {
    if (r.method !== m) continue;
    if (!r.path.endsWith('<path>')) {
      if (pathname === r.path || pathname === `${r.path}/`) return { handler: r.handler, raw: '' };
      continue;
    }
    const prefix = r.path.slice(0, -'<path>'.length);
    // "/artifacts/" alone is the listing, not a file with an empty path
    if (pathname.startsWith(prefix) && !(r.path === '/artifacts/<path>' && pathname === prefix)) {
      return { handler: r.handler, raw: pathname.slice(prefix.length) };
    }
  }
  return undefined;
}

/**
 * The proxy as an express router, to be mounted at `.../api/2.0/mlflow-artifacts` after authenticate and
 * resolveProject. Unknown routes fall through (next) to the caller's ENDPOINT_NOT_FOUND.
 */
export function artifactsProxy(): Router {
  const r = express.Router();
  r.use((req: Request, res: Response, next: NextFunction) => {
    // req.url is relative to the mount point and still percent-encoded.
    const q = req.url.indexOf('?');
    const route = matchRoute(q >= 0 ? req.url.slice(0, q) : req.url, req.method);
    if (!route) return next();
    run(route.handler, req, res, next, route.raw);
  });
  return r;
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → an inclusive range; multiple ranges or garbage → undefined (whole file). */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number, end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
