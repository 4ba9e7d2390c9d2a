// Replaying a captured TCP flow through the proxy's own decision: the same ConnectionMachine
// (src/flow) the proxy runs, fed the client's reassembled bytes, its commands answered from
// what the capture shows, and the event built by the proxy's flowEvent. Nothing is decided
// here: this file only plays the shell's part with recorded bytes instead of sockets.
//
// The shell's part, command by command:
// - 'probe' (TSID on): the probe's answer is the certificate the server sent in this very
//   flow (TLS <= 1.2 shows it in clear) — it stands for what the probe would have read, and
//   the flow's notes and trace say so. TLS 1.3 encrypts it: then a certificate supplied by the
//   operator for the server's address (--certs) stands for it, else the flow is not evaluated
//   (capture/tls13-certificate): the name is never guessed.
//   In a capture peekwall wrote, the TSID probes themselves are recorded (on their own
//   interface): what a probe read for the same server and SNI answers first — the proxy's own
//   answer, and the only one for a flow blocked before the server was ever reached.
// - 'connect' passive (TSID off, no SNI): the server's captured bytes are fed to serverData().
// - 'connect' with observeSession: the server's bytes are fed to observeServer().
// - timers (peek, probe, flight timeouts) are not replayed: a capture's timing is the real
//   network's, not peekwall's, so a slow flow is judged on its bytes.
import {
  ConnectionMachine,
  type Command,
  type Endpoint,
  type FlowReport,
  type ProbeAnswer,
} from '../flow/index.js';
import { flowEvent, type ConnectionEvent } from '../events/index.js';
import { certificateFacts, type CertificateFacts } from '../identity/index.js';
import { evaluate, traceLines, type Policy } from '../policy/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { ServerFlightReader, type ServerFlightResult } from '../wire/index.js';
import { probeKey, ProbeRecord, type ProbeRead } from './probes.js';
import type { FlowConsumer, FlowStart, FlowStats, GapInfo, PacketMeta, Side, SideEnd } from './tcp.js';

export interface ReplayOptions {
  /** The policy as the proxy would run it (TSID already forced by --tsid/--profile if asked). */
  readonly policy: Policy;
  /** Certificates supplied by the operator by server address (--certs): used when the capture shows none. */
  readonly certsFor?: (ip: string) => readonly CertificateFacts[] | null;
  /** Build `system support trace` lines per flow. */
  readonly trace?: boolean;
  /** JA3/JA4 in the events (default true, as the proxy with an event log). */
  readonly fingerprints?: boolean;
}

/** Where the certificate TSID judged came from. */
/** 'probe': a TSID probe recorded in the capture (one peekwall wrote) read it. */
export type CertificateOrigin = 'capture' | 'certs' | 'probe';

export interface FlowResult {
  /** Wireshark's tcp.stream. */
  readonly stream: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly firstFrame: number;
  readonly lastFrame: number;
  readonly packets: number;
  /** The client's SYN is in the capture. */
  readonly handshake: boolean;
  /** The proxy's decision could be replayed; else `reason` says why not. */
  readonly evaluated: boolean;
  readonly event: ConnectionEvent | null;
  readonly reason: PeekwallError | null;
  /** Facts of the replay worth knowing (overlaps, the certificate that stood for the probe). */
  readonly notes: readonly PeekwallError[];
  readonly certificateOrigin: CertificateOrigin | null;
  readonly trace?: readonly string[];
}

/** Codes of flows that could not be evaluated, and of notes. */
export const REPLAY_CODES = [
  'capture/gap',
  'capture/snaplen',
  'capture/ended',
  'capture/mid-stream',
  'capture/no-connection',
  'capture/no-data',
  'capture/tls13-certificate',
  'capture/no-server-certificate',
  'capture/overlap-differs',
  'capture/probe-certificate',
] as const;

/** Server bytes held for a probe answer or a passive read (the machine's own bound is 64 KiB). */
const MAX_HELD_SERVER = 96 * 1024;

/** One replay run: the shared parts (policy, certificate cache) and a consumer per flow. */
export class Replay {
  private readonly certCache = new Map<string, Result<CertificateFacts>>();

  constructor(
    readonly opts: ReplayOptions,
    private readonly emit: (r: FlowResult) => void,
  ) {}

  /** Chains TSID probes recorded in the capture read, by server ip:port/SNI (bounded). */
  private readonly probed = new Map<string, ProbeRead>();
  /** The same, by port/SNI only: the latest probe for that name. */
  private readonly probedByName = new Map<string, ProbeRead>();

  /** The tracker's flow factory: a recorded TSID probe is no client flow, it answers probes. */
  readonly open = (start: FlowStart): FlowConsumer => (start.first.probe === true ? new ProbeRecord(this, start.server) : new FlowReplay(this, start, this.emit));

  probeRead(server: Endpoint, sni: string | null, chain: readonly CertificateFacts[], frame: number): void {
    const read = { chain, frame, server };
    for (const [m, key] of [
      [this.probed, probeKey(server, sni)],
      [this.probedByName, `${server.port}/${sni ?? ''}`],
    ] as const) {
      if (m.size >= 4096 && !m.has(key)) m.delete(m.keys().next().value as string);
      m.set(key, read);
    }
  }

  /**
   * The probe recorded for this server and SNI; else the latest one for the SNI at another
   * address: the proxy's TSID cache answers by the upstream it probed, and several addresses
   * (the lab's two seed servers) may share one upstream — the note says which probe it was.
   */
  probeAnswer(server: Endpoint, sni: string | null): ProbeRead | undefined {
    return this.probed.get(probeKey(server, sni)) ?? this.probedByName.get(`${server.port}/${sni ?? ''}`);
  }

  /**
   * Parsed once per distinct certificate: a capture repeats its servers' certificates, and
   * parsing one costs more than reading a flow's bytes.
   */
  facts(der: Uint8Array): Result<CertificateFacts> {
    const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
    let f = this.certCache.get(key);
    if (f === undefined) {
      f = certificateFacts(Uint8Array.prototype.slice.call(der) as Uint8Array);
      if (this.certCache.size >= 1024) this.certCache.delete(this.certCache.keys().next().value as string);
      this.certCache.set(key, f);
    }
    return f;
  }
}

class FlowReplay implements FlowConsumer {
  private readonly m: ConnectionMachine;
  private readonly flight = new ServerFlightReader();
  private flightResult: ServerFlightResult | null = null;
  private flightFrame = 0;
  private helloFrame = 0;
  private helloAt: number | null = null;
  private decidedAt: number | null = null;
  private decidedFrame = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private probing = false;
  private observing = false;
  private clientBytes = 0;
  private reason: PeekwallError | null = null;
  private readonly notes: PeekwallError[] = [];
  private origin: CertificateOrigin | null = null;

  constructor(
    private readonly run: Replay,
    private readonly start: FlowStart,
    private readonly emit: (r: FlowResult) => void,
  ) {
    this.m = new ConnectionMachine({
      policy: run.opts.policy,
      src: start.client,
      dst: start.server,
      toSeed: (ip) => ip,
      certificateFacts: (der) => run.facts(der),
    });
    this.apply(this.m.start(), start.first);
  }

  wants(side: Side): boolean {
    if (this.reason !== null) return false;
    if (side === 'client') return this.m.state === 'peek';
    return !this.m.settled || this.observing || this.probing;
  }

  data(side: Side, bytes: Buffer, p: PacketMeta): void {
    if (side === 'client') {
      this.clientBytes += bytes.length;
      this.apply(this.m.clientData(bytes), p);
      if (this.m.hello !== null && this.helloAt === null) {
        this.helloAt = p.timeMs;
        this.helloFrame = p.frame;
      }
      return;
    }
    // The probe's answer is read from the flight only when TSID asks for one (the machine reads
    // the passive flight itself).
    if (this.flightResult === null && this.m.tsid?.enabled === true) {
      const r = this.flight.push(bytes);
      if (r.kind !== 'need-more') {
        this.flightResult = r;
        this.flightFrame = p.frame;
      }
    }
    if (this.m.holdingServer) this.apply(this.m.serverData(bytes), p);
    else if (this.observing) this.observing = !this.m.observeServer(bytes);
    else if (!this.m.settled && this.heldBytes < MAX_HELD_SERVER) {
      this.held.push(bytes);
      this.heldBytes += bytes.length;
    }
    if (this.probing && this.flightResult !== null) this.answerProbe(p);
  }

  end(side: Side, how: SideEnd, gap: GapInfo | null, p: PacketMeta | null): void {
    if (this.reason !== null) return;
    const at = p ?? this.start.first;
    if (side === 'client') {
      if (this.m.state !== 'peek') return;
      if (how === 'fin' || how === 'rst') this.apply(this.m.clientEnded(), at);
      else this.notEvaluated(how, gap, 'client', this.clientBytes === 0 ? 'before the client sent anything' : `after ${this.clientBytes} bytes of the client, before its ClientHello was complete`);
      return;
    }
    if (this.probing) {
      if (how === 'fin' || how === 'rst') {
        // The server closed before its certificate: a probe sending the same hello is closed on too.
        this.flightResult = this.flight.end();
        this.answerProbe(at);
      } else this.notEvaluated(how, gap, 'server', "before the server's certificate (the probe's answer)");
      return;
    }
    if (this.m.holdingServer) {
      if (how === 'fin' || how === 'rst') this.apply(this.m.serverEnded(), at);
      else this.notEvaluated(how, gap, 'server', "before the server's first flight was complete");
    }
  }

  note(n: PeekwallError): void {
    this.notes.push(n);
  }

  close(stats: FlowStats): void {
    const s = this.start;
    // A connection without a client byte: the proxy would only judge one that was accepted.
    const silent = this.clientBytes === 0 && (this.reason === null || this.reason.code === 'capture/ended');
    if (silent && s.syn && !stats.synAck) {
      this.reason = peekwallError('capture/no-connection', 'the server never accepted the connection (no SYN-ACK in the capture): no TLS to judge');
    } else if (silent && !s.syn) {
      this.reason = peekwallError('capture/no-data', 'neither the handshake nor any client bytes of this connection are in the capture');
    } else if (this.reason === null) {
      const out = this.m.outcome;
      if (!s.syn && this.m.hello === null && out !== null && out.verdict === null && (out.closeReason ?? '').startsWith('wire/')) {
        this.reason = peekwallError('capture/mid-stream', `the capture starts inside this connection (no SYN) and its first client bytes are not a ClientHello (${out.closeReason})`);
      } else if (!this.m.settled) {
        this.reason = peekwallError('capture/ended', 'the capture ends before the decision could be made');
      }
    }
    const evaluated = this.reason === null;
    let event: ConnectionEvent | null = null;
    const report = this.m.report();
    if (evaluated) {
      const e = flowEvent(report, {
        bytesFromClient: stats.clientBytes,
        bytesFromServer: stats.serverBytes,
        durationMs: Math.max(0, Math.round(stats.last.timeMs - stats.first.timeMs)),
        timings: {
          ...(this.helloAt !== null ? { helloMs: Math.max(0, Math.round(this.helloAt - s.first.timeMs)) } : {}),
          ...(this.decidedAt !== null ? { decisionMs: Math.max(0, Math.round(this.decidedAt - s.first.timeMs)) } : {}),
        },
        fingerprints: this.run.opts.fingerprints !== false,
      });
      // The connection's first packet, as FMC's First Packet column: the capture's clock, not now.
      (e as { time: string }).time = isoTime(s.first.timeMs);
      event = e;
    }
    const result: FlowResult = {
      stream: s.stream,
      client: s.client,
      server: s.server,
      firstFrame: s.first.frame,
      lastFrame: stats.last.frame,
      packets: stats.packets,
      handshake: s.syn,
      evaluated,
      event,
      reason: this.reason,
      notes: this.notes,
      certificateOrigin: this.origin,
      ...(this.run.opts.trace ? { trace: this.traceOf(report, event, stats) } : {}),
    };
    this.held = [];
    this.emit(result);
  }

  // ---- the shell's part ---------------------------------------------------------------

  private apply(cmds: readonly Command[], p: PacketMeta): void {
    for (const c of cmds) {
      switch (c.kind) {
        case 'probe':
          this.probing = true;
          if (this.flightResult !== null || this.probeRecorded()) this.answerProbe(p);
          break;
        case 'connect':
          if (c.observeSession) this.observing = true;
          if (c.passive || c.observeSession) this.feedHeld(p);
          break;
        default:
          // wait-hello, pause-client: the capture is the client; release, close: decided.
          // route: never asked, the destination is always known from the capture.
          break;
      }
    }
    if (this.m.settled && this.decidedAt === null) {
      this.decidedAt = p.timeMs;
      this.decidedFrame = p.frame;
    }
  }

  /** Server bytes that came before the machine asked for them (after a probe answer). */
  private feedHeld(p: PacketMeta): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const b of held) {
      if (this.m.holdingServer) this.apply(this.m.serverData(b), p);
      else if (this.observing) this.observing = !this.m.observeServer(b);
    }
  }

  private probeRecorded(): boolean {
    const hello = this.m.hello;
    return hello !== null && this.run.probeAnswer(this.start.server, hello.sni) !== undefined;
  }

  private answerProbe(p: PacketMeta): void {
    const r = this.flightResult as ServerFlightResult;
    this.probing = false;
    let answer: ProbeAnswer | null;
    const hello = this.m.hello;
    const probed = hello === null ? undefined : this.run.probeAnswer(this.start.server, hello.sni);
    if (probed !== undefined) {
      this.origin = 'probe';
      this.flightFrame = probed.frame;
      const s = probed.server;
      const other = s.ip === this.start.server.ip ? '' : ` to ${s.ip}:${s.port}, the same upstream for the proxy's TSID cache`;
      this.notes.push(peekwallError('capture/probe-certificate', `TSID on: the certificate the TSID probe recorded in this capture read (frame ${probed.frame}${other})`));
      return this.apply(this.m.certificate({ ok: true, chain: probed.chain, cache: 'miss' }), p);
    }
    switch (r.kind) {
      case 'certificate': {
        // An empty certificate_list shows no certificate either.
        if (r.chain.length === 0) {
          answer = this.supplied('capture/no-server-certificate');
          break;
        }
        // The leaf must be readable (the probe's answer is it); an unreadable issuer is left out.
        const leaf = this.run.facts(r.chain[0]);
        const chain = leaf.ok ? [leaf.value] : [];
        for (const der of r.chain.slice(1)) {
          const f = this.run.facts(der);
          if (f.ok) chain.push(f.value);
        }
        answer = leaf.ok ? { ok: true, chain, cache: 'miss' } : { ok: false, error: leaf.error, cache: 'miss' };
        this.origin = 'capture';
        this.notes.push(
          peekwallError('capture/probe-certificate', `TSID on: the certificate the server sent in this flow (frame ${this.flightFrame}) stands for what the probe would have read`),
        );
        break;
      }
      case 'tls13':
      case 'hello-retry-request':
        answer = this.supplied('capture/tls13-certificate');
        break;
      case 'no-certificate':
        answer = this.supplied('capture/no-server-certificate');
        break;
      case 'alert':
        answer = {
          ok: false,
          error: peekwallError('proxy/probe-failed', `the server answered the client's hello with a TLS alert (level ${r.level}, description ${r.description}); a probe sending the same hello gets no certificate either`),
          cache: 'miss',
        };
        break;
      default:
        answer = { ok: false, error: 'error' in r ? r.error : peekwallError('proxy/probe-failed', 'no certificate'), cache: 'miss' };
    }
    if (answer !== null) this.apply(this.m.certificate(answer), p);
  }

  /**
   * The capture shows no certificate: the operator's (--certs) stands for the probe's answer,
   * else the flow is not evaluated with `code` — TSID's name is never guessed.
   */
  private supplied(code: 'capture/tls13-certificate' | 'capture/no-server-certificate'): ProbeAnswer | null {
    const ip = this.start.server.ip;
    const chain = this.run.opts.certsFor?.(ip) ?? null;
    if (chain !== null && chain.length > 0) {
      this.origin = 'certs';
      this.notes.push(peekwallError('capture/probe-certificate', `TSID on: the certificate supplied for ${ip} (--certs) stands for what the probe would have read`));
      return { ok: true, chain, cache: 'miss' };
    }
    const why =
      code === 'capture/tls13-certificate'
        ? 'TLS 1.3 encrypts the server certificate'
        : 'the server sent no certificate in this flow (a resumed session, or an empty list)';
    this.reason = peekwallError(code, `${why}: TSID's name for this flow is unknown; give --certs DIR with a certificate file named ${ip}.pem`);
    return null;
  }

  private notEvaluated(how: SideEnd, gap: GapInfo | null, side: Side, when: string): void {
    if (how === 'gap' && gap !== null) {
      const n = gap.bytes !== null && gap.bytes > 0 ? `${gap.bytes} bytes` : 'bytes';
      this.reason = gap.snaplen
        ? peekwallError('capture/snaplen', `the snaplen cut the ${side}'s packets (capture with -s 0): ${n} missing at ${side} stream offset ${gap.at}, ${when}`)
        : peekwallError(
            'capture/gap',
            `${n} of the ${side} stream are missing from the capture at offset ${gap.at}${gap.why === 'acked-unseen' ? ' (acknowledged by the peer, never captured)' : ''}, ${when}`,
          );
    } else {
      this.reason = peekwallError('capture/ended', `the capture holds no more of this connection ${when}`);
    }
  }

  private traceOf(report: FlowReport, event: ConnectionEvent | null, stats: FlowStats): string[] {
    const f = report.flow;
    const prefix = `${f.srcIp} ${f.srcPort} -> ${f.dstIp} ${f.dstPort} 6 AS=0 ID=0 GR=1-1 `;
    const s = this.start;
    const out: string[] = [
      `${prefix}CAPTURE: tcp.stream ${s.stream}, frames ${s.first.frame}..${stats.last.frame} (${stats.packets} packets), ${s.syn ? 'handshake in the capture' : 'no SYN in the capture (it starts mid-connection)'}`,
    ];
    const hello = report.hello;
    if (hello) out.push(`${prefix}SSL: client hello ${hello.sni === null ? 'without SNI' : `SNI '${hello.sni}'`} (frame ${this.helloFrame})`);
    const tsid = report.tsid;
    if (tsid && hello) {
      if (tsid.enabled) {
        const hows: Record<CertificateOrigin, string> = {
          capture: `the certificate seen in the capture (frame ${this.flightFrame}) stands for what the probe would have read`,
          probe: `the TSID probe recorded in the capture read the certificate (frame ${this.flightFrame})`,
          certs: `the certificate supplied for ${s.server.ip} (--certs) stands for what the probe would have read`,
        };
        const how = this.origin === null ? 'no certificate for the probe' : hows[this.origin];
        out.push(`${prefix}SSL: TSID enabled (profile ${tsid.profile}), ${how}`);
      } else if (hello.sni === null) {
        const chain = report.chain();
        out.push(
          `${prefix}SSL: TSID disabled, ${chain.length > 0 ? `server certificate read passively (TLS <= 1.2, frame ${this.decidedFrame})` : 'no server certificate seen in clear (TLS 1.3 or none): name from the destination address'}`,
        );
      }
    }
    if (report.identity?.spoofedSni) out.push(`${prefix}SSL: SNI '${report.identity.spoofedSni}' does not match the certificate, treated as spoofed`);
    for (const n of this.notes) if (n.code !== 'capture/probe-certificate') out.push(`${prefix}CAPTURE: ${n.message} [${n.code}]`);
    if (event === null) {
      out.push(`${prefix}CAPTURE: not evaluated: ${this.reason?.message} [${this.reason?.code}]`);
      return out;
    }
    const o = report.outcome;
    if (o?.verdict && report.identity) {
      const fi = { name: report.identity.name, source: report.identity.source };
      out.push(...traceLines(f, fi, evaluate(this.run.opts.policy, f, fi, { trace: true })));
    } else if (o) {
      out.push(`${prefix}SSL: inspection failed [${o.closeReason}]: ${o.reason ?? ''}`);
    }
    out.push(`${prefix}Result: ${event.action}${event.reason ? ` (${event.reason})` : ''}${event.accessControlRule ? ` by '${event.accessControlRule}'` : ''}`);
    return out;
  }
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}
