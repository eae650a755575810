import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AnyTRPCProcedure, AnyTRPCRouter } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { MlflowError } from '../core/errors.ts';
import { toMlflowError } from '../core/error-map.ts';
import { bodyProblem, decodeUtf8, parseJson, stringifyJson } from './json.ts';
import type { RequestContext } from '../routers/context.ts';
import { procedureCaller } from '../routers/trpc.ts';

/** 20 MB: a 1000-metric batch is about 100 kB, and 100 params × 6000 chars + 100 tags × 8000 chars stays below. */
export const JSON_LIMIT = '20mb';
const JSON_LIMIT_BYTES = 20 * 1024 * 1024; // what body-parser reads '20mb' as

/**
 * A plain body (Content-Length given, no Content-Encoding) read as it arrives: body-parser's set-up per request
 * (content-type parsing, raw-body, on-finished, its stream checks) was ~3% of the server's CPU under runs/create.
 * Bodies that are compressed, chunked or over the limit still go through body-parser, which answers them as before.
 */
function readPlainBody(req: Request, length: number, done: (err: unknown, body?: Buffer) => void) {
  const chunks: Buffer[] = [];
  let got = 0;
  const onData = (c: Buffer) => {
    chunks.push(c);
    got += c.length;
  };
  const finish = (err: unknown, body?: Buffer) => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    done(err, body);
  };
  const onEnd = () =>
    got === length ? finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got)) : finish({ type: 'request.size.invalid' });
  const onError = () => finish({ type: 'request.aborted' });
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
}

interface RestRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  procedurePath: string;
  type: 'query' | 'mutation';
  arrayFields: Set<string>;
}

function unwrap(schema: any): any {
  let s = schema;
  for (;;) {
    if (s?.def && (s.def.type === 'optional' || s.def.type === 'default' || s.def.type === 'nullable')) s = s.def.innerType;
    else if (s?.def?.type === 'pipe' && s.def.in?.def?.type === 'transform') s = s.def.out; // z.preprocess(fn, object)
    else return s;
  }
}

/** The REST routes of a router: one per procedure with `meta.openapi`. Nothing lists routes twice. */
export function restRoutes(appRouter: AnyTRPCRouter): RestRoute[] {
  const procedures = appRouter._def.procedures as Record<string, AnyTRPCProcedure>;
  const routes: RestRoute[] = [];
  for (const [procedurePath, proc] of Object.entries(procedures)) {
    const meta = proc._def.meta as OpenApiMeta | undefined;
    if (!meta?.openapi) continue;
    const input = (proc._def as any).inputs?.[0];
    const shape = unwrap(input)?.shape ?? {};
    const arrayFields = new Set<string>();
    for (const [k, v] of Object.entries(shape)) if (unwrap(v)?.def?.type === 'array') arrayFields.add(k);
    routes.push({
      method: meta.openapi.method.toLowerCase() as RestRoute['method'],
      path: meta.openapi.path,
      procedurePath,
      type: (proc._def as any).type,
      arrayFields,
    });
  }
  return routes;
}

/** GET query → input object: repeated keys become arrays for list fields; other fields take the first value. */
function inputFromQuery(query: Record<string, unknown>, arrayFields: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (arrayFields.has(k)) out[k] = Array.isArray(v) ? v : [v];
    else out[k] = Array.isArray(v) ? v[0] : v;
  }
  return out;
}

/**
 * JSON bodies as MLflow reads them: Content-Type must be application/json (parameters such as charset allowed);
 * int64 digits are kept exactly; malformed JSON and oversized bodies are 400 with MLflow's error shape.
 */
export function mlflowJsonBody() {
  // raw bytes, decoded here with a fatal UTF-8 decoder: express.text would put U+FFFD in place of invalid bytes,
  // and the reliability report found such a dataset name stored changed
  const raw = express.raw({ type: () => true, limit: JSON_LIMIT });
  return (req: Request, res: Response, next: NextFunction) => {
    const length = req.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      req.body = undefined;
      return next();
    }
    const plainLength = Number(length);
    const plain =
      length !== undefined && req.headers['transfer-encoding'] === undefined && req.headers['content-encoding'] === undefined &&
      /^\d+$/.test(length) && plainLength <= JSON_LIMIT_BYTES;
    const read = plain
      ? (cb: (err?: unknown) => void) => readPlainBody(req, plainLength, (err, body) => ((req.body = body), cb(err)))
      : (cb: (err?: unknown) => void) => raw(req, res, cb);
    read((err?: unknown) => {
      if (err) return next(bodyError(err));
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8' && charset !== 'utf8') {
        return next(new MlflowError('INVALID_PARAMETER_VALUE', 'Unsupported request body encoding: send UTF-8.'));
      }
      const text = Buffer.isBuffer(req.body) ? decodeUtf8(req.body) : '';
      if (text === undefined) return next(new MlflowError('INVALID_PARAMETER_VALUE', 'The request body is not valid UTF-8.'));
      if (text.trim() === '') {
        req.body = undefined;
        return next();
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (req.method !== 'GET' && req.method !== 'DELETE' && type !== 'application/json') {
        return next(
          new MlflowError('INVALID_PARAMETER_VALUE', `Bad Request. Content-Type must be one of [application/json]. Got '${req.headers['content-type'] ?? ''}'.`),
        );
      }
      let parsed: unknown;
      try {
        parsed = parseJson(text);
        // legacy clients double-encode: a JSON string holding the JSON object
        if (typeof parsed === 'string') parsed = parseJson(parsed);
      } catch {
        return next(new MlflowError('INVALID_PARAMETER_VALUE', 'Malformed JSON in the request body.'));
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return next(new MlflowError('INVALID_PARAMETER_VALUE', 'Malformed request body: expected a JSON object.'));
      }
      const problem = bodyProblem(parsed);
      if (problem) return next(new MlflowError('INVALID_PARAMETER_VALUE', problem));
      req.body = parsed;
      next();
    });
  };
}

/** JSON null means "not set" to MLflow's parser (protobuf ParseDict): drop null fields, in nested objects too. */
function dropNulls(v: any): any {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === 'object') dropNulls(v[i]);
    return v;
  }
  for (const k in v) {
    const x = v[k];
    if (x === null) delete v[k];
    else if (typeof x === 'object') dropNulls(x);
  }
  return v;
}

export function bodyError(err: unknown): MlflowError {
  const e = err as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return new MlflowError('INVALID_PARAMETER_VALUE', `Request body too large: the limit is ${JSON_LIMIT}.`);
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new MlflowError('INVALID_PARAMETER_VALUE', 'Unsupported request body encoding.');
  if (e?.type === 'request.aborted') return new MlflowError('INVALID_PARAMETER_VALUE', 'The request body was not received whole.');
  return new MlflowError('INVALID_PARAMETER_VALUE', 'Malformed request body.');
}

/** Writes a 200 JSON answer chunk by chunk, waiting for the client to take each one (a slow reader holds no backlog). */
async function streamJson(res: Response, chunks: AsyncIterable<string>): Promise<void> {
  res.status(200).type('application/json');
  for await (const c of chunks) {
    if (res.destroyed) throw new Error('client went away');
    if (!res.write(c)) {
      await new Promise<void>((r) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          r();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}

/**
 * The JSON answer, with express's headers (Content-Type application/json; charset=utf-8, Content-Length; no ETag: the
 * app disables it). Written straight to the response unless express's send would do more: a HEAD request, or a
 * conditional one (`If-None-Match: *` makes express answer 304). res.send's checks were ~2% of the server's CPU under
 * runs/create (--cpu-prof).
 */
export function sendJson(res: Response, status: number, body: unknown) {
  const text = stringifyJson(body);
  const h = res.req.headers;
  if (res.req.method === 'HEAD' || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) {
    return void res.status(status).type('application/json').send(text);
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * The MLflow REST facade: an express route for each procedure's `meta.openapi`, calling the procedure (as a tRPC
 * caller would: routers/trpc.ts procedureCaller) with the request's context. Same validation, same middleware, same
 * output schema as /trpc.
 */
type Handler = (req: Request, res: Response, next: NextFunction) => void;

/** What server/app.ts's direct dispatch needs of the facade: the handler of an exact path, and the body reader. */
export interface FastFacade {
  /** The handler of `method` and `path` (relative to the facade's mount), matched as express would; undefined if none. */
  lookup(method: string, path: string): Handler | undefined;
  body: Handler;
}

export function restFacade(appRouter: AnyTRPCRouter): Router & { fast: FastFacade } {
  const r = express.Router();
  const body = mlflowJsonBody();
  r.use(body);
  // Paths without parameters are found in a map, not by trying express's routes one by one (~100 of them: express's
  // router was ~5% of the server's CPU under runs/create). Matching as express's: any letter case, one trailing slash.
  // HEAD, non-ASCII paths and templated paths go through express's routes as before.
  const exact = new Map<string, Handler>();
  const lookup = (method: string, p: string) =>
    /^[\x20-\x7e]*$/.test(p) ? exact.get(`${method} ${(p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p).toLowerCase()}`) : undefined;
  r.use((req, res, next) => {
    const handler = lookup(req.method, req.path);
    if (!handler) return next();
    req.params = {};
    handler(req, res, next);
  });
  for (const route of restRoutes(appRouter)) {
    const call = procedureCaller((appRouter._def.procedures as Record<string, AnyTRPCProcedure>)[route.procedurePath]!, route.procedurePath);
    // OpenAPI path templates (`/logged-models/{model_id}`) become express parameters (`:model_id`).
    const expressPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    const readsQuery = route.method === 'get' || route.method === 'delete';
    const handler = async (req: Request, res: Response, next: NextFunction) => {
      // req.query is parsed on every read (express 5's getter: parseurl and qs); only GET and DELETE take their input from it
      const query = readsQuery ? (req.query as Record<string, unknown>) : undefined;
      const input =
        query && Object.keys(query).some((k) => k !== 'private_token')
          ? inputFromQuery(query, route.arrayFields)
          : dropNulls(req.body ?? {});
      delete (input as Record<string, unknown>).private_token;
      // path parameters win over same-named query or body fields
      const params = req.params as Record<string, string> | undefined;
      if (params) for (const k in params) (input as Record<string, unknown>)[k] = params[k];
      (req.ctx as RequestContext).streamJson = (chunks) => streamJson(res, chunks);
      try {
        const result = await call(req.ctx as RequestContext, input);
        if (res.headersSent) return; // streamed
        sendJson(res, 200, result ?? {});
      } catch (err) {
        // a failure halfway through a streamed answer: cut the connection, so the client sees no valid JSON
        if (res.headersSent) return void res.destroy(err as Error);
        next(toMlflowError(err, input) ?? err);
      }
    };
    const key = `${route.method.toUpperCase()} ${expressPath.toLowerCase()}`;
    if (!expressPath.includes(":") && !exact.has(key)) exact.set(key, handler);
    r[route.method](expressPath, handler);
  }
  return Object.assign(r, { fast: { lookup, body } });
}
