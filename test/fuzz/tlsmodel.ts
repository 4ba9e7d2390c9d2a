// The fuzzer's own small model of TLS framing, used ONLY on the known-good fixtures to know
// where the structure is (record headers, handshake headers, length fields, extensions) so
// mutations can aim at it. It is deliberately independent of src/wire: the fuzzer must not
// share the reader's idea of the format, or both could be wrong the same way.

export const CT_CCS = 20;
export const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
export const CT_APPDATA = 23;

export interface TlsRecord {
  readonly type: number;
  readonly version: number;
  readonly payload: Uint8Array;
}

/** Walks complete records from the start; stops at the first incomplete one (its bytes go to `rest`). */
export function splitRecords(bytes: Uint8Array): { records: TlsRecord[]; rest: Uint8Array } {
  const records: TlsRecord[] = [];
  let off = 0;
  while (off + 5 <= bytes.length) {
    const len = (bytes[off + 3] << 8) | bytes[off + 4];
    if (off + 5 + len > bytes.length) break;
    records.push({ type: bytes[off], version: (bytes[off + 1] << 8) | bytes[off + 2], payload: bytes.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  return { records, rest: bytes.subarray(off) };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function recordHeader(type: number, version: number, len: number): Uint8Array {
  return Uint8Array.of(type, version >> 8, version & 0xff, len >> 8, len & 0xff);
}

/** Frames a byte stream into records of the given payload sizes (the last size absorbs the remainder). */
export function frame(type: number, version: number, data: Uint8Array, sizes: readonly number[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; i < sizes.length && off < data.length; i++) {
    const n = i === sizes.length - 1 ? data.length - off : Math.min(sizes[i], data.length - off);
    parts.push(recordHeader(type, version, n), data.subarray(off, off + n));
    off += n;
  }
  if (off < data.length) parts.push(recordHeader(type, version, data.length - off), data.subarray(off));
  return concat(parts);
}

/**
 * A fixture seen as: the handshake bytes carried by its leading handshake records (a stream,
 * record boundaries removed), the sizes of those records, and whatever follows them (a TLS 1.3
 * server's CCS and encrypted records).
 */
export interface Flight {
  readonly recordVersion: number;
  readonly hs: Uint8Array;
  readonly recordSizes: readonly number[];
  readonly tail: Uint8Array;
}

export function toFlight(bytes: Uint8Array): Flight | null {
  const { records, rest } = splitRecords(bytes);
  let i = 0;
  while (i < records.length && records[i].type === CT_HANDSHAKE) i++;
  if (i === 0) return null;
  const hs = concat(records.slice(0, i).map((r) => r.payload));
  let tailStart = 0;
  for (let k = 0; k < i; k++) tailStart += 5 + records[k].payload.length;
  return {
    recordVersion: records[0].version,
    hs,
    recordSizes: records.slice(0, i).map((r) => r.payload.length),
    tail: concat([bytes.subarray(tailStart, bytes.length - rest.length), rest]),
  };
}

export function fromFlight(f: Flight, hs = f.hs, sizes = f.recordSizes, version = f.recordVersion): Uint8Array {
  return concat([frame(CT_HANDSHAKE, version, hs, sizes), f.tail]);
}

export interface HsMessage {
  readonly type: number;
  /** Offset of the 4-byte handshake header in the handshake stream. */
  readonly offset: number;
  readonly body: Uint8Array;
}

export function splitHandshakes(hs: Uint8Array): HsMessage[] {
  const out: HsMessage[] = [];
  let off = 0;
  while (off + 4 <= hs.length) {
    const len = (hs[off + 1] << 16) | (hs[off + 2] << 8) | hs[off + 3];
    if (off + 4 + len > hs.length) break;
    out.push({ type: hs[off], offset: off, body: hs.subarray(off + 4, off + 4 + len) });
    off += 4 + len;
  }
  return out;
}

export function handshake(type: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  return concat([Uint8Array.of(type, n >> 16, (n >> 8) & 0xff, n & 0xff), body]);
}

export interface Ext {
  readonly type: number;
  readonly data: Uint8Array;
}

/** ClientHello / ServerHello body split into the parts the fuzzer edits. */
export interface HelloBody {
  /** version + random (+ for ClientHello: session id, suites, compression), verbatim. */
  readonly head: Uint8Array;
  readonly exts: Ext[];
  /** Offset in the body where the extensions block's 2-byte length sits, or -1 when absent. */
  readonly extsOffset: number;
}

export function parseHelloBody(body: Uint8Array, isClient: boolean): HelloBody | null {
  let off = 34;
  if (off + 1 > body.length) return null;
  off += 1 + body[off];
  if (isClient) {
    if (off + 2 > body.length) return null;
    off += 2 + ((body[off] << 8) | body[off + 1]);
    if (off + 1 > body.length) return null;
    off += 1 + body[off];
  } else {
    off += 3;
  }
  if (off > body.length) return null;
  if (off === body.length) return { head: body.subarray(0, off), exts: [], extsOffset: -1 };
  if (off + 2 > body.length) return null;
  const total = (body[off] << 8) | body[off + 1];
  const end = off + 2 + total;
  if (end !== body.length) return null;
  const exts: Ext[] = [];
  let p = off + 2;
  while (p + 4 <= end) {
    const len = (body[p + 2] << 8) | body[p + 3];
    if (p + 4 + len > end) return null;
    exts.push({ type: (body[p] << 8) | body[p + 1], data: body.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  if (p !== end) return null;
  return { head: body.subarray(0, off), exts, extsOffset: off };
}

export function serializeHelloBody(h: HelloBody): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const e of h.exts) {
    parts.push(Uint8Array.of(e.type >> 8, e.type & 0xff, e.data.length >> 8, e.data.length & 0xff), e.data);
    total += 4 + e.data.length;
  }
  return concat([h.head, Uint8Array.of(total >> 8, total & 0xff), ...parts]);
}

/** A length (or count) field in the handshake stream that a mutation may rewrite. */
export interface LengthField {
  readonly name: string;
  /** Offset in the handshake stream (Flight.hs). */
  readonly offset: number;
  readonly size: 1 | 2 | 3;
  readonly value: number;
}

function readN(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + b[off + i];
  return v;
}

/** Every length field the fuzzer knows of in a well-formed flight's handshake stream. */
export function lengthFields(hs: Uint8Array): LengthField[] {
  const out: LengthField[] = [];
  const add = (name: string, offset: number, size: 1 | 2 | 3) => {
    if (offset + size <= hs.length) out.push({ name, offset, size, value: readN(hs, offset, size) });
  };
  for (const m of splitHandshakes(hs)) {
    const base = m.offset + 4;
    add(`hs${m.type}.length`, m.offset + 1, 3);
    if (m.type === 1 || m.type === 2) {
      const isClient = m.type === 1;
      const b = m.body;
      add(`hs${m.type}.session_id.length`, base + 34, 1);
      const h = parseHelloBody(b, isClient);
      if (!h) continue;
      if (isClient) {
        const csOff = 35 + b[34];
        add('ch.cipher_suites.length', base + csOff, 2);
        const compOff = csOff + 2 + ((b[csOff] << 8) | b[csOff + 1]);
        add('ch.compression.length', base + compOff, 1);
      }
      if (h.extsOffset < 0) continue;
      add(`hs${m.type}.extensions.length`, base + h.extsOffset, 2);
      let p = base + h.extsOffset + 2;
      for (const e of h.exts) {
        add(`ext${e.type}.length`, p + 2, 2);
        const d = p + 4;
        switch (e.type) {
          case 0: // server_name: list length, type, name length
            if (e.data.length >= 5) {
              add('sni.list.length', d, 2);
              add('sni.name.length', d + 3, 2);
            }
            break;
          case 16: // ALPN: list length, then 1-byte lengths
            if (e.data.length >= 2) {
              add('alpn.list.length', d, 2);
              let q = 2;
              while (q < e.data.length) {
                add('alpn.proto.length', d + q, 1);
                q += 1 + e.data[q];
              }
            }
            break;
          case 10:
          case 13:
            if (e.data.length >= 2) add(`ext${e.type}.list.length`, d, 2);
            break;
          case 43:
          case 45:
          case 11:
            if (isClient && e.data.length >= 1) add(`ext${e.type}.list.length`, d, 1);
            break;
          case 51:
            if (isClient && e.data.length >= 2) {
              add('key_share.list.length', d, 2);
              let q = 2;
              while (q + 4 <= e.data.length) {
                add('key_share.entry.length', d + q + 2, 2);
                q += 4 + ((e.data[q + 2] << 8) | e.data[q + 3]);
              }
            }
            break;
          default:
            break;
        }
        p += 4 + e.data.length;
      }
    } else if (m.type === 11) {
      add('cert.list.length', base, 3);
      let q = 3;
      while (q + 3 <= m.body.length) {
        add('cert.entry.length', base + q, 3);
        q += 3 + readN(m.body, q, 3);
      }
    }
  }
  return out;
}

export function writeN(b: Uint8Array, off: number, size: number, value: number): void {
  for (let i = size - 1; i >= 0; i--) {
    b[off + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}

export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}
