// The explicit listener: an HTTP proxy (clients configured with PROXY_SRV/PROXY_PORT, as FMC
// does). CONNECT host:port tunnels go through the same peek/decide/splice Connection as a
// transparent 443 listener; plain HTTP requests are evaluated on Host + path and forwarded
// with http-proxy. Block answers a 403 block page; Interactive Block answers a warning page
// whose "continue" link records a bypass for (client, host), after which requests are
// allowed with Reason 'User Bypass' (FMC's wording).
//
// Never a way back into the proxy: a target that is one of the proxy's own sockets (after name
// resolution) is refused, forwarded requests carry a Via naming this proxy and a request that
// already passed through it (or through too many proxies) is refused as a loop. A plain request
// whose Host header names another server than its absolute-form target is refused: policy judged
// the target, so the origin must not be told another name (Host fronting).
import * as http from 'node:http';
import { isIP, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import httpProxy from 'http-proxy';
import { buildConnectionEvent, refusalEvent } from '../events/index.js';
import { enforcementOf } from '../flow/index.js';
import type { ServerIdentity } from '../identity/index.js';
import { evaluate, type Flow, type Policy, type Verdict } from '../policy/index.js';
import { Connection, normalizeIp, type ProxyContext } from './connection.js';
import { closeSoon } from './splice.js';

const CONTINUE_PATH = '/__peekwall/continue';
/** How long a user's "continue" lasts (FMC's interactive-block bypass timeout default). */
const BYPASS_MS = 600_000;
const MAX_PENDING = 10_000;
/** Via entries a request may carry before it is taken for a loop through other proxies. */
const MAX_HOPS = 8;

export interface ExplicitOptions {
  readonly ctx: ProxyContext;
  /** What of this proxy's own sockets an address and port would reach (null: none). */
  readonly selfTarget: (ip: string, port: number) => string | null;
  readonly policy: () => Policy;
  readonly flowPort?: number;
  /** Bound on remembered bypasses (default MAX_PENDING). */
  readonly maxBypasses?: number;
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

  /**
   * One event for a request refused before policy (bad request, unresolvable host, internal
   * failure): the operator sees every refusal, not only policy blocks.
   */
  const refuseEvent = (
    sock: Socket,
    closeReason: string,
    o2: { host: string; port: number; scheme: 'http' | 'https'; path?: string; started: number; read0: number; written0: number },
  ): void => {
    try {
      const clientIp = normalizeIp(sock.remoteAddress);
      const map = ctx.addressMap;
      const hostIp = isIP(o2.host) ? o2.host : '0.0.0.0';
      ctx.counters.connections++;
      ctx.emit(
        refusalEvent({
          flow: {
            srcIp: map ? map.toSeed(clientIp) : clientIp,
            srcPort: sock.remotePort ?? 0,
            dstIp: hostIp,
            dstPort: o2.port,
            protocol: 'tcp',
            scheme: o2.scheme,
            sni: null,
            ...(o2.path !== undefined ? { path: o2.path } : {}),
          },
          host: o2.host,
          closeReason,
          bytesFromClient: sock.bytesRead - o2.read0,
          bytesFromServer: sock.bytesWritten - o2.written0,
          durationMs: Date.now() - o2.started,
          ...(map ? { mapped: { srcIp: clientIp, dstIp: hostIp } } : {}),
        }),
        { listener: 'explicit', failed: true },
      );
    } catch {
      ctx.counters.eventErrors = (ctx.counters.eventErrors ?? 0) + 1;
    }
  };

  /** Answer a plain request with an error status once; a response already started is cut. */
  const fail = (res: http.ServerResponse, status: number, text: string): void => {
    if (res.headersSent || res.writableEnded) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`peekwall: ${text}\n`);
  };

  // This proxy's name in Via: unique per listener, so a request that comes back is recognised.
  const via = `1.1 peekwall-${randomBytes(4).toString('hex')}`;

  const server = http.createServer();
  // Requests Node's parser refuses (Content-Length with chunked, duplicate Content-Length,
  // obs-fold, bad tokens, oversized headers) never reach 'request': without this listener Node
  // answered 400 itself and no event said so.
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    const started = Date.now();
    if (!socket.destroyed && socket.writable) {
      refuseEvent(socket, parserRefusal(e), { host: '', port: 0, scheme: 'http', started, read0: 0, written0: 0 });
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
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const started = Date.now();
    const read0 = socket.bytesRead;
    const written0 = socket.bytesWritten;
    const target = splitHostPort(req.url ?? '', 443);
    if (target === null) {
      refuseEvent(socket, 'proxy/bad-request', { host: '', port: 0, scheme: 'https', started, read0, written0 });
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    const policy = o.policy();
    const refuse = (why: string) => {
      refuseEvent(socket, why, { host: target.host, port: target.port, scheme: 'https', started, read0, written0 });
      if (!socket.destroyed) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n');
    };
    ctx
      .resolve(target.host)
      .then(
        (ip) => {
          if (socket.destroyed) return;
          if (typeof ip !== 'string' || isIP(ip) === 0) return refuse('proxy/resolve-failed');
          if (o.selfTarget(ip, target.port) !== null) {
            refuseEvent(socket, 'proxy/self-target', { host: target.host, port: target.port, scheme: 'https', started, read0, written0 });
            socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
            return;
          }
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
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Nothing a request carries may throw out of this listener (an exception here, or a
    // rejection below, used to take the whole proxy down).
    handleRequest(req, res).catch(() => {
      ctx.counters.internalErrors = (ctx.counters.internalErrors ?? 0) + 1;
      try {
        fail(res, 500, 'internal error');
      } catch {
        req.socket.destroy();
      }
    });
  });

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const sock = req.socket;
    const read0 = sock.bytesRead;
    const written0 = sock.bytesWritten;
    const raw = req.url ?? '/';
    const refuseRequest = (code: string, status: number, why: string, host = '', port = 0, path?: string) => {
      refuseEvent(sock, code, { host, port, scheme: 'http', ...(path !== undefined ? { path } : {}), started, read0, written0 });
      fail(res, status, `${why} [${code}]`);
    };
    const badRequest = (why: string, host = '', port = 0) => refuseRequest('proxy/bad-request', 400, why, host, port);
    let url: URL;
    let hostHeaders = 0;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'host') hostHeaders++;
    if (hostHeaders > 1) return refuseRequest('http/duplicate-host', 400, 'a request with more than one Host header');
    try {
      if (raw.startsWith('/')) {
        // Origin form: the Host header names the server; without one there is nothing to proxy.
        const hostHeader = req.headers.host;
        if (hostHeader === undefined || hostHeader === '') return badRequest('a request without a host cannot be proxied');
        url = new URL(`http://${hostHeader}${raw}`);
      } else {
        url = new URL(raw);
      }
    } catch {
      return badRequest('bad request URL');
    }
    // Only http: is proxied here (https goes through CONNECT). file:, ftp:, data: and the
    // like are refused, never resolved or forwarded as if they were HTTP.
    if (url.protocol !== 'http:') return badRequest(`only http:// URLs are proxied (not ${url.protocol})`);
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = url.port === '' ? 80 : Number(url.port);
    if (host === '') return badRequest('the request URL has no host');
    if (!Number.isInteger(port) || port < 1 || port > 65535) return badRequest('the request URL has no valid port', host);
    const hostHeader = req.headers.host;
    if (!raw.startsWith('/') && hostHeader !== undefined && !sameAuthority(hostHeader, url)) {
      return refuseRequest('proxy/host-mismatch', 400, `the Host header (${hostHeader}) names another server than the request URL (${url.host})`, host, port);
    }
    const hops = viaHops(req.headers.via);
    if (hops.includes(via)) return refuseRequest('proxy/loop', 508, 'this request already passed through this proxy', host, port);
    if (hops.length >= MAX_HOPS) return refuseRequest('proxy/too-many-hops', 508, `this request passed through ${hops.length} proxies`, host, port);
    const clientIp = normalizeIp(sock.remoteAddress);
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
      remember(key, Date.now() + BYPASS_MS);
      res.writeHead(302, { location: p.url, 'content-type': 'text/plain' });
      res.end('continuing\n');
      return;
    }

    const policy = o.policy();
    const map = ctx.addressMap;
    const path = url.pathname + url.search;
    let ip: string;
    try {
      ip = await ctx.resolve(host);
      if (typeof ip !== 'string' || isIP(ip) === 0) throw new Error('not an IP address');
    } catch {
      refuseEvent(sock, 'proxy/resolve-failed', { host, port, scheme: 'http', path, started, read0, written0 });
      fail(res, 502, `cannot resolve ${host}`);
      return;
    }
    const self = o.selfTarget(ip, port);
    if (self !== null) return refuseRequest('proxy/self-target', 403, `${url.host} is this proxy's own ${self}`, host, port, path);
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
    const verdict = evaluate(policy, flow, { name: host, source }, { trace: false }); // indexed path; events do not carry the trace
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
      // The origin is told the name policy judged (RFC 9112 3.2.2: a proxy replaces Host with
      // the target's authority), and which proxies the request went through.
      req.headers.host = url.host;
      req.headers.via = req.headers.via ? `${req.headers.via}, ${via}` : via;
      res.once('close', () => emit('end', extra));
      proxy.web(req, res, { target: `http://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}` });
    };
    const e = enforcementOf(verdict.action);
    if (e.allow) return forward({});
    if (e.interactive) {
      // A web request can be shown the warning page (with or without reset: the page is the
      // interaction); a user who continued is let through for a while.
      const until = bypass.get(key);
      if (until !== undefined && until > Date.now()) return forward({ action: 'Allow', reason: 'User Bypass' });
      emit('begin', { closeReason: 'policy/block' });
      return warningPage(res, verdict, key, url.href);
    }
    emit('begin', { closeReason: 'policy/block' });
    if (e.reset) return void sock.resetAndDestroy();
    return blockPage(res, verdict);
  }

  /**
   * Bypasses expire but were never removed, so a long-running proxy (or one client walking
   * through many host names) grew this map without bound. At the bound, expired entries go
   * first, then the least recently granted.
   */
  function remember(key: string, until: number): void {
    const max = Math.max(1, o.maxBypasses ?? MAX_PENDING);
    bypass.delete(key);
    if (bypass.size >= max) {
      const now = Date.now();
      for (const [k, t] of bypass) if (t <= now) bypass.delete(k);
      while (bypass.size >= max) bypass.delete(bypass.keys().next().value as string);
    }
    bypass.set(key, until);
  }

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

/** The stable code for a request Node's HTTP parser refused (llhttp's code, and its reason where one code covers two cases). */
function parserRefusal(e: NodeJS.ErrnoException & { reason?: string }): string {
  switch (e.code) {
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // Content-Length beside chunked: the request-smuggling shape (CL.TE / TE.CL).
      return /content-length/i.test(e.reason ?? '') ? 'http/length-and-chunked' : 'http/bad-transfer-encoding';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'http/bad-content-length';
    case 'HPE_HEADER_OVERFLOW':
      return 'http/headers-too-large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'http/request-timeout';
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return 'http/bad-header';
    default:
      return 'http/bad-request';
  }
}

/** Via entries, trimmed (comments kept: they are part of how a proxy names itself). */
function viaHops(via: string | undefined): string[] {
  if (via === undefined || via === '') return [];
  const out: string[] = [];
  for (const part of via.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Does a Host header name the same authority as the request URL (compared as URL parsing spells both)? */
function sameAuthority(hostHeader: string, url: URL): boolean {
  try {
    const h = new URL(`http://${hostHeader.trim()}/`);
    return h.host === url.host && h.username === '' && h.password === '';
  } catch {
    return false;
  }
}
