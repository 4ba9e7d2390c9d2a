// The SSLv2-compatible ClientHello (RFC 5246 Appendix E.2, RFC 4346 E.1): the SSL 2.0
// CLIENT-HELLO format, 2-byte record header with the high bit set, that old clients sent to
// offer SSL 3.0/TLS 1.0-1.2 to servers of either kind. TLS servers still read it (OpenSSL 3
// does), so a firewall must too: it is a TLS hello without extensions, hence without SNI.
// Decoded here into a ClientHello flagged wire/sslv2-compat; the proxy decides by
// settings.oddHellos.sslv2Compat.
//
//   msg_length u16 (high bit set) | msg_type 1 | version | cipher_spec_length u16 |
//   session_id_length u16 | challenge_length u16 | cipher_specs (3 bytes each) | session_id |
//   challenge
import { helloToJson } from './json.js';
import type { ClientHello, ExtensionInfo, HelloAnomaly, HelloReadResult } from './types.js';
import { wireError } from './errors.js';
import { versionName } from './versions.js';

const NONE: readonly never[] = Object.freeze([]);
const NULL_COMPRESSION: readonly number[] = Object.freeze([0]);

/** A ClientHello read from the SSLv2 format: plain fields, there are no lists to decode lazily. */
export class Sslv2CompatHello implements ClientHello {
  /** SSL 2.0's record format: it has no TLS record version. */
  readonly recordVersion = 0x0002;
  readonly clientVersion: number;
  /** The challenge, right-aligned and zero-padded to 32 bytes (RFC 5246 E.2). */
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  /** The cipher specs that name a TLS suite (first byte 0); SSL 2.0-only specs are left out. */
  readonly cipherSuites: readonly number[];
  readonly compressionMethods = NULL_COMPRESSION;
  readonly extensions: readonly ExtensionInfo[] = NONE;
  readonly sni = null;
  readonly sniTrailingDot = false;
  readonly sniRaw = null;
  readonly anomalies: readonly HelloAnomaly[];
  readonly alpn: readonly string[] = NONE;
  readonly supportedVersions: readonly number[] = NONE;
  readonly supportedGroups: readonly number[] = NONE;
  readonly signatureAlgorithms: readonly number[] = NONE;
  readonly signatureAlgorithmsCert: readonly number[] = NONE;
  readonly keyShareGroups: readonly number[] = NONE;
  readonly pskModes: readonly number[] = NONE;
  readonly ecPointFormats: readonly number[] = NONE;
  readonly ech = false;
  readonly paddingLength = null;
  readonly recordLengths: readonly number[];
  readonly handshakeLength: number;
  readonly totalLength: number;

  constructor(init: { clientVersion: number; random: Uint8Array; sessionId: Uint8Array; cipherSuites: number[]; msgLength: number; v2Specs: number }) {
    this.clientVersion = init.clientVersion;
    this.random = init.random;
    this.sessionId = init.sessionId;
    this.cipherSuites = init.cipherSuites;
    this.recordLengths = [init.msgLength];
    this.handshakeLength = init.msgLength - 1;
    this.totalLength = 2 + init.msgLength;
    const left = init.v2Specs > 0 ? `; ${init.v2Specs} SSL 2.0-only cipher spec(s) left out` : '';
    this.anomalies = [
      {
        code: 'wire/sslv2-compat',
        detail: `SSLv2-format ClientHello offering ${versionName(init.clientVersion)}: no extensions, so no SNI (${init.cipherSuites.length} TLS cipher suite(s)${left})`,
      },
    ];
  }

  /** A plain, JSON-friendly copy (getters are not enumerable). */
  toJSON(): Record<string, unknown> {
    return helloToJson(this);
  }
}

const malformed = (code: 'wire/length-overflow' | 'wire/length-mismatch', message: string): HelloReadResult => ({
  kind: 'malformed',
  error: wireError(code, message),
});

/**
 * b[0..n) starts with an SSLv2 2-byte header, msg_type 1 and a 3.x version (the caller checked
 * b[0..4]). Waits for the whole message, so the answer does not depend on how it was split.
 */
export function scanSslv2CompatHello(b: Uint8Array, n: number, maxHs: number): HelloReadResult {
  const msgLength = ((b[0] & 0x7f) << 8) | b[1];
  if (msgLength - 1 > maxHs) {
    return { kind: 'too-large', limit: maxHs, error: wireError('wire/too-large', `the SSLv2-format ClientHello announces ${msgLength} bytes, over the ${maxHs}-byte bound`) };
  }
  if (n < 2 + msgLength) return { kind: 'need-more', buffered: n };
  if (msgLength < 9) return malformed('wire/length-overflow', `SSLv2-format ClientHello of ${msgLength} bytes is shorter than its fixed fields (9 bytes)`);
  const csLen = (b[5] << 8) | b[6];
  const sidLen = (b[7] << 8) | b[8];
  const chLen = (b[9] << 8) | b[10];
  const need = 9 + csLen + sidLen + chLen;
  if (need > msgLength) return malformed('wire/length-overflow', `SSLv2-format ClientHello lengths (${csLen} + ${sidLen} + ${chLen}) run past its ${msgLength}-byte message`);
  if (need < msgLength) return malformed('wire/length-mismatch', `${msgLength - need} bytes follow the challenge inside the SSLv2-format ClientHello`);
  if (csLen === 0 || csLen % 3 !== 0) return malformed('wire/length-mismatch', `SSLv2 cipher_spec_length ${csLen} is not a non-zero multiple of 3`);
  if (sidLen > 32) return malformed('wire/length-overflow', `SSLv2 session_id length ${sidLen} exceeds 32`);
  // RFC 5246 E.2 and OpenSSL: the challenge becomes ClientHello.random, 16..32 bytes.
  if (chLen < 16 || chLen > 32) return malformed('wire/length-mismatch', `SSLv2 challenge length ${chLen} is not 16..32`);
  const cipherSuites: number[] = [];
  let v2Specs = 0;
  for (let i = 11; i < 11 + csLen; i += 3) {
    if (b[i] === 0) cipherSuites.push((b[i + 1] << 8) | b[i + 2]);
    else v2Specs++;
  }
  const sidStart = 11 + csLen;
  const chStart = sidStart + sidLen;
  const random = new Uint8Array(32);
  random.set(b.subarray(chStart, chStart + chLen), 32 - chLen);
  return {
    kind: 'hello',
    hello: new Sslv2CompatHello({
      clientVersion: (b[3] << 8) | b[4],
      random,
      // A copy: the reader's buffer is dropped once it answers, and this hello is rare.
      sessionId: b.slice(sidStart, chStart),
      cipherSuites,
      msgLength,
      v2Specs,
    }),
  };
}
