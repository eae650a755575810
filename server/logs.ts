/**
 * Request ids and JSON-lines logs (MLTRACK_LOG_FORMAT=json): the access log and server errors, one JSON object per
 * line on stdout (access) and stderr (errors). Fields: time, level, msg, request_id, method, route (a bounded label,
 * server/route-label.ts), path (never the query, where a token may travel), status, duration_ms, user.
 * Nothing from headers is logged (Authorization, Cookie, Private-Token stay out); error texts are cut to 500 chars,
 * lose the SQL knex prepends (it holds bound values) and have anything shaped like a secret masked.
 */
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { routeLabels } from './route-label.ts';

// What we accept from a proxy or a client as the request id: short, printable, no spaces, no quotes (it lands in
// log lines and a response header). Anything else gets a fresh UUID.
const INCOMING_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/** The request's id: a valid incoming X-Request-Id (set by a load balancer or the client), else a new UUID. */
export function requestIdOf(req: Request): string {
  const h = req.headers['x-request-id'];
  const v = Array.isArray(h) ? h[0] : h;
  return v && INCOMING_ID.test(v) ? v : crypto.randomUUID();
}

const SECRETS: [RegExp, string][] = [
  [/mltpat-[A-Za-z0-9_-]+/g, 'mltpat-[redacted]'],
  [/\b(bearer|basic)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [/\b((?:private[_-]?)?token|password|passwd|secret|cookie|authorization)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, '$1$2[redacted]'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@\s/]+@/gi, '$1[redacted]@'],
];

/** Masks token-, password- and cookie-shaped substrings. */
export function redact(text: string): string {
  let out = text;
  for (const [re, to] of SECRETS) out = out.replace(re, to);
  return out;
}

type ErrorLike = { message?: string; sql?: string; sqlMessage?: string; cause?: unknown };

/**
 * An error's message without the SQL statement knex puts before it (`<sql with values> - <message>`), cut to 500.
 * tRPC wraps the driver's error (its message copied, SQL included): the cause chain is searched for the query error.
 */
function errorMessage(top: ErrorLike): string {
  let e: ErrorLike | undefined = top;
  for (let i = 0; e && i < 5 && !(e.sql || e.sqlMessage); i++) e = e.cause as ErrorLike | undefined;
  let m: string;
  if (e?.sqlMessage) m = e.sqlMessage;
  else if (e?.sql) m = (e.message ?? '').includes(' - ') ? e.message!.slice(e.message!.lastIndexOf(' - ') + 3) : String(e.message);
  else m = top.message ?? String(top);
  // better-sqlite3's errors carry no `sql`: knex's prefix is recognised by its shape
  if (/^(?:select|insert|update|delete|with|create|alter|drop|replace|pragma|savepoint|release|rollback)\b[\s\S]* - /i.test(m)) m = m.slice(m.lastIndexOf(' - ') + 3);
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

export function jsonAccessLine(req: Request, res: Response, ms: number, requestId: string): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    level: res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    msg: 'request',
    request_id: requestId,
    method: req.method,
    route: routeLabels(req.method, req.originalUrl).join(','),
    path: redact(req.originalUrl.split('?')[0]!),
    status: res.statusCode,
    duration_ms: Math.round(ms * 10) / 10,
    user: req.ctx?.user?.username ?? null,
  });
}

/** The app's `log` in JSON: one line on stderr, with the request's id, method and route when it has one. */
export function jsonErrorLog(msg: string, extra?: unknown, req?: Request): void {
  const e = extra as { message?: string; stack?: string; code?: unknown; errno?: unknown } | undefined;
  const line: Record<string, unknown> = { time: new Date().toISOString(), level: 'error', msg: redact(msg) };
  if (req) {
    line.request_id = req.ctx?.requestId;
    line.method = req.method;
    line.route = routeLabels(req.method, req.originalUrl).join(',');
  }
  if (e && typeof e === 'object') {
    line.error = {
      message: redact(errorMessage(e)),
      ...(e.code !== undefined ? { code: String(e.code) } : {}),
      ...(typeof e.errno === 'number' ? { errno: e.errno } : {}),
      stack: (e.stack ?? '').split('\n').slice(1, 8).map((s) => s.trim()),
    };
  } else if (extra !== undefined) {
    line.error = { message: redact(String(extra).slice(0, 500)) };
  }
  console.error(JSON.stringify(line));
}
