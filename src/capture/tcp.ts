// TCP flows out of captured segments, and each direction's bytes reassembled in stream order.
// Pure: segments in, per-flow callbacks out. Only what a consumer still wants is buffered (a
// ClientHello, a server's first flight): after that a direction is only counted, so a capture
// of any size replays in bounded memory.
//
// Rules, in the terms IDS reassemblers use:
// - Overlaps: FIRST WINS (Snort/Suricata "first" policy). Bytes already delivered or already
//   held out of order are kept; a retransmission carrying different bytes for the same
//   sequence numbers is ignored and reported as a note `capture/overlap-differs` on the flow.
// - Out of order: held (copied) until the hole before them fills, up to MAX_PENDING_BYTES per
//   direction; past that the direction ends with a gap.
// - Missing bytes (a gap) are named as soon as they are certain: the peer acknowledged bytes
//   the capture never showed (Wireshark's "ACKed unseen segment"), or the direction ended
//   (FIN, or the end of the capture) with a hole before it, or the snaplen cut a segment.
// - Which side is the client: the SYN's sender (or the SYN-ACK's receiver); for a flow whose
//   handshake is not in the capture, the sender of a first payload that is a TLS ClientHello
//   (the receiver of one that is a ServerHello), else the side on the higher port.
import type { PeekwallError } from '../util/errors.js';
import { peekwallError } from '../util/errors.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './decode.js';

export type Side = 'client' | 'server';

/**
 * How a direction ended: 'fin' and 'rst' as sent; 'gap' when bytes are missing from the
 * capture before its end; 'capture-end' when the capture holds no more of it (it stopped, or
 * the same addresses and ports began a new connection).
 */
export type SideEnd = 'fin' | 'rst' | 'gap' | 'capture-end';

export interface PacketMeta {
  readonly frame: number;
  readonly timeMs: number;
  /** A TSID probe's packet (its interface in a capture peekwall wrote). */
  readonly probe?: boolean;
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export interface GapInfo {
  /** Stream offset (bytes from the direction's first byte) where bytes are missing. */
  readonly at: number;
  /** How many are missing, when the capture says (acknowledged or cut by the snaplen). */
  readonly bytes: number | null;
  /** The snaplen cut a segment of this direction: the capture was taken with a short -s. */
  readonly snaplen: boolean;
  readonly why: 'acked-unseen' | 'hole' | 'pending-bound';
}

export interface FlowStart {
  /** 0-based, in order of each connection's first packet: Wireshark's tcp.stream. */
  readonly stream: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** The client's SYN is in the capture. */
  readonly syn: boolean;
  /** The server's SYN-ACK is in the capture. */
  readonly synAck: boolean;
  readonly first: PacketMeta;
}

export interface FlowStats {
  readonly packets: number;
  /** Stream bytes seen each way (retransmissions counted once). */
  readonly clientBytes: number;
  readonly serverBytes: number;
  readonly first: PacketMeta;
  readonly last: PacketMeta;
  readonly synAck: boolean;
}

export interface FlowConsumer {
  /** In-order bytes of one side: a copy of its own, the consumer may keep it. */
  data(side: Side, bytes: Buffer, p: PacketMeta): void;
  /** Whether this side's bytes are still wanted; false: they are only counted from now on. */
  wants(side: Side): boolean;
  /** No more bytes of this side will come (called once per side). */
  end(side: Side, how: SideEnd, gap: GapInfo | null, p: PacketMeta | null): void;
  /** Something odd the reassembly resolved by its rules (e.g. capture/overlap-differs). */
  note(n: PeekwallError): void;
  /** The connection is over (both sides ended); called once, last. */
  close(stats: FlowStats): void;
}

export interface TrackerOptions {
  /** Out-of-order bytes held per direction while its bytes are wanted (default 256 KiB). */
  readonly maxPendingBytes?: number;
  /** Delivered bytes kept per direction to compare retransmissions with (default 128 KiB). */
  readonly maxKeptBytes?: number;
}

interface Pending {
  at: number;
  bytes: Uint8Array;
}

class Direction {
  /** Sequence number of stream offset 0; null until this side sent something. */
  base: number | null = null;
  isn: number | null = null;
  /** Offset of the next byte to deliver. */
  next = 0;
  /** Highest offset seen (stream bytes counted). */
  maxEnd = 0;
  /** Counted bytes from offsets dropped by rebase(). */
  counted = 0;
  pending: Pending[] = [];
  pendingBytes = 0;
  /** The chunks handed to the consumer, kept for overlap checks (the first keptLen bytes of the stream). */
  kept: Buffer[] = [];
  keptLen = 0;
  finAt: number | null = null;
  ended: SideEnd | null = null;
  snapped = false;
  overlapNoted = false;

  bytes(): number {
    return this.counted + this.maxEnd;
  }
}

class Connection {
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
  /** Index of the direction the client sends on; null until known. */
  clientDir: 0 | 1 | null = null;
  consumer: FlowConsumer | null = null;
  packets = 0;
  last: PacketMeta;
  syn = false;
  synAck = false;
  closed = false;
  constructor(
    readonly stream: number,
    readonly a: Endpoint,
    readonly b: Endpoint,
    readonly first: PacketMeta,
  ) {
    this.last = first;
  }
}

/** Sequence numbers are compared modulo 2^32 (RFC 793): a signed 32-bit difference. */
const diff = (a: number, b: number) => (a - b) | 0;

/** Connections whose end was seen recently: late ACKs and retransmissions are not new flows. */
const TOMBSTONE_MS = 120_000;
const MAX_TOMBSTONES = 65_536;

export class TcpTracker {
  private readonly flows = new Map<string, Connection>();
  private readonly tombstones = new Map<string, number>();
  private nextStream = 0;
  private readonly maxPending: number;
  private readonly maxKept: number;
  /** Segments of connections already over (late ACKs, retransmissions after the close). */
  afterClose = 0;

  constructor(
    private readonly open: (start: FlowStart) => FlowConsumer,
    opts: TrackerOptions = {},
  ) {
    this.maxPending = opts.maxPendingBytes ?? 256 * 1024;
    this.maxKept = opts.maxKeptBytes ?? 128 * 1024;
  }

  /** Connections seen so far. */
  get streams(): number {
    return this.nextStream;
  }

  segment(s: TcpSegment, p: PacketMeta): void {
    const fwd = s.srcIp < s.dstIp || (s.srcIp === s.dstIp && s.srcPort <= s.dstPort);
    const key = fwd ? `${s.srcIp} ${s.srcPort} ${s.dstIp} ${s.dstPort}` : `${s.dstIp} ${s.dstPort} ${s.srcIp} ${s.srcPort}`;
    const syn = (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    let c = this.flows.get(key);
    if (c !== undefined && syn) {
      // The same addresses and ports opening a new connection (another ISN) after one whose
      // end the capture missed: that one is over.
      const d = c.a.ip === s.srcIp && c.a.port === s.srcPort ? c.dirs[0] : c.dirs[1];
      if (d.isn !== null && d.isn !== s.seq) {
        this.finishConnection(c, null);
        c = undefined;
      }
    }
    if (c === undefined) {
      const closedAt = this.tombstones.get(key);
      if (closedAt !== undefined && !syn) {
        this.afterClose++;
        return;
      }
      if (closedAt !== undefined) this.tombstones.delete(key);
      c = new Connection(this.nextStream++, { ip: s.srcIp, port: s.srcPort }, { ip: s.dstIp, port: s.dstPort }, p);
      this.flows.set(key, c);
    }
    this.onSegment(c, key, s, p);
  }

  /** The capture ended: every connection still open ends here. */
  finish(): void {
    for (const c of this.flows.values()) this.finishConnection(c, null);
    this.flows.clear();
  }

  private onSegment(c: Connection, key: string, s: TcpSegment, p: PacketMeta): void {
    c.packets++;
    c.last = p;
    const di: 0 | 1 = c.a.ip === s.srcIp && c.a.port === s.srcPort ? 0 : 1;
    const d = c.dirs[di];
    const flags = s.flags;
    if (flags & TCP_SYN) {
      d.isn = s.seq;
      if (d.maxEnd === 0) d.base = (s.seq + 1) >>> 0;
      if (flags & TCP_ACK) c.synAck = true;
      else c.syn = true;
      if (c.clientDir === null) c.clientDir = flags & TCP_ACK ? ((1 - di) as 0 | 1) : di;
    } else if (d.base === null) {
      // No SYN seen: this side's first segment (an ACK's seq is its next byte) starts the stream.
      d.base = s.seq;
    }
    const len = s.payload.length + s.missing;
    if (c.consumer === null && (len > 0 || c.clientDir !== null)) this.start(c, di, s);
    const consumer = c.consumer;
    if (consumer !== null && (flags & TCP_ACK) && !(flags & TCP_RST)) this.checkAcked(c, (1 - di) as 0 | 1, s.ack, p);
    // A SYN's own sequence number is not a byte: data riding on it (TCP Fast Open) starts after.
    const seq = flags & TCP_SYN ? (s.seq + 1) >>> 0 : s.seq;
    if (len > 0) this.data(c, di, seq, s, p);
    if (flags & TCP_FIN && d.base !== null && d.finAt === null) {
      d.finAt = Math.max(diff(seq, d.base), 0) + len;
      this.maybeEnded(c, di, p);
    }
    if (flags & TCP_RST) {
      this.endSide(c, di, 'rst', null, p);
      // The connection is gone both ways; what the peer still owed never comes.
      this.endSide(c, (1 - di) as 0 | 1, 'rst', null, p);
    }
    if (c.dirs[0].ended !== null && c.dirs[1].ended !== null) this.close(c, key);
  }

  /** The client/server decision, once there is a first payload (or a SYN said it). */
  private start(c: Connection, di: 0 | 1, s: TcpSegment): void {
    if (c.clientDir === null) {
      const b = s.payload;
      const hs = b.length >= 6 && b[0] === 0x16 && b[1] === 3 ? b[5] : -1;
      if (hs === 1) c.clientDir = di;
      else if (hs === 2) c.clientDir = (1 - di) as 0 | 1;
      else c.clientDir = s.srcPort > s.dstPort ? di : s.srcPort < s.dstPort ? ((1 - di) as 0 | 1) : 0;
    }
    const client = c.clientDir === 0 ? c.a : c.b;
    const server = c.clientDir === 0 ? c.b : c.a;
    c.consumer = this.open({ stream: c.stream, client, server, syn: c.syn, synAck: c.synAck, first: c.first });
  }

  private sideOf(c: Connection, di: 0 | 1): Side {
    return di === c.clientDir ? 'client' : 'server';
  }

  private wanted(c: Connection, di: 0 | 1): boolean {
    const d = c.dirs[di];
    if (d.ended !== null || c.consumer === null) return false;
    if (c.consumer.wants(this.sideOf(c, di))) return true;
    // Not wanted any more: drop what was held for it.
    if (d.pendingBytes > 0 || d.keptLen > 0) {
      d.pending = [];
      d.pendingBytes = 0;
      d.kept = [];
      d.keptLen = 0;
    }
    return false;
  }

  private data(c: Connection, di: 0 | 1, seq: number, s: TcpSegment, p: PacketMeta): void {
    const d = c.dirs[di];
    const base = d.base as number;
    let rel = diff(seq, base);
    let bytes = s.payload;
    const end = rel + bytes.length + s.missing;
    if (end > d.maxEnd) d.maxEnd = end;
    if (s.missing > 0) d.snapped = true;
    if (!this.wanted(c, di)) {
      this.rebase(d);
      return;
    }
    if (rel < 0) {
      // Bytes before the stream's first byte (a flow seen without its SYN, retransmitted).
      if (-rel >= bytes.length) return;
      bytes = bytes.subarray(-rel);
      rel = 0;
    }
    if (rel <= d.next) {
      const fresh = rel + bytes.length - d.next;
      this.compare(c, d, rel, bytes.subarray(0, bytes.length - Math.max(fresh, 0)));
      if (fresh > 0) {
        this.deliver(c, di, bytes.subarray(bytes.length - fresh), p);
        this.drain(c, di, p);
      }
    } else {
      this.hold(c, di, rel, bytes, p);
    }
    this.maybeEnded(c, di, p);
  }

  /**
   * Hand in-order bytes to the consumer: one copy out of the file's buffer, which the consumer
   * keeps (a hello, a flight) and this side keeps too, for overlap checks, while wanted.
   */
  private deliver(c: Connection, di: 0 | 1, view: Uint8Array, p: PacketMeta): void {
    const d = c.dirs[di];
    const bytes = Buffer.from(view);
    if (d.keptLen + bytes.length <= this.maxKept) {
      d.kept.push(bytes);
      d.keptLen += bytes.length;
    }
    d.next += bytes.length;
    (c.consumer as FlowConsumer).data(this.sideOf(c, di), bytes, p);
  }

  /** Out-of-order bytes wait for the hole before them, first wins against held bytes. */
  private hold(c: Connection, di: 0 | 1, rel: number, bytes: Uint8Array, p: PacketMeta): void {
    const d = c.dirs[di];
    let pieces: Pending[] = [{ at: rel, bytes }];
    for (const h of d.pending) {
      const next: Pending[] = [];
      for (const piece of pieces) {
        const pEnd = piece.at + piece.bytes.length;
        const hEnd = h.at + h.bytes.length;
        if (pEnd <= h.at || piece.at >= hEnd) {
          next.push(piece);
          continue;
        }
        const from = Math.max(piece.at, h.at);
        const to = Math.min(pEnd, hEnd);
        this.sameBytes(c, d, h.bytes.subarray(from - h.at, to - h.at), piece.bytes.subarray(from - piece.at, to - piece.at), from);
        if (piece.at < h.at) next.push({ at: piece.at, bytes: piece.bytes.subarray(0, h.at - piece.at) });
        if (pEnd > hEnd) next.push({ at: hEnd, bytes: piece.bytes.subarray(hEnd - piece.at) });
      }
      pieces = next;
      if (pieces.length === 0) return;
    }
    for (const piece of pieces) {
      d.pending.push({ at: piece.at, bytes: Uint8Array.prototype.slice.call(piece.bytes) as Uint8Array });
      d.pendingBytes += piece.bytes.length;
    }
    d.pending.sort((x, y) => x.at - y.at);
    if (d.pendingBytes > this.maxPending) {
      this.endSide(c, di, 'gap', { at: d.next, bytes: d.pending[0].at - d.next, snaplen: d.snapped, why: 'pending-bound' }, p);
    }
  }

  private drain(c: Connection, di: 0 | 1, p: PacketMeta): void {
    const d = c.dirs[di];
    while (d.pending.length > 0 && d.pending[0].at <= d.next && this.wanted(c, di)) {
      const h = d.pending.shift() as Pending;
      d.pendingBytes -= h.bytes.length;
      const fresh = h.at + h.bytes.length - d.next;
      if (fresh > 0) this.deliver(c, di, h.bytes.subarray(h.bytes.length - fresh), p);
    }
  }

  /** Bytes at [rel, rel+len) were delivered already: first wins, a difference is noted. */
  private compare(c: Connection, d: Direction, rel: number, bytes: Uint8Array): void {
    const to = Math.min(rel + bytes.length, d.keptLen);
    if (bytes.length === 0 || to <= rel) return;
    // Retransmissions are rare: gathering the kept range costs nothing on the common path.
    const parts: Buffer[] = [];
    let at = 0;
    for (const k of d.kept) {
      const from = Math.max(rel, at);
      const end = Math.min(to, at + k.length);
      if (from < end) parts.push(k.subarray(from - at, end - at));
      at += k.length;
      if (at >= to) break;
    }
    this.sameBytes(c, d, Buffer.concat(parts), bytes.subarray(0, to - rel), rel);
  }

  private sameBytes(c: Connection, d: Direction, first: Uint8Array, later: Uint8Array, at: number): void {
    if (d.overlapNoted || Buffer.from(first.buffer, first.byteOffset, first.length).equals(later)) return;
    d.overlapNoted = true;
    const side = this.sideOf(c, d === c.dirs[0] ? 0 : 1);
    c.consumer?.note(
      peekwallError(
        'capture/overlap-differs',
        `a retransmission carries different bytes for ${side} stream offset ${at}..${at + later.length}: the first bytes seen are kept (first-wins), as most IDS reassemblers do`,
      ),
    );
  }

  /** The peer acknowledged bytes the capture never showed: they are missing for good. */
  private checkAcked(c: Connection, di: 0 | 1, ack: number, p: PacketMeta): void {
    const d = c.dirs[di];
    if (d.base === null || d.ended !== null) return;
    const acked = diff(ack, d.base);
    const finAcked = d.finAt !== null && d.next >= d.finAt ? 1 : 0;
    if (acked <= d.next + finAcked || !this.wanted(c, di)) return;
    const missing = (d.pending.length > 0 ? Math.min(d.pending[0].at, acked) : acked) - d.next;
    this.endSide(c, di, 'gap', { at: d.next, bytes: missing, snaplen: d.snapped, why: 'acked-unseen' }, p);
  }

  private maybeEnded(c: Connection, di: 0 | 1, p: PacketMeta): void {
    const d = c.dirs[di];
    if (d.finAt === null || d.ended !== null) return;
    if (!this.wanted(c, di) || (d.next >= d.finAt && d.pending.length === 0)) this.endSide(c, di, 'fin', null, p);
  }

  private endSide(c: Connection, di: 0 | 1, how: SideEnd, gap: GapInfo | null, p: PacketMeta | null): void {
    const d = c.dirs[di];
    if (d.ended !== null) return;
    d.ended = how;
    d.pending = [];
    d.pendingBytes = 0;
    d.kept = [];
    d.keptLen = 0;
    c.consumer?.end(this.sideOf(c, di), how, gap, p);
  }

  /** Keep offsets small on a long stream nobody reads any more (only its byte count matters). */
  private rebase(d: Direction): void {
    if (d.maxEnd < 1 << 30 || d.base === null) return;
    d.counted += d.maxEnd;
    d.base = (d.base + d.maxEnd) >>> 0;
    d.next = Math.max(0, d.next - d.maxEnd);
    if (d.finAt !== null) d.finAt -= d.maxEnd;
    d.maxEnd = 0;
  }

  private finishConnection(c: Connection, key: string | null): void {
    if (c.closed) return;
    if (c.consumer === null) this.start(c, 0, { srcPort: c.a.port, dstPort: c.b.port, payload: new Uint8Array(0) } as TcpSegment);
    for (const di of [0, 1] as const) {
      const d = c.dirs[di];
      if (d.ended !== null) continue;
      const wanted = this.wanted(c, di);
      const hole = wanted && (d.pending.length > 0 || (d.finAt !== null && d.next < d.finAt) || (d.snapped && d.maxEnd > d.next));
      if (hole) this.endSide(c, di, 'gap', { at: d.next, bytes: d.pending.length > 0 ? d.pending[0].at - d.next : null, snaplen: d.snapped, why: 'hole' }, null);
      else this.endSide(c, di, 'capture-end', null, null);
    }
    if (key !== null) this.close(c, key);
    else this.report(c);
  }

  private close(c: Connection, key: string): void {
    this.report(c);
    this.flows.delete(key);
    this.tombstones.set(key, c.last.timeMs);
    if (this.tombstones.size > 4096) {
      // Insertion order is closing order: drop the oldest until one is recent enough, and
      // past MAX_TOMBSTONES whatever their age (a dense capture closes thousands a second).
      for (const [k, at] of this.tombstones) {
        if (c.last.timeMs - at < TOMBSTONE_MS && this.tombstones.size <= MAX_TOMBSTONES) break;
        this.tombstones.delete(k);
      }
    }
  }

  private report(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    const cd = c.clientDir === 1 ? 1 : 0;
    c.consumer?.close({
      packets: c.packets,
      clientBytes: c.dirs[cd].bytes(),
      serverBytes: c.dirs[1 - cd].bytes(),
      first: c.first,
      last: c.last,
      synAck: c.synAck,
    });
  }
}

