// Server first-flight reader (server → client bytes). For TLS <= 1.2 the Certificate
// message is cleartext: we return the chain as soon as it is complete. For TLS 1.3 the
// ServerHello's supported_versions says so and everything after it is encrypted: we stop
// there. Incremental: raw bytes are consumed record by record, handshake fragments are
// appended to one handshake buffer (messages may be coalesced in one record or fragmented
// over several), and each push only looks at what is new.
import type { ExtensionInfo, ServerFlightResult, ServerHelloInfo, WireLimits } from './types.js';
import { wireError, type WireErrorCode } from './errors.js';
import { DEFAULT_MAX_RECORDS } from './client.js';

export const DEFAULT_MAX_FLIGHT_BYTES = 65536;

const CT_CCS = 20;
const CT_ALERT = 21;
const CT_HANDSHAKE = 22;
const CT_APPDATA = 23;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;
const HS_SERVER_KEY_EXCHANGE = 12;
const HS_CERTIFICATE_REQUEST = 13;
const HS_SERVER_HELLO_DONE = 14;
const HS_CERTIFICATE_STATUS = 22;

/** RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest. */
const HRR_RANDOM = Uint8Array.from(
  Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex'),
);

function malformed(code: WireErrorCode, message: string): ServerFlightResult {
  return { kind: 'malformed', error: wireError(code, message) };
}

export function parseServerHello(b: Uint8Array): ServerHelloInfo | ServerFlightResult {
  const n = b.length;
  if (n < 38) return malformed('wire/length-overflow', `ServerHello body of ${n} bytes is too short`);
  const legacyVersion = (b[0] << 8) | b[1];
  if (b[0] !== 3) return malformed('wire/bad-version', `ServerHello version 0x${legacyVersion.toString(16)} is not 3.x`);
  let hrr = true;
  for (let i = 0; i < 32; i++) if (b[2 + i] !== HRR_RANDOM[i]) { hrr = false; break; }
  const sidLen = b[34];
  if (sidLen > 32) return malformed('wire/length-overflow', `ServerHello session_id length ${sidLen} exceeds 32`);
  let p = 35 + sidLen;
  if (p + 3 > n) return malformed('wire/length-overflow', 'ServerHello session_id runs past its end');
  const sessionId = b.subarray(35, 35 + sidLen);
  const cipherSuite = (b[p] << 8) | b[p + 1];
  p += 3; // cipher + compression method
  const extensions: ExtensionInfo[] = [];
  let version = legacyVersion;
  let alpn: string | null = null;
  if (p < n) {
    if (p + 2 > n) return malformed('wire/length-overflow', 'ServerHello extensions length runs past its end');
    const extLen = (b[p] << 8) | b[p + 1];
    const end = p + 2 + extLen;
    if (end > n) return malformed('wire/length-overflow', `ServerHello extensions length ${extLen} runs past its end`);
    if (end < n) return malformed('wire/length-mismatch', 'bytes follow the ServerHello extensions');
    for (let i = p + 2; i < end; ) {
      if (i + 4 > end) return malformed('wire/length-overflow', 'a ServerHello extension header runs past the block');
      const type = (b[i] << 8) | b[i + 1];
      const len = (b[i + 2] << 8) | b[i + 3];
      const s = i + 4;
      if (s + len > end) return malformed('wire/length-overflow', `ServerHello extension ${type} runs past the block`);
      for (const e of extensions) if (e.type === type) return malformed('wire/duplicate-extension', `ServerHello extension ${type} appears twice`);
      extensions.push({ type, length: len });
      if (type === 43) {
        if (len !== 2) return malformed('wire/bad-extension', 'ServerHello supported_versions must hold exactly one version');
        version = (b[s] << 8) | b[s + 1];
      } else if (type === 16) {
        if (len < 3 || ((b[s] << 8) | b[s + 1]) !== len - 2 || b[s + 2] !== len - 3) {
          return malformed('wire/bad-extension', 'ServerHello ALPN must hold exactly one protocol');
        }
        alpn = Buffer.from(b.subarray(s + 3, s + len)).toString('latin1');
      }
      i = s + len;
    }
  }
  return { legacyVersion, version, cipherSuite, sessionId, extensions, alpn, helloRetryRequest: hrr };
}

/** Certificate (TLS <= 1.2): certificate_list<3>, each ASN.1Cert<3>. Views, leaf first. */
function parseCertificateChain(b: Uint8Array): Uint8Array[] | ServerFlightResult {
  if (b.length < 3) return malformed('wire/bad-certificate', 'Certificate message too short for its list length');
  const listLen = (b[0] << 16) | (b[1] << 8) | b[2];
  if (listLen !== b.length - 3) return malformed('wire/bad-certificate', `certificate_list length ${listLen} does not match the message length ${b.length - 3}`);
  const chain: Uint8Array[] = [];
  for (let i = 3; i < b.length; ) {
    if (i + 3 > b.length) return malformed('wire/bad-certificate', 'a certificate length runs past the list');
    const len = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    if (len === 0) return malformed('wire/bad-certificate', 'an empty certificate in the chain');
    if (i + 3 + len > b.length) return malformed('wire/bad-certificate', `a certificate of ${len} bytes runs past the list`);
    chain.push(b.subarray(i + 3, i + 3 + len));
    i += 3 + len;
  }
  return chain;
}

export class ServerFlightReader {
  private readonly maxHs: number;
  private readonly maxRecords: number;
  private raw: Uint8Array = new Uint8Array(0);
  private rawLen = 0;
  private hs: Uint8Array = new Uint8Array(0);
  private hsLen = 0;
  private hsOff = 0;
  private records = 0;
  /** Bytes pushed so far (need-more's `buffered`). */
  private total = 0;
  private sh: ServerHelloInfo | null = null;
  private done: ServerFlightResult | null = null;

  constructor(limits?: WireLimits) {
    this.maxHs = limits?.maxHandshakeBytes ?? DEFAULT_MAX_FLIGHT_BYTES;
    this.maxRecords = limits?.maxRecords ?? DEFAULT_MAX_RECORDS;
  }

  push(chunk: Uint8Array): ServerFlightResult {
    if (this.done) return this.done;
    const r = this.step(chunk);
    if (r.kind !== 'need-more') {
      this.done = r;
      this.raw = new Uint8Array(0);
    }
    return r;
  }

  /** The stream ended before a terminal answer. */
  end(): ServerFlightResult {
    if (this.done) return this.done;
    this.done = malformed('wire/truncated', `the server stream ended after ${this.records} records, before the first flight was complete`);
    return this.done;
  }

  private step(chunk: Uint8Array): ServerFlightResult {
    this.raw = grow(this.raw, this.rawLen, chunk.length);
    this.raw.set(chunk, this.rawLen);
    this.rawLen += chunk.length;
    this.total += chunk.length;
    const b = this.raw;
    let off = 0;
    try {
      for (;;) {
        const left = this.rawLen - off;
        if (this.records === 0 && left >= 1) {
          const c = b[off];
          if ((c < CT_CCS || c > CT_APPDATA) || (left >= 2 && b[off + 1] !== 3)) {
            return { kind: 'not-tls', error: wireError('wire/not-tls', `the server did not answer with a TLS record (first byte 0x${c.toString(16).padStart(2, '0')})`) };
          }
        }
        if (left < 5) return { kind: 'need-more', buffered: this.total };
        const ct = b[off];
        const len = (b[off + 3] << 8) | b[off + 4];
        if (b[off + 1] !== 3) return malformed('wire/bad-record', `record ${this.records + 1} does not carry a 3.x version`);
        if (len > 16384 + 2048) return malformed('wire/bad-record', `record ${this.records + 1} length ${len} exceeds 2^14 + 2048`);
        if (left < 5 + len) return { kind: 'need-more', buffered: this.total };
        if (++this.records > this.maxRecords) {
          return { kind: 'too-large', limit: this.maxHs, error: wireError('wire/too-large', `the server flight spans more than ${this.maxRecords} records`) };
        }
        const payload = b.subarray(off + 5, off + 5 + len);
        off += 5 + len;
        switch (ct) {
          case CT_HANDSHAKE: {
            if (len === 0) return malformed('wire/bad-record', `record ${this.records} is an empty handshake record`);
            // Bound every handshake byte seen, consumed or not: a server that streams
            // messages we skip (e.g. CertificateStatus) must not grow this buffer without end.
            if (this.hsLen + len > this.maxHs) {
              return { kind: 'too-large', limit: this.maxHs, error: wireError('wire/too-large', `over ${this.maxHs} bytes of server handshake without a certificate`) };
            }
            this.hs = grow(this.hs, this.hsLen, len);
            this.hs.set(payload, this.hsLen);
            this.hsLen += len;
            const r = this.messages();
            if (r) return r;
            break;
          }
          case CT_ALERT:
            if (len < 2) return malformed('wire/bad-record', 'an alert record shorter than 2 bytes');
            return { kind: 'alert', level: payload[0], description: payload[1] };
          case CT_CCS:
            if (this.sh) return { kind: 'no-certificate', serverHello: this.sh };
            return malformed('wire/unexpected-message', 'ChangeCipherSpec before the ServerHello');
          case CT_APPDATA:
            return malformed('wire/unexpected-message', 'application data before the server certificate');
          default:
            return malformed('wire/bad-record', `record ${this.records} has unknown content type ${ct}`);
        }
      }
    } finally {
      // Keep only the unconsumed tail of the raw stream.
      if (off > 0) {
        this.raw.copyWithin(0, off, this.rawLen);
        this.rawLen -= off;
      }
    }
  }

  /** Process complete handshake messages; a terminal result or null (need more). */
  private messages(): ServerFlightResult | null {
    const h = this.hs;
    while (this.hsLen - this.hsOff >= 4) {
      const o = this.hsOff;
      const type = h[o];
      const len = (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
      if (len > this.maxHs) {
        return { kind: 'too-large', limit: this.maxHs, error: wireError('wire/too-large', `a server handshake message announces ${len} bytes, over the ${this.maxHs}-byte bound`) };
      }
      if (this.hsLen - o < 4 + len) return null;
      const body = h.subarray(o + 4, o + 4 + len);
      this.hsOff = o + 4 + len;
      if (!this.sh) {
        if (type !== HS_SERVER_HELLO) return malformed('wire/not-server-hello', `the server's first handshake message has type ${type}, not ServerHello (2)`);
        const r = parseServerHello(body);
        if ('kind' in r) return r;
        this.sh = r;
        if (r.helloRetryRequest) return { kind: 'hello-retry-request', serverHello: r };
        if (r.version === 0x0304) return { kind: 'tls13', serverHello: r };
        continue;
      }
      switch (type) {
        case HS_CERTIFICATE: {
          const chain = parseCertificateChain(body);
          if (!Array.isArray(chain)) return chain;
          return { kind: 'certificate', serverHello: this.sh, chain };
        }
        case HS_SERVER_KEY_EXCHANGE:
        case HS_SERVER_HELLO_DONE:
        case HS_CERTIFICATE_REQUEST:
          return { kind: 'no-certificate', serverHello: this.sh };
        case HS_CERTIFICATE_STATUS:
          continue; // bounded: every handshake byte held counts against maxHs (push)
        default:
          return malformed('wire/unexpected-message', `handshake message type ${type} after the ServerHello, before any Certificate`);
      }
    }
    return null;
  }
}

function grow(b: Uint8Array, used: number, extra: number): Uint8Array {
  if (used + extra <= b.length) return b;
  const next = new Uint8Array(Math.max(used + extra, b.length * 2, 4096));
  next.set(b.subarray(0, used));
  return next;
}

export function readServerFlight(bytes: Uint8Array, limits?: WireLimits): ServerFlightResult {
  return new ServerFlightReader(limits).push(bytes);
}
