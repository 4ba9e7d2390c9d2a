// JA3 and JA4 fingerprints, computed on demand (never on the hot path unless asked).
// JA3: Salesforce's definition (decimal, GREASE removed, MD5).
// JA4: FoxIO's published spec (https://github.com/FoxIO-LLC/ja4, JA4 TLS client).
import * as crypto from 'node:crypto';

// crypto.hash (one-shot, Node >= 20.12) is cheaper than createHash().update().digest();
// engines allows any Node 20, so fall back when it is missing.
const hexDigest: (alg: string, s: string) => string =
  typeof crypto.hash === 'function'
    ? (alg, s) => crypto.hash(alg, s, 'hex')
    : (alg, s) => crypto.createHash(alg).update(s).digest('hex');
import type { ClientHello } from './types.js';
import { ParsedClientHello } from './hello.js';
import { isGrease } from './versions.js';

const noGrease = (xs: readonly number[]) => xs.filter((v) => !isGrease(v));
const hex4 = (v: number) => v.toString(16).padStart(4, '0');

export function ja3(h: ClientHello): { text: string; hash: string } {
  const text = [
    String(h.clientVersion),
    noGrease(h.cipherSuites).join('-'),
    noGrease(h.extensions.map((e) => e.type)).join('-'),
    noGrease(h.supportedGroups).join('-'),
    h.ecPointFormats.join('-'),
  ].join(',');
  return { text, hash: hexDigest('md5', text) };
}


function ja4Version(v: number): string {
  switch (v) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0002: return 's2';
    case 0xfeff: return 'd1';
    case 0xfefd: return 'd2';
    case 0xfefc: return 'd3';
    default: return '00';
  }
}

const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** JA4 ALPN field: first+last character of the first ALPN value, hex form if not alphanumeric. */
function ja4Alpn(h: ClientHello): string {
  let bytes: Uint8Array | null;
  if (h instanceof ParsedClientHello) bytes = h.firstAlpnBytes();
  else bytes = h.alpn.length > 0 ? Uint8Array.from(Buffer.from(h.alpn[0], 'latin1')) : null;
  if (!bytes || bytes.length === 0) return '00';
  const a = bytes[0];
  const z = bytes[bytes.length - 1];
  if (isAlnum(a) && isAlnum(z)) return String.fromCharCode(a) + String.fromCharCode(z);
  const hex = Buffer.from(bytes).toString('hex');
  return hex[0] + hex[hex.length - 1];
}

const sha12 = (s: string) => hexDigest('sha256', s).slice(0, 12);
const two = (n: number) => String(Math.min(n, 99)).padStart(2, '0');

export function ja4(h: ClientHello): { ja4: string; ja4_r: string; ja4_o: string; ja4_ro: string } {
  const versions = noGrease(h.supportedVersions);
  const version = versions.length > 0 ? Math.max(...versions) : h.clientVersion;
  const ciphers = noGrease(h.cipherSuites);
  const exts = noGrease(h.extensions.map((e) => e.type));
  // 'd' when a server_name extension is present (ja4.py looks at the extension, not at the value).
  const hasSni = exts.includes(0);
  const a = `t${ja4Version(version)}${hasSni ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${ja4Alpn(h)}`;
  const sigs = noGrease(h.signatureAlgorithms).map(hex4).join(',');
  const cOrig = ciphers.map(hex4).join(',');
  const cSorted = ciphers.map(hex4).sort().join(',');
  const eSorted = exts.filter((t) => t !== 0 && t !== 16).map(hex4).sort().join(',');
  const eOrig = exts.map(hex4).join(',');
  const withSigs = (e: string) => (sigs ? `${e}_${sigs}` : e);
  const b = ciphers.length ? sha12(cSorted) : '000000000000';
  const c = eSorted ? sha12(withSigs(eSorted)) : '000000000000';
  // Events carry only `ja4`; the raw and original-order variants (two more SHA-256s) are
  // computed when read. Getters on a literal are enumerable, so JSON output is unchanged.
  return {
    ja4: `${a}_${b}_${c}`,
    get ja4_r() {
      return `${a}_${cSorted}_${withSigs(eSorted)}`;
    },
    get ja4_o() {
      const bo = ciphers.length ? sha12(cOrig) : '000000000000';
      const co = eOrig ? sha12(withSigs(eOrig)) : '000000000000';
      return `${a}_${bo}_${co}`;
    },
    get ja4_ro() {
      return `${a}_${cOrig}_${withSigs(eOrig)}`;
    },
  };
}
