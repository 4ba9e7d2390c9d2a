// The thin socket shell around the flow machine (src/flow): it reads the client, runs timers,
// performs the machine's commands — each carries what performing it takes (endpoints, bytes,
// deadlines) — and emits exactly one connection event when the connection is over (blocks: at
// the decision). It reads the machine once more, its report(), to write that event.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { flowEvent, type ConnectionEvent } from '../events/index.js';
import { ConnectionMachine, type Command, type Endpoint } from '../flow/index.js';
import { certificateStatus, type TrustStore } from '../identity/index.js';
import type { Policy } from '../policy/index.js';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { CaptureFile, FlowTap } from './capture.js';
import { probeSource, type TsidCache } from './probe.js';
import { closeSoon, splice, type SpliceEnd } from './splice.js';
import type { AddressMap } from './types.js';

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
  /** --capture: where inspected connections are recorded; null when not capturing. */
  readonly capture: CaptureFile | null;
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

const writeAll = (s: net.Socket, bytes: readonly Buffer[]): void => {
  if (bytes.length === 1) s.write(bytes[0]);
  else if (bytes.length > 1) s.write(Buffer.concat(bytes));
};

export class Connection {
  private readonly m: ConnectionMachine;
  private upstream: net.Socket | null = null;
  /** The one pending deadline: the peek, the route, or the server's first flight. */
  private timer: NodeJS.Timeout | null = null;
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
  /** Recording this connection (--capture), or null. */
  private readonly tap: FlowTap | null;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly client: net.Socket,
    private readonly o: ConnOptions,
  ) {
    const map = ctx.addressMap ?? identityMap;
    this.readOffset = o.readOffset ?? 0;
    this.tap = ctx.capture === null ? null : ctx.capture.flow();
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
    this.run(this.m.start());
    if (o.head && o.head.length > 0) this.clientData(o.head);
  }

  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
  }

  private clientData(c: Buffer): void {
    if (this.tap !== null) this.tap.client(c);
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
      case 'wait-hello':
        return this.arm(c.timeoutMs, () => this.run(this.m.peekTimeout()));
      case 'pause-client':
        this.disarm();
        this.client.pause();
        return;
      case 'route':
        return this.route(c.sni, c.timeoutMs);
      case 'probe': {
        const src = probeSource(this.m.src.ip, c.dst.ip);
        const capture = this.tap === null ? undefined : this.probeCapture(c.hello.sni);
        this.ctx.cache
          .get({ dst: c.dst, hello: c.hello, timeoutMs: c.timeoutMs, ...(src ? { localAddress: src } : {}), ...(capture ? { capture } : {}) }, c.cache)
          .then((a) => {
            this.ctx.counters[a.cache === 'hit' ? 'tsidCacheHits' : 'tsidCacheMisses']++;
            this.run(this.m.certificate(a));
          })
          .catch((e: unknown) => this.internalError(e));
        return;
      }
      case 'connect':
        return this.connect(c);
      case 'release':
        return this.release(c.toServer, c.toClient, c.idleMs);
      case 'close':
        return this.refuse(c.reset);
    }
  }

  /** The probe drawn as the flow sees its server (seed address, flow port), like the flow itself. */
  private probeCapture(sni: string | null): ReturnType<CaptureFile['probe']> | undefined {
    const f = this.m.report().flow;
    return this.ctx.capture?.probe(f.srcIp, { ip: f.dstIp, port: f.dstPort }, sni);
  }

  private route(sni: string | null, ms: number): void {
    const route = this.o.route;
    if (!route) return this.run(this.m.routeFailed(peekwallError('proxy/no-route', 'this listener has no routes')));
    // An injected or DNS resolver that never answers must not hold the client forever.
    this.arm(ms, () => this.run(this.m.routeFailed(peekwallError('proxy/resolve-timeout', `no route for ${sni ?? '(no SNI)'} within ${ms} ms`))));
    route(sni)
      .then(
        (r) => {
          this.disarm();
          this.run('ip' in r ? this.m.routed(r) : this.m.routeFailed(r));
        },
        (e: Error) => {
          this.disarm();
          this.run(this.m.routeFailed(peekwallError('proxy/resolve-failed', e.message)));
        },
      )
      .catch((e: unknown) => this.internalError(e));
  }

  /**
   * A bug reached from a promise callback ends this connection (reset, with an event), never
   * the process: an unhandled rejection would stop every other connection too.
   */
  private internalError(_e: unknown): void {
    this.ctx.counters.internalErrors = (this.ctx.counters.internalErrors ?? 0) + 1;
    this.closeReason ??= 'proxy/internal-error';
    try {
      this.disarm();
      this.upstream?.destroy();
      this.client.destroy();
    } catch {
      // Destroying sockets does not throw; nothing more can be done here anyway.
    }
  }

  private arm(ms: number, fire: () => void): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      fire();
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** After a decision reached while the client was already gone: just account for it. */
  private afterClientGone(): void {
    // A route's deadline stays armed: a resolver that never answers must still end this
    // connection (and its one event). Every other deadline is cleared here or by the commands.
    if (this.m.state !== 'route') this.disarm();
    if (this.m.state === 'peek') {
      this.run(this.m.clientEnded());
    } else if (this.m.holdingServer) {
      this.closeReason ??= 'proxy/client-closed';
      this.run(this.m.serverEnded());
    }
    this.maybeFinish();
  }

  private connect(c: Extract<Command, { kind: 'connect' }>): void {
    if (this.clientClosed) return this.maybeFinish();
    const up = net.connect({ host: c.dst.ip, port: c.dst.port, allowHalfOpen: true, noDelay: true });
    this.upstream = up;
    this.upstreamClosed = false;
    let connected = false;
    const timer = setTimeout(() => {
      this.closeReason = 'proxy/upstream-timeout';
      up.destroy();
    }, c.timeoutMs);
    up.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      // The client left while we were connecting: nobody to splice to. Its 'close' already
      // fired, so nothing else would ever close this socket (an fd per aborted connection).
      if (this.clientClosed) {
        up.destroy();
        return;
      }
      writeAll(up, c.bytes);
      if (!c.passive) {
        this.releaseHeld();
        return this.startSplice(c.idleMs, c.observeSession);
      }
      // A server that accepts but never sends its first flight must not hold both sockets.
      this.arm(c.flightTimeoutMs, () => this.run(this.m.serverTimeout()));
      up.on('data', (d: Buffer) => {
        if (this.tap !== null) this.tap.server(d);
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
          e.code === 'ECONNREFUSED' ? 'proxy/upstream-refused' : e.code === 'ECONNRESET' ? 'proxy/upstream-reset' : `proxy/upstream-error`;
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

  private release(toServer: readonly Buffer[], toClient: readonly Buffer[], idleMs: number): void {
    this.disarm();
    // The decision needed the server's first flight, held until now: that is the recording.
    if (this.tap !== null) this.tap.stop();
    const up = this.upstream;
    if (up === null || this.clientClosed) {
      // Allowed after the client left (passive mode, client reset before the server's flight
      // was read): the upstream is idle mid-handshake and no splice will ever close it.
      if (up !== null && !up.destroyed) up.destroy();
      return this.maybeFinish();
    }
    up.removeAllListeners('data');
    up.removeAllListeners('end');
    writeAll(up, toServer);
    writeAll(this.client, toClient);
    this.releaseHeld();
    if (up.destroyed || up.readableEnded) {
      // The server already finished; pass its FIN on. closeSoon resumes the client: its
      // late bytes are read and dropped, not held. The upstream is half-open (allowHalfOpen):
      // unless we end it too, it sits in CLOSE-WAIT and its 'close' — which finishes the
      // connection and writes its event — never comes. The event says the server hung up.
      this.closeReason ??= 'proxy/upstream-closed-early';
      this.client.removeListener('data', this.onPeekData);
      closeSoon(this.client);
      closeSoon(up);
      return;
    }
    this.startSplice(idleMs, false);
  }

  private startSplice(idleMs: number, observeSession: boolean): void {
    const up = this.upstream as net.Socket;
    this.client.removeListener('data', this.onPeekData);
    // Both read the server's first flight beside the splice (it is not delayed) and let go once
    // they have what they need: the TSID session check ('log' mode) the certificate to compare,
    // the capture the end of the flight.
    if (observeSession) readBeside(up, (d) => this.m.observeServer(d));
    const rec = this.tap;
    if (rec !== null && rec.recording) readBeside(up, (d) => rec.serverFlight(d));
    splice(this.client, up, idleMs, (why: SpliceEnd) => {
      this.closeReason ??= `proxy/${why}`;
    });
  }

  private refuse(reset: boolean): void {
    this.disarm();
    this.releaseHeld();
    this.emitOnce();
    if (reset) {
      if (!this.client.destroyed) this.client.resetAndDestroy();
      if (this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    } else {
      this.client.removeListener('data', this.onPeekData);
      closeSoon(this.client);
      if (this.upstream) this.upstream.resetAndDestroy();
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || !this.upstreamClosed) return;
    // A probe or route still running will call back; finish then.
    if (this.m.awaiting) return;
    this.finished = true;
    this.disarm();
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
    const r = this.m.report();
    // Allows are logged at the end: wait until both sockets are closed.
    if (r.outcome?.phase === 'end' && !(this.clientClosed && this.upstreamClosed)) return;
    this.emitted = true;
    let certStatus: string | undefined;
    const chain = this.ctx.trust ? r.chain() : [];
    if (this.ctx.trust && chain.length > 0) {
      const name = r.flow.sni ?? r.identity?.name;
      certStatus = certificateStatus({ chain, trust: this.ctx.trust, ...(name ? { name } : {}), ip: r.flow.dstIp }).status;
    }
    const out = r.outcome;
    const e = flowEvent(r, {
      bytesFromClient: this.bytesFromClient(),
      bytesFromServer: this.upstream?.bytesRead ?? 0,
      durationMs: Date.now() - this.started,
      timings: {
        ...(this.helloMs >= 0 ? { helloMs: round3(this.helloMs) } : {}),
        ...(this.decisionMs >= 0 ? { decisionMs: round3(this.decisionMs) } : {}),
      },
      ...(this.closeReason !== undefined ? { closeReason: this.closeReason } : {}),
      ...(certStatus !== undefined ? { certStatus } : {}),
      fingerprints: this.ctx.fingerprints,
      ...(this.ctx.addressMap ? { mapped: { srcIp: this.m.src.ip } } : {}),
    });
    if (this.tap !== null) this.tap.finish(e);
    this.ctx.emit(e, { listener: this.o.listener, failed: out !== null && out.verdict === null && out.closeReason !== undefined });
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Feed a socket's reads to `done` beside whoever else reads them, until it answers true. */
function readBeside(s: net.Socket, done: (d: Buffer) => boolean): void {
  const read = (d: Buffer): void => {
    if (done(d)) s.removeListener('data', read);
  };
  s.on('data', read);
}
