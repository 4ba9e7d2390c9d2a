// Turning what the proxy knew about one connection into FMC's connection event.
// Pure: the shell passes the clock reading in.
import type { ServerIdentity } from '../identity/index.js';
import type { Flow, Verdict } from '../policy/index.js';
import type { ConnectionEvent } from './types.js';

export interface EventInput {
  readonly time?: Date;
  readonly phase: 'begin' | 'end';
  readonly flow: Flow;
  readonly identity: ServerIdentity | null;
  /** Null when no verdict was reached (inspection failed before policy). */
  readonly verdict: Verdict | null;
  /** Overrides verdict.action (e.g. 'Allow' with reason 'User Bypass', or a fail-open forward). */
  readonly action?: string;
  readonly reason?: string;
  readonly rule?: string;
  readonly closeReason?: string;
  readonly tls?: {
    readonly version?: string;
    readonly offered?: readonly string[];
    readonly alpn?: readonly string[];
    readonly ja3?: string;
    readonly ja4?: string;
  };
  readonly certStatus?: string;
  readonly tsid?: ConnectionEvent['tsid'];
  readonly bytesFromClient?: number;
  readonly bytesFromServer?: number;
  readonly durationMs?: number;
  readonly timings?: ConnectionEvent['timings'];
  readonly client?: string;
  readonly mapped?: ConnectionEvent['mapped'];
  /** 'unknown' when the bytes were not TLS/HTTP; defaults from flow.scheme. */
  readonly applicationProtocol?: string;
}

export function buildConnectionEvent(o: EventInput): ConnectionEvent {
  const v = o.verdict;
  const id = o.identity;
  // The verdict's url is '' when evaluation had no name; the event says null (its documented
  // "no name could be derived"), as it does when there was no verdict at all.
  const url = v ? v.url || null : id ? `${o.flow.scheme}://${id.name}` : null;
  // Optional fields are only present when known, so JSON lines stay short and diffs readable.
  const e: { -readonly [K in keyof ConnectionEvent]: ConnectionEvent[K] } = {
    time: (o.time ?? new Date()).toISOString(),
    eventType: 'Connection',
    phase: o.phase,
    action: o.action ?? v?.action ?? 'Block',
    reason: o.reason ?? v?.reason ?? '',
    srcIp: o.flow.srcIp,
    dstIp: o.flow.dstIp,
    srcPort: o.flow.srcPort,
    dstPort: o.flow.dstPort,
    protocol: 'tcp',
    applicationProtocol: o.applicationProtocol ?? (o.flow.scheme === 'https' ? 'HTTPS' : 'HTTP'),
    url,
    accessControlRule: o.rule ?? v?.rule ?? '',
    sni: o.flow.sni,
    bytesFromClient: o.bytesFromClient ?? 0,
    bytesFromServer: o.bytesFromServer ?? 0,
    durationMs: o.durationMs ?? 0,
  };
  if (v?.application) e.webApplication = v.application;
  if (v) {
    // FMC logs a block at the beginning only; an allow at its end, or at its beginning when
    // that is what the rule asks for (peekwall writes the allow once, at the end, either way).
    e.fmcLogged = o.phase === 'begin' ? v.log.beginning : v.log.end || v.log.beginning;
    e.fmcLog = { beginning: v.log.beginning, end: v.log.end };
    e.urlCategory = v.urlCategory;
    e.urlReputation = v.urlReputation.label;
    if (v.siCategory) e.siCategory = v.siCategory;
  }
  if (id) {
    e.identitySource = id.source;
    if (id.spoofedSni) e.spoofedSni = id.spoofedSni;
  }
  if (o.client) e.client = o.client;
  if (o.tls?.version) e.tlsVersion = o.tls.version;
  if (o.tls?.offered && o.tls.offered.length > 0) e.tlsVersionsOffered = o.tls.offered;
  if (o.tls?.alpn && o.tls.alpn.length > 0) e.alpn = o.tls.alpn;
  if (o.tls?.ja3) e.ja3 = o.tls.ja3;
  if (o.tls?.ja4) e.ja4 = o.tls.ja4;
  if (o.certStatus) e.certStatus = o.certStatus;
  if (o.tsid) e.tsid = o.tsid;
  if (o.closeReason) e.closeReason = o.closeReason;
  if (o.timings && (o.timings.helloMs !== undefined || o.timings.decisionMs !== undefined)) e.timings = o.timings;
  if (o.mapped) e.mapped = o.mapped;
  return e;
}
