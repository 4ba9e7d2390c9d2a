// The explicit listener: an HTTP proxy (clients configured with PROXY_SRV/PROXY_PORT, as FMC
// does). CONNECT host:port tunnels go through the same peek/decide/splice Connection as a
// transparent 443 listener (connect.ts); plain HTTP requests are judged on Host + path and
// forwarded with http-proxy (request.ts). Requests Node's parser refuses are answered and
// logged here. Every refusal writes one event with a named reason.
//
// Never a way back into the proxy: a target that is one of the proxy's own sockets (after name
// resolution) is refused, forwarded requests carry a Via naming this proxy and a request that
// already passed through it (or through too many proxies) is refused as a loop.
import * as http from 'node:http';
import { isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import httpProxy from 'http-proxy';
import type { Policy } from '../../policy/index.js';
import type { ProxyContext } from '../connection.js';
import { emitRefusal } from '../refusal.js';
import { closeSoon } from '../splice.js';
import { Bypasses } from './bypass.js';
import { handleConnect } from './connect.js';
import { handleRequest } from './request.js';
import { parserRefusal } from './words.js';

export interface ExplicitOptions {
  readonly ctx: ProxyContext;
  /** What of this proxy's own sockets an address and port would reach (null: none). */
  readonly selfTarget: (ip: string, port: number) => string | null;
  readonly policy: () => Policy;
  readonly flowPort?: number;
  /** Bound on remembered bypasses (default 10,000). */
  readonly maxBypasses?: number;
}

/** Where a refused request was going, as far as it is known, and what it had cost. */
export interface RefusedAt {
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
  readonly path?: string;
  readonly started: number;
  readonly read0: number;
  readonly written0: number;
}

/** What the CONNECT and request handlers of one explicit listener share. */
export interface Explicit {
  readonly ctx: ProxyContext;
  readonly o: ExplicitOptions;
  /** This proxy's name in Via: unique per listener, so a request that comes back is recognised. */
  readonly via: string;
  readonly bypasses: Bypasses;
  readonly forwarder: httpProxy;
  /** One event for a request refused before policy: the operator sees every refusal. */
  refused(sock: Socket, closeReason: string, at: RefusedAt): void;
  /** Answer a plain request with an error status once; a response already started is cut. */
  fail(res: http.ServerResponse, status: number, text: string): void;
}

export function createExplicitServer(o: ExplicitOptions): http.Server {
  const { ctx } = o;
  const forwarder = httpProxy.createProxyServer({ xfwd: false, ws: false });
  forwarder.on('error', (_e, _req, res) => {
    const r = res as http.ServerResponse;
    if (r instanceof http.ServerResponse && !r.headersSent) {
      r.writeHead(502, { 'content-type': 'text/plain' });
      r.end('peekwall: upstream unreachable\n');
    } else {
      (res as Socket).destroy?.();
    }
  });

  const x: Explicit = {
    ctx,
    o,
    via: `1.1 peekwall-${randomBytes(4).toString('hex')}`,
    bypasses: new Bypasses(o.maxBypasses),
    forwarder,
    refused(sock, closeReason, at) {
      // The destination address is known only when the request named one (not resolved yet).
      emitRefusal(ctx, sock, { ...at, dstIp: isIP(at.host) ? at.host : '0.0.0.0', dstPort: at.port, listener: 'explicit' }, { closeReason });
    },
    fail(res, status, text) {
      if (res.headersSent || res.writableEnded) {
        res.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`peekwall: ${text}\n`);
    },
  };

  const server = http.createServer();
  // Requests Node's parser refuses (Content-Length with chunked, duplicate Content-Length,
  // obs-fold, bad tokens, oversized headers) never reach 'request': without this listener Node
  // answered 400 itself and no event said so.
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    const started = Date.now();
    if (!socket.destroyed && socket.writable) {
      x.refused(socket, parserRefusal(e), { host: '', port: 0, scheme: 'http', started, read0: 0, written0: 0 });
      const status =
        e.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : e.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      socket.write(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    socket.on('error', () => undefined);
    closeSoon(socket);
  });
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => handleConnect(x, req, socket, head));
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Nothing a request carries may throw out of this listener (an exception here, or a
    // rejection below, used to take the whole proxy down).
    // In flight until answered: /healthz and the active gauge count plain requests too (a
    // request looping or stuck upstream is visible there, not only in the fd count).
    ctx.counters.active++;
    res.once('close', () => ctx.counters.active--);
    handleRequest(x, req, res).catch(() => {
      ctx.counters.internalErrors = (ctx.counters.internalErrors ?? 0) + 1;
      try {
        x.fail(res, 500, 'internal error');
      } catch {
        req.socket.destroy();
      }
    });
  });
  server.on('close', () => forwarder.close());
  return server;
}
