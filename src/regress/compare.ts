// Impact analysis: the same flows under two policies, and every flow whose verdict changes.
// Flows come from suites (their cases, expectations ignored) or from a recorded events file.
// Beside them, the exact analysis (peekwall diff) lists every class of flows that changes and
// which of the given flows fall in each: a class no case falls in is a change no case tests.
import type { CertificateFacts, IdentitySource } from '../identity/index.js';
import type { ConnectionEvent } from '../events/index.js';
import { diffWithProbe, type DiffChange, type Policy } from '../policy/index.js';
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

/** One class of flows that changes verdict (peekwall diff), and the given flows inside it. */
export interface ExactChange {
  readonly witness: DiffChange['witness'];
  readonly old: DiffChange['old'];
  readonly new: DiffChange['new'];
  readonly names: readonly string[];
  /** Names of the compared flows (suite cases, events) that fall in the class. */
  readonly flows: readonly string[];
}

export interface CompareReport {
  readonly old: string;
  readonly new: string;
  readonly flows: number;
  readonly changes: readonly VerdictChange[];
  /** Every class of flows that changes, exactly; `complete` false names what was left out. */
  readonly exact: { readonly complete: boolean; readonly reasons: readonly string[]; readonly changes: readonly ExactChange[] };
}

/** Evaluate every flow under both policies; keep those whose verdict fields differ. Pure. */
export function comparePolicies(oldPolicy: Policy, newPolicy: Policy, flows: readonly ComparedFlow[]): CompareReport {
  const changes: VerdictChange[] = [];
  const { report, probe } = diffWithProbe(oldPolicy, newPolicy);
  const inside = new Map<DiffChange, string[]>();
  for (const f of flows) {
    const ev = evaluateCase(oldPolicy, f);
    const before = ev.actual;
    const after = evaluateCase(newPolicy, f).actual;
    const fields = diffActual(before, after);
    if (fields.length > 0) changes.push({ name: f.name, origin: f.origin, flow: f.flow, before, after, fields });
    // The class the flow falls in, by the name the old policy derives (the address when none).
    const name = ev.identity.source === 'ip' ? null : ev.identity.name;
    const c = probe.changeOf(ev.flow.srcIp, ev.flow.dstIp, ev.flow.dstPort, name);
    if (c) inside.set(c, [...(inside.get(c) ?? []), f.name]);
  }
  const exact = {
    complete: report.complete,
    reasons: report.reasons,
    changes: report.changes.map((c) => ({ witness: c.witness, old: c.old, new: c.new, names: c.space.names, flows: inside.get(c) ?? [] })),
  };
  return { old: oldPolicy.file, new: newPolicy.file, flows: flows.length, changes, exact };
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
