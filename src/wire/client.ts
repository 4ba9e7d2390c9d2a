// ClientHello reader: record framing, reassembly across TCP reads and TLS records, bounds,
// SSLv2-format hellos (sslv2.ts) and non-TLS detection. Sans-IO: bytes in, a HelloReadResult out.
//
// Hot path: when the whole hello sits in one chunk and one record (the common case), it is
// parsed in place, with no copy. Only a hello split across reads is buffered, and only a
// hello split across records is copied into one contiguous handshake buffer.
import type { HelloReadResult, NotTlsHint, WireLimits } from './types.js';
import { wireError } from './errors.js';
import { parseClientHelloBody } from './hello.js';
import { scanSslv2CompatHello } from './sslv2.js';

export const DEFAULT_MAX_HELLO_BYTES = 16384;
export const DEFAULT_MAX_RECORDS = 1024;
const MAX_RECORD_PAYLOAD = 16384; // 2^14, RFC 8446 §5.1 (plaintext records)

const CT_CCS = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPDATA = 23;

const NEED_MORE_0: HelloReadResult = { kind: 'need-more', buffered: 0 };

function malformed(code: Parameters<typeof wireError>[0], message: string): HelloReadResult {
  return { kind: 'malformed', error: wireError(code, message) };
}

function tooLarge(limit: number, message: string): HelloReadResult {
  return { kind: 'too-large', limit, error: wireError('wire/too-large', message) };
}

// Plain-text protocols a client may speak first on a port we expected TLS on. Bytes, not
// strings, and compared without allocation.
const HINTS: ReadonlyArray<readonly [Uint8Array, NotTlsHint]> = [
  ['CONNECT ', 'http-connect'],
  ['GET ', 'http'],
  ['POST ', 'http'],
  ['HEAD ', 'http'],
  ['PUT ', 'http'],
  ['DELETE ', 'http'],
  ['OPTIONS ', 'http'],
  ['PATCH ', 'http'],
  ['TRACE ', 'http'],
  ['PRI * HTTP/2', 'http'],
  ['SSH-', 'ssh'],
  ['EHLO', 'smtp'],
  ['HELO', 'smtp'],
].map(([s, h]) => [Uint8Array.from(Buffer.from(s as string, 'latin1')), h as NotTlsHint] as const);

/** Bytes a not-TLS verdict waits for, so its hint is the same however the bytes arrive. */
export const HINT_WINDOW = 8;

/** b[0..n) starts with a known preamble (a token longer than n: its first n bytes). */
export function notTlsHint(b: Uint8Array, n: number): NotTlsHint {
  if (n === 0) return 'empty';
  for (const [tok, hint] of HINTS) {
    const m = Math.min(n, tok.length);
    let same = true;
    for (let i = 0; i < m; i++) {
      if (b[i] !== tok[i]) {
        same = false;
        break;
      }
    }
    if (same) return hint;
  }
  return 'unknown';
}

const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;

/**
 * Try to read a ClientHello from b[0..n). Returns need-more while incomplete. Never reads
 * past n, never throws on any input.
 */
export function scanClientHello(b: Uint8Array, n: number, maxHs: number, maxRecords: number): HelloReadResult {
  if (n === 0) return NEED_MORE_0;
  const first = b[0];
  if (first !== CT_HANDSHAKE || (n >= 2 && b[1] !== 3)) {
    if ((first === CT_CCS || first === CT_ALERT || first === CT_APPDATA) && n >= 2 && b[1] === 3) {
      return malformed('wire/not-handshake', `the first TLS record has content type ${first}, not handshake (22)`);
    }
    if (first & 0x80) {
      // SSLv2-format record: 2-byte header (high bit set), msg type 1 = CLIENT-HELLO, version.
      if (n < 5) return { kind: 'need-more', buffered: n };
      const v = (b[3] << 8) | b[4];
      // Offering SSL 3.0/TLS: a TLS hello in the old format, decoded and flagged.
      if (b[2] === 1 && b[3] === 3) return scanSslv2CompatHello(b, n, maxHs);
      if (b[2] === 1 && b[3] === 0) {
        return { kind: 'sslv2', version: v, error: wireError('wire/sslv2', `SSL 2.0 ClientHello (version ${hex4(v)}): not TLS, and no server speaks SSL 2.0 any more (RFC 6176)`) };
      }
    }
    // Not TLS. The hint is read from a fixed window of HINT_WINDOW bytes, so the answer does
    // not depend on how the bytes were segmented (an evasion otherwise): wait for the window.
    if (n < HINT_WINDOW) return { kind: 'need-more', buffered: n };
    const hint = notTlsHint(b, HINT_WINDOW);
    return {
      kind: 'not-tls',
      hint,
      error: wireError('wire/not-tls', first === CT_HANDSHAKE
        ? 'byte 0x16 is not followed by a TLS 3.x record version'
        : `the client did not start with a TLS record (first byte 0x${first.toString(16).padStart(2, '0')}, looks like ${hint})`),
    };
  }

  // Walk the records; the handshake header (4 bytes) may itself be split across records.
  let off = 0;
  let records = 0;
  let hdrSeen = 0;
  let hsType = 0;
  let hsLen = 0;
  let need = -1; // total handshake bytes needed (4 + hsLen) once the header is known
  let have = 0;
  let recordVersion = 0;
  for (;;) {
    if (off + 5 > n) return { kind: 'need-more', buffered: n };
    const ct = b[off];
    const ver = (b[off + 1] << 8) | b[off + 2];
    const len = (b[off + 3] << 8) | b[off + 4];
    if (ct !== CT_HANDSHAKE) return malformed('wire/not-handshake', `record ${records + 1} has content type ${ct} before the ClientHello ended`);
    if (b[off + 1] !== 3 || b[off + 2] > 4) return malformed('wire/bad-record', `record ${records + 1} has version ${hex4(ver)}, not 0x0300..0x0304`);
    if (len === 0) return malformed('wire/bad-record', `record ${records + 1} is an empty handshake record`);
    if (len > MAX_RECORD_PAYLOAD) return malformed('wire/bad-record', `record ${records + 1} length ${len} exceeds 2^14`);
    if (records === 0) recordVersion = ver;
    if (++records > maxRecords) return tooLarge(maxHs, `the ClientHello spans more than ${maxRecords} records`);
    const ps = off + 5;
    const avail = Math.min(len, n - ps);
    let k = 0;
    while (hdrSeen < 4 && k < avail) {
      const c = b[ps + k++];
      if (hdrSeen === 0) hsType = c;
      else hsLen = (hsLen << 8) | c;
      hdrSeen++;
      if (hdrSeen === 1 && hsType !== 1) return malformed('wire/not-client-hello', `the first handshake message has type ${hsType}, not ClientHello (1)`);
      if (hdrSeen === 4) {
        if (hsLen > maxHs) return tooLarge(maxHs, `the ClientHello announces ${hsLen} bytes, over the ${maxHs}-byte bound`);
        need = 4 + hsLen;
      }
    }
    have += avail;
    // Incomplete record. Memory stays bounded without a check here: the complete records
    // before it are bounded by maxRecords and the announced length, this one by 2^14.
    if (avail < len) return { kind: 'need-more', buffered: n };
    off = ps + len;
    if (need >= 0 && have >= need) break;
  }

  // Complete. Collect the framing facts (second, cheap pass over the headers).
  const recordLengths = new Array<number>(records);
  for (let i = 0, o = 0; i < records; i++) {
    const len = (b[o + 3] << 8) | b[o + 4];
    recordLengths[i] = len;
    o += 5 + len;
  }
  const framing = { recordVersion, recordLengths, totalLength: off };
  if (records === 1) {
    const r = parseClientHelloBody(b, 9, hsLen, framing);
    return r.ok ? { kind: 'hello', hello: r.hello } : { kind: 'malformed', error: r.error };
  }
  // Several records: copy the handshake fragments into one contiguous message.
  const hs = new Uint8Array(need);
  let w = 0;
  for (let i = 0, o = 0; i < records && w < need; i++) {
    const len = recordLengths[i];
    const take = Math.min(len, need - w);
    hs.set(b.subarray(o + 5, o + 5 + take), w);
    w += take;
    o += 5 + len;
  }
  const r = parseClientHelloBody(hs, 4, hsLen, framing);
  return r.ok ? { kind: 'hello', hello: r.hello } : { kind: 'malformed', error: r.error };
}

function limitsOf(limits?: WireLimits): { maxHs: number; maxRecords: number } {
  return {
    maxHs: limits?.maxHandshakeBytes ?? DEFAULT_MAX_HELLO_BYTES,
    maxRecords: limits?.maxRecords ?? DEFAULT_MAX_RECORDS,
  };
}

/** One-shot: parse a ClientHello from bytes that start at the beginning of the stream. */
export function readClientHello(bytes: Uint8Array, limits?: WireLimits): HelloReadResult {
  const { maxHs, maxRecords } = limitsOf(limits);
  return scanClientHello(bytes, bytes.length, maxHs, maxRecords);
}

/**
 * Incremental reader: push() each TCP read as it arrives. Answers need-more until a
 * terminal result, then returns that same result on every later push. Bytes after the
 * hello (a CCS, early data) are ignored: `hello.totalLength` says where they start.
 */
export class ClientHelloReader {
  private readonly maxHs: number;
  private readonly maxRecords: number;
  private buf: Uint8Array | null = null;
  private len = 0;
  private done: HelloReadResult | null = null;

  constructor(limits?: WireLimits) {
    const l = limitsOf(limits);
    this.maxHs = l.maxHs;
    this.maxRecords = l.maxRecords;
  }

  /** Bytes buffered so far (0 when every push was parsed in place). */
  get buffered(): number {
    return this.len;
  }

  push(chunk: Uint8Array): HelloReadResult {
    if (this.done) return this.done;
    let r: HelloReadResult;
    if (this.len === 0) {
      r = scanClientHello(chunk, chunk.length, this.maxHs, this.maxRecords);
      if (r.kind === 'need-more' && chunk.length > 0) this.append(chunk);
    } else {
      this.append(chunk);
      r = scanClientHello(this.buf!, this.len, this.maxHs, this.maxRecords);
    }
    if (r.kind !== 'need-more') {
      this.done = r;
      this.buf = null; // the hello keeps its own view if it needs one
    }
    return r;
  }

  /** The stream ended: an incomplete hello becomes wire/truncated (or not-tls 'empty'). */
  end(): HelloReadResult {
    if (this.done) return this.done;
    this.done =
      this.len === 0
        ? { kind: 'not-tls', hint: 'empty', error: wireError('wire/not-tls', 'the connection closed before sending any byte') }
        : malformed('wire/truncated', `the stream ended after ${this.len} bytes, before the ClientHello was complete`);
    this.buf = null;
    return this.done;
  }

  private append(chunk: Uint8Array): void {
    const need = this.len + chunk.length;
    if (!this.buf || need > this.buf.length) {
      // Grow geometrically; the scan bounds what we ever keep (too-large ends the reader).
      const next = new Uint8Array(Math.max(need, Math.min(2 * (this.buf?.length ?? 0), need * 2), 2048));
      if (this.buf) next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(chunk, this.len);
    this.len = need;
  }
}
