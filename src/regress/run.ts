// The offline runner: each case goes through the same pure core the proxy uses,
//   certificateFacts(cert) -> resolveIdentity(...) -> evaluate(policy, flow, identity)
// with no sockets and no clock. What the certificate contributes mirrors the proxy's
// connection machine exactly (src/proxy/machine.ts), so --live can demand equality:
//   TSID on          -> the probe's certificate (whatever version is then negotiated);
//   TSID off, no SNI -> the passive certificate, only when TLS <= 1.2 is negotiated (in 1.3
//                       the Certificate message is encrypted);
//   TSID off, SNI    -> the SNI alone (the proxy does not wait for the server's flight).
import { resolveIdentity, type IdentityInput, type ServerIdentity, type TsidSetting } from '../identity/index.js';
import { evaluate, traceLines, tsidFor, type Flow, type Policy, type Verdict } from '../policy/index.js';
import type { ActualVerdict, CaseExpect, CaseFlow, CaseResult, ExpectField, FieldDiff, ResolvedCase, TlsVersionName } from './types.js';
import { EXPECT_FIELDS } from './types.js';

const VERSION_ORDER: readonly TlsVersionName[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The version a server supporting TLS 1.0-1.3 negotiates with this client: the highest offered. */
export function negotiatedVersion(offered: readonly TlsVersionName[]): TlsVersionName {
  let best = 0;
  for (const v of offered) best = Math.max(best, VERSION_ORDER.indexOf(v));
  return VERSION_ORDER[best];
}

function flowOf(f: CaseFlow): Flow {
  return {
    srcIp: f.src,
    srcPort: f.sport,
    dstIp: f.dst,
    dstPort: f.dport,
    protocol: 'tcp',
    scheme: 'https',
    sni: f.sni,
    ...(f.alpn.length > 0 ? { alpn: f.alpn } : {}),
  };
}

/** The TSID setting a case runs with: its own override, else the policy's (tsidFor). */
export function tsidOf(policy: Policy, c: Pick<ResolvedCase, 'flow'>, flow: Flow = flowOf(c.flow)): TsidSetting {
  const base = tsidFor(policy, flow);
  if (c.flow.tsid === undefined && c.flow.profile === undefined) return base;
  return { enabled: c.flow.tsid ?? base.enabled, profile: c.flow.profile ?? base.profile };
}

function identityOf(c: Pick<ResolvedCase, 'flow' | 'certificate'>, tsid: TsidSetting): ServerIdentity {
  const f = c.flow;
  if (f.identity) return { name: f.identity.name, source: f.identity.source, candidates: [f.identity] };
  const cert = c.certificate;
  const input: IdentityInput = {
    sni: f.sni,
    tsid,
    dstIp: f.dst,
    ...(cert && tsid.enabled ? { certificate: cert } : {}),
    ...(cert && !tsid.enabled && f.sni === null && negotiatedVersion(f.versions) !== 'TLSv1.3'
      ? { passiveCertificate: cert }
      : {}),
  };
  return resolveIdentity(input);
}

function actualOf(verdict: Verdict, identity: ServerIdentity | null): ActualVerdict {
  return {
    action: verdict.action,
    rule: verdict.rule,
    url: verdict.url,
    identity: identity?.name ?? null,
    identitySource: identity?.source ?? null,
    siCategory: verdict.siCategory ?? null,
    urlCategory: verdict.urlCategory ?? null,
    urlReputation: verdict.urlReputation?.label ?? null,
    reason: verdict.reason ?? '',
  };
}

export interface Evaluated {
  readonly flow: Flow;
  readonly tsid: TsidSetting;
  readonly identity: ServerIdentity;
  readonly verdict: Verdict;
  readonly actual: ActualVerdict;
}

/** One case through the pure core. */
export function evaluateCase(policy: Policy, c: Pick<ResolvedCase, 'flow' | 'certificate'>): Evaluated {
  const flow = flowOf(c.flow);
  const tsid = tsidOf(policy, c, flow);
  const identity = identityOf(c, tsid);
  const verdict = evaluate(policy, flow, { name: identity.name, source: identity.source });
  return { flow, tsid, identity, verdict, actual: actualOf(verdict, identity) };
}

const REPUTATION_LABELS = ['Unknown', 'Untrusted', 'Questionable', 'Neutral', 'Favorable', 'Trusted'];

/** The host part of a URL as events and verdicts print it (`https://host/path` -> `host`). */
export function hostOfUrl(u: string): string {
  const i = u.indexOf('://');
  const rest = i >= 0 ? u.slice(i + 3) : u;
  const end = rest.search(/[/?#]/);
  return (end >= 0 ? rest.slice(0, end) : rest).toLowerCase();
}

/** Does an actual value satisfy the stated expectation for this field? */
function fieldMatches(field: ExpectField, expected: string | null, actual: string | null): boolean {
  if (expected === null || actual === null) return expected === actual;
  switch (field) {
    case 'action':
    case 'identitySource':
      return expected.toLowerCase() === actual.toLowerCase();
    case 'url':
      // A bare host compares with the URL's host; a full URL must match exactly (case-blind host).
      return expected.includes('://') ? expected.toLowerCase() === actual.toLowerCase() : expected.toLowerCase() === hostOfUrl(actual);
    case 'urlReputation': {
      const n = /^[0-5]$/.test(expected) ? REPUTATION_LABELS[Number(expected)] : expected;
      return n.toLowerCase() === actual.toLowerCase();
    }
    default:
      return expected === actual;
  }
}

/** Expected vs actual for every field the case states, in a fixed order. */
function diffExpect(expect: CaseExpect, actual: ActualVerdict): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const field of EXPECT_FIELDS) {
    if (!(field in expect)) continue;
    const want = expect[field] as string | null | undefined;
    if (want === undefined) continue;
    const got = actual[field];
    if (!fieldMatches(field, want, got)) out.push({ field, expected: want, actual: got });
  }
  return out;
}

/** Offline vs live: every field both sides know, compared strictly. */
export function diffActual(offline: ActualVerdict, live: ActualVerdict): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const field of EXPECT_FIELDS) {
    const a = offline[field];
    const b = live[field];
    if (!fieldMatches(field, a, b)) out.push({ field, expected: a, actual: b });
  }
  return out;
}

/** Run one resolved case offline. */
export function runCase(policy: Policy, suite: string, c: ResolvedCase): CaseResult {
  const ev = evaluateCase(policy, c);
  const diffs = diffExpect(c.expect, ev.actual);
  return {
    suite,
    name: c.name,
    at: c.at,
    status: diffs.length === 0 ? 'pass' : 'fail',
    actual: ev.actual,
    diffs,
    rulesMatched: ev.verdict.rulesMatched ?? [],
    siMatched: ev.verdict.siMatched ?? [],
    trace: diffs.length === 0 ? [] : traceLines(ev.flow, { name: ev.identity.name, source: ev.identity.source }, ev.verdict),
  };
}
