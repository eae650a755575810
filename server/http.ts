import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { stringifyJson } from './json.ts';

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
