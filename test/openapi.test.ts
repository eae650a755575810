import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyTRPCProcedure } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { DB_KINDS } from './helpers/db.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { appRouter } from '../routers/index.ts';

/** GET /openapi.json: generated from the router, so every REST procedure is in it, with MLflow's error shape. */

interface Route {
  procedure: string;
  method: string;
  path: string;
  summary?: string;
}

/** Every procedure with `meta.openapi`, straight from the router. */
function routesOfRouter(): Route[] {
  const out: Route[] = [];
  for (const [procedure, proc] of Object.entries(appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure>)) {
    const meta = proc._def.meta as OpenApiMeta | undefined;
    if (!meta?.openapi) continue;
    out.push({ procedure, method: meta.openapi.method.toLowerCase(), path: meta.openapi.path, summary: meta.openapi.summary });
  }
  return out;
}

const ERROR_REF = '#/components/schemas/MlflowError';

describe.each(DB_KINDS)('OpenAPI document (%s)', (kind) => {
  let s: TestServer;
  let res: Awaited<ReturnType<TestServer['request']['get']>>;
  let doc: any;

  beforeAll(async () => {
    s = await startServer(kind);
    res = await s.request.get('/openapi.json');
    doc = res.body ?? {};
  });
  afterAll(async () => s?.close());

  it('is served at /openapi.json without a token, as an OpenAPI 3 document', async () => {
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    // the same document every time
    expect((await s.request.get('/openapi.json')).body).toEqual(doc);
  });

  it('has every procedure with meta.openapi at its path and method, and nothing else', () => {
    const routes = routesOfRouter();
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const r of routes) {
      const item = doc.paths?.[r.path];
      expect(item, `${r.procedure}: path ${r.path} missing`).toBeDefined();
      const op = item[r.method];
      expect(op, `${r.procedure}: ${r.method.toUpperCase()} ${r.path} missing`).toBeDefined();
      if (r.summary) expect(op.summary).toBe(r.summary);
    }
    const documented = Object.entries<any>(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)).map((m) => `${m} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('includes the GitLab 15.6 endpoints with their MLflow methods', () => {
    const expected: [string, string][] = [
      ['get', '/experiments/get'],
      ['get', '/experiments/get-by-name'],
      ['get', '/experiments/list'],
      ['post', '/experiments/create'],
      ['post', '/runs/create'],
      ['get', '/runs/get'],
      ['post', '/runs/update'],
      ['post', '/runs/log-metric'],
      ['post', '/runs/log-parameter'],
      ['post', '/runs/log-batch'],
    ];
    for (const [method, path] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    // GET inputs are query parameters, POST inputs a JSON body
    const getParams = doc.paths['/experiments/get'].get.parameters.map((p: any) => [p.name, p.in]);
    expect(getParams).toContainEqual(['experiment_id', 'query']);
    const runGet = doc.paths['/runs/get'].get.parameters.map((p: any) => p.name);
    expect(runGet).toEqual(expect.arrayContaining(['run_id', 'run_uuid']));
    const body = doc.paths['/runs/log-batch'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(['run_id', 'metrics', 'params', 'tags']));
  });

  it('declares the project in servers[0].url as the {id} variable', () => {
    const server = doc.servers[0];
    expect(server.url).toContain('{id}');
    expect(server.url).toMatch(/\/api\/v4\/projects\/\{id\}\/ml\/mlflow\/api\/2\.0\/mlflow$/);
    expect(server.variables.id).toMatchObject({ default: expect.any(String) });
    expect(server.variables.id.description).toEqual(expect.any(String));
  });

  it('documents errors as MlflowError {error_code, message}', () => {
    const schema = doc.components.schemas.MlflowError;
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(expect.arrayContaining(['error_code', 'message']));
    expect(schema.properties.error_code.type).toBe('string');
    expect(schema.properties.message.type).toBe('string');
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!op?.responses) continue;
        expect(op.responses['200'], `${method} ${path}: 200`).toBeDefined();
        const errors = Object.entries<any>(op.responses).filter(([status]) => status !== '200');
        expect(errors.length, `${method} ${path}: error responses`).toBeGreaterThan(0);
        for (const [status, resp] of errors) {
          expect(resp.content?.['application/json']?.schema?.$ref, `${method} ${path} ${status}`).toBe(ERROR_REF);
        }
        expect(op.security, `${method} ${path}: security`).toBeDefined();
      }
    }
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(['bearer', 'privateToken']));
  });

  it('every documented operation is served by the REST facade (no ENDPOINT_NOT_FOUND)', async () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const method of Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k))) {
        const url = s.mlflow() + path.replace(/\{[^}]+\}/g, 'x');
        const req = (s.request as any)[method](url).set('Authorization', `Bearer ${s.tokens.write}`);
        const res = method === 'get' ? await req : await req.send({});
        expect(res.status, `${method} ${path}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
        expect(res.body?.error_code, `${method} ${path}`).not.toBe('ENDPOINT_NOT_FOUND');
      }
    }
  });
});
