// The event of a connection, from what the flow machine reports plus what only the socket
// shell knows (bytes, durations, timings, the certificate status, fingerprints), and the event
// of a connection refused before any machine ran (connection limit, HTTP parser, bad request).
// Every path — transparent, sni-route, explicit CONNECT and plain HTTP — writes its event
// through buildConnectionEvent, most of them through these two.
import { isIP } from 'node:net';
import type { FlowReport } from '../flow/index.js';
import type { ServerIdentity } from '../identity/index.js';
import type { Flow } from '../policy/index.js';
import { ja3, ja4, offeredVersions, versionName } from '../wire/index.js';
import { buildConnectionEvent } from './build.js';
import type { ConnectionEvent } from './types.js';

export interface ShellFacts {
  readonly bytesFromClient: number;
  readonly bytesFromServer: number;
  readonly durationMs: number;
  readonly timings?: ConnectionEvent['timings'];
  /** Why the sockets ended when the machine's outcome does not say (resets, timeouts, ...). */
  readonly closeReason?: string;
  readonly certStatus?: string;
  /** JA3/JA4 cost ~15-24% of a connection's CPU: only when an event consumer reads them. */
  readonly fingerprints: boolean;
  /** The lab's address map: the real addresses behind the seed ones in the flow. */
  readonly mapped?: { readonly srcIp: string };
}

export function flowEvent(r: FlowReport, s: ShellFacts): ConnectionEvent {
  const out = r.outcome;
  const hello = r.hello;
  const closeReason = out?.closeReason ?? s.closeReason ?? (out === null ? 'proxy/client-closed' : undefined);
  const applicationProtocol = out?.applicationProtocol ?? (hello === null ? 'unknown' : undefined);
  const tsid = r.tsid
    ? {
        enabled: r.tsid.enabled,
        profile: r.tsid.profile,
        ...(r.cache ? { cache: r.cache } : {}),
        ...(r.sessionCheck ? { sessionCheck: r.sessionCheck } : {}),
        ...(r.sessionName !== null ? { sessionName: r.sessionName } : {}),
      }
    : undefined;
  const e = buildConnectionEvent({
    phase: out?.phase ?? 'end',
    flow: r.flow,
    identity: r.identity,
    verdict: out?.verdict ?? null,
    // No outcome: the client left before anything was decided (nothing was refused).
    ...(out?.action !== undefined ? { action: out.action } : out === null ? { action: 'Allow' } : {}),
    ...(out?.reason !== undefined ? { reason: out.reason } : {}),
    ...(closeReason !== undefined ? { closeReason } : {}),
    ...(applicationProtocol !== undefined ? { applicationProtocol } : {}),
    ...(hello
      ? {
          client: 'SSL client',
          tls: {
            version: versionName(r.tlsVersion),
            offered: offeredVersions(hello),
            alpn: hello.alpn,
            ...(s.fingerprints ? { ja3: ja3(hello).hash, ja4: ja4(hello).ja4 } : {}),
          },
        }
      : {}),
    ...(s.certStatus !== undefined ? { certStatus: s.certStatus } : {}),
    ...(tsid ? { tsid } : {}),
    bytesFromClient: s.bytesFromClient,
    bytesFromServer: s.bytesFromServer,
    durationMs: s.durationMs,
    timings: s.timings ?? {},
    ...(s.mapped ? { mapped: { srcIp: s.mapped.srcIp, dstIp: r.realDstIp } } : {}),
  });
  // An odd hello read anyway says what was odd, and what its SNI bytes were (its sni is null).
  if (hello === null || hello.anomalies.length === 0) return e;
  return {
    ...e,
    helloAnomalies: hello.anomalies.map((a) => a.code),
    ...(hello.sniRaw ? { sniRawHex: Buffer.from(hello.sniRaw).toString('hex') } : {}),
  };
}

export interface Refusal {
  /** The flow as far as it is known (addresses already mapped to seed ones, if mapped). */
  readonly flow: Flow;
  /** The host a request named, if any (the event's URL and identity). */
  readonly host?: string;
  readonly closeReason: string;
  /** Default 'Block'; e.g. 'Block with reset' for a connection reset at once. */
  readonly action?: string;
  readonly reason?: string;
  readonly applicationProtocol?: string;
  readonly bytesFromClient?: number;
  readonly bytesFromServer?: number;
  readonly durationMs?: number;
  readonly mapped?: ConnectionEvent['mapped'];
}

/** A connection or request refused before policy decided anything: no verdict, a named reason. */
export function refusalEvent(r: Refusal): ConnectionEvent {
  const host = r.host ?? '';
  const source = isIP(host) ? 'ip' : 'sni';
  const identity: ServerIdentity | null = host === '' ? null : { name: host, source, candidates: [{ name: host, source }] };
  return buildConnectionEvent({
    phase: 'begin',
    flow: r.flow,
    identity,
    verdict: null,
    action: r.action ?? 'Block',
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    closeReason: r.closeReason,
    ...(r.applicationProtocol !== undefined ? { applicationProtocol: r.applicationProtocol } : {}),
    bytesFromClient: r.bytesFromClient ?? 0,
    bytesFromServer: r.bytesFromServer ?? 0,
    durationMs: r.durationMs ?? 0,
    ...(r.mapped ? { mapped: r.mapped } : {}),
  });
}
