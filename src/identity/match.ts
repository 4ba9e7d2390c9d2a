// Does a certificate carry a name? RFC 6125 rules: '*' only as the whole left-most label,
// matching exactly one non-empty label (never across dots, never a public-suffix-like
// two-label pattern such as '*.com'); IP literals compare as IPs against IP SANs only.
import type { CertificateFacts } from './types.js';

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX4 = /^[0-9a-fA-F]{1,4}$/;

/**
 * 4, 6 or 0, as node:net's isIP answers — written out because identity/ is pure (no node:net):
 * dotted quads without leading zeros; IPv6 with at most one '::', an optional trailing dotted
 * quad and an optional %zone.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (V4.test(s)) return 4;
  let t = s;
  const pct = t.indexOf('%');
  if (pct >= 0) {
    if (pct === t.length - 1) return 0;
    t = t.slice(0, pct);
  }
  const lastColon = t.lastIndexOf(':');
  if (lastColon < 0) return 0;
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!V4.test(tail)) return 0;
    t = `${t.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = t.indexOf('::');
  if (dbl >= 0) {
    if (dbl !== t.lastIndexOf('::')) return 0;
    const left = t.slice(0, dbl);
    const right = t.slice(dbl + 2);
    const groups = [...(left === '' ? [] : left.split(':')), ...(right === '' ? [] : right.split(':'))];
    return groups.length <= 7 && groups.every((g) => HEX4.test(g)) ? 6 : 0;
  }
  const groups = t.split(':');
  return groups.length === 8 && groups.every((g) => HEX4.test(g)) ? 6 : 0;
}

export interface MatchOptions {
  /**
   * Which subject CNs count as names:
   * - 'rfc6125' (default, what TLS clients do): CNs only when the certificate has no DNS SAN;
   * - 'always': every CN and every SAN. TSID's spoof check uses this: an SNI is "contradicted"
   *   only when it matches no name the certificate carries at all.
   */
  readonly cn?: 'rfc6125' | 'always';
}

/** Canonical text of an IP (v6 expanded and lower-cased; v4-mapped v6 as v4), or null. */
export function canonicalIp(s: string): string | null {
  const v = ipFamily(s);
  if (v === 4) return s.split('.').map((p) => String(Number(p))).join('.');
  if (v !== 6) return null;
  let t = s.toLowerCase();
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  // An embedded dotted quad becomes two hex groups.
  const lastColon = t.lastIndexOf(':');
  const tail = t.slice(lastColon + 1);
  if (tail.includes('.')) {
    const q = tail.split('.').map(Number);
    t = `${t.slice(0, lastColon + 1)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const [l, r] = t.includes('::') ? t.split('::') : [t, null];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = r === null ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const g = groups.map((x) => parseInt(x, 16));
  if (g.length === 8 && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  }
  return g.map((x) => x.toString(16)).join(':');
}

function normHost(s: string): string {
  const t = s.toLowerCase();
  return t.endsWith('.') ? t.slice(0, -1) : t;
}

/** One DNS-ID pattern (from a SAN or CN) against one host name. */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const p = normHost(pattern);
  const h = normHost(host);
  if (p.length === 0 || h.length === 0) return false;
  if (!p.startsWith('*.')) return p === h;
  const rest = p.slice(2);
  // '*' must be the whole left-most label and leave at least two labels ('*.com' never matches).
  if (rest.includes('*') || !rest.includes('.')) return false;
  const dot = h.indexOf('.');
  if (dot <= 0) return false; // the wildcard stands for exactly one non-empty label
  return h.slice(dot + 1) === rest;
}

/** RFC 6125 name check of `name` (host name or IP literal) against the certificate. */
export function certificateMatchesName(facts: CertificateFacts, name: string, o: MatchOptions = {}): boolean {
  const ip = canonicalIp(name);
  if (ip !== null) {
    for (const s of facts.sans) if (s.type === 'ip' && canonicalIp(s.value) === ip) return true;
    // A CN holding the literal IP is accepted only when CNs count at all.
    const useCn = o.cn === 'always' || !facts.sans.some((s) => s.type === 'ip' || s.type === 'dns');
    return useCn && facts.cns.some((c) => canonicalIp(c) === ip);
  }
  let hasDns = false;
  for (const s of facts.sans) {
    if (s.type !== 'dns') continue;
    hasDns = true;
    if (dnsNameMatches(s.value, name)) return true;
  }
  if (hasDns && o.cn !== 'always') return false;
  return facts.cns.some((c) => dnsNameMatches(c, name));
}
