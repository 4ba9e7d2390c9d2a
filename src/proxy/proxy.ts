// startProxy: listeners, shared context (TSID cache, limits, events, metrics), reload,
// close/drain. Each accepted socket becomes a Connection that carries the policy it was
// accepted under: reload swaps the reference for new connections only.
import * as net from 'node:net';
import * as http from 'node:http';
import { lookup } from 'node:dns/promises';
import type { ConnectionEvent } from '../events/index.js';
import type { Policy } from '../policy/index.js';
import { PeekwallFailure, peekwallError, type PeekwallError } from '../util/errors.js';
import { Connection, normalizeIp, type ProxyContext } from './connection.js';
import { createExplicitServer } from './explicit/server.js';
import { isLoopbackHost } from './loopback.js';
import type { Endpoint } from '../flow/index.js';
import { ProxyMetrics } from './metrics.js';
import { emitRefusal } from './refusal.js';
import { SelfTargets } from './self.js';
import { TsidCache } from './probe.js';
import type { HostPort, ListenerConfig, ProxyOptions, RunningProxy } from './types.js';

const DEFAULT_MAX_CONNECTIONS = 10_000;
const DEFAULT_MAX_HELD = 64 * 1024 * 1024;

async function defaultResolve(host: string): Promise<string> {
  if (net.isIP(host)) return host;
  return (await lookup(host)).address;
}

/**
 * Resolver answers are checked before they reach policy or a socket: dns.lookup('') and
 * injected resolvers can answer null or '', which would reach evaluate() as a dstIp and
 * throw inside a promise callback (an unhandled rejection ends the process), and which
 * net.connect would take for localhost. A non-empty string that is not an address is left to
 * the caller: the explicit listener refuses it (isIP), route upstreams fail to connect to it.
 */
function checkedResolve(userResolve: (host: string) => Promise<string>): (host: string) => Promise<string> {
  return async (host: string) => {
    if (typeof host !== 'string' || host === '') throw new Error('no host name to resolve');
    if (net.isIP(host)) return host;
    const ip: unknown = await userResolve(host);
    if (typeof ip !== 'string' || ip === '') {
      throw new Error(`the resolver answered ${JSON.stringify(ip) ?? String(ip)} for ${host}, not an IP address`);
    }
    return ip;
  };
}

const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

function sameTsidSettings(a: Policy, b: Policy): boolean {
  const x = a.settings;
  const y = b.settings;
  return (
    x.tsid.enabled === y.tsid.enabled &&
    x.tsid.profile === y.tsid.profile &&
    x.tsidCache.maxEntries === y.tsidCache.maxEntries &&
    x.tsidCache.ttlMs === y.tsidCache.ttlMs
  );
}

/** Routes: exact name, then `*.parent` for one label. */
function routeLookup(routes: Readonly<Record<string, HostPort>>, name: string): HostPort | undefined {
  const exact = routes[name];
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? routes[`*${name.slice(dot)}`] : undefined;
}

/** Why a listen failed, in the words an operator needs (the errno alone is not enough). */
export function listenError(host: string, port: number, e: NodeJS.ErrnoException): PeekwallError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const why =
    e.code === 'EADDRINUSE'
      ? 'the port is already in use (another peekwall, or another server)'
      : e.code === 'EACCES'
        ? port < 1024
          ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE (or a lower net.ipv4.ip_unprivileged_port_start); use a port >= 1024 and DNAT/redirect 443 to it'
          : 'permission denied'
        : e.code === 'EADDRNOTAVAIL'
          ? 'that address is not configured on this machine (on Linux, any 127.x.y.z is; other addresses need an interface)'
          : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
            ? 'the host name does not resolve'
            : (e.message ?? String(e));
  return peekwallError('proxy/listen', `cannot listen on ${where}: ${e.code ? `${e.code}, ` : ''}${why}`);
}

export function listen(server: net.Server, host: string, port: number, onError: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => reject(new PeekwallFailure(listenError(host, port, e)));
    server.once('error', failed);
    server.listen({ host, port, exclusive: false }, () => {
      server.removeListener('error', failed);
      // After start, accept errors (EMFILE, ENFILE) are counted, never thrown: an 'error'
      // without a listener would take the whole proxy down.
      server.on('error', onError);
      resolve();
    });
  });
}

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  let policy: Policy = o.policy;
  // Literal addresses never go through the resolver (injected ones need not know them).
  const resolve = checkedResolve(o.resolve ?? defaultResolve);
  // Refused before anything listens: /metrics off loopback without a token exposes what the
  // proxy sees to anyone who can reach the port (the run config refuses it too, with a line).
  if (o.admin && !isLoopbackHost(o.admin.host) && !o.admin.token) {
    throw new PeekwallFailure(
      peekwallError('proxy/admin-needs-token', `the admin listener on ${o.admin.host} is reachable from other hosts: give it a token (or bind 127.0.0.1)`),
    );
  }
  const counters: Record<string, number> = {
    connections: 0,
    active: 0,
    refused: 0,
    events: 0,
    blocked: 0,
    allowed: 0,
    inspectionFailures: 0,
    tsidCacheHits: 0,
    tsidCacheMisses: 0,
    bytesFromClient: 0,
    bytesFromServer: 0,
    reloads: 0,
  };
  const metrics = new ProxyMetrics(() => counters, o.eventLog);
  const maxConnections = o.limits?.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const ctx: ProxyContext = {
    cache: new TsidCache(),
    addressMap: o.addressMap,
    trust: o.trust,
    resolve,
    maxHeldBytes: o.limits?.maxHeldBytes ?? DEFAULT_MAX_HELD,
    heldBytes: 0,
    active: new Set(),
    counters,
    fingerprints: o.onEvent !== undefined || o.eventLog !== undefined,
    capture: o.capture ?? null,
    emit(e: ConnectionEvent, extra) {
      counters.events++;
      if (extra.failed) counters.inspectionFailures++;
      if (e.phase === 'begin') counters.blocked++;
      else counters.allowed++;
      metrics.observe(e, extra.listener, extra.failed);
      // A consumer's bug must not take the proxy down with it.
      try {
        o.onEvent?.(e);
      } catch {
        counters.onEventErrors = (counters.onEventErrors ?? 0) + 1;
      }
      o.eventLog?.write(e);
    },
  };

  // This proxy's own sockets, filled as they bind: never an upstream, tunnel or probe target.
  const self = new SelfTargets();
  const fixedUpstreams: [string, Endpoint][] = [];
  /**
   * A transparent listener forwarding to a socket of this proxy would accept its own
   * connections for ever: a configuration error, said before any client comes.
   */
  const selfUpstream = (): PeekwallError | null => {
    for (const [listener, up] of fixedUpstreams) {
      const hit = self.match(up.ip, up.port);
      if (hit !== null) {
        return peekwallError('proxy/self-upstream', `the ${listener} forwards to ${hostPort(up.ip, up.port)}, which is this proxy's own ${hit}: it would loop`);
      }
    }
    return null;
  };
  const onListenerError = () => {
    counters.listenerErrors = (counters.listenerErrors ?? 0) + 1;
  };
  const servers: net.Server[] = [];
  const bound: { mode: string; host: string; port: number }[] = [];
  /**
   * Over maxConnections a new client is reset at once — and, like every refusal, logged: the
   * operator must see that clients were turned away (and from where), not only a counter.
   */
  const refuseOverLimit = (socket: net.Socket, listener: string, flowPort: number | undefined) => {
    counters.refused++;
    socket.on('error', () => undefined);
    emitRefusal(
      ctx,
      socket,
      { dstIp: normalizeIp(socket.localAddress), dstPort: flowPort ?? socket.localPort ?? 0, scheme: listener === 'explicit' ? 'http' : 'https', listener },
      { action: 'Block with reset', reason: 'Connection Limit', closeReason: 'proxy/connection-limit', applicationProtocol: 'unknown' },
    );
    socket.resetAndDestroy();
  };
  const accept = (socket: net.Socket, listener: string, flowPort: number | undefined, make: () => void) => {
    if (ctx.active.size >= maxConnections) return refuseOverLimit(socket, listener, flowPort);
    make();
  };

  // An upstream named by a host that does not resolve is bad input (exit 2), not a crash.
  const resolveHp = async (hp: HostPort): Promise<Endpoint> => {
    try {
      return { ip: await resolve(hp.host), port: hp.port };
    } catch (e) {
      const n = e as NodeJS.ErrnoException;
      throw new PeekwallFailure(peekwallError('proxy/resolve-failed', `upstream ${hp.host}:${hp.port} does not resolve: ${n.code ?? n.message}`));
    }
  };

  try {
    for (const l of o.listeners) {
      const server = await makeListener(l);
      servers.push(server);
      await listen(server, l.host, l.port, onListenerError);
      const a = server.address() as net.AddressInfo;
      bound.push({ mode: l.mode, host: a.address, port: a.port });
      self.add(a.address, a.port, `${l.mode} listener ${hostPort(a.address, a.port)}`);
    }
    const loop = selfUpstream();
    if (loop) throw new PeekwallFailure(loop);
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    throw e;
  }

  async function makeListener(l: ListenerConfig): Promise<net.Server> {
    const flowPort = l.flowPort !== undefined ? { flowPort: l.flowPort } : {};
    if (l.mode === 'explicit') {
      const server = createExplicitServer({
        ctx,
        policy: () => policy,
        selfTarget: (ip, port) => self.match(ip, port),
        ...flowPort,
        ...(o.limits?.maxBypasses !== undefined ? { maxBypasses: o.limits.maxBypasses } : {}),
      });
      server.on('connection', (s: net.Socket) => {
        if (ctx.active.size >= maxConnections) refuseOverLimit(s, 'explicit', undefined);
      });
      return server;
    }
    if (l.mode === 'transparent') {
      const up = l.upstream;
      let fixed: Endpoint | null = null;
      const byLocal = new Map<string, Endpoint>();
      if ('byLocalAddress' in up) {
        for (const [local, hp] of Object.entries(up.byLocalAddress)) byLocal.set(normalizeIp(local), await resolveHp(hp));
      } else {
        fixed = await resolveHp(up);
      }
      for (const ep of fixed ? [fixed] : byLocal.values()) fixedUpstreams.push([`transparent listener on ${hostPort(l.host, l.port)}`, ep]);
      return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
        accept(socket, 'transparent', l.flowPort, () => {
          const dst = fixed ?? byLocal.get(normalizeIp(socket.localAddress)) ?? null;
          new Connection(ctx, socket, {
            listener: 'transparent',
            policy,
            // Unknown local address: the machine has no upstream and refuses with proxy/no-route.
            dst,
            // Transparent: the original destination is the address and port the client reached.
            flowDstIp: normalizeIp(socket.localAddress),
            flowPort: l.flowPort ?? socket.localPort ?? 0,
            ...(dst === null ? { route: async () => noUpstream(socket.localAddress) } : {}),
          });
        }),
      );
    }
    const routes = l.routes;
    const fallback = l.fallback;
    const route = async (sni: string | null): Promise<Endpoint | PeekwallError> => {
      const hp = (sni !== null ? routeLookup(routes, sni) : undefined) ?? fallback;
      if (hp === undefined) {
        return peekwallError('proxy/no-route', sni === null ? 'no SNI and no fallback route' : `no route for SNI ${sni} and no fallback`);
      }
      let ep: Endpoint;
      try {
        ep = await resolveHp(hp);
      } catch (e) {
        return e instanceof PeekwallFailure ? e.errors[0] : peekwallError('proxy/resolve-failed', `cannot resolve ${hp.host}: ${(e as Error).message}`);
      }
      const hit = self.match(ep.ip, ep.port);
      if (hit !== null) return peekwallError('proxy/self-target', `${hp.host}:${hp.port} is this proxy's own ${hit}`);
      return ep;
    };
    return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
      accept(socket, 'sni-route', l.flowPort, () => {
        new Connection(ctx, socket, { listener: 'sni-route', policy, dst: null, route, ...flowPort });
      }),
    );
  }

  function noUpstream(local: string | undefined): PeekwallError {
    return peekwallError('proxy/no-route', `no upstream configured for local address ${normalizeIp(local)}`);
  }

  // The admin's POST and RunningProxy.clearTsidCache() (a cluster worker's answer to the
  // primary's relay) are one operation, counted alike.
  const clearTsidCache = (): number => {
    counters.tsidCacheClears = (counters.tsidCacheClears ?? 0) + 1;
    return ctx.cache.clear();
  };
  let adminServer: http.Server | null = null;
  let adminBound: { host: string; port: number } | null = null;
  if (o.admin) {
    const { createAdminServer } = await import('./admin.js');
    adminServer = createAdminServer({
      metrics: () => metrics.registry.metrics(),
      contentType: metrics.registry.contentType,
      health: () => ({ active: counters.active ?? 0 }),
      clearTsidCache: async () => ({ cleared: clearTsidCache() }),
      ...(o.admin.token ? { token: o.admin.token } : {}),
    });
    try {
      await listen(adminServer, o.admin.host, o.admin.port, onListenerError);
    } catch (e) {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      throw e;
    }
    const a = adminServer.address() as net.AddressInfo;
    adminBound = { host: a.address, port: a.port };
    self.add(a.address, a.port, `admin listener ${hostPort(a.address, a.port)}`);
    const loop = selfUpstream();
    if (loop) {
      await Promise.all([adminServer, ...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
      throw new PeekwallFailure(loop);
    }
  }

  let closing: Promise<void> | null = null;
  return {
    listeners: bound,
    admin: adminBound,
    metricsRegistry: metrics.registry,
    reload(p: Policy) {
      // Names probed under other TSID settings (another profile, a shorter TTL, TSID off) must
      // not outlive them: a cached entry would keep its old expiry and its old name.
      if (!sameTsidSettings(policy, p)) {
        ctx.cache.clear();
        counters.tsidCacheClears = (counters.tsidCacheClears ?? 0) + 1;
      }
      policy = p;
      counters.reloads++;
    },
    reloadRefused() {
      counters.reloadsRefused = (counters.reloadsRefused ?? 0) + 1;
    },
    clearTsidCache,
    policy: () => policy,
    stats: () => ({ ...counters, heldBytes: ctx.heldBytes, tsidCacheEntries: ctx.cache.size, tsidProbes: ctx.cache.probes }),
    close(c?: { drainMs?: number }) {
      closing ??= (async () => {
        const closed = servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              if (s instanceof http.Server) s.closeIdleConnections();
            }),
        );
        const drainMs = c?.drainMs ?? 0;
        if (drainMs > 0 && ctx.active.size > 0) {
          await new Promise<void>((r) => {
            const deadline = setTimeout(r, drainMs);
            const poll = setInterval(() => {
              if (ctx.active.size === 0) {
                clearTimeout(deadline);
                clearInterval(poll);
                r();
              }
            }, 25);
            deadline.unref?.();
            setTimeout(() => clearInterval(poll), drainMs + 10).unref();
          });
        }
        for (const c of [...ctx.active]) c.destroy();
        for (const s of servers) if (s instanceof http.Server) s.closeAllConnections();
        await Promise.all(closed);
        if (adminServer) {
          const a = adminServer;
          a.closeAllConnections();
          await new Promise<void>((r) => a.close(() => r()));
        }
        await o.eventLog?.flush();
      })();
      return closing;
    },
  };
}
