import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Graceful shutdown of an HTTP server: stop accepting, close idle keep-alive connections, answer every request still
 * in flight (with `Connection: close`, so its client opens no new request on that connection), then run `cleanup`
 * (closing the database pool). If requests are still in flight after `timeoutMs`, their sockets are destroyed and
 * the result is `forced`, which the caller turns into a non-zero exit.
 *
 * server.close() alone is not enough: it keeps serving every connection that was busy at the signal, for as long as
 * its client keeps sending (the reliability report counted 265-281 more requests answered after SIGTERM).
 */
export function trackConnections(server: Server) {
  const active = new Map<Socket, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let onIdle: (() => void) | undefined;
  const inFlight = () => [...active.values()].reduce((a, b) => a + b, 0);

  server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.on('close', () => {
      active.delete(socket);
      if (draining && inFlight() === 0) onIdle?.();
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    if (draining) res.setHeader('Connection', 'close');
    responses.add(res);
    res.on('close', () => {
      responses.delete(res);
      const n = (active.get(socket) ?? 1) - 1;
      if (active.has(socket)) active.set(socket, n);
      if (draining && n === 0) socket.end();
      if (draining && inFlight() === 0) onIdle?.();
    });
  });

  return {
    inFlight,
    /** Resolves `{ forced }` once nothing is in flight (or the time is up and the rest was cut). */
    drain(timeoutMs: number): Promise<{ forced: boolean; cut: number }> {
      draining = true;
      server.close();
      for (const [socket, n] of active) if (n === 0) socket.end();
      for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
      // responses already being answered close their connection after this answer
      return new Promise((resolve) => {
        let done = false;
        const finish = (forced: boolean, cut: number) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ forced, cut });
        };
        onIdle = () => finish(false, 0);
        const timer = setTimeout(() => {
          const cut = inFlight();
          for (const socket of active.keys()) socket.destroy();
          finish(cut > 0, cut);
        }, timeoutMs);
        if (inFlight() === 0) finish(false, 0);
      });
    },
  };
}
