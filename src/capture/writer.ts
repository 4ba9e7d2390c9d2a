// Writing what the proxy inspected as pcapng: flows in (the bytes each side sent, with the
// times they were seen), blocks out. Pure: the shell hands over finished flows and writes the
// bytes it gets. The proxy sees payloads, not packets, so the Ethernet/IP/TCP headers are
// synthesised: a SYN/SYN-ACK/ACK so dissectors see the connection start, one PSH segment per
// chunk with consistent sequence numbers, FINs after the last recorded byte. Wireshark then
// dissects TLS as on a real capture. Each flow's SYN carries a comment (opt_comment: verdict,
// rule, identity source). TSID probes go on their own interface (PROBE_INTERFACE_NAME) so a
// reader can tell the firewall's own connections from the clients' (replay skips them).
import type { Endpoint } from './tcp.js';

/** The interface name of the TSID probes' packets (interface 1). */
export const PROBE_INTERFACE_NAME = 'peekwall-tsid-probe';
/** The interface name of the inspected connections' packets (interface 0). */
export const FLOW_INTERFACE_NAME = 'peekwall-inspected';

export interface RecordedChunk {
  readonly fromClient: boolean;
  /** Microseconds since the epoch. */
  readonly us: number;
  readonly bytes: Uint8Array;
}

export interface RecordedFlow {
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** The first packet's comment (verdict, rule, identity source). */
  readonly comment: string;
  readonly probe: boolean;
  /** When the connection was accepted (the SYN's time), microseconds since the epoch. */
  readonly startUs: number;
  readonly chunks: readonly RecordedChunk[];
  /** The FINs' time. */
  readonly endUs: number;
}

const SEGMENT_MAX = 32 * 1024;
const ETH = 14;
const TCP = 20;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Section header (shb_userappl) and the two interfaces (Ethernet, microsecond timestamps). */
export function pcapngHeader(): Uint8Array {
  const app = Buffer.from('peekwall');
  const shbOpts = option(4, app);
  const shbLen = 28 + shbOpts.length + 4;
  const shb = Buffer.alloc(shbLen);
  shb.writeUInt32LE(0x0a0d0d0a, 0);
  shb.writeUInt32LE(shbLen, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeUInt16LE(0, 14);
  shb.writeInt32LE(-1, 16);
  shb.writeInt32LE(-1, 20);
  shbOpts.copy(shb, 24);
  shb.writeUInt32LE(0, 24 + shbOpts.length);
  shb.writeUInt32LE(shbLen, shbLen - 4);
  return Buffer.concat([shb, idb(FLOW_INTERFACE_NAME), idb(PROBE_INTERFACE_NAME)]);
}

function option(code: number, value: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  b.set(value, 4);
  return b;
}

function idb(name: string): Buffer {
  const opts = option(2, Buffer.from(name));
  const len = 16 + opts.length + 4 + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt16LE(1, 8); // LINKTYPE_ETHERNET
  b.writeUInt32LE(0, 12); // no snaplen
  opts.copy(b, 16);
  b.writeUInt32LE(0, 16 + opts.length); // opt_endofopt
  b.writeUInt32LE(len, len - 4);
  return b;
}

/** IPv4 dotted quad or IPv6 text to its bytes; null for anything else. */
export function ipBytes(ip: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? Uint8Array.from(b) : null;
  }
  if (!ip.includes(':')) return null;
  let text = ip.split('%')[0];
  const embedded = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (embedded) {
    // A trailing dotted quad is the last two words.
    const four = ipBytes(embedded[1]);
    if (!four) return null;
    const hex = (x: number): string => x.toString(16);
    text = `${text.slice(0, -embedded[1].length)}${hex((four[0] << 8) | four[1])}:${hex((four[2] << 8) | four[3])}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const w of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  if (!head || !rest) return null;
  const known = head.length + rest.length;
  if (known > 8 || (halves.length === 1 && known !== 8)) return null;
  const all = [...head, ...new Array<number>(8 - known).fill(0), ...rest];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

const CLIENT_MAC = Uint8Array.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
const SERVER_MAC = Uint8Array.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

interface Addrs {
  readonly c: Uint8Array;
  readonly s: Uint8Array;
  readonly v6: boolean;
}

function addresses(f: RecordedFlow): Addrs {
  let c = ipBytes(f.client.ip);
  let s = ipBytes(f.server.ip);
  // Mixed families (an IPv6 client proxied to an IPv4 server) are drawn as IPv6, IPv4-mapped.
  const mapped = (b: Uint8Array): Uint8Array => {
    const m = new Uint8Array(16);
    m[10] = 0xff;
    m[11] = 0xff;
    m.set(b, 12);
    return m;
  };
  c ??= Uint8Array.from([0, 0, 0, 0]);
  s ??= Uint8Array.from([0, 0, 0, 0]);
  if (c.length === s.length) return { c, s, v6: c.length === 16 };
  return { c: c.length === 4 ? mapped(c) : c, s: s.length === 4 ? mapped(s) : s, v6: true };
}

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

function frame(a: Addrs, fromClient: boolean, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Uint8Array | null): Buffer {
  const plen = payload?.length ?? 0;
  const ipLen = a.v6 ? 40 : 20;
  const b = Buffer.alloc(ETH + ipLen + TCP + plen);
  b.set(fromClient ? SERVER_MAC : CLIENT_MAC, 0);
  b.set(fromClient ? CLIENT_MAC : SERVER_MAC, 6);
  b.writeUInt16BE(a.v6 ? 0x86dd : 0x0800, 12);
  const src = fromClient ? a.c : a.s;
  const dst = fromClient ? a.s : a.c;
  if (a.v6) {
    b.writeUInt32BE(0x60000000, ETH);
    b.writeUInt16BE(TCP + plen, ETH + 4);
    b[ETH + 6] = 6;
    b[ETH + 7] = 64;
    b.set(src, ETH + 8);
    b.set(dst, ETH + 24);
  } else {
    b[ETH] = 0x45;
    b.writeUInt16BE(20 + TCP + plen, ETH + 2);
    b.writeUInt16BE(0x4000, ETH + 6); // DF
    b[ETH + 8] = 64;
    b[ETH + 9] = 6;
    b.set(src, ETH + 12);
    b.set(dst, ETH + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(ETH + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, ETH + 10);
  }
  const t = ETH + ipLen;
  b.writeUInt16BE(sport, t);
  b.writeUInt16BE(dport, t + 2);
  b.writeUInt32BE(seq >>> 0, t + 4);
  b.writeUInt32BE(flags & SYN && !(flags & ACK) ? 0 : ack >>> 0, t + 8);
  b[t + 12] = 5 << 4;
  b[t + 13] = flags;
  b.writeUInt16BE(65535, t + 14);
  if (payload) b.set(payload, t + TCP);
  return b;
}

function epb(iface: number, us: number, data: Buffer, comment: string | null): Buffer {
  const opts = comment === null ? null : option(1, Buffer.from(comment));
  const optLen = opts === null ? 0 : opts.length + 4;
  const len = 28 + pad4(data.length) + optLen + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(6, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(iface, 8);
  const t = Math.max(0, Math.round(us));
  b.writeUInt32LE(Math.floor(t / 0x100000000), 12);
  b.writeUInt32LE(t % 0x100000000, 16);
  b.writeUInt32LE(data.length, 20);
  b.writeUInt32LE(data.length, 24);
  data.copy(b, 28);
  if (opts !== null) opts.copy(b, 28 + pad4(data.length)); // opt_endofopt is the zeros after it
  b.writeUInt32LE(len, len - 4);
  return b;
}

/** The blocks of one flow, in order: handshake (the SYN commented), data, FINs. */
export function flowBlocks(f: RecordedFlow): Buffer[] {
  const a = addresses(f);
  const iface = f.probe ? 1 : 0;
  const cp = f.client.port;
  const sp = f.server.port;
  // Fixed initial sequence numbers: tshark shows relative numbers; the absolute ones only
  // have to be consistent within the flow.
  let cseq = 0x10000000;
  let sseq = 0x20000000;
  const out: Buffer[] = [];
  const t0 = f.startUs;
  out.push(epb(iface, t0, frame(a, true, cp, sp, cseq, 0, SYN, null), f.comment));
  out.push(epb(iface, t0, frame(a, false, sp, cp, sseq, cseq + 1, SYN | ACK, null), null));
  cseq++;
  sseq++;
  out.push(epb(iface, t0, frame(a, true, cp, sp, cseq, sseq, ACK, null), null));
  for (const ch of f.chunks) {
    for (let at = 0; at < ch.bytes.length; at += SEGMENT_MAX) {
      const part = ch.bytes.subarray(at, Math.min(ch.bytes.length, at + SEGMENT_MAX));
      if (ch.fromClient) {
        out.push(epb(iface, ch.us, frame(a, true, cp, sp, cseq, sseq, PSH | ACK, part), null));
        cseq = (cseq + part.length) >>> 0;
      } else {
        out.push(epb(iface, ch.us, frame(a, false, sp, cp, sseq, cseq, PSH | ACK, part), null));
        sseq = (sseq + part.length) >>> 0;
      }
    }
  }
  const te = Math.max(f.endUs, t0);
  out.push(epb(iface, te, frame(a, true, cp, sp, cseq, sseq, FIN | ACK, null), null));
  cseq++;
  out.push(epb(iface, te, frame(a, false, sp, cp, sseq, cseq, FIN | ACK, null), null));
  sseq++;
  out.push(epb(iface, te, frame(a, true, cp, sp, cseq, sseq, ACK, null), null));
  return out;
}

/** The bytes a flow takes in the file (for the ring's bound), without building it. */
export function flowSize(f: RecordedFlow): number {
  let packets = 6;
  let bytes = f.comment.length + 8;
  for (const c of f.chunks) {
    packets += Math.ceil(c.bytes.length / SEGMENT_MAX);
    bytes += c.bytes.length + 3;
  }
  return bytes + packets * (28 + 4 + ETH + 40 + TCP);
}

/**
 * Finished flows, oldest first, bounded in bytes: adding past the bound drops the oldest
 * flows (a ring), so a long run keeps its latest connections.
 */
export class CaptureRing {
  private readonly flows: { f: RecordedFlow; size: number }[] = [];
  private head = 0;
  private bytes = 0;
  dropped = 0;

  constructor(private readonly maxBytes: number) {}

  add(f: RecordedFlow): void {
    const size = flowSize(f);
    if (size > this.maxBytes) {
      this.dropped++;
      return;
    }
    this.flows.push({ f, size });
    this.bytes += size;
    while (this.bytes > this.maxBytes) {
      this.bytes -= this.flows[this.head].size;
      this.head++;
      this.dropped++;
    }
    // Compact now and then instead of shifting the array per eviction.
    if (this.head > 1024 && this.head * 2 > this.flows.length) {
      this.flows.splice(0, this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.flows.length - this.head;
  }

  /** The whole file: header, then every kept flow in the order they finished. */
  file(): Buffer {
    const parts: Buffer[] = [Buffer.from(pcapngHeader())];
    for (let i = this.head; i < this.flows.length; i++) parts.push(...flowBlocks(this.flows[i].f));
    return Buffer.concat(parts);
  }
}
