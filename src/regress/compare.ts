// Impact analysis: the same flows under two policies, and every flow whose verdict changes.
// Flows come from suites (their cases, expectations ignored) or from a recorded events file.
import type { CertificateFacts, IdentitySource } from '../identity/index.js';
import type { ConnectionEvent } from '../events/index.js';
import type { Policy } from '../policy/index.js';
import { diffActual, evaluateCase, hostOfUrl } from './run.js';
import type { ActualVerdict, CaseFlow, FieldDiff, TlsVersionName } from './types.js';

export interface ComparedFlow {
  readonly name: string;
  /** Where the flow comes from: `suite.yaml:12:5` or `events.jsonl:7`. */
  readonly origin: string;
  readonly flow: CaseFlow;
  readonly certificate: CertificateFacts | null;
}

export interface VerdictChange {
  readonly name: string;
  readonly origin: string;
  readonly flow: CaseFlow;
  readonly before: ActualVerdict;
  readonly after: ActualVerdict;
  readonly fields: readonly FieldDiff[];
}

export interface CompareReport {
  readonly old: string;
  readonly new: string;
  readonly flows: number;
  readonly changes: readonly VerdictChange[];
}

/** Evaluate every flow under both policies; keep those whose verdict fields differ. Pure. */
export function comparePolicies(oldPolicy: Policy, newPolicy: Policy, flows: readonly ComparedFlow[]): CompareReport {
  const changes: VerdictChange[] = [];
  for (const f of flows) {
    const before = evaluateCase(oldPolicy, f).actual;
    const after = evaluateCase(newPolicy, f).actual;
    const fields = diffActual(before, after);
    if (fields.length > 0) changes.push({ name: f.name, origin: f.origin, flow: f.flow, before, after, fields });
  }
  return { old: oldPolicy.file, new: newPolicy.file, flows: flows.length, changes };
}

const SOURCES: readonly IdentitySource[] = ['sni', 'cert-san', 'cert-cn', 'cert-ou', 'passive-cn', 'ip'];
const VERSIONS: readonly TlsVersionName[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];


/**
 * The flow a recorded connection event describes, or null when the event carries no verdict
 * (inspection failed before policy) or is not a TLS flow. An event shows the identity the
 * proxy derived but not the certificate it came from, so a certificate-derived identity is
 * pinned as recorded (flow.identity); an SNI identity is re-derived from the SNI.
 */
export function flowFromEvent(e: ConnectionEvent): CaseFlow | null {
  if (e.applicationProtocol !== 'HTTPS') return null;
  const source = e.identitySource;
  if (!source || !SOURCES.includes(source) || e.urlCategory === undefined || e.url === null) return null;
  const version = VERSIONS.find((v) => v === e.tlsVersion);
  const sni = e.sni ?? null;
  const pinned = source !== 'sni' || sni === null;
  return {
    src: e.srcIp,
    sport: e.srcPort,
    dst: e.dstIp,
    dport: e.dstPort,
    sni,
    alpn: e.alpn ? [...e.alpn] : [],
    versions: version ? [version] : ['TLSv1.2', 'TLSv1.3'],
    ...(pinned ? { identity: { name: hostOfUrl(e.url), source } } : {}),
  };
}
