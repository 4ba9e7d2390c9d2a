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
import { evaluate, tsidFor, type Flow, type Policy, type PolicySettings } from '../policy/index.js';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { enforcementOf } from './enforce.js';
import {
  failureOutcome,
  type Command,
  type Endpoint,
  type FlowReport,
  type MachineInit,
  type MachineState,
  type Outcome,
  type ProbeAnswer,
  type SessionCheck,
} from './types.js';

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
      for (const f of this.chainRest.map((der) => this.facts(der))) if (f.ok) chain.push(f.value);
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
  private readonly facts: NonNullable<MachineInit['certificateFacts']>;

  constructor(init: MachineInit) {
    this.policy = init.policy;
    this.src = init.src;
    this.dst = init.dst;
    this.toSeed = init.toSeed;
    this.flowPort = init.flowPort;
    this.flowDstIp = init.flowDstIp;
    this.maxFlight = init.maxServerFlightBytes ?? 65536;
    this.facts = init.certificateFacts ?? certificateFacts;
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
    const facts = this.facts(der);
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
        const facts = der ? this.facts(der) : null;
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
