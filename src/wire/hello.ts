// ClientHello body parsing. Structure (every length against its container) is validated
// eagerly with plain loops and no allocation; lists are decoded lazily on first access and
// memoised, because most connections only ever need the SNI.
import { helloToJson } from './json.js';
import type { PeekwallError } from '../util/errors.js';
import type { ClientHello, ExtensionInfo, HelloAnomaly } from './types.js';
import { wireError } from './errors.js';
import { NO_ANOMALIES, parseSni } from './sni.js';


const EXT_SNI = 0;
const EXT_GROUPS = 10;
const EXT_EC_POINT_FORMATS = 11;
const EXT_SIG_ALGS = 13;
const EXT_SIG_ALGS_CERT = 50;
const EXT_ALPN = 16;
const EXT_PADDING = 21;
const EXT_SUPPORTED_VERSIONS = 43;
const EXT_PSK_MODES = 45;
const EXT_KEY_SHARE = 51;
const EXT_ECH = 0xfe0d;

function u16s(b: Uint8Array, start: number, end: number): number[] {
  const out = new Array<number>((end - start) >> 1);
  for (let i = start, j = 0; i + 1 < end; i += 2, j++) out[j] = (b[i] << 8) | b[i + 1];
  return out;
}

function u8s(b: Uint8Array, start: number, end: number): number[] {
  const out = new Array<number>(end - start);
  for (let i = start; i < end; i++) out[i - start] = b[i];
  return out;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Framing facts the record layer hands to the body parser. */
export interface HelloFraming {
  readonly recordVersion: number;
  readonly recordLengths: readonly number[];
  readonly totalLength: number;
}

/**
 * A parsed ClientHello that keeps a view of the handshake bytes (no copy in the common
 * one-record case: do not mutate the input after parsing). Offsets of interesting list
 * bodies are recorded; arrays are built when first read.
 */
export class ParsedClientHello implements ClientHello {
  readonly recordVersion: number;
  readonly clientVersion: number;
  readonly handshakeLength: number;
  readonly recordLengths: readonly number[];
  readonly totalLength: number;
  readonly sni: string | null;
  readonly sniTrailingDot: boolean;
  readonly ech: boolean;
  readonly paddingLength: number | null;
  readonly anomalies: readonly HelloAnomaly[];

  /** @internal */ readonly b: Uint8Array;
  /** @internal offset of the handshake body (after the 4-byte header). */ readonly body: number;
  /** @internal */ readonly sidStart: number;
  /** @internal */ readonly csStart: number;
  /** @internal */ readonly csEnd: number;
  /** @internal */ readonly extStart: number;
  /** @internal */ readonly extEnd: number;
  // List bodies: [start, end) of the list payload, -1 when the extension is absent.
  /** @internal */ readonly off: Int32Array;
  /** @internal [start, end) of the host_name bytes, -1 without one. */ readonly sniStart: number;
  /** @internal */ readonly sniEnd: number;

  private _sniRaw?: Uint8Array | null;
  private _random?: Uint8Array;
  private _sessionId?: Uint8Array;
  private _cipherSuites?: number[];
  private _compression?: number[];
  private _extensions?: ExtensionInfo[];
  private _alpn?: string[];
  private _sv?: number[];
  private _groups?: number[];
  private _sigs?: number[];
  private _sigsCert?: number[];
  private _ksg?: number[];
  private _psk?: number[];
  private _ecpf?: number[];

  constructor(init: {
    b: Uint8Array; body: number; handshakeLength: number; framing: HelloFraming; clientVersion: number;
    sidStart: number; csStart: number; csEnd: number; extStart: number; extEnd: number; off: Int32Array;
    sni: string | null; sniTrailingDot: boolean; sniStart: number; sniEnd: number; anomalies: readonly HelloAnomaly[];
    ech: boolean; paddingLength: number | null;
  }) {
    this.b = init.b;
    this.body = init.body;
    this.handshakeLength = init.handshakeLength;
    this.recordVersion = init.framing.recordVersion;
    this.recordLengths = init.framing.recordLengths;
    this.totalLength = init.framing.totalLength;
    this.clientVersion = init.clientVersion;
    this.sidStart = init.sidStart;
    this.csStart = init.csStart;
    this.csEnd = init.csEnd;
    this.extStart = init.extStart;
    this.extEnd = init.extEnd;
    this.off = init.off;
    this.sni = init.sni;
    this.sniTrailingDot = init.sniTrailingDot;
    this.sniStart = init.sniStart;
    this.sniEnd = init.sniEnd;
    this.anomalies = init.anomalies;
    this.ech = init.ech;
    this.paddingLength = init.paddingLength;
  }

  get sniRaw(): Uint8Array | null {
    if (this._sniRaw === undefined) this._sniRaw = this.sniStart < 0 ? null : this.b.subarray(this.sniStart, this.sniEnd);
    return this._sniRaw;
  }
  get random(): Uint8Array {
    return (this._random ??= this.b.subarray(this.body + 2, this.body + 34));
  }
  get sessionId(): Uint8Array {
    return (this._sessionId ??= this.b.subarray(this.sidStart, this.sidStart + this.b[this.sidStart - 1]));
  }
  get cipherSuites(): readonly number[] {
    return (this._cipherSuites ??= u16s(this.b, this.csStart, this.csEnd));
  }
  get compressionMethods(): readonly number[] {
    return (this._compression ??= u8s(this.b, this.csEnd + 1, this.csEnd + 1 + this.b[this.csEnd]));
  }
  get extensions(): readonly ExtensionInfo[] {
    if (this._extensions) return this._extensions;
    const out: ExtensionInfo[] = [];
    const b = this.b;
    for (let i = this.extStart; i + 4 <= this.extEnd; ) {
      const length = (b[i + 2] << 8) | b[i + 3];
      out.push({ type: (b[i] << 8) | b[i + 1], length });
      i += 4 + length;
    }
    return (this._extensions = out);
  }
  private list16(k: number): number[] {
    const s = this.off[2 * k];
    return s < 0 ? [] : u16s(this.b, s, this.off[2 * k + 1]);
  }
  private list8(k: number): number[] {
    const s = this.off[2 * k];
    return s < 0 ? [] : u8s(this.b, s, this.off[2 * k + 1]);
  }
  get alpn(): readonly string[] {
    if (this._alpn) return this._alpn;
    const out: string[] = [];
    const s = this.off[2 * L_ALPN];
    if (s >= 0) {
      const e = this.off[2 * L_ALPN + 1];
      for (let i = s; i < e; ) {
        const n = this.b[i];
        out.push(latin1(this.b, i + 1, i + 1 + n));
        i += 1 + n;
      }
    }
    return (this._alpn = out);
  }
  /** Raw bytes of the first ALPN protocol (JA4 looks at bytes, not characters). */
  firstAlpnBytes(): Uint8Array | null {
    const s = this.off[2 * L_ALPN];
    if (s < 0 || s >= this.off[2 * L_ALPN + 1]) return null;
    return this.b.subarray(s + 1, s + 1 + this.b[s]);
  }
  get supportedVersions(): readonly number[] {
    return (this._sv ??= this.list16(L_SV));
  }
  get supportedGroups(): readonly number[] {
    return (this._groups ??= this.list16(L_GROUPS));
  }
  get signatureAlgorithms(): readonly number[] {
    return (this._sigs ??= this.list16(L_SIGS));
  }
  get signatureAlgorithmsCert(): readonly number[] {
    return (this._sigsCert ??= this.list16(L_SIGS_CERT));
  }
  get keyShareGroups(): readonly number[] {
    if (this._ksg) return this._ksg;
    const out: number[] = [];
    const s = this.off[2 * L_KS];
    if (s >= 0) {
      const e = this.off[2 * L_KS + 1];
      for (let i = s; i + 4 <= e; ) {
        out.push((this.b[i] << 8) | this.b[i + 1]);
        i += 4 + ((this.b[i + 2] << 8) | this.b[i + 3]);
      }
    }
    return (this._ksg = out);
  }
  get pskModes(): readonly number[] {
    return (this._psk ??= this.list8(L_PSK));
  }
  get ecPointFormats(): readonly number[] {
    return (this._ecpf ??= this.list8(L_ECPF));
  }

  /** A plain, JSON-friendly copy (getters are not enumerable). */
  toJSON(): Record<string, unknown> {
    return helloToJson(this);
  }
}

// Slots in ParsedClientHello.off (pairs of start/end).
const L_ALPN = 0;
const L_SV = 1;
const L_GROUPS = 2;
const L_SIGS = 3;
const L_KS = 4;
const L_PSK = 5;
const L_ECPF = 6;
const L_SIGS_CERT = 7;
const SLOTS = 8;

export type BodyResult = { ok: true; hello: ParsedClientHello } | { ok: false; error: PeekwallError };

function fail(code: Parameters<typeof wireError>[0], message: string): BodyResult {
  return { ok: false, error: wireError(code, message) };
}

/** A 16-bit-length-prefixed list of 16-bit values filling [s, e) exactly. */
function list16Ok(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 2) return false;
  const n = (b[s] << 8) | b[s + 1];
  return n === e - s - 2 && (n & 1) === 0;
}

/**
 * Parse the ClientHello body at b[body .. body+len). `b` holds the contiguous handshake
 * message (header at body-4).
 */
export function parseClientHelloBody(b: Uint8Array, body: number, len: number, framing: HelloFraming): BodyResult {
  const end = body + len;
  let p = body;
  if (len < 38) return fail('wire/length-overflow', `ClientHello body of ${len} bytes is shorter than version + random + session id length (35+ bytes)`);
  const clientVersion = (b[p] << 8) | b[p + 1];
  if (b[p] !== 3) return fail('wire/bad-version', `client_version 0x${clientVersion.toString(16).padStart(4, '0')} is not TLS/SSL 3.x`);
  p += 34;
  const sidLen = b[p];
  if (sidLen > 32) return fail('wire/length-overflow', `session_id length ${sidLen} exceeds 32`);
  const sidStart = p + 1;
  p = sidStart + sidLen;
  if (p + 2 > end) return fail('wire/length-overflow', 'session_id runs past the end of the ClientHello');
  const csLen = (b[p] << 8) | b[p + 1];
  const csStart = p + 2;
  const csEnd = csStart + csLen;
  if (csEnd + 1 > end) return fail('wire/length-overflow', `cipher_suites length ${csLen} runs past the end of the ClientHello`);
  if (csLen & 1) return fail('wire/length-mismatch', `cipher_suites length ${csLen} is odd`);
  const compLen = b[csEnd];
  p = csEnd + 1 + compLen;
  if (compLen === 0) return fail('wire/length-mismatch', 'compression_methods is empty (must hold at least null)');
  if (p > end) return fail('wire/length-overflow', `compression_methods length ${compLen} runs past the end of the ClientHello`);

  const off = new Int32Array(SLOTS * 2).fill(-1);
  let extStart = p;
  let extEnd = p;
  let sni: string | null = null;
  let sniTrailingDot = false;
  let sniStart = -1;
  let sniEnd = -1;
  let anomalies: readonly HelloAnomaly[] = NO_ANOMALIES;
  let ech = false;
  let paddingLength: number | null = null;
  if (p < end) {
    // Extensions are optional (SSLv3/early TLS hellos end after compression).
    if (p + 2 > end) return fail('wire/length-overflow', 'extensions length field runs past the end of the ClientHello');
    const extLen = (b[p] << 8) | b[p + 1];
    extStart = p + 2;
    extEnd = extStart + extLen;
    if (extEnd > end) return fail('wire/length-overflow', `extensions length ${extLen} runs past the end of the ClientHello`);
    if (extEnd < end) return fail('wire/length-mismatch', `${end - extEnd} bytes follow the extensions inside the ClientHello`);
    for (let i = extStart; i < extEnd; ) {
      if (i + 4 > extEnd) return fail('wire/length-overflow', 'an extension header runs past the end of the extensions block');
      const type = (b[i] << 8) | b[i + 1];
      const elen = (b[i + 2] << 8) | b[i + 3];
      const s = i + 4;
      const e = s + elen;
      if (e > extEnd) return fail('wire/length-overflow', `extension ${type} length ${elen} runs past the end of the extensions block`);
      // Duplicate check: a linear scan over the (few) previous headers, no allocation.
      for (let j = extStart; j < i; ) {
        if (((b[j] << 8) | b[j + 1]) === type) return fail('wire/duplicate-extension', `extension ${type} appears twice`);
        j += 4 + ((b[j + 2] << 8) | b[j + 3]);
      }
      switch (type) {
        case EXT_SNI: {
          const r = parseSni(b, s, e);
          if (typeof r === 'string') return fail('wire/bad-sni', r);
          sni = r.name;
          sniTrailingDot = r.trailingDot;
          sniStart = r.start;
          sniEnd = r.end;
          anomalies = r.anomalies;
          break;
        }
        case EXT_ALPN: {
          if (!(elen >= 2 && ((b[s] << 8) | b[s + 1]) === elen - 2)) return fail('wire/bad-extension', 'ALPN list length does not match the extension length');
          for (let k = s + 2; k < e; ) {
            const n = b[k];
            if (n === 0) return fail('wire/bad-extension', 'ALPN contains an empty protocol name');
            k += 1 + n;
            if (k > e) return fail('wire/bad-extension', 'an ALPN protocol name runs past the extension');
          }
          off[2 * L_ALPN] = s + 2;
          off[2 * L_ALPN + 1] = e;
          break;
        }
        case EXT_SUPPORTED_VERSIONS:
          if (!(elen >= 1 && b[s] === elen - 1 && (b[s] & 1) === 0)) return fail('wire/bad-extension', 'supported_versions list length does not match the extension length');
          off[2 * L_SV] = s + 1;
          off[2 * L_SV + 1] = e;
          break;
        case EXT_GROUPS:
          if (!list16Ok(b, s, e)) return fail('wire/bad-extension', 'supported_groups list length does not match the extension length');
          off[2 * L_GROUPS] = s + 2;
          off[2 * L_GROUPS + 1] = e;
          break;
        case EXT_SIG_ALGS:
          if (!list16Ok(b, s, e)) return fail('wire/bad-extension', 'signature_algorithms list length does not match the extension length');
          off[2 * L_SIGS] = s + 2;
          off[2 * L_SIGS + 1] = e;
          break;
        case EXT_SIG_ALGS_CERT:
          if (!list16Ok(b, s, e)) return fail('wire/bad-extension', 'signature_algorithms_cert list length does not match the extension length');
          off[2 * L_SIGS_CERT] = s + 2;
          off[2 * L_SIGS_CERT + 1] = e;
          break;
        case EXT_KEY_SHARE: {
          if (!(elen >= 2 && ((b[s] << 8) | b[s + 1]) === elen - 2)) return fail('wire/bad-extension', 'key_share list length does not match the extension length');
          for (let k = s + 2; k < e; ) {
            if (k + 4 > e) return fail('wire/bad-extension', 'a key_share entry header runs past the extension');
            k += 4 + ((b[k + 2] << 8) | b[k + 3]);
            if (k > e) return fail('wire/bad-extension', 'a key_share entry runs past the extension');
          }
          off[2 * L_KS] = s + 2;
          off[2 * L_KS + 1] = e;
          break;
        }
        case EXT_PSK_MODES:
          if (!(elen >= 1 && b[s] === elen - 1)) return fail('wire/bad-extension', 'psk_key_exchange_modes length does not match the extension length');
          off[2 * L_PSK] = s + 1;
          off[2 * L_PSK + 1] = e;
          break;
        case EXT_EC_POINT_FORMATS:
          if (!(elen >= 1 && b[s] === elen - 1)) return fail('wire/bad-extension', 'ec_point_formats length does not match the extension length');
          off[2 * L_ECPF] = s + 1;
          off[2 * L_ECPF + 1] = e;
          break;
        case EXT_PADDING:
          paddingLength = elen;
          break;
        case EXT_ECH:
          ech = true;
          break;
        default:
          // Unknown extensions are kept (in `extensions`) and never rejected.
          break;
      }
      i = e;
    }
  }
  return {
    ok: true,
    hello: new ParsedClientHello({
      b, body, handshakeLength: len, framing, clientVersion, sidStart, csStart, csEnd, extStart, extEnd, off,
      sni, sniTrailingDot, sniStart, sniEnd, anomalies, ech, paddingLength,
    }),
  };
}
