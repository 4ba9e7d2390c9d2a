// CONNECT host:port: resolve, refuse what would reach the proxy itself, answer 200, then the
// tunnel is an ordinary Connection (peek the ClientHello, decide, splice or refuse).
import type * as http from 'node:http';
import { isIP, type Socket } from 'node:net';
import { Connection } from '../connection.js';
import type { Explicit } from './server.js';
import { splitHostPort } from './words.js';

export function handleConnect(x: Explicit, req: http.IncomingMessage, socket: Socket, head: Buffer): void {
  const { ctx, o } = x;
  socket.on('error', () => socket.destroy());
  const started = Date.now();
  const read0 = socket.bytesRead;
  const written0 = socket.bytesWritten;
  const target = splitHostPort(req.url ?? '', 443);
  if (target === null) {
    x.refused(socket, 'proxy/bad-request', { host: '', port: 0, scheme: 'https', started, read0, written0 });
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    return;
  }
  const at = { host: target.host, port: target.port, scheme: 'https' as const, started, read0, written0 };
  const refuse = (why: string, status = '502 Bad Gateway') => {
    x.refused(socket, why, at);
    if (!socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
  };
  const policy = o.policy();
  ctx
    .resolve(target.host)
    .then(
      (ip) => {
        if (socket.destroyed) return;
        if (typeof ip !== 'string' || isIP(ip) === 0) return refuse('proxy/resolve-failed');
        if (o.selfTarget(ip, target.port) !== null) return refuse('proxy/self-target', '403 Forbidden');
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        new Connection(ctx, socket, {
          listener: 'explicit',
          policy,
          dst: { ip, port: target.port },
          ...(o.flowPort !== undefined ? { flowPort: o.flowPort } : {}),
          head,
          readOffset: socket.bytesRead - head.length,
        });
      },
      () => refuse('proxy/resolve-failed'),
    )
    // Whatever throws above ends this tunnel, never the process.
    .catch(() => {
      ctx.counters.internalErrors = (ctx.counters.internalErrors ?? 0) + 1;
      socket.destroy();
    });
}
