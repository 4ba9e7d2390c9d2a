// A small, bounded DER reader for exactly what certificate facts need. @peculiar/asn1-schema
// reads the same structures (test/helpers/facts-asn1.ts, the reference the tests cross-check
// against) but costs ~1-4 ms per certificate; the passive path and the TSID probe parse one per
// new connection, so this reader walks the bytes once with no schema machinery (~tens of µs).
// Every length is checked against its parent's end; anything off raises DerError, which the
// caller turns into an `identity/bad-certificate` value.

export class DerError extends Error {}

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly head: number;
  /** Content start and end (exclusive). */
  readonly start: number;
  readonly end: number;
}

/** Read one TLV at `pos`, inside [pos, limit). DER only: definite lengths, minimal forms. */
export function tlv(b: Uint8Array, pos: number, limit: number, what: string): Tlv {
  if (pos + 2 > limit) throw new DerError(`${what}: truncated at byte ${pos}`);
  const tag = b[pos];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: multi-byte tags are not used in certificates (byte ${pos})`);
  let len = b[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(`${what}: indefinite length is not DER (byte ${pos})`);
    if (n > 4) throw new DerError(`${what}: length of ${n} bytes is absurd (byte ${pos})`);
    if (start + n > limit) throw new DerError(`${what}: truncated length at byte ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i];
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError(`${what}: ${len} bytes claimed at byte ${pos}, only ${limit - start} left`);
  return { tag, head: pos, start, end };
}

export function expect(b: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = tlv(b, pos, limit, what);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)} at byte ${pos}`);
  return t;
}

export function oid(b: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end === t.start) throw new DerError(`expected an OBJECT IDENTIFIER at byte ${t.head}`);
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError(`OID arc too large at byte ${i}`);
    if ((b[i] & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  if (b[t.end - 1] & 0x80) throw new DerError(`OID truncated at byte ${t.end - 1}`);
  return parts.join('.');
}

function digits(b: Uint8Array, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = b[i] - 0x30;
    if (c < 0 || c > 9) throw new DerError(`bad digit in a time at byte ${i}`);
    v = v * 10 + c;
  }
  return v;
}

/** UTCTime (YYMMDDHHMMSSZ; 50-99 are 19xx) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z). */
export function time(b: Uint8Array, t: Tlv): Date {
  const len = t.end - t.start;
  let y: number;
  let p = t.start;
  if (t.tag === 0x17) {
    if (len !== 13) throw new DerError(`UTCTime of ${len} bytes at byte ${t.head}`);
    y = digits(b, p, 2);
    y += y < 50 ? 2000 : 1900;
    p += 2;
  } else if (t.tag === 0x18) {
    if (len < 15) throw new DerError(`GeneralizedTime of ${len} bytes at byte ${t.head}`);
    y = digits(b, p, 4);
    p += 4;
  } else throw new DerError(`expected a time at byte ${t.head}`);
  const mo = digits(b, p, 2);
  const d = digits(b, p + 2, 2);
  const h = digits(b, p + 4, 2);
  const mi = digits(b, p + 6, 2);
  const s = digits(b, p + 8, 2);
  if (b[t.end - 1] !== 0x5a) throw new DerError(`time without Z at byte ${t.head}`);
  let ms = 0;
  if (t.tag === 0x18 && b[p + 10] === 0x2e) {
    // Fraction of a second: read up to milliseconds.
    let f = '';
    for (let i = p + 11; i < t.end - 1 && f.length < 3; i++) f += String.fromCharCode(b[i]);
    ms = Number(f.padEnd(3, '0'));
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) throw new DerError(`impossible date at byte ${t.head}`);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
}

/** The byte ranges a signature check needs, from a certificate's DER. */
export interface SignedParts {
  /** The whole TBSCertificate TLV (what was signed). */
  readonly tbs: Uint8Array;
  readonly sigOid: string;
  /** The signature bytes (BIT STRING content without the unused-bits byte). */
  readonly signature: Uint8Array;
  /** The whole SubjectPublicKeyInfo TLV (the certificate's own key). */
  readonly spki: Uint8Array;
}

export function signedParts(der: Uint8Array): SignedParts {
  const cert = expect(der, 0, der.length, 0x30, 'Certificate');
  const tbs = expect(der, cert.start, cert.end, 0x30, 'TBSCertificate');
  let t = tlv(der, tbs.start, tbs.end, 'version or serial');
  if (t.tag === 0xa0) t = tlv(der, t.end, tbs.end, 'serial');
  for (let i = 0; i < 4; i++) t = tlv(der, t.end, tbs.end, 'TBS field'); // sigAlg, issuer, validity, subject
  const spki = expect(der, t.end, tbs.end, 0x30, 'subjectPublicKeyInfo');
  const sigAlg = expect(der, tbs.end, cert.end, 0x30, 'signatureAlgorithm');
  const sigOid = oid(der, tlv(der, sigAlg.start, sigAlg.end, 'signature OID'));
  const sig = expect(der, sigAlg.end, cert.end, 0x03, 'signatureValue');
  if (sig.end - sig.start < 2 || der[sig.start] !== 0) throw new DerError('signature BIT STRING with unused bits');
  return {
    tbs: der.subarray(tbs.head, tbs.end),
    sigOid,
    signature: der.subarray(sig.start + 1, sig.end),
    spki: der.subarray(spki.head, spki.end),
  };
}
