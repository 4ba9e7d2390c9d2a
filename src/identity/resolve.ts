// Server identity: which name policy sees. The TSID profiles are DATA (an ordered list of
// source steps each); resolveIdentity walks the chosen profile's list and takes the first step
// that yields a name. Adding or reordering a profile is a table edit, not a code change.
import { certificateMatchesName } from './match.js';
import type {
  CertificateFacts,
  IdentityCandidate,
  IdentityInput,
  IdentitySource,
  ServerIdentity,
  TsidProfile,
} from './types.js';

/** One step of a profile: where a name may come from. */
export type IdentityStep =
  /** The client's SNI; with `unlessSpoofed`, skipped when the certificate contradicts it. */
  | { readonly from: 'sni'; readonly unlessSpoofed: boolean }
  | { readonly from: 'cert-cn' }
  /** First DNS SAN in certificate order (IP/email/URI SANs are not host names). */
  | { readonly from: 'cert-san' }
  | { readonly from: 'cert-ou' };

export interface TsidProfileSpec {
  readonly name: TsidProfile;
  readonly steps: readonly IdentityStep[];
  readonly basis: string;
}

/**
 * The three named profiles (DOMAIN.md §2). Spoof detection applies to every profile that
 * consults the SNI while TSID is on (the TechNote: "TSID prioritizes the certificate's CN over
 * the SNI"); the profiles differ in which certificate name comes first.
 */
export const TSID_PROFILE_SPECS: readonly TsidProfileSpec[] = [
  {
    name: 'snort3-legacy',
    steps: [{ from: 'sni', unlessSpoofed: true }, { from: 'cert-san' }, { from: 'cert-cn' }],
    basis: 'Snort 3.0.1-3.9.3 certificate code: SNI, then first SAN, then CN (yields toos.cisco.com for the field certificate)',
  },
  {
    name: 'snort3',
    steps: [{ from: 'sni', unlessSpoofed: true }, { from: 'cert-cn' }, { from: 'cert-san' }],
    basis: 'Snort >= 3.9.5: SNI unless spoofed, then CN, then first SAN',
  },
  {
    name: 'technote',
    // The certificate's names outrank the SNI; the SNI is only a last resort before the IP.
    steps: [{ from: 'cert-cn' }, { from: 'cert-san' }, { from: 'cert-ou' }, { from: 'sni', unlessSpoofed: true }],
    basis: "the TSID TechNote's text: CN, then first SAN, then OU",
  },
];

export const TSID_PROFILES: readonly TsidProfile[] = TSID_PROFILE_SPECS.map((p) => p.name);
const DEFAULT_TSID_PROFILE: TsidProfile = 'snort3-legacy';

const SPEC_BY_NAME: ReadonlyMap<string, TsidProfileSpec> = new Map(TSID_PROFILE_SPECS.map((p) => [p.name, p]));

function tsidProfileSpec(name: TsidProfile): TsidProfileSpec {
  return SPEC_BY_NAME.get(name) ?? (SPEC_BY_NAME.get(DEFAULT_TSID_PROFILE) as TsidProfileSpec);
}

function firstDnsSan(c: CertificateFacts): string | null {
  for (const s of c.sans) if (s.type === 'dns' && s.value.length > 0) return s.value;
  return null;
}

function nonEmpty(s: string | null | undefined): string | null {
  return s !== null && s !== undefined && s.length > 0 ? s : null;
}

/** The name a certificate step yields, or null. */
function certName(step: IdentityStep, c: CertificateFacts): string | null {
  switch (step.from) {
    case 'cert-cn':
      return nonEmpty(c.cn);
    case 'cert-san':
      return firstDnsSan(c);
    case 'cert-ou':
      return nonEmpty(c.ous[0]);
    default:
      return null;
  }
}

/**
 * Resolve the name policy evaluates:
 * - TSID on with a certificate: walk the profile's steps; an SNI the certificate does not carry
 *   (RFC 6125, CNs and SANs all count) is reported as `spoofedSni` and a certificate name wins;
 * - TSID on without a certificate (probe failed), or TSID off: the SNI when present;
 * - TSID off without SNI: the subject CN of the passively read certificate (`passive-cn`,
 *   TLS <= 1.2 only: the caller passes none for TLS 1.3), SANs are not consulted;
 * - otherwise the destination IP (`ip`).
 */
export function resolveIdentity(input: IdentityInput): ServerIdentity {
  const sni = nonEmpty(input.sni);
  const candidates: IdentityCandidate[] = [];
  let chosen: IdentityCandidate | null = null;
  let spoofedSni: string | undefined;
  const take = (name: string, source: IdentitySource) => {
    const c = { name, source };
    candidates.push(c);
    if (chosen === null) chosen = c;
  };

  const cert = input.tsid.enabled ? input.certificate : undefined;
  if (cert) {
    const spec = tsidProfileSpec(input.tsid.profile);
    const spoofed = sni !== null && !certificateMatchesName(cert, sni, { cn: 'always' });
    if (spoofed) spoofedSni = sni as string;
    for (const step of spec.steps) {
      if (step.from === 'sni') {
        if (sni !== null && !(step.unlessSpoofed && spoofed)) take(sni, 'sni');
        continue;
      }
      const n = certName(step, cert);
      if (n !== null) take(n, step.from);
    }
  } else if (sni !== null) {
    take(sni, 'sni');
  } else if (!input.tsid.enabled && input.passiveCertificate) {
    const cn = nonEmpty(input.passiveCertificate.cn);
    if (cn !== null) take(cn, 'passive-cn');
  }
  take(input.dstIp, 'ip');
  const c = chosen as unknown as IdentityCandidate;
  const out: ServerIdentity = spoofedSni !== undefined
    ? { name: c.name, source: c.source, spoofedSni, candidates }
    : { name: c.name, source: c.source, candidates };
  return out;
}
