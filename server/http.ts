import http, { type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { stringifyJson } from './json.ts';

/**
 * The HTTP server of an express app, whose requests and responses are born express's: Node constructs them with
 * `app.request` and `app.response` as their prototypes, where express gives every request a new prototype after Node
 * made it (Object.setPrototypeOf in app.handle, and in server/app.ts's direct dispatch; there it is now a no-op, as
 * the prototype is already the one set). Changing an object's prototype after V8 has seen it was a fifth of the
 * server's CPU per request (request-cpu.ts, 1 client, 5 alternating rounds against the build before, median paired
 * difference, SQLite · MariaDB: runs/create −0.128 · −0.162 ms of 0.60 · 0.57, a 10-metric log-batch −0.113 · −0.206
 * of 0.85 · 1.06, GET /health −0.110 · −0.082 of 0.25 · 0.21). A server made elsewhere (supertest's) still works:
 * express swaps the prototypes as before.
 */
export function httpServer(app: Express): Server {
  // Node calls `new` on these with its own arguments; plain functions, so that their prototype can be express's object
  function Request(this: http.IncomingMessage, ...args: ConstructorParameters<typeof http.IncomingMessage>) {
    (http.IncomingMessage as unknown as (...a: unknown[]) => void).apply(this, args);
  }
  Request.prototype = app.request;
  function Response(this: http.ServerResponse, ...args: ConstructorParameters<typeof http.ServerResponse>) {
    (http.ServerResponse as unknown as (...a: unknown[]) => void).apply(this, args);
  }
  Response.prototype = app.response;
  return http.createServer(
    { IncomingMessage: Request as unknown as typeof http.IncomingMessage, ServerResponse: Response as unknown as typeof http.ServerResponse },
    app,
  );
}

/** Node's parser error codes → the status and message a client gets, as MLflow JSON. */
function parserAnswer(code: string | undefined): { status: number; reason: string; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, reason: 'Request Header Fields Too Large', message: 'The request line and headers exceed 16 kB (Node\'s limit); send long values in a POST body.' };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'Request Timeout', message: 'The request was not received in time.' };
  return { status: 400, reason: 'Bad Request', message: `Malformed HTTP request (${code ?? 'parse error'}): the request line and headers must be ASCII HTTP/1.1.` };
}

/**
 * What Node's HTTP parser rejects before express sees it (request line or headers over 16 kB, a raw non-ASCII byte in
 * the request line) is answered as MLflow JSON instead of Node's bare `400`/`431` or a reset. The rest of the request
 * is read and dropped for up to 2 s before closing: closing a socket with unread bytes makes the kernel send a reset,
 * which a client still sending a 1 MB query string sees instead of the answer.
 */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, message } = parserAnswer(err.code);
    const body = stringifyJson({ error_code: 'INVALID_PARAMETER_VALUE', message });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.on('data', () => {});
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}
