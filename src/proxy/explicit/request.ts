// A plain HTTP request to the explicit listener: read its target (absolute form, or origin form
// with a Host), refuse what is ambiguous (two Hosts, a Host fronting another server, a loop, the
// proxy itself), judge it on the host and path, then forward it, answer the block or warning
// page, or reset — as the verdict's enforcement says.
import type * as http from 'node:http';
import { isIP } from 'node:net';
import { buildConnectionEvent } from '../../events/index.js';
import { enforcementOf } from '../../flow/index.js';
import type { ServerIdentity } from '../../identity/index.js';
import { evaluate, type Flow } from '../../policy/index.js';
import { normalizeIp } from '../connection.js';
import { CONTINUE_PATH } from './bypass.js';
import { blockPage, warningPage } from './pages.js';
import type { Explicit } from './server.js';
import { sameAuthority, viaHops } from './words.js';

/** Via entries a request may carry before it is taken for a loop through other proxies. */
const MAX_HOPS = 8;

export async function handleRequest(x: Explicit, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { ctx, o } = x;
  const started = Date.now();
  const sock = req.socket;
  const read0 = sock.bytesRead;
  const written0 = sock.bytesWritten;
  const raw = req.url ?? '/';
  const refuse = (code: string, status: number, why: string, host = '', port = 0, path?: string) => {
    x.refused(sock, code, { host, port, scheme: 'http', ...(path !== undefined ? { path } : {}), started, read0, written0 });
    x.fail(res, status, `${why} [${code}]`);
  };
  const badRequest = (why: string, host = '', port = 0) => refuse('proxy/bad-request', 400, why, host, port);
  let hostHeaders = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'host') hostHeaders++;
  if (hostHeaders > 1) return refuse('http/duplicate-host', 400, 'a request with more than one Host header');
  let url: URL;
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
  // Host fronting: policy judges the absolute-form target, so the origin must not be told
  // another name. A client that means what it sends never sends two different ones.
  const hostHeader = req.headers.host;
  if (!raw.startsWith('/') && hostHeader !== undefined && !sameAuthority(hostHeader, url)) {
    return refuse('proxy/host-mismatch', 400, `the Host header (${hostHeader}) names another server than the request URL (${url.host})`, host, port);
  }
  const hops = viaHops(req.headers.via);
  if (hops.includes(x.via)) return refuse('proxy/loop', 508, 'this request already passed through this proxy', host, port);
  if (hops.length >= MAX_HOPS) return refuse('proxy/too-many-hops', 508, `this request passed through ${hops.length} proxies`, host, port);
  const clientIp = normalizeIp(sock.remoteAddress);
  const key = `${clientIp}|${host}`;

  if (url.pathname === CONTINUE_PATH) {
    const next = x.bypasses.redeem(url.searchParams.get('token') ?? '', key);
    if (next === null) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('peekwall: this continue link is not valid (expired, or for another client)\n');
      return;
    }
    res.writeHead(302, { location: next, 'content-type': 'text/plain' });
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
    x.refused(sock, 'proxy/resolve-failed', { host, port, scheme: 'http', path, started, read0, written0 });
    x.fail(res, 502, `cannot resolve ${host}`);
    return;
  }
  const self = o.selfTarget(ip, port);
  if (self !== null) return refuse('proxy/self-target', 403, `${url.host} is this proxy's own ${self}`, host, port, path);
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
    req.headers.via = req.headers.via ? `${req.headers.via}, ${x.via}` : x.via;
    res.once('close', () => emit('end', extra));
    x.forwarder.web(req, res, { target: `http://${isIP(ip) === 6 ? `[${ip}]` : ip}:${port}` });
  };
  const e = enforcementOf(verdict.action);
  if (e.allow) return forward({});
  if (e.interactive) {
    // A web request can be shown the warning page (with or without reset: the page is the
    // interaction); a user who continued is let through for a while.
    if (x.bypasses.allowed(key)) return forward({ action: 'Allow', reason: 'User Bypass' });
    emit('begin', { closeReason: 'policy/block' });
    return warningPage(res, verdict, url.href, x.bypasses.issue(key, url.href));
  }
  emit('begin', { closeReason: 'policy/block' });
  if (e.reset) return void sock.resetAndDestroy();
  return blockPage(res, verdict);
}
