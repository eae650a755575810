/**
 * The HTTP server around the express app. What Node's HTTP parser refuses before express ever sees the request (a
 * request line or headers over 16 kB, a raw non-ASCII byte in the request line, a malformed header) is answered
 * here in MLflow's error shape, so the MLflow client reports a message instead of an empty INTERNAL_ERROR.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';

function clientErrorAnswer(err: NodeJS.ErrnoException): { status: number; reason: string; message: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, reason: 'Request Header Fields Too Large', message: 'The request line or headers are too large (the limit is 16 kB); send long values in a POST body.' };
  }
  if (err.code === 'HPE_URI_TOO_LONG') return { status: 414, reason: 'URI Too Long', message: 'The request URI is too long.' };
  return { status: 400, reason: 'Bad Request', message: `Malformed HTTP request (${err.code ?? 'parse error'}).` };
}

/** Answers a request Node's parser refused with MLflow JSON, then closes the connection. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, reason, message } = clientErrorAnswer(err);
  const body = JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // keep reading what the client still sends (a 1 MB request line) so closing does not reset the connection
  // before it has read the answer; give up after a moment
  socket.resume();
  setTimeout(() => socket.destroy(), 2000).unref();
}

/** An HTTP server for the app, with MLflow-shaped answers to requests the parser refuses. */
export function createHttpServer(app: Express): http.Server {
  const server = http.createServer(app);
  server.on('clientError', answerClientError);
  return server;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const PERCENT_RUN = /(?:%[0-9a-fA-F]{2})+/g;

/**
 * Whether every percent-encoded byte sequence of a URL is UTF-8. Express decodes invalid sequences to U+FFFD, so
 * a query value or path segment would be stored changed; such requests are refused instead (the app's first
 * middleware, see app.ts).
 */
export function isUtf8Url(url: string): boolean {
  if (!url.includes('%')) return true;
  for (const run of url.match(PERCENT_RUN) ?? []) {
    try {
      utf8.decode(Uint8Array.from(run.slice(1).split('%'), (h) => parseInt(h, 16)));
    } catch {
      return false;
    }
  }
  return true;
}
