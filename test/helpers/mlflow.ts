import { expect } from 'vitest';
import type { TestServer } from './server.ts';

/**
 * One test client for the MLflow REST API of a test server, by token and project, and the fixtures every suite
 * needs (a new experiment, a new run, a run read back). Suites build it once, lazily, since the server starts in
 * beforeAll: `const api = mlflowApi(() => s)`. Options name the project (an object with an id, or a full path) and
 * the token (the developer's read-write token by default).
 */
export type Project = { id: number } | string;
export interface As {
  project?: Project;
  token?: string;
}
type Body = object | unknown[];

export function mlflowApi(server: () => TestServer) {
  const url = (path: string, as?: As) => server().mlflow(as?.project ?? server().project) + path;
  const bearer = (as?: As) => `Bearer ${as?.token ?? server().tokens.write}`;
  const api = {
    post: (path: string, body: unknown, as?: As) => server().request.post(url(path, as)).set('Authorization', bearer(as)).send(body as Body),
    /** A POST of raw JSON text, so int64 digits beyond 2^53 reach the server exactly as typed. */
    postRaw: (path: string, text: string, as?: As) =>
      server().request.post(url(path, as)).set('Authorization', bearer(as)).set('Content-Type', 'application/json').send(text),
    /** A GET with a query object, or a literal query string (repeated keys as the clients send them). */
    get: (path: string, query: Record<string, string> | string = {}, as?: As) =>
      typeof query === 'string'
        ? server().request.get(`${url(path, as)}?${query}`).set('Authorization', bearer(as))
        : server().request.get(url(path, as)).set('Authorization', bearer(as)).query(query),
    /** DELETE and PATCH send a JSON body, as the registry's clients do. */
    delete: (path: string, body: unknown, as?: As) => server().request.delete(url(path, as)).set('Authorization', bearer(as)).send(body as Body),
    patch: (path: string, body: unknown, as?: As) => server().request.patch(url(path, as)).set('Authorization', bearer(as)).send(body as Body),

    /** experiments/create, asserting 200; the new experiment's id. */
    async newExperiment(name: string, as?: As, extra: Record<string, unknown> = {}): Promise<string> {
      const res = await api.post('/experiments/create', { name, ...extra }, as);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.experiment_id;
    },
    /** runs/create in an experiment, asserting 200; the new run as answered. */
    async newRun(experimentId: string, body: Record<string, unknown> = {}, as?: As): Promise<any> {
      const res = await api.post('/runs/create', { experiment_id: experimentId, ...body }, as);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.run;
    },
    /** runs/get, asserting 200; the run. */
    async getRun(runId: string, as?: As): Promise<any> {
      const res = await api.get('/runs/get', { run_id: runId }, as);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.run;
    },
  };
  return api;
}

/** A supertest parser that keeps the body as text: supertest's JSON.parse would round int64 values beyond 2^53. */
export function rawText(res: NodeJS.ReadableStream & { setEncoding(e: string): void }, cb: (err: Error | null, body: string) => void) {
  let data = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (data += c));
  res.on('end', () => cb(null, data));
}
