import net from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a keep-alive connection that is idle at the signal may still bring one request (answered with
 * `Connection: close`). Closing it at once races with a client that is just sending on it: that request is reset. */
const IDLE_GRACE_MS = 1000;

/**
 * Graceful shutdown of an HTTP server: stop accepting, answer every request still in flight with
 * `Connection: close` (so its client opens no new request on that connection), give idle keep-alive connections
 * IDLE_GRACE_MS, then resolve so the caller closes the database pool. If requests are still in flight after
 * `timeoutMs`, their sockets are destroyed and the result is `forced`, which the caller turns into a non-zero exit.
 *
 * server.close() alone is not enough: it keeps serving every connection that was busy at the signal, for as long as
 * its client keeps sending (the reliability report counted 265-281 more requests answered after SIGTERM), and in
 * Node 20 it closes idle keep-alive connections at once (the race above).
 */
export function trackConnections(server: Server) {
  const active = new Map<Socket, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  const inFlight = () => {
    let n = 0;
    for (const v of active.values()) n += v;
    return n;
  };

  server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.on('close', () => active.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    if (draining) res.setHeader('Connection', 'close');
    responses.add(res);
    res.on('close', () => {
      responses.delete(res);
      if (!active.has(socket)) return;
      const n = (active.get(socket) ?? 1) - 1;
      active.set(socket, n);
      if (draining && n === 0) socket.end();
    });
  });

  return {
    inFlight,
    /** Resolves `{ forced, cut }` once nothing is in flight (or the time is up and the rest was cut). */
    drain(timeoutMs: number): Promise<{ forced: boolean; cut: number }> {
      draining = true;
      // stop accepting, without http.Server.close()'s immediate closing of idle connections
      net.Server.prototype.close.call(server);
      for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
      const idleAtSignal = [...active].filter(([, n]) => n === 0).map(([s]) => s);
      setTimeout(() => {
        for (const s of idleAtSignal) if (active.get(s) === 0) s.end();
      }, IDLE_GRACE_MS).unref();
      const start = Date.now();
      return new Promise((resolve) => {
        const timer = setInterval(() => {
          const elapsed = Date.now() - start;
          const busy = inFlight();
          if (busy === 0 && (active.size === 0 || elapsed >= IDLE_GRACE_MS + 100)) {
            for (const s of active.keys()) s.destroy();
            clearInterval(timer);
            resolve({ forced: false, cut: 0 });
          } else if (elapsed >= timeoutMs) {
            for (const s of active.keys()) s.destroy();
            clearInterval(timer);
            resolve({ forced: busy > 0, cut: busy });
          }
        }, 20);
      });
    },
  };
}
