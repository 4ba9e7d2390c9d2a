// The thin socket shell around ConnectionMachine: it reads the client, runs timers, performs
// the machine's commands (route, probe, connect, release, close) and emits exactly one
// connection event when the connection is over (blocks: at the decision).
import * as net from 'node:net';
import { buildConnectionEvent, type ConnectionEvent } from '../events/index.js';
import { certificateStatus } from '../identity/index.js';
import { isGrease, ja3, ja4, versionName, type ClientHello } from '../wire/index.js';
import { performance } from 'node:perf_hooks';
import type { Policy } from '../policy/index.js';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { ConnectionMachine, type Command, type Endpoint } from './machine.js';
import { probeSource, type TsidCache } from './probe.js';
import { closeSoon, splice, type SpliceEnd } from './splice.js';
import type { AddressMap } from './types.js';
import type { TrustStore } from '../identity/index.js';

/** What every connection of one proxy shares. */
export interface ProxyContext {
  readonly cache: TsidCache;
  readonly addressMap: AddressMap | undefined;
  readonly trust: TrustStore | undefined;
  readonly resolve: (host: string) => Promise<string>;
  readonly maxHeldBytes: number;
  heldBytes: number;
  readonly active: Set<{ destroy(): void }>;
  /** Someone reads events (onEvent or an event log): only then are JA3/JA4 worth computing. */
  readonly fingerprints: boolean;
  emit(e: ConnectionEvent, extra: { listener: string; failed: boolean }): void;
  counters: Record<string, number>;
}

export interface ConnOptions {
  readonly listener: string;
  readonly policy: Policy;
  readonly dst: Endpoint | null;
  readonly flowPort?: number;
  /** Real original destination address for the flow (transparent: the local address). */
  readonly flowDstIp?: string;
  /** sni-route: find the upstream for a name (null: no SNI). */
  readonly route?: (sni: string | null) => Promise<Endpoint | PeekwallError>;
  /** Bytes already read from the client (CONNECT's head). */
  readonly head?: Buffer;
  /** Bytes the client socket had read before the tunnel started (CONNECT request). */
  readonly readOffset?: number;
}

export function normalizeIp(ip: string | undefined): string {
  if (ip === undefined) return '0.0.0.0';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

const identityMap: AddressMap = { toSeed: (ip) => ip };

export class Connection {
  private readonly m: ConnectionMachine;
  private upstream: net.Socket | null = null;
  private peekTimer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();
  private readonly t0 = performance.now();
  private helloMs = -1;
  private decisionMs = -1;
  private heldAccounted = 0;
  private emitted = false;
  private clientClosed = false;
  private upstreamClosed = true;
  private finished = false;
  private closeReason: string | undefined;
  private readonly onPeekData = (c: Buffer) => this.clientData(c);
  private readonly readOffset: number;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly client: net.Socket,
    private readonly o: ConnOptions,
  ) {
    const map = ctx.addressMap ?? identityMap;
    this.readOffset = o.readOffset ?? 0;
    this.m = new ConnectionMachine({
      policy: o.policy,
      src: { ip: normalizeIp(client.remoteAddress), port: client.remotePort ?? 0 },
      dst: o.dst,
      ...(o.flowPort !== undefined ? { flowPort: o.flowPort } : {}),
      ...(o.flowDstIp !== undefined ? { flowDstIp: o.flowDstIp } : {}),
      toSeed: (ip) => map.toSeed(ip),
    });
    ctx.active.add(this);
    ctx.counters.connections++;
    ctx.counters.active++;
    client.setNoDelay(true);
    client.on('error', (e: NodeJS.ErrnoException) => this.clientError(e));
    client.on('end', () => this.run(this.m.clientEnded()));
    client.once('close', () => {
      this.clientClosed = true;
      this.afterClientGone();
    });
    client.on('data', this.onPeekData);
    const peekMs = o.policy.settings.timeouts.peekMs;
    this.peekTimer = setTimeout(() => this.run(this.m.peekTimeout()), peekMs);
    if (o.head && o.head.length > 0) this.clientData(o.head);
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private clientData(c: Buffer): void {
    this.ctx.heldBytes += c.length;
    this.heldAccounted += c.length;
    if (this.ctx.heldBytes > this.ctx.maxHeldBytes) return this.run(this.m.overLimit());
    this.run(this.m.clientData(c));
  }

  private clientError(e: NodeJS.ErrnoException): void {
    if (this.closeReason === undefined) this.closeReason = e.code === 'ECONNRESET' ? 'proxy/client-reset' : 'proxy/client-error';
  }

  private releaseHeld(): void {
    this.ctx.heldBytes -= this.heldAccounted;
    this.heldAccounted = 0;
  }

  private run(cmds: readonly Command[]): void {
    // Two clock readings per connection, when each point is first reached. Before the
    // commands (a refusal emits its event while they run) and after (a command may decide).
    this.markTimes();
    for (const c of cmds) this.exec(c);
    this.markTimes();
  }

  private markTimes(): void {
    if (this.helloMs < 0 && this.m.hello !== null) this.helloMs = performance.now() - this.t0;
    if (this.decisionMs < 0 && this.m.outcome !== null) this.decisionMs = performance.now() - this.t0;
  }

  private exec(c: Command): void {
    switch (c.kind) {
      case 'pause-client':
        this.clearPeek();
        this.client.pause();
        return;
      case 'route': {
        const route = this.o.route;
        if (!route) return this.run(this.m.routeFailed(peekwallError('proxy/no-route', 'this listener has no routes')));
        // An injected or DNS resolver that never answers must not hold the client forever.
        const ms = this.m.policy.settings.timeouts.connectMs;
        this.armDecisionTimer(ms, () =>
          this.run(this.m.routeFailed(peekwallError('proxy/resolve-timeout', `no route for ${c.sni ?? '(no SNI)'} within ${ms} ms`))),
        );
        route(c.sni)
          .then(
            (r) => {
              this.clearPeek();
              this.run('ip' in r ? this.m.routed(r) : this.m.routeFailed(r));
            },
            (e: Error) => {
              this.clearPeek();
              this.run(this.m.routeFailed(peekwallError('proxy/resolve-failed', e.message)));
            },
          )
          .catch((e: unknown) => this.internalError(e));
        return;
      }
      case 'probe': {
        const s = this.m.policy.settings;
        const src = probeSource(this.m.src.ip, c.dst.ip);
        this.ctx.cache
          .get({ dst: c.dst, hello: c.hello, timeoutMs: s.timeouts.probeMs, ...(src ? { localAddress: src } : {}) }, s.tsidCache)
          .then((a) => {
            this.ctx.counters[a.cache === 'hit' ? 'tsidCacheHits' : 'tsidCacheMisses']++;
            this.run(this.m.certificate(a));
          })
          .catch((e: unknown) => this.internalError(e));
        return;
      }
      case 'connect':
        return this.connect(c.passive);
      case 'release':
        return this.release();
      case 'close':
        return this.refuse(c.reset);
    }
  }

  /**
   * A bug reached from a promise callback ends this connection (reset, with an event), never
   * the process: an unhandled rejection would stop every other connection too.
   */
  private internalError(_e: unknown): void {
    this.ctx.counters.internalErrors = (this.ctx.counters.internalErrors ?? 0) + 1;
    this.closeReason ??= 'proxy/internal-error';
    try {
      this.clearPeek();
      this.upstream?.destroy();
      this.client.destroy();
    } catch {
      // Destroying sockets does not throw; nothing more can be done here anyway.
    }
  }

  private armDecisionTimer(ms: number, fire: () => void): void {
    this.clearPeek();
    this.peekTimer = setTimeout(() => {
      this.peekTimer = null;
      fire();
    }, ms);
  }

  private clearPeek(): void {
    if (this.peekTimer !== null) {
      clearTimeout(this.peekTimer);
      this.peekTimer = null;
    }
  }

  /** After a decision reached while the client was already gone: just account for it. */
  private afterClientGone(): void {
    const st = this.m.state;
    // The route's decision timer stays armed: a resolver that never answers must still end
    // this connection (and its one event). Every other state's timer is cleared by the
    // commands below or by maybeFinish.
    if (st !== 'route') this.clearPeek();
    if (st === 'peek') {
      this.run(this.m.clientEnded());
    } else if (this.m.holdingServer) {
      this.closeReason ??= 'proxy/client-closed';
      this.run(this.m.serverEnded());
    }
    this.maybeFinish();
  }

  private connect(passive: boolean): void {
    if (this.clientClosed) return this.maybeFinish();
    const dst = this.m.dst;
    if (dst === null) {
      this.closeReason = 'proxy/no-route';
      return this.refuse(true, false);
    }
    const s = this.m.policy.settings;
    const up = net.connect({ host: dst.ip, port: dst.port, allowHalfOpen: true, noDelay: true });
    this.upstream = up;
    this.upstreamClosed = false;
    let connected = false;
    const timer = setTimeout(() => {
      this.closeReason = 'proxy/upstream-timeout';
      up.destroy();
    }, s.timeouts.connectMs);
    up.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      // The client left while we were connecting: nobody to splice to. Its 'close' already
      // fired, so nothing else would ever close this socket (an fd per aborted connection).
      if (this.clientClosed) {
        up.destroy();
        return;
      }
      const held = this.m.heldClient;
      if (held.length === 1) up.write(held[0]);
      else if (held.length > 1) up.write(Buffer.concat(held));
      held.length = 0;
      if (!passive) {
        this.releaseHeld();
        return this.startSplice();
      }
      // A server that accepts but never sends its first flight must not hold both sockets.
      this.armDecisionTimer(s.timeouts.probeMs, () => this.run(this.m.serverTimeout()));
      up.on('data', (d: Buffer) => {
        this.ctx.heldBytes += d.length;
        this.heldAccounted += d.length;
        if (this.ctx.heldBytes > this.ctx.maxHeldBytes) return this.run(this.m.overLimit());
        this.run(this.m.serverData(d));
      });
      up.on('end', () => this.run(this.m.serverEnded()));
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (this.closeReason === undefined) {
        this.closeReason =
          e.code === 'ECONNREFUSED'
            ? 'proxy/upstream-refused'
            : e.code === 'ECONNRESET'
              ? 'proxy/upstream-reset'
              : `proxy/upstream-error`;
      }
    });
    up.once('close', () => {
      clearTimeout(timer);
      this.upstreamClosed = true;
      if (!connected || this.m.holdingServer) {
        // Refused, timed out, or died before the verdict: abort the client like the server did.
        if (this.m.holdingServer) this.run(this.m.serverEnded());
        if (!this.client.destroyed) {
          if (this.m.state === 'decided' && connected) closeSoon(this.client);
          else this.client.resetAndDestroy();
        }
      }
      this.maybeFinish();
    });
  }

  private release(): void {
    this.clearPeek();
    const up = this.upstream;
    if (up === null || this.clientClosed) {
      // Allowed after the client left (passive mode, client reset before the server's flight
      // was read): the upstream is idle mid-handshake and no splice will ever close it.
      if (up !== null && !up.destroyed) up.destroy();
      return this.maybeFinish();
    }
    up.removeAllListeners('data');
    up.removeAllListeners('end');
    // Client bytes that arrived with the hello's last read (the client is paused since).
    const fromClient = this.m.heldClient;
    if (fromClient.length > 0) up.write(fromClient.length === 1 ? fromClient[0] : Buffer.concat(fromClient));
    fromClient.length = 0;
    const held = this.m.heldServer;
    if (held.length === 1) this.client.write(held[0]);
    else if (held.length > 1) this.client.write(Buffer.concat(held));
    held.length = 0;
    this.releaseHeld();
    if (up.destroyed || up.readableEnded) {
      // The server already finished; pass its FIN on. closeSoon resumes the client: its
      // late bytes are read and dropped, not held. The upstream is half-open (allowHalfOpen):
      // unless we end it too, it sits in CLOSE-WAIT and its 'close' — which finishes the
      // connection and writes its event — never comes.
      this.client.removeListener('data', this.onPeekData);
      closeSoon(this.client);
      closeSoon(up);
      return;
    }
    this.startSplice();
  }

  private startSplice(): void {
    const up = this.upstream as net.Socket;
    this.client.removeListener('data', this.onPeekData);
    if (this.m.observingSession) {
      // TSID session check, 'log' mode: read the server's first flight beside the splice (it
      // is not delayed), until its certificate is compared with the probed one.
      const tap = (d: Buffer): void => {
        if (this.m.observeServer(d)) up.removeListener('data', tap);
      };
      up.on('data', tap);
    }
    splice(this.client, up, this.m.policy.settings.timeouts.idleMs, (why: SpliceEnd) => {
      this.closeReason ??= `proxy/${why}`;
    });
  }

  private refuse(reset: boolean, upstreamToo = true): void {
    this.clearPeek();
    this.releaseHeld();
    this.emitOnce();
    if (reset) {
      if (!this.client.destroyed) this.client.resetAndDestroy();
      if (upstreamToo && this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    } else {
      this.client.removeListener('data', this.onPeekData);
      closeSoon(this.client);
      if (upstreamToo && this.upstream) this.upstream.resetAndDestroy();
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || !this.upstreamClosed) return;
    const st = this.m.state;
    // A probe or route still running will call back; finish then.
    if (st === 'route' || st === 'probe') return;
    this.finished = true;
    this.clearPeek();
    this.releaseHeld();
    this.emitOnce();
    this.ctx.counters.active--;
    this.ctx.counters.bytesFromClient += this.bytesFromClient();
    this.ctx.counters.bytesFromServer += this.upstream?.bytesRead ?? 0;
    this.ctx.active.delete(this);
  }

  private bytesFromClient(): number {
    return Math.max(0, this.client.bytesRead - this.readOffset);
  }

  private emitOnce(): void {
    if (this.emitted) return;
    const out = this.m.outcome;
    // Allows are logged at the end: wait until both sockets are closed.
    if (out && out.phase === 'end' && !(this.clientClosed && this.upstreamClosed)) return;
    this.emitted = true;
    const m = this.m;
    const hello = m.hello;
    let certStatus: string | undefined;
    if (this.ctx.trust && m.chain.length > 0) {
      const name = m.flow.sni ?? m.identity?.name;
      certStatus = certificateStatus({
        chain: m.fullChain(),
        trust: this.ctx.trust,
        ...(name ? { name } : {}),
        ip: m.flow.dstIp,
      }).status;
    }
    const map = this.ctx.addressMap;
    const closeReason = out?.closeReason ?? this.closeReason ?? (out === null ? 'proxy/client-closed' : undefined);
    const e = buildConnectionEvent({
      phase: out?.phase ?? 'end',
      flow: m.flow,
      identity: out?.identity ?? m.identity,
      verdict: out?.verdict ?? null,
      ...(out?.action !== undefined ? { action: out.action } : out === null ? { action: 'Allow' } : {}),
      ...(out?.reason !== undefined ? { reason: out.reason } : {}),
      ...(closeReason !== undefined ? { closeReason } : {}),
      ...(out?.applicationProtocol !== undefined
        ? { applicationProtocol: out.applicationProtocol }
        : hello === null
          ? { applicationProtocol: 'unknown' }
          : {}),
      ...(hello
        ? {
            client: 'SSL client',
            tls: {
              version: versionName(m.tlsVersion),
              offered: offeredVersions(hello),
              alpn: hello.alpn,
              // Three hashes per connection (~15-24% of CPU per connection in the bench
              // profile): only when an event consumer will read them.
              ...(this.ctx.fingerprints ? { ja3: ja3(hello).hash, ja4: ja4(hello).ja4 } : {}),
            },
          }
        : {}),
      ...(certStatus !== undefined ? { certStatus } : {}),
      ...(m.tsid
        ? {
            tsid: {
              enabled: m.tsid.enabled,
              profile: m.tsid.profile,
              ...(m.cache ? { cache: m.cache } : {}),
              ...(m.sessionCheck ? { sessionCheck: m.sessionCheck } : {}),
              ...(m.sessionName !== null ? { sessionName: m.sessionName } : {}),
            },
          }
        : {}),
      bytesFromClient: this.bytesFromClient(),
      bytesFromServer: this.upstream?.bytesRead ?? 0,
      durationMs: Date.now() - this.started,
      timings: {
        ...(this.helloMs >= 0 ? { helloMs: round3(this.helloMs) } : {}),
        ...(this.decisionMs >= 0 ? { decisionMs: round3(this.decisionMs) } : {}),
      },
      ...(map ? { mapped: { srcIp: m.src.ip, dstIp: m.flowDstIp ?? (m.dst ? m.dst.ip : '0.0.0.0') } } : {}),
    });
    this.ctx.emit(e, { listener: this.o.listener, failed: out !== null && out.verdict === null && out.closeReason !== undefined });
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Versions the hello offered, newest first, GREASE left out. */
function offeredVersions(h: ClientHello): string[] {
  const vs = h.supportedVersions.length > 0 ? h.supportedVersions : [h.clientVersion];
  const out: string[] = [];
  for (const v of vs) if (!isGrease(v)) out.push(versionName(v));
  return out;
}
