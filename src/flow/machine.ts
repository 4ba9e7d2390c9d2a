// The per-connection decision logic as a sans-IO state machine: events in (client bytes,
// route found, probe result, server bytes, timeouts, ends), commands out (wait for the hello,
// pause the client, route, probe, connect upstream, release held bytes, close). No sockets, no
// timers: the shell (src/proxy/connection.ts) performs the commands and feeds the answers back,
// so every decision can be replayed from recorded bytes in a unit test. Every command carries
// what the shell needs to perform it (endpoints, bytes, deadlines); the shell reads nothing else
// of the machine but report(), once, for the connection event.
import {
  ClientHelloReader,
  ServerFlightReader,
  highestVersion,
  type ClientHello,
  type HelloReadResult,
  type ServerFlightResult,
} from '../wire/index.js';
import {
  certificateFacts,
  resolveIdentity,
  type CertificateFacts,
  type ServerIdentity,
  type TsidSetting,
} from '../identity/index.js';
import { evaluate, tsidFor, type Flow, type Policy, type PolicySettings, type Verdict } from '../policy/index.js';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { enforcementOf } from './enforce.js';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export interface MachineInit {
  readonly policy: Policy;
  /** Real addresses (the shell's view). */
  readonly src: Endpoint;
  /** Real upstream/original destination; null until routed (sni-route). */
  readonly dst: Endpoint | null;
  /** Port policy sees as the destination (default dst.port). */
  readonly flowPort?: number;
  /**
   * Real address policy sees as the destination (default dst.ip). Transparent listeners pass
   * the local address the client connected to — the original destination — which differs
   * from the upstream when one proxy stands for several server IPs.
   */
  readonly flowDstIp?: string;
  readonly toSeed: (ip: string) => string;
  /** Upper bound on the server's first flight held in passive mode (default 64 KiB). */
  readonly maxServerFlightBytes?: number;
}

export type Command =
  /** Read the client; answer peekTimeout() if no complete hello came within timeoutMs. */
  | { readonly kind: 'wait-hello'; readonly timeoutMs: number }
  /** The hello is complete: stop reading the client until decided. */
  | { readonly kind: 'pause-client' }
  /**
   * Find the upstream from the SNI (null: no SNI); answer with routed()/routeFailed(), or
   * routeFailed() with a timeout error after timeoutMs.
   */
  | { readonly kind: 'route'; readonly sni: string | null; readonly timeoutMs: number }
  /** TSID: obtain the server certificate chain (cached per cache settings); answer with certificate(). */
  | {
      readonly kind: 'probe';
      readonly dst: Endpoint;
      readonly hello: ClientHello;
      readonly timeoutMs: number;
      readonly cache: PolicySettings['tsidCache'];
    }
  /**
   * Connect to dst within timeoutMs and write `bytes` (the client's, held until now: the
   * machine holds them no longer). passive: keep the client paused and feed server bytes to
   * serverData() until a release or close, serverTimeout() after flightTimeoutMs; otherwise
   * splice right away (closing after idleMs without traffic), and with observeSession feed the
   * server's bytes to observeServer() beside the splice until it answers true.
   */
  | {
      readonly kind: 'connect';
      readonly dst: Endpoint;
      readonly bytes: readonly Buffer[];
      readonly passive: boolean;
      readonly observeSession: boolean;
      readonly timeoutMs: number;
      readonly flightTimeoutMs: number;
      readonly idleMs: number;
    }
  /**
   * A held server flight was judged Allow: write toServer upstream (client bytes that came
   * with the hello's last read) and toClient to the client, then splice.
   */
  | { readonly kind: 'release'; readonly toServer: readonly Buffer[]; readonly toClient: readonly Buffer[]; readonly idleMs: number }
  /**
   * Refuse: FIN (reset false) or RST (reset true) to the client, and the upstream if any; the
   * outcome is final and the event can be written.
   */
  | { readonly kind: 'close'; readonly reset: boolean; readonly outcome: Outcome };

export type ProbeAnswer =
  | { readonly ok: true; readonly chain: readonly CertificateFacts[]; readonly cache: 'hit' | 'miss' }
  | { readonly ok: false; readonly error: PeekwallError; readonly cache?: 'hit' | 'miss' };

/**
 * 'verify': TSID decided Allow on a probed certificate and settings.tsid.sessionCheck is
 * 'redecide': the hello went upstream and the server's first flight is held until the session's
 * own certificate is read and compared.
 */
export type MachineState = 'peek' | 'route' | 'probe' | 'passive' | 'verify' | 'decided' | 'closed';

/** What the session's own certificate said against the probed one (TLS <= 1.2 shows it). */
export type SessionCheck = 'match' | 'tsid/cert-mismatch' | 'unseen';

/** What the event needs once the machine decided (or failed). */
export interface Outcome {
  readonly phase: 'begin' | 'end';
  readonly verdict: Verdict | null;
  readonly identity: ServerIdentity | null;
  readonly action?: string;
  readonly reason?: string;
  readonly closeReason?: string;
  /** 'unknown' when the bytes could not be inspected. */
  readonly applicationProtocol?: string;
}

/** Everything the connection event needs from the machine, read once when the event is written. */
export interface FlowReport {
  readonly outcome: Outcome | null;
  readonly flow: Flow;
  /** The deciding identity (the outcome's), else the last one derived. */
  readonly identity: ServerIdentity | null;
  readonly hello: ClientHello | null;
  /** Negotiated (read from the server) or the highest the client offered; wire value. */
  readonly tlsVersion: number;
  readonly tsid: TsidSetting | null;
  readonly cache: 'hit' | 'miss' | undefined;
  readonly sessionCheck: SessionCheck | null;
  readonly sessionName: string | null;
  /** The real destination address (the original one, or the upstream), before any seed mapping. */
  readonly realDstIp: string;
  /** Leaf first; the issuers are parsed on first use (only a trust store asks). */
  chain(): readonly CertificateFacts[];
}

const NO_COMMANDS: readonly Command[] = [];

export class ConnectionMachine {
  state: MachineState = 'peek';
  readonly policy: Policy;
  readonly src: Endpoint;
  dst: Endpoint | null;
  hello: ClientHello | null = null;
  flow: Flow;
  tsid: TsidSetting | null = null;
  identity: ServerIdentity | null = null;
  /** The leaf first, as probed or read passively. */
  chain: readonly CertificateFacts[] = [];
  /** DER of the issuers the server sent after the leaf, not parsed yet (passive mode). */
  private chainRest: readonly Uint8Array[] = [];

  /** The whole chain as the server sent it, parsing the issuers on first use. */
  fullChain(): readonly CertificateFacts[] {
    if (this.chainRest.length > 0) {
      const chain = [...this.chain];
      for (const der of this.chainRest) {
        const f = certificateFacts(der);
        if (f.ok) chain.push(f.value);
      }
      this.chain = chain;
      this.chainRest = [];
    }
    return this.chain;
  }
  cache: 'hit' | 'miss' | undefined;
  /** TSID only: the session's certificate against the probed one, once read. */
  sessionCheck: SessionCheck | null = null;
  /** The name the session's certificate gives (when it differs from the probed one). */
  sessionName: string | null = null;
  /** Reads the server's first flight for the session check (settings.tsid.sessionCheck). */
  private sessionReader: ServerFlightReader | null = null;
  /** Negotiated (passive) or highest offered TLS version, wire value. */
  tlsVersion = 0;
  outcome: Outcome | null = null;
  /** Client bytes held until the verdict (the hello and anything after it); handed over by connect/release. */
  private heldClient: Buffer[] = [];
  heldClientBytes = 0;
  /** Server bytes held in passive/verify mode; handed over by release. */
  private heldServer: Buffer[] = [];
  heldServerBytes = 0;
  private readonly reader: ClientHelloReader;
  private flight: ServerFlightReader | null = null;
  private readonly toSeed: (ip: string) => string;
  private readonly flowPort: number | undefined;
  readonly flowDstIp: string | undefined;
  private readonly maxFlight: number;

  constructor(init: MachineInit) {
    this.policy = init.policy;
    this.src = init.src;
    this.dst = init.dst;
    this.toSeed = init.toSeed;
    this.flowPort = init.flowPort;
    this.flowDstIp = init.flowDstIp;
    this.maxFlight = init.maxServerFlightBytes ?? 65536;
    this.reader = new ClientHelloReader({ maxHandshakeBytes: init.policy.settings.maxHelloBytes });
    this.flow = this.makeFlow(null);
  }

  /** The first command: wait for the hello. */
  start(): readonly Command[] {
    return [{ kind: 'wait-hello', timeoutMs: this.settings.timeouts.peekMs }];
  }

  private get settings(): PolicySettings {
    return this.policy.settings;
  }

  report(): FlowReport {
    const o = this.outcome;
    return {
      outcome: o,
      flow: this.flow,
      identity: o?.identity ?? this.identity,
      hello: this.hello,
      tlsVersion: this.tlsVersion,
      tsid: this.tsid,
      cache: this.cache,
      sessionCheck: this.sessionCheck,
      sessionName: this.sessionName,
      realDstIp: this.flowDstIp ?? (this.dst ? this.dst.ip : '0.0.0.0'),
      chain: () => this.fullChain(),
    };
  }

  // ---- commands: each hands over what the shell needs ------------------------------

  private connect(passive: boolean, observeSession = false): Command {
    const bytes = this.heldClient;
    this.heldClient = [];
    const t = this.settings.timeouts;
    return {
      kind: 'connect',
      dst: this.dst as Endpoint,
      bytes,
      passive,
      observeSession,
      timeoutMs: t.connectMs,
      flightTimeoutMs: t.probeMs,
      idleMs: t.idleMs,
    };
  }

  private release(): Command {
    const toServer = this.heldClient;
    const toClient = this.heldServer;
    this.heldClient = [];
    this.heldServer = [];
    return { kind: 'release', toServer, toClient, idleMs: this.settings.timeouts.idleMs };
  }

  private close(reset: boolean): Command {
    return { kind: 'close', reset, outcome: this.outcome as Outcome };
  }

  private makeFlow(hello: ClientHello | null): Flow {
    const dst = this.dst;
    const f: Flow = {
      srcIp: this.toSeed(this.src.ip),
      srcPort: this.src.port,
      dstIp: this.flowDstIp !== undefined ? this.toSeed(this.flowDstIp) : dst ? this.toSeed(dst.ip) : '0.0.0.0',
      dstPort: this.flowPort ?? (dst ? dst.port : 0),
      protocol: 'tcp',
      scheme: 'https',
      sni: hello ? hello.sni : null,
    };
    return hello && hello.alpn.length > 0 ? { ...f, alpn: hello.alpn } : f;
  }

  // ---- events from the client -------------------------------------------------------

  clientData(chunk: Buffer): readonly Command[] {
    // After the verdict nothing is held: the held bytes were (or are about to be) written
    // upstream, and a client still talking to a closing connection must not fill memory.
    if (this.state === 'decided' || this.state === 'closed') return NO_COMMANDS;
    this.heldClient.push(chunk);
    this.heldClientBytes += chunk.length;
    if (this.state !== 'peek') return NO_COMMANDS;
    return this.onHello(this.reader.push(chunk));
  }

  /** The client ended (FIN) or died before a decision. */
  clientEnded(): readonly Command[] {
    if (this.state !== 'peek') return NO_COMMANDS;
    const e =
      this.heldClientBytes === 0
        ? peekwallError('proxy/client-closed', 'the client closed the connection before sending anything')
        : peekwallError(
            'wire/truncated',
            `the client closed the connection after ${this.heldClientBytes} bytes, before its ClientHello was complete`,
          );
    // Nothing to forward to: a fail-open forward of a half hello helps no one.
    this.outcome = failureOutcome(e, false);
    this.state = 'closed';
    return [this.close(false)];
  }

  peekTimeout(): readonly Command[] {
    if (this.state !== 'peek') return NO_COMMANDS;
    return this.fail(
      peekwallError(
        'proxy/peek-timeout',
        `no complete ClientHello within ${this.settings.timeouts.peekMs} ms (${this.heldClientBytes} bytes received)`,
      ),
    );
  }

  /** Held bytes went over the proxy-wide bound. */
  overLimit(): readonly Command[] {
    if (this.state === 'closed' || this.state === 'decided') return NO_COMMANDS;
    return this.fail(peekwallError('proxy/held-bytes-limit', 'the proxy holds too many unexamined bytes; connection refused'), true);
  }

  private onHello(r: HelloReadResult): readonly Command[] {
    switch (r.kind) {
      case 'need-more':
        return NO_COMMANDS;
      case 'hello': {
        this.hello = r.hello;
        this.tlsVersion = highestVersion(r.hello);
        this.flow = this.makeFlow(r.hello);
        // Read leniently, judge strictly: the reader decoded an odd hello and flagged it; the
        // policy says whether to go on (as a hello without SNI: its `sni` is null) or refuse.
        // A refusal is the policy's answer to a hello it could read, not a failure to
        // inspect, so failMode: open does not turn it into a forward.
        for (const a of r.hello.anomalies) {
          const odd = this.settings.oddHellos;
          let action: 'allow' | 'refuse';
          switch (a.code) {
            case 'wire/sslv2-compat':
              action = odd.sslv2Compat;
              break;
            case 'wire/sni-no-host-name':
            case 'wire/sni-not-ascii':
            case 'wire/sni-too-long':
            case 'wire/sni-bad-syntax':
              action = odd.oddSni;
              break;
            default: {
              // A new anomaly code must be given a setting here (compile-time check).
              const unhandled: never = a.code;
              action = unhandled;
            }
          }
          if (action === 'refuse') return this.fail(peekwallError(a.code, a.detail), true);
        }
        if (this.dst === null) {
          this.state = 'route';
          return [{ kind: 'pause-client' }, { kind: 'route', sni: r.hello.sni, timeoutMs: this.settings.timeouts.connectMs }];
        }
        return [{ kind: 'pause-client' }, ...this.afterRoute()];
      }
      default:
        return this.fail(r.error);
    }
  }

  // ---- routing (sni-route) ----------------------------------------------------------

  routed(dst: Endpoint): readonly Command[] {
    if (this.state !== 'route') return NO_COMMANDS;
    this.dst = dst;
    this.flow = this.makeFlow(this.hello);
    return this.afterRoute();
  }

  routeFailed(e: PeekwallError): readonly Command[] {
    if (this.state !== 'route') return NO_COMMANDS;
    // No upstream: fail open cannot forward anywhere, so this always refuses.
    this.outcome = failureOutcome(e, false);
    this.state = 'closed';
    return [this.close(true)];
  }

  private afterRoute(): readonly Command[] {
    const hello = this.hello as ClientHello;
    const tsid = tsidFor(this.policy, this.flow);
    this.tsid = tsid;
    if (tsid.enabled) {
      this.state = 'probe';
      const s = this.settings;
      return [{ kind: 'probe', dst: this.dst as Endpoint, hello, timeoutMs: s.timeouts.probeMs, cache: s.tsidCache }];
    }
    if (hello.sni !== null) {
      return this.decide(resolveIdentity({ sni: hello.sni, tsid, dstIp: this.flow.dstIp }));
    }
    // TSID off and no SNI: forward the hello and read the server's first flight.
    this.state = 'passive';
    this.flight = new ServerFlightReader({ maxHandshakeBytes: this.maxFlight });
    return [this.connect(true)];
  }

  // ---- TSID probe ---------------------------------------------------------------------

  certificate(a: ProbeAnswer): readonly Command[] {
    if (this.state !== 'probe') return NO_COMMANDS;
    this.cache = a.cache;
    if (!a.ok) return this.fail(a.error);
    this.chain = a.chain;
    const leaf = a.chain[0];
    const identity = resolveIdentity({
      sni: this.flow.sni,
      tsid: this.tsid as TsidSetting,
      dstIp: this.flow.dstIp,
      ...(leaf ? { certificate: leaf } : {}),
    });
    // A name derived from a probe holds only if the session shows the same certificate: a
    // server may show the probe one certificate and real clients another.
    const mode = leaf ? this.settings.tsidSessionCheck : 'off';
    if (mode !== 'off') this.sessionReader = new ServerFlightReader({ maxHandshakeBytes: this.maxFlight });
    return this.decide(identity, mode === 'redecide');
  }

  // ---- TSID session check -----------------------------------------------------------

  /** Feed server bytes of a spliced connection ('log' mode); true once nothing more is needed. */
  observeServer(chunk: Buffer): boolean {
    const reader = this.sessionReader;
    if (reader === null) return true;
    const check = this.checkSession(reader.push(chunk));
    if (check === null) return false;
    this.sessionCheck = check;
    this.sessionReader = null;
    return true;
  }

  /** The session's flight read so far against the probed leaf; null while more is needed. */
  private checkSession(r: ServerFlightResult): SessionCheck | null {
    if (r.kind === 'need-more') return null;
    if (r.kind !== 'certificate') return 'unseen';
    const der = r.chain[0];
    if (der === undefined) return 'unseen';
    if (bytesEqual(der, this.chain[0].der)) return 'match';
    const facts = certificateFacts(der);
    if (facts.ok) {
      this.sessionLeaf = facts.value;
      this.sessionName = resolveIdentity({ sni: this.flow.sni, tsid: this.tsid as TsidSetting, dstIp: this.flow.dstIp, certificate: facts.value }).name;
    }
    return 'tsid/cert-mismatch';
  }

  private sessionLeaf: CertificateFacts | null = null;

  /** 'redecide' mode: the server's flight is read (or will never be): release or judge again. */
  private verified(check: SessionCheck): readonly Command[] {
    this.sessionCheck = check;
    this.sessionReader = null;
    const leaf = this.sessionLeaf;
    if (check !== 'tsid/cert-mismatch' || leaf === null) {
      this.state = 'decided';
      return [this.release()];
    }
    // Judged again on the certificate this session really carries.
    this.chain = [leaf];
    return this.decide(resolveIdentity({ sni: this.flow.sni, tsid: this.tsid as TsidSetting, dstIp: this.flow.dstIp, certificate: leaf }));
  }

  // ---- passive mode (TSID off, no SNI) ------------------------------------------------

  /** Server bytes are held until decided: passive mode, or a TSID session check that may re-decide. */
  get holdingServer(): boolean {
    return this.state === 'passive' || this.state === 'verify';
  }

  /** Settled: decided or closed (the shell's timers for the decision can go). */
  get settled(): boolean {
    return this.state === 'decided' || this.state === 'closed';
  }

  /** A route or probe is under way: its answer is still to come. */
  get awaiting(): boolean {
    return this.state === 'route' || this.state === 'probe';
  }

  serverData(chunk: Buffer): readonly Command[] {
    if (this.state === 'verify') {
      this.heldServer.push(chunk);
      this.heldServerBytes += chunk.length;
      const check = this.checkSession((this.sessionReader as ServerFlightReader).push(chunk));
      return check === null ? NO_COMMANDS : this.verified(check);
    }
    if (this.state !== 'passive') return NO_COMMANDS;
    this.heldServer.push(chunk);
    this.heldServerBytes += chunk.length;
    return this.onFlight((this.flight as ServerFlightReader).push(chunk));
  }

  /** Passive mode: the server did not send a readable first flight in time. */
  serverTimeout(): readonly Command[] {
    // Already allowed on the probe: a flight that never comes changes nothing.
    if (this.state === 'verify') return this.verified('unseen');
    if (this.state !== 'passive') return NO_COMMANDS;
    return this.fail(
      peekwallError('proxy/server-flight-timeout', `the server's first flight was not complete within ${this.settings.timeouts.probeMs} ms (${this.heldServerBytes} bytes held)`),
    );
  }

  /** The server ended or failed before its first flight was readable. */
  serverEnded(): readonly Command[] {
    if (this.state === 'verify') return this.verified('unseen');
    if (this.state !== 'passive') return NO_COMMANDS;
    return this.decide(this.ipIdentity());
  }

  private onFlight(r: ServerFlightResult): readonly Command[] {
    switch (r.kind) {
      case 'need-more':
        return NO_COMMANDS;
      case 'certificate': {
        this.tlsVersion = r.serverHello.version;
        const der = r.chain[0];
        const facts = der ? certificateFacts(der) : null;
        if (facts && facts.ok) {
          // The decision needs the leaf only; issuers are parsed when a trust store asks
          // (fullChain). Parsing a self-signed root per connection was ~31% of the passive
          // path's CPU in the bench profile.
          this.chain = [facts.value];
          this.chainRest = r.chain.slice(1);
          return this.decide(
            resolveIdentity({
              sni: null,
              tsid: this.tsid as TsidSetting,
              dstIp: this.flow.dstIp,
              passiveCertificate: facts.value,
            }),
          );
        }
        return this.decide(this.ipIdentity());
      }
      case 'tls13':
      case 'hello-retry-request':
      case 'no-certificate':
        this.tlsVersion = r.serverHello.version;
        return this.decide(this.ipIdentity());
      case 'alert':
        return this.decide(this.ipIdentity());
      default:
        return this.fail(r.error);
    }
  }

  private ipIdentity(): ServerIdentity {
    return resolveIdentity({ sni: null, tsid: this.tsid as TsidSetting, dstIp: this.flow.dstIp });
  }

  // ---- deciding -----------------------------------------------------------------------

  /**
   * Judge the flow on an identity. holdFlight (a TSID session check that may re-decide): an
   * allow connects and holds the server's first flight instead of splicing at once.
   */
  private decide(identity: ServerIdentity, holdFlight = false): readonly Command[] {
    // The hello already went upstream: an allow releases the held flight, a block resets both.
    const wasPassive = this.holdingServer;
    this.identity = identity;
    // No trace on the hot path: events do not carry it, and it allocates per step.
    const verdict = evaluate(this.policy, this.flow, { name: identity.name, source: identity.source }, { trace: false });
    const e = enforcementOf(verdict.action);
    if (e.allow) {
      this.outcome = { phase: 'end', verdict, identity };
      if (wasPassive) {
        this.state = 'decided';
        return [this.release()];
      }
      if (holdFlight) {
        this.state = 'verify';
        return [this.connect(true)];
      }
      this.state = 'decided';
      return [this.connect(false, this.sessionReader !== null)];
    }
    this.sessionReader = null;
    this.outcome = { phase: 'begin', verdict, identity, closeReason: 'policy/block' };
    this.state = 'closed';
    // Block / Interactive Block without reset answer a FIN (no page can be shown inside TLS);
    // after a forwarded hello the server is mid-handshake: reset both rather than leave it hanging.
    return [this.close(e.reset || wasPassive)];
  }

  /** Inspection failed: the policy's fail mode decides. */
  private fail(e: PeekwallError, forceClosed = false): readonly Command[] {
    const wasPassive = this.state === 'passive';
    // Fail open forwards — where there is somewhere to forward to (sni-route before its route
    // has none: refused like a route failure).
    const open = !forceClosed && this.settings.failMode === 'open' && (this.dst !== null || wasPassive);
    this.outcome = failureOutcome(e, open);
    if (open) {
      this.state = 'decided';
      return wasPassive ? [this.release()] : [{ kind: 'pause-client' }, this.connect(false)];
    }
    this.state = 'closed';
    return [this.close(true)];
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function failureOutcome(e: PeekwallError, open: boolean): Outcome {
  return open
    ? { phase: 'end', verdict: null, identity: null, action: 'Allow', reason: 'Fail Open', closeReason: e.code, applicationProtocol: 'unknown' }
    : {
        phase: 'begin',
        verdict: null,
        identity: null,
        action: 'Block with reset',
        reason: 'Inspection Failure',
        closeReason: e.code,
        applicationProtocol: 'unknown',
      };
}

