// The explicit listener: an HTTP proxy (clients configured with PROXY_SRV/PROXY_PORT, as FMC
// does). CONNECT host:port tunnels go through the same peek/decide/splice Connection as a
// transparent 443 listener; plain HTTP requests are evaluated on Host + path and forwarded
// with http-proxy. Block answers a 403 block page; Interactive Block answers a warning page
// whose "continue" link records a bypass for (client, host), after which requests are
// allowed with Reason 'User Bypass' (FMC's wording).
import * as http from 'node:http';
import { isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import httpProxy from 'http-proxy';
import { buildConnectionEvent } from '../events/index.js';
import type { ServerIdentity } from '../identity/index.js';
import { evaluate, type Flow, type Policy, type Verdict } from '../policy/index.js';
import { Connection, normalizeIp, type ProxyContext } from './connection.js';

const CONTINUE_PATH = '/__peekwall/continue';
/** How long a user's "continue" lasts (FMC's interactive-block bypass timeout default). */
const BYPASS_MS = 600_000;
const MAX_PENDING = 10_000;

export interface ExplicitOptions {
  readonly ctx: ProxyContext;
  readonly policy: () => Policy;
  readonly flowPort?: number;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function splitHostPort(s: string, defPort: number): { host: string; port: number } | null {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    host = s.slice(1, end);
    portText = s[end + 1] === ':' ? s.slice(end + 2) : undefined;
  } else {
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
  }
  const port = portText === undefined || portText === '' ? defPort : Number(portText);
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: host.toLowerCase(), port };
}

export function createExplicitServer(o: ExplicitOptions): http.Server {
  const { ctx } = o;
  const proxy = httpProxy.createProxyServer({ xfwd: false, ws: false });
  // key `${clientIp}|${host}` -> expiry
  const bypass = new Map<string, number>();
  // token -> { key, url, expires }
  const pending = new Map<string, { key: string; url: string; expires: number }>();

  proxy.on('error', (_e, _req, res) => {
    const r = res as http.ServerResponse;
    if (r instanceof http.ServerResponse && !r.headersSent) {
      r.writeHead(502, { 'content-type': 'text/plain' });
      r.end('peekwall: upstream unreachable\n');
    } else {
      (res as Socket).destroy?.();
    }
  });

  const server = http.createServer();
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const target = splitHostPort(req.url ?? '', 443);
    if (target === null) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    const policy = o.policy();
    ctx.resolve(target.host).then(
      (ip) => {
        if (socket.destroyed) return;
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
      () => socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n'),
    );
    socket.on('error', () => socket.destroy());
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = Date.now();
    const raw = req.url ?? '/';
    let url: URL;
    try {
      url = new URL(raw.startsWith('/') ? `http://${req.headers.host ?? 'invalid'}${raw}` : raw);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('peekwall: bad request URL\n');
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = url.port === '' ? 80 : Number(url.port);
    const clientIp = normalizeIp(req.socket.remoteAddress);
    const key = `${clientIp}|${host}`;

    if (url.pathname === CONTINUE_PATH) {
      const token = url.searchParams.get('token') ?? '';
      const p = pending.get(token);
      if (p === undefined || p.key !== key || p.expires < Date.now()) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end('peekwall: this continue link is not valid (expired, or for another client)\n');
        return;
      }
      pending.delete(token);
      bypass.set(key, Date.now() + BYPASS_MS);
      res.writeHead(302, { location: p.url, 'content-type': 'text/plain' });
      res.end('continuing\n');
      return;
    }

    const policy = o.policy();
    const map = ctx.addressMap;
    const sock = req.socket;
    const read0 = sock.bytesRead;
    const written0 = sock.bytesWritten;
    ctx.resolve(host).then(
      (ip) => {
        const path = url.pathname + url.search;
        const flow: Flow = {
          srcIp: map ? map.toSeed(clientIp) : clientIp,
          srcPort: sock.remotePort ?? 0,
          dstIp: map ? map.toSeed(ip) : ip,
          // flowPort is for tunnels (the lab's CONNECT to an ephemeral cloud port stands for
          // 443); a plain request's port is what the client asked for.
          dstPort: port,
          protocol: 'tcp',
          scheme: 'http',
          sni: null,
          path,
        };
        const source = isIP(host) ? 'ip' : 'sni';
        const identity: ServerIdentity = { name: host, source, candidates: [{ name: host, source }] };
        const verdict = evaluate(policy, flow, { name: host, source });
        const emit = (phase: 'begin' | 'end', extra: { action?: string; reason?: string; closeReason?: string }) => {
          ctx.counters.connections++;
          ctx.emit(
            buildConnectionEvent({
              phase,
              flow,
              identity,
              verdict,
              ...extra,
              bytesFromClient: sock.bytesRead - read0,
              bytesFromServer: sock.bytesWritten - written0,
              durationMs: Date.now() - started,
              ...(map ? { mapped: { srcIp: clientIp, dstIp: ip } } : {}),
            }),
            { listener: 'explicit', failed: false },
          );
        };
        const forward = (extra: { action?: string; reason?: string }) => {
          req.url = path;
          res.once('close', () => emit('end', extra));
          proxy.web(req, res, { target: `http://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}` });
        };
        switch (verdict.action) {
          case 'Allow':
          case 'Trust':
            return forward({});
          case 'Interactive Block':
          case 'Interactive Block with reset': {
            const until = bypass.get(key);
            if (until !== undefined && until > Date.now()) return forward({ action: 'Allow', reason: 'User Bypass' });
            emit('begin', { closeReason: 'policy/block' });
            return warningPage(res, verdict, key, url.href);
          }
          case 'Block with reset':
            emit('begin', { closeReason: 'policy/block' });
            sock.resetAndDestroy();
            return;
          default:
            emit('begin', { closeReason: 'policy/block' });
            return blockPage(res, verdict);
        }
      },
      () => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`peekwall: cannot resolve ${host}\n`);
      },
    );
  });

  function warningPage(res: http.ServerResponse, v: Verdict, key: string, original: string): void {
    if (pending.size >= MAX_PENDING) {
      const now = Date.now();
      for (const [t, p] of pending) if (p.expires < now) pending.delete(t);
      if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value as string);
    }
    const token = randomBytes(16).toString('hex');
    pending.set(token, { key, url: original, expires: Date.now() + BYPASS_MS });
    const u = new URL(original);
    const link = `${u.protocol}//${u.host}${CONTINUE_PATH}?token=${token}`;
    res.writeHead(403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(
      `<!doctype html><title>Warning</title><h1>This site may violate policy</h1>` +
        `<p>Access to <b>${escapeHtml(original)}</b> matched rule <b>${escapeHtml(v.rule)}</b>.</p>` +
        `<p><a id="continue" href="${escapeHtml(link)}">Continue</a> if you have a business reason.</p>\n`,
    );
  }

  function blockPage(res: http.ServerResponse, v: Verdict): void {
    res.writeHead(403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    res.end(
      `<!doctype html><title>Blocked</title><h1>Access denied</h1>` +
        `<p>Blocked by rule <b>${escapeHtml(v.rule)}</b>${v.reason ? ` (${escapeHtml(v.reason)})` : ''}.</p>\n`,
    );
  }

  server.on('close', () => proxy.close());
  return server;
}
