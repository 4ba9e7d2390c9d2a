// Captures built from bytes for the edge cases real programs do not produce on demand:
// frames (Ethernet/VLAN, SLL, SLL2, raw IP, BSD loopback; IPv4 and IPv6), TCP segments, pcap
// in either byte order and resolution, pcapng with several sections and interfaces, and TCP
// flows with chosen segmentation, reordering, retransmissions and losses.

export interface Seg {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  /** 'S', 'SA', 'A', 'PA', 'FA', 'R', 'RA' */
  flags: string;
  payload?: Uint8Array;
}

const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10 };

function flagsByte(f: string): number {
  let b = 0;
  for (const c of f) b |= FLAG_BITS[c];
  return b;
}

function tcpHeader(s: Seg): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(s.seq >>> 0, 4);
  h.writeUInt32BE((s.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flagsByte(s.flags);
  h.writeUInt16BE(65535, 14);
  return h;
}

function v4(addr: string): Buffer {
  return Buffer.from(addr.split('.').map(Number));
}

function v6(addr: string): Buffer {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, ''];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

/** An IP packet (v4 or v6 by the address form) carrying the TCP segment. */
export function ipPacket(s: Seg, opts: { ipv6ExtHeaders?: boolean; fragment?: boolean } = {}): Buffer {
  const tcp = Buffer.concat([tcpHeader(s), Buffer.from(s.payload ?? [])]);
  if (s.src.includes(':')) {
    const ext = opts.ipv6ExtHeaders ? Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]) : Buffer.alloc(0); // hop-by-hop, PadN
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(ext.length + tcp.length, 4);
    h[6] = opts.ipv6ExtHeaders ? 0 : 6;
    h[7] = 64;
    v6(s.src).copy(h, 8);
    v6(s.dst).copy(h, 24);
    return Buffer.concat([h, ext, tcp]);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + tcp.length, 2);
  if (opts.fragment) h.writeUInt16BE(0x2000, 6);
  h[8] = 64;
  h[9] = 6;
  v4(s.src).copy(h, 12);
  v4(s.dst).copy(h, 16);
  return Buffer.concat([h, tcp]);
}

const ethType = (ip: Buffer) => (ip[0] >> 4 === 6 ? 0x86dd : 0x0800);

export function ethernet(ip: Buffer, vlans: number[] = []): Buffer {
  const head = Buffer.alloc(12, 0xaa);
  const tags = vlans.map((id, i) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, 0);
    t.writeUInt16BE(id, 2);
    return t;
  });
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethType(ip));
  return Buffer.concat([head, ...tags, type, ip]);
}

export function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // to us
  h.writeUInt16BE(772, 2); // ARPHRD_LOOPBACK
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ethType(ip), 14);
  return Buffer.concat([h, ip]);
}

export function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ethType(ip), 0);
  h.writeUInt32BE(1, 4); // ifindex
  h.writeUInt16BE(772, 8);
  h[10] = 0;
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

/** BSD loopback (DLT_NULL): the address family in the capturing host's byte order. */
export function nullLoop(ip: Buffer, le = true, af6 = 30): Buffer {
  const h = Buffer.alloc(4);
  const af = ip[0] >> 4 === 6 ? af6 : 2;
  if (le) h.writeUInt32LE(af);
  else h.writeUInt32BE(af);
  return Buffer.concat([h, ip]);
}

export interface Frame {
  data: Buffer;
  timeMs?: number;
  /** Length on the wire (default data.length): more means the snaplen cut it. */
  orig?: number;
}

export function pcap(frames: Frame[], o: { linkType?: number; be?: boolean; nanos?: boolean } = {}): Buffer {
  const w32 = (b: Buffer, v: number, at: number) => (o.be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const w16 = (b: Buffer, v: number, at: number) => (o.be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const g = Buffer.alloc(24);
  w32(g, o.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, 262144, 16);
  w32(g, o.linkType ?? 1, 20);
  const parts: Buffer[] = [g];
  frames.forEach((f, i) => {
    const t = f.timeMs ?? 1_700_000_000_000 + i;
    const h = Buffer.alloc(16);
    w32(h, Math.floor(t / 1000), 0);
    const frac = t - Math.floor(t / 1000) * 1000;
    w32(h, Math.round(o.nanos ? frac * 1e6 : frac * 1e3), 4);
    w32(h, f.data.length, 8);
    w32(h, f.orig ?? f.data.length, 12);
    parts.push(h, f.data);
  });
  return Buffer.concat(parts);
}

export interface NgSection {
  be?: boolean;
  interfaces: { linkType: number; tsresol?: number }[];
  packets: { iface: number; data: Buffer; ts: bigint }[];
  /** Blocks of another type to skip (e.g. a name resolution block). */
  junk?: boolean;
}

export function pcapng(sections: NgSection[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of sections) {
    const w32 = (b: Buffer, v: number, at: number) => (s.be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
    const w16 = (b: Buffer, v: number, at: number) => (s.be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
    const block = (type: number, body: Buffer) => {
      const pad = (4 - (body.length % 4)) % 4;
      const len = 12 + body.length + pad;
      const b = Buffer.alloc(len);
      w32(b, type, 0);
      w32(b, len, 4);
      body.copy(b, 8);
      w32(b, len, len - 4);
      parts.push(b);
    };
    const shb = Buffer.alloc(16);
    w32(shb, 0x1a2b3c4d, 0);
    w16(shb, 1, 4);
    w16(shb, 0, 6);
    shb.fill(0xff, 8, 16); // section length unknown
    block(0x0a0d0d0a, shb);
    for (const i of s.interfaces) {
      const opts: Buffer[] = [];
      if (i.tsresol !== undefined) {
        const o = Buffer.alloc(8);
        w16(o, 9, 0);
        w16(o, 1, 2);
        o[4] = i.tsresol;
        opts.push(o);
      }
      opts.push(Buffer.alloc(4)); // opt_endofopt
      const b = Buffer.alloc(8);
      w16(b, i.linkType, 0);
      w32(b, 262144, 4);
      block(1, Buffer.concat([b, ...opts]));
    }
    if (s.junk) block(4, Buffer.alloc(4)); // an empty name resolution block
    for (const p of s.packets) {
      const h = Buffer.alloc(20);
      w32(h, p.iface, 0);
      w32(h, Number(p.ts >> 32n), 4);
      w32(h, Number(p.ts & 0xffffffffn), 8);
      w32(h, p.data.length, 12);
      w32(h, p.data.length, 16);
      block(6, Buffer.concat([h, p.data]));
    }
  }
  return Buffer.concat(parts);
}

/** One TCP connection as segments, built from the two streams' bytes. */
export interface FlowSpec {
  client?: { ip: string; port: number };
  server?: { ip: string; port: number };
  clientBytes: Uint8Array;
  serverBytes?: Uint8Array;
  /** Client payload split into segments of this size (default: one segment). */
  mss?: number;
  handshake?: boolean;
  fin?: boolean;
  isn?: { client: number; server: number };
}

/** Segments in order: handshake, client data, server data, FINs. Each carries its index. */
export function flowSegments(f: FlowSpec): Seg[] {
  const c = f.client ?? { ip: '10.12.1.8', port: 40722 };
  const s = f.server ?? { ip: '72.163.4.38', port: 443 };
  const isn = f.isn ?? { client: 1000, server: 5000 };
  const out: Seg[] = [];
  const cs = (seq: number, ack: number, flags: string, payload?: Uint8Array): Seg => ({ src: c.ip, dst: s.ip, sport: c.port, dport: s.port, seq, ack, flags, ...(payload ? { payload } : {}) });
  const ss = (seq: number, ack: number, flags: string, payload?: Uint8Array): Seg => ({ src: s.ip, dst: c.ip, sport: s.port, dport: c.port, seq, ack, flags, ...(payload ? { payload } : {}) });
  let cseq = isn.client + 1;
  let sseq = isn.server + 1;
  if (f.handshake !== false) {
    out.push(cs(isn.client, 0, 'S'), ss(isn.server, cseq, 'SA'), cs(cseq, sseq, 'A'));
  }
  const mss = f.mss ?? Math.max(1, f.clientBytes.length);
  for (let o = 0; o < f.clientBytes.length; o += mss) {
    const p = f.clientBytes.subarray(o, o + mss);
    out.push(cs(cseq, sseq, 'PA', p));
    cseq += p.length;
  }
  if (f.serverBytes && f.serverBytes.length > 0) {
    for (let o = 0; o < f.serverBytes.length; o += 1400) {
      const p = f.serverBytes.subarray(o, o + 1400);
      out.push(ss(sseq, cseq, 'PA', p));
      sseq += p.length;
    }
  }
  if (f.fin !== false) {
    out.push(cs(cseq, sseq, 'FA'), ss(sseq, cseq + 1, 'FA'), cs(cseq + 1, sseq + 1, 'A'));
  }
  return out;
}

/** An Ethernet pcap of the segments, in the order given. */
export function pcapOf(segs: Seg[], startMs = 1_700_000_000_000): Buffer {
  return pcap(segs.map((s, i) => ({ data: ethernet(ipPacket(s)), timeMs: startMs + i })));
}
