// Protocol versions and GREASE: the one place that knows their numbers and names. Everyone
// else (the proxy's events and TSID probe, fingerprints, `peekwall hello`) asks here.
import type { ClientHello } from './types.js';

/** GREASE (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa — exactly, not "any 0x?a?a". */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

const hex4 = (v: number) => v.toString(16).padStart(4, '0');

/** Human name of a protocol version, as Node/OpenSSL print it ('TLSv1.2'). */
export function versionName(v: number): string {
  switch (v) {
    case 0x0002: return 'SSLv2';
    case 0x0300: return 'SSLv3';
    case 0x0301: return 'TLSv1';
    case 0x0302: return 'TLSv1.1';
    case 0x0303: return 'TLSv1.2';
    case 0x0304: return 'TLSv1.3';
    case 0xfeff: return 'DTLSv1';
    case 0xfefd: return 'DTLSv1.2';
    case 0xfefc: return 'DTLSv1.3';
    default:
      return isGrease(v) ? `GREASE(0x${hex4(v)})` : `0x${hex4(v)}`;
  }
}

/** TLS 1.0 .. 1.3 by wire value, as node:tls spells them (minVersion/maxVersion). */
export type TlsVersionName = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export function tlsVersionName(v: number): TlsVersionName | undefined {
  switch (v) {
    case 0x0301: return 'TLSv1';
    case 0x0302: return 'TLSv1.1';
    case 0x0303: return 'TLSv1.2';
    case 0x0304: return 'TLSv1.3';
    default: return undefined;
  }
}

/** The highest TLS version (<= 1.3, GREASE left out) the hello offers; its legacy version without supported_versions. */
export function highestVersion(h: ClientHello): number {
  let best = 0;
  for (const v of h.supportedVersions) if (!isGrease(v) && v > best && v <= 0x0304) best = v;
  return best === 0 ? h.clientVersion : best;
}

/** The lowest TLS version (1.0 .. 1.3) the hello offers; its legacy version without supported_versions. */
export function lowestVersion(h: ClientHello): number {
  let low = 0;
  for (const v of h.supportedVersions) if (v >= 0x0301 && v <= 0x0304 && (low === 0 || v < low)) low = v;
  return low === 0 ? h.clientVersion : low;
}

/** Every version the hello offered, in its order, GREASE left out (the legacy version without supported_versions). */
export function offeredVersions(h: ClientHello): string[] {
  const vs = h.supportedVersions.length > 0 ? h.supportedVersions : [h.clientVersion];
  const out: string[] = [];
  for (const v of vs) if (!isGrease(v)) out.push(versionName(v));
  return out;
}
