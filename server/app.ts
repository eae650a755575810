import express, { type NextFunction, type Request, type Response } from 'express';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import { appRouter } from '../routers/index.ts';
import type { Db } from '../db/knex.ts';
import type { Config } from '../core/config.ts';
import type { RequestContext } from '../routers/context.ts';
import { authenticate } from './auth.ts';
import { foldedCreate } from './create-fold.ts';
import { resolveProject } from './project.ts';
import { restFacade, sendJson, bodyError, type FastFacade } from './rest.ts';
import { urlIsValidUtf8 } from './json.ts';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/tx.ts';
import { readiness, READY_TIMEOUT_MS } from './readiness.ts';
import { LocalArtifactStore } from '../artifacts/local-store.ts';
import { artifactsProxy } from './artifacts/routes.ts';
import { MlflowError } from '../core/errors.ts';
import { toMlflowError } from '../core/error-map.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { VERSION } from './version.ts';
import { sessionRoutes } from './session.ts';
import { uiRoutes } from './ui.ts';
import { httpMetrics } from './metrics.ts';
import { jsonAccessLine, jsonErrorLog, requestIdOf } from './logs.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      ctx: RequestContext;
    }
  }
}

export interface AppOptions {
  db: Db;
  config: Config;
  log?: (msg: string, extra?: unknown, req?: Request) => void;
  /** One line per request on stdout: method, path (never the query, which may hold a token), status, ms, user. */
  accessLog?: boolean;
}

const endpointNotFound = (req: Request, _res: Response, next: NextFunction) =>
  next(new MlflowError('ENDPOINT_NOT_FOUND', `No API endpoint ${req.method} ${req.originalUrl.split('?')[0]}`));

export function createApp({ db, config, log = config.logFormat === 'json' ? jsonErrorLog : defaultLog, accessLog = false }: AppOptions) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const artifacts = new LocalArtifactStore(config.artifactsDir);
  // Prometheus counters, only when they are served (MLTRACK_METRICS_PORT; server/metrics.ts)
  const metrics = config.metricsPort !== undefined ? [httpMetrics(db)] : [];
  for (const m of metrics) app.use(m);

  const begin = (req: Request, res: Response, next: NextFunction) => {
    // honours a load balancer's X-Request-Id, so one id follows the request through both logs
    const requestId = requestIdOf(req);
    res.setHeader('X-Request-Id', requestId);
    req.ctx = { db, config, artifacts, requestId, user: null, scopes: [], project: null };
    if (accessLog) {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const path = req.originalUrl.split('?')[0];
        if (config.logFormat === 'json') return console.log(jsonAccessLine(req, res, ms, requestId));
        console.log(`${new Date().toISOString()} ${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms user=${req.ctx.user?.username ?? '-'} id=${requestId}`);
      });
    }
    // Path and query must be valid UTF-8 wherever they arrive: refused, never decoded with U+FFFD in their place.
    if (!urlIsValidUtf8(req.url)) return next(new MlflowError('INVALID_PARAMETER_VALUE', 'The request URL is not valid UTF-8.'));
    next();
  };
  app.use(begin);

  const projectChain = [authenticate((req) => req.params.id as string), resolveProject((req) => req.params.id as string)];
  const facade = restFacade(appRouter);

  // liveness: the process serves HTTP (a supervisor restarts it when this fails); readiness: it can do its work
  app.get('/health', (_req, res) => void res.type('text/plain').send('OK'));
  const ready = readiness(db, Math.min(config.dbTimeoutMs || READY_TIMEOUT_MS, READY_TIMEOUT_MS));
  app.get('/ready', async (_req, res) => {
    const problem = await ready();
    if (problem) return sendJson(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: problem });
    sendJson(res, 200, { status: 'ready' });
  });
  app.get('/version', (_req, res) => void res.type('text/plain').send(VERSION));

  let openapi: unknown;
  app.get('/openapi.json', (_req, res) => {
    openapi ??= buildOpenApiDocument(appRouter, VERSION, config.publicUrl);
    res.json(openapi);
  });

  // The web UI: sign-in session, and index.html at `/` and `/api/v4/projects/:id/ml/mlflow/` only (server/ui.ts).
  app.use('/api/v4/ui/session', sessionRoutes(config));
  app.use(uiRoutes(config));

  const proxy = artifactsProxy();
  const trpc = createExpressMiddleware({
    router: appRouter,
    createContext: ({ req }) => req.ctx,
    onError: ({ error, req }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR' && !(error instanceof MlflowError)) {
        log(`request ${(req as Request).ctx?.requestId} failed`, error.cause ?? error, req as Request);
      }
    },
  });

  // Everything of one project: the MLflow REST facade (and the UI's ajax-api twin) and tRPC.
  const project = express.Router();
  project.use(['/ml/mlflow/api/2.0/mlflow', '/ml/mlflow/ajax-api/2.0/mlflow'], facade, endpointNotFound);
  project.use(['/ml/mlflow/api/2.0/mlflow-artifacts', '/ml/mlflow/ajax-api/2.0/mlflow-artifacts'], proxy, endpointNotFound);
  project.use(endpointNotFound);
  app.use('/api/v4/projects/:id/trpc', deferErrors(projectChain), trpc);
  app.use('/api/v4/projects/:id', ...projectChain, project);

  // Instance-level tRPC (admin procedures) without a project.
  app.use('/api/v4/trpc', deferErrors([authenticate()]), trpc);

  // The root mount: the same API for one configured project, so MLFLOW_TRACKING_URI=http://host:port works.
  app.use(['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'], authenticate(() => config.rootProject), resolveProject(() => config.rootProject), facade, endpointNotFound);
  app.use(['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'], authenticate(() => config.rootProject), resolveProject(() => config.rootProject), proxy, endpointNotFound);

  app.use(endpointNotFound);

  const answerError = (err: unknown, req: Request, res: Response, _next?: NextFunction) => {
    const mlflow =
      toMlflowError(err) ??
      (isDatabaseUnavailable(err) ? databaseUnavailable() : (err as { type?: string })?.type ? bodyError(err) : undefined);
    if (mlflow) {
      if (mlflow.status >= 500) log(`request ${req.ctx?.requestId} failed`, err, req);
      return sendJson(res, mlflow.status, mlflow.toJSON());
    }
    log(`request ${req.ctx?.requestId} ${req.method} ${req.originalUrl.split('?')[0]} failed`, err, req);
    sendJson(res, 500, { error_code: 'INTERNAL_ERROR', message: `Internal error (request id ${req.ctx?.requestId ?? 'unknown'})` });
  };
  app.use(answerError);

  // The MLflow REST API of a project by its numeric id or plain path, straight to the facade's handler: the same
  // middlewares as the app and the mounts above (metrics, request id, auth with the project, body, handler; errors to
  // the same answer), run without express's router, which tried ~15 layers and their path patterns for every call
  // (3–5% of the server's CPU under runs/create, --cpu-prof), nor the app's own router (its layer loop, parseurl and
  // path trimming: ~3% at 1 client). Anything else (encoded ids, templated paths, HEAD, the root mount, tRPC) goes
  // through express as before.
  const direct = directProjectApi(app, facade.fast, [...metrics, begin], projectChain, answerError);
  const core = app as unknown as { handle(req: Request, res: Response, callback?: NextFunction): void };
  const handle = core.handle;
  core.handle = function (this: unknown, req, res, callback) {
    if (callback || !direct(req, res)) handle.call(this, req, res, callback);
  };

  return app;
}

/** `/api/v4/projects/<id>/ml/mlflow/{api,ajax-api}/2.0/mlflow<rest>`, with an id that needs no decoding. */
const PROJECT_API = /^\/api\/v4\/projects\/([^/%]+)\/ml\/mlflow\/(?:api|ajax-api)\/2\.0\/mlflow(\/[^?]*)(?:\?|$)/i;

type Middleware = (req: Request, res: Response, next: NextFunction) => unknown;

/**
 * See createApp: for a request the facade has an exact handler for, what express's app.handle sets up (req.res,
 * res.req, its request/response prototypes, res.locals; the router's originalUrl, baseUrl and params), then `before`
 * (the app's own middlewares), `chain` (auth and project, as mounted with `:id`), the facade's body reader and the handler, a failure anywhere going to `fail`. False when
 * the request is not one of these (express then takes it).
 */
function directProjectApi(app: express.Express, facade: FastFacade, before: Middleware[], chain: Middleware[], fail: (err: unknown, req: Request, res: Response) => void) {
  const steps = [...before, ...chain, facade.body];
  // runs/create: its auth, project and body in one step, its handler wrapped (server/create-fold.ts)
  const create = facade.lookup('POST', '/runs/create');
  const fold = create && foldedCreate(chain, facade.body, create);
  const createSteps = fold ? [...before, fold.step] : steps;
  return (req: Request, res: Response): boolean => {
    const m = PROJECT_API.exec(req.url);
    const found = m ? facade.lookup(req.method, m[2]!) : undefined;
    if (!found) return false;
    const folded = fold && found === create;
    const these = folded ? createSteps : steps;
    const handler = folded ? fold.handler : found;
    req.res = res;
    res.req = req;
    // a no-op on a server made by server/http.ts httpServer, whose requests are born with these prototypes
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    res.locals ??= Object.create(null);
    req.originalUrl ??= req.url;
    req.baseUrl = '';
    req.params = { id: m![1]! };
    let i = 0;
    // as express's final handler does when the error answer itself fails (its headers already sent): cut the connection
    const failed = (err: unknown) => {
      try {
        fail(err, req, res);
      } catch {
        req.socket?.destroy();
      }
    };
    const next = (err?: unknown) => {
      if (err) return failed(err);
      try {
        const mw = these[i++];
        if (mw) return void settle(mw(req, res, next));
        req.params = {}; // as the facade's own mount sees them: the handler copies path parameters into the input
        settle(handler(req, res, next));
      } catch (e) {
        failed(e);
      }
    };
    // as express's router does for a middleware's promise: a rejection is the request's failure
    const settle = (r: unknown) => {
      if (r instanceof Promise) r.catch((e: unknown) => failed(e ?? new Error('Rejected promise')));
    };
    next();
    return true;
  };
}

/** Runs middlewares, keeping a failure in ctx.deferredError instead of answering (for the tRPC mounts). */
function deferErrors(chain: ((req: Request, res: Response, next: NextFunction) => unknown)[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    let i = 0;
    const step = (err?: unknown) => {
      if (err) {
        req.ctx.deferredError = err as Error;
        return next();
      }
      const mw = chain[i++];
      if (!mw) return next();
      mw(req, res, step);
    };
    step();
  };
}

function defaultLog(msg: string, extra?: unknown) {
  // Never dump whole SQL statements (a failed batch insert would print megabytes): message head and stack only.
  const e = extra as { message?: string; stack?: string } | undefined;
  const text = e?.message ? `${e.message.slice(0, 500)}${e.message.length > 500 ? '…' : ''}\n${(e.stack ?? '').split('\n').slice(1, 8).join('\n')}` : String(extra ?? '');
  console.error(`[mltrack] ${msg}: ${text}`);
}
