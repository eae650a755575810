import { expect } from 'vitest';
import type { TestServer } from './server.ts';

/**
 * The one test client for the MLflow REST API (as FastTrackML's helpers/test.go): calls by project and token over
 * real HTTP, plus fixtures that create experiments and runs and fail the test when the server refuses.
 * Every call takes the server first because suites assign it in beforeAll.
 */

export type Project = { id: number; path: string };
export type Json = Record<string, any>;

/** Which project (default: the developer's `s.project`) and token (default: `s.tokens.write`) a call uses. */
export interface As {
  project?: Project | string;
  token?: string;
}

const base = (s: TestServer, as: As) => s.mlflow(as.project ?? s.project);
const bearer = (s: TestServer, as: As) => `Bearer ${as.token ?? s.tokens.write}`;

export const post = (s: TestServer, path: string, body: unknown, as: As = {}) =>
  s.request.post(base(s, as) + path).set('Authorization', bearer(s, as)).send(body as object);

/** A POST with a raw JSON text, so int64 digits beyond 2^53 reach the server exactly as typed. */
export const postRaw = (s: TestServer, path: string, text: string, as: As = {}) =>
  s.request.post(base(s, as) + path).set('Authorization', bearer(s, as)).set('Content-Type', 'application/json').send(text);

export const get = (s: TestServer, path: string, query: Record<string, string> = {}, as: As = {}) =>
  s.request.get(base(s, as) + path).set('Authorization', bearer(s, as)).query(query);

/** POST that must answer 200; returns the body. */
export async function ok(s: TestServer, path: string, body: unknown, as: As = {}): Promise<Json> {
  const res = await post(s, path, body, as);
  expect(res.status, `${path} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

/** A new experiment; returns its id. */
export async function newExperiment(s: TestServer, name: string, as: As = {}, extra: Json = {}): Promise<string> {
  return (await ok(s, '/experiments/create', { name, ...extra }, as)).experiment_id;
}

/** A new run from a runs/create body; returns the run as the server answered it. */
export async function newRun(s: TestServer, body: Json, as: As = {}): Promise<any> {
  return (await ok(s, '/runs/create', body, as)).run;
}

/** runs/get that must answer 200; returns the run. */
export async function getRun(s: TestServer, runId: string, as: As = {}): Promise<any> {
  const res = await get(s, '/runs/get', { run_id: runId }, as);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.run;
}
