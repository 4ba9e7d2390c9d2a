// Test-only builders for synthetic ClientHellos and record re-framing. Independent of the
// reader (plain byte concatenation), so tests do not check the parser against itself.
export interface Ext {
  type: number;
  data: Uint8Array | number[];
}

const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const u24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];

export function ext(type: number, data: Uint8Array | number[]): Ext {
  return { type, data };
}

export function sniExt(name: string | Uint8Array): Ext {
  const n = typeof name === 'string' ? [...Buffer.from(name, 'latin1')] : [...name];
  return ext(0, [...u16(n.length + 3), 0, ...u16(n.length), ...n]);
}

export function alpnExt(protos: string[]): Ext {
  const body = protos.flatMap((p) => [p.length, ...Buffer.from(p, 'latin1')]);
  return ext(16, [...u16(body.length), ...body]);
}

export function list16Ext(type: number, values: number[]): Ext {
  return ext(type, [...u16(values.length * 2), ...values.flatMap(u16)]);
}

export function versionsExt(values: number[]): Ext {
  return ext(43, [values.length * 2, ...values.flatMap(u16)]);
}

export function keyShareExt(groups: number[]): Ext {
  const body = groups.flatMap((g) => [...u16(g), ...u16(32), ...new Array(32).fill(7)]);
  return ext(51, [...u16(body.length), ...body]);
}

/** A ClientHello handshake message (4-byte header included). */
export function helloMessage(o: {
  version?: number;
  ciphers?: number[];
  sessionId?: number[];
  extensions?: Ext[];
  noExtensionsBlock?: boolean;
}): Uint8Array {
  const sid = o.sessionId ?? new Array(32).fill(0x11);
  const ciphers = (o.ciphers ?? [0x1301, 0xc02f]).flatMap(u16);
  const exts = (o.extensions ?? []).flatMap((e) => [...u16(e.type), ...u16(e.data.length), ...e.data]);
  const body = [
    ...u16(o.version ?? 0x0303),
    ...new Array(32).fill(0x42),
    sid.length, ...sid,
    ...u16(ciphers.length), ...ciphers,
    1, 0,
    ...(o.noExtensionsBlock ? [] : [...u16(exts.length), ...exts]),
  ];
  return Uint8Array.from([1, ...u24(body.length), ...body]);
}

/** Wrap handshake bytes into records of the given payload sizes (last one takes the rest). */
export function records(hs: Uint8Array, sizes: number[] = [], recordVersion = 0x0301): Uint8Array {
  const out: number[] = [];
  let off = 0;
  let i = 0;
  while (off < hs.length) {
    const want = i < sizes.length ? Math.max(1, sizes[i]) : hs.length - off;
    const take = Math.min(want, hs.length - off, 16384);
    out.push(22, ...u16(recordVersion), ...u16(take), ...hs.subarray(off, off + take));
    off += take;
    i++;
  }
  return Uint8Array.from(out);
}

/** Extract the handshake bytes from a stream of handshake records (ignores what follows). */
export function handshakeOf(stream: Uint8Array): Uint8Array {
  const parts: number[] = [];
  let off = 0;
  let need = -1;
  while (off + 5 <= stream.length && stream[off] === 22) {
    const len = (stream[off + 3] << 8) | stream[off + 4];
    parts.push(...stream.subarray(off + 5, off + 5 + len));
    off += 5 + len;
    if (need < 0 && parts.length >= 4) need = 4 + ((parts[1] << 16) | (parts[2] << 8) | parts[3]);
    if (need >= 0 && parts.length >= need) break;
  }
  return Uint8Array.from(parts.slice(0, need));
}

/** Split bytes into TCP reads at the given cut points. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pts = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of pts) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/**
 * An SSLv2-format CLIENT-HELLO (RFC 5246 E.2): 2-byte header, type 1, version, lengths, data.
 * Default specs: TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA (RSA key
 * exchange: a server needs no signature algorithm, which this format cannot offer) and SSL 2.0
 * RC4_128_WITH_MD5; no session id; a 16-byte challenge.
 */
export function v2Hello(o: { version?: number; specs?: number[]; sid?: number[]; challenge?: number[]; extra?: number[]; length?: number } = {}): Uint8Array {
  const specs = o.specs ?? [0x00009c, 0x00002f, 0x010080];
  const sid = o.sid ?? [];
  const ch = o.challenge ?? Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
  const body = [
    1, ...u16(o.version ?? 0x0303),
    ...u16(specs.length * 3), ...u16(sid.length), ...u16(ch.length),
    ...specs.flatMap((s) => [(s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff]),
    ...sid, ...ch, ...(o.extra ?? []),
  ];
  const len = o.length ?? body.length;
  return Uint8Array.from([0x80 | (len >> 8), len & 0xff, ...body]);
}
