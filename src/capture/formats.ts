// Capture files, record by record: classic pcap (either byte order, micro- or nanosecond
// timestamps) and pcapng (any number of sections, each with its own byte order and interfaces,
// per-interface timestamp resolution and offset). Sans-IO and streamed: the shell pushes the
// file's bytes as it reads them and gets each packet through a callback, so no capture is ever
// held whole. A packet's bytes are a view into the pushed chunk, valid during the callback only.
//
// Why not an npm reader: pcap-parser (pcap only, no nanosecond magic, readable-stream 1.0 era)
// and pcap-ng-parser (one release, one section only, ignores if_tsresol, throws on odd blocks)
// cover less than a field capture needs, and the formats are small and fully specified
// (draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng).
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { PROBE_INTERFACE_NAME } from './writer.js';

export type CaptureFormat = 'pcap' | 'pcapng';

/** One packet record, valid during the sink's call only (the reader reuses it: copy what you keep). */
export interface CapturedPacket {
  /** 1-based, counting every packet record in file order (Wireshark's frame number). */
  readonly frame: number;
  /** LINKTYPE_* of the packet's interface. */
  readonly linkType: number;
  /** Capture time, milliseconds since the epoch (sub-millisecond in the fraction). */
  readonly timeMs: number;
  /** The captured bytes (a view into the pushed chunk). */
  readonly data: Uint8Array;
  /** The packet's length on the wire; more than data.length when the snaplen cut it. */
  readonly originalLength: number;
  /** pcapng: the interface id within its section (0 in pcap). */
  readonly iface: number;
  /** pcapng: the interface is peekwall's own TSID probes' (a capture peekwall wrote). */
  readonly probe: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Stable codes of what can be wrong with a capture file as a whole. */
export const CAPTURE_ERROR_CODES = [
  'capture/unknown-format',
  'capture/truncated',
  'capture/bad-header',
  'capture/bad-block',
  'capture/record-too-large',
  'capture/unknown-link-type',
  'capture/bad-interface',
] as const;
export type CaptureErrorCode = (typeof CAPTURE_ERROR_CODES)[number];

export function captureError(code: CaptureErrorCode, message: string): PeekwallError {
  return peekwallError(code, message);
}

/** Upper bound on one record (a packet or a pcapng block): past it the file is judged corrupt. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

/** What the first four bytes say (null: not a capture file peekwall reads). */
export function sniffCaptureFormat(b: Uint8Array): CaptureFormat | null {
  if (b.length < 4) return null;
  const be = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const le = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
  if (be === PCAPNG_SHB) return 'pcapng';
  if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) return 'pcap';
  return null;
}

interface PcapngInterface {
  readonly linkType: number;
  readonly snaplen: number;
  /** Timestamp units per second (if_tsresol, default 10^6). */
  readonly unitsPerSec: number;
  /** if_tsoffset, seconds. */
  readonly offsetSec: number;
  /** if_name is PROBE_INTERFACE_NAME. */
  readonly probe: boolean;
}

export type PacketSink = (p: CapturedPacket) => void;

/**
 * Push the file's bytes in order; packets come out through the sink. push() and end() return
 * the first problem found (then the same one again): a problem stops the reading, every packet
 * before it has been handed out.
 */
export class CaptureReader {
  format: CaptureFormat | null = null;
  /** pcap: the file's link type (pcapng: per interface). */
  private pcapLinkType = -1;
  private pcapNanos = false;
  private le = true;
  private headerDone = false;
  private interfaces: PcapngInterface[] = [];
  private sections = 0;
  private frame = 0;
  private rest: Uint8Array = new Uint8Array(0);
  private problem: PeekwallError | null = null;
  /** The record handed to the sink, refilled for every packet (millions of them per file). */
  private readonly rec: Mutable<CapturedPacket> = { frame: 0, linkType: 0, timeMs: 0, data: new Uint8Array(0), originalLength: 0, iface: 0, probe: false };
  /** Bytes consumed so far (the offset the next record starts at). */
  offset = 0;

  get packets(): number {
    return this.frame;
  }

  /** pcapng sections seen (1 for pcap). */
  get sectionCount(): number {
    return this.format === 'pcap' ? 1 : this.sections;
  }

  push(chunk: Uint8Array, sink: PacketSink): PeekwallError | null {
    if (this.problem) return this.problem;
    let b: Uint8Array;
    if (this.rest.length === 0) b = chunk;
    else {
      b = new Uint8Array(this.rest.length + chunk.length);
      b.set(this.rest, 0);
      b.set(chunk, this.rest.length);
    }
    const used = this.format === 'pcapng' || (this.format === null && sniffCaptureFormat(b) === 'pcapng')
      ? this.pcapng(b, sink)
      : this.pcap(b, sink);
    this.offset += used;
    // Keep the unconsumed tail (a partial record) as a view; the next push copies it once.
    this.rest = used >= b.length ? new Uint8Array(0) : b.subarray(used);
    return this.problem;
  }

  end(): PeekwallError | null {
    if (this.problem) return this.problem;
    if (this.format === null) {
      this.problem = captureError('capture/unknown-format', this.rest.length === 0 ? 'the file is empty, not a pcap or pcapng capture' : 'the file is too short to be a pcap or pcapng capture');
    } else if (this.rest.length > 0) {
      this.problem = captureError(
        'capture/truncated',
        `the capture ends inside a record at byte ${this.offset} (${this.rest.length} bytes of it present; packets before it were read)`,
      );
    }
    return this.problem;
  }

  private fail(code: CaptureErrorCode, message: string): number {
    this.problem = captureError(code, message);
    return 0;
  }

  private emit(sink: PacketSink, linkType: number, timeMs: number, data: Uint8Array, originalLength: number, iface: number, probe = false): void {
    const r = this.rec;
    r.probe = probe;
    r.frame = this.frame;
    r.linkType = linkType;
    r.timeMs = timeMs;
    r.data = data;
    r.originalLength = originalLength;
    r.iface = iface;
    sink(r);
  }

  private stop(code: CaptureErrorCode, message: string): false {
    this.problem = captureError(code, message);
    return false;
  }

  private u32(b: Uint8Array, o: number): number {
    return this.le
      ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
      : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }

  private u16(b: Uint8Array, o: number): number {
    return this.le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
  }

  // ---- pcap ---------------------------------------------------------------------------

  /** Returns the bytes consumed. */
  private pcap(b: Uint8Array, sink: PacketSink): number {
    let off = 0;
    if (!this.headerDone) {
      if (b.length < 24) {
        if (b.length >= 4 && sniffCaptureFormat(b) === null) return this.notCapture(b);
        return 0;
      }
      const magicBe = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      const magicLe = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
      if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS) this.le = true;
      else if (magicBe === PCAP_MAGIC_US || magicBe === PCAP_MAGIC_NS) this.le = false;
      else return this.notCapture(b);
      this.format = 'pcap';
      this.pcapNanos = (this.le ? magicLe : magicBe) === PCAP_MAGIC_NS;
      const major = this.u16(b, 4);
      if (major !== 2) return this.fail('capture/bad-header', `pcap version ${major}.${this.u16(b, 6)} is not 2.x`);
      // The upper bits of the link-type field carry FCS information (pcap spec §4): not the type.
      this.pcapLinkType = this.u32(b, 20) & 0x0fffffff;
      this.headerDone = true;
      off = 24;
    }
    for (;;) {
      if (b.length - off < 16) return off;
      const sec = this.u32(b, off);
      const frac = this.u32(b, off + 4);
      const incl = this.u32(b, off + 8);
      const orig = this.u32(b, off + 12);
      if (incl > MAX_RECORD_BYTES) {
        this.fail('capture/record-too-large', `packet record ${this.frame + 1} at byte ${this.offset + off} claims ${incl} bytes (over ${MAX_RECORD_BYTES}): the file is corrupt`);
        return off;
      }
      if (b.length - off - 16 < incl) return off;
      this.frame++;
      this.emit(sink, this.pcapLinkType, sec * 1000 + (this.pcapNanos ? frac / 1e6 : frac / 1e3), b.subarray(off + 16, off + 16 + incl), Math.max(orig, incl), 0);
      off += 16 + incl;
    }
  }

  private notCapture(b: Uint8Array): number {
    const hex = Buffer.from(b.subarray(0, 4)).toString('hex');
    return this.fail('capture/unknown-format', `the file starts with 0x${hex}: not a pcap (a1b2c3d4, a1b23c4d, either byte order) or pcapng (0a0d0d0a) capture`);
  }

  // ---- pcapng -------------------------------------------------------------------------

  private pcapng(b: Uint8Array, sink: PacketSink): number {
    let off = 0;
    for (;;) {
      if (b.length - off < 12) return off;
      const typeBe = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
      if (typeBe === PCAPNG_SHB) {
        // A new section: its byte-order magic decides how everything in it is read.
        const bomBe = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
        const bomLe = ((b[off + 11] << 24) | (b[off + 10] << 16) | (b[off + 9] << 8) | b[off + 8]) >>> 0;
        if (bomBe === PCAPNG_BOM) this.le = false;
        else if (bomLe === PCAPNG_BOM) this.le = true;
        else {
          this.fail('capture/bad-header', `pcapng section header at byte ${this.offset + off} has no byte-order magic (0x${bomBe.toString(16)})`);
          return off;
        }
        this.format = 'pcapng';
      } else if (this.format === null) {
        return this.notCapture(b);
      }
      const len = this.u32(b, off + 4);
      if (len < 12 || len % 4 !== 0) {
        this.fail('capture/bad-block', `pcapng block at byte ${this.offset + off} has length ${len} (a multiple of 4, at least 12)`);
        return off;
      }
      if (len > MAX_RECORD_BYTES) {
        this.fail('capture/record-too-large', `pcapng block at byte ${this.offset + off} claims ${len} bytes (over ${MAX_RECORD_BYTES}): the file is corrupt`);
        return off;
      }
      if (b.length - off < len) return off;
      if (this.u32(b, off + len - 4) !== len) {
        this.fail('capture/bad-block', `pcapng block at byte ${this.offset + off}: its trailing length differs from its leading length ${len}`);
        return off;
      }
      const type = this.u32(b, off);
      const body = b.subarray(off + 8, off + len - 4);
      off += len;
      if (!this.block(type, body, off - len, sink)) return off - len;
    }
  }

  /** One complete block; false when it stopped the reading. */
  private block(type: number, body: Uint8Array, at: number, sink: PacketSink): boolean {
    switch (type) {
      case PCAPNG_SHB: {
        if (body.length < 16) return this.stop('capture/bad-block', `pcapng section header at byte ${this.offset + at} is too short`);
        const major = this.u16(body, 4);
        if (major !== 1) return this.stop('capture/bad-header', `pcapng version ${major}.${this.u16(body, 6)} is not 1.x`);
        this.sections++;
        this.interfaces = [];
        return true;
      }
      case 1: {
        if (body.length < 8) return this.stop('capture/bad-block', `pcapng interface block at byte ${this.offset + at} is too short`);
        let unitsPerSec = 1e6;
        let offsetSec = 0;
        let probe = false;
        for (let o = 8; o + 4 <= body.length; ) {
          const code = this.u16(body, o);
          const olen = this.u16(body, o + 2);
          if (code === 0 || o + 4 + olen > body.length) break;
          if (code === 9 && olen >= 1) {
            const r = body[o + 4];
            unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          } else if (code === 14 && olen >= 8) {
            const hi = this.u32(body, o + 4 + (this.le ? 4 : 0));
            const lo = this.u32(body, o + 4 + (this.le ? 0 : 4));
            offsetSec = (hi | 0) * 4294967296 + lo;
          } else if (code === 2) {
            probe = Buffer.from(body.subarray(o + 4, o + 4 + olen)).toString('latin1').replace(/\0+$/, '') === PROBE_INTERFACE_NAME;
          }
          o += 4 + ((olen + 3) & ~3);
        }
        this.interfaces.push({ linkType: this.u16(body, 0), snaplen: this.u32(body, 4), unitsPerSec, offsetSec, probe });
        return true;
      }
      case 6: // Enhanced Packet Block
      case 2: {
        // Obsolete Packet Block: 16-bit interface id and drops count where EPB has 32 bits.
        if (body.length < 20) return this.stop('capture/bad-block', `pcapng packet block at byte ${this.offset + at} is too short`);
        const ifId = type === 6 ? this.u32(body, 0) : this.u16(body, 0);
        const iface = this.interfaces[ifId];
        if (iface === undefined) {
          return this.stop('capture/bad-interface', `pcapng packet block at byte ${this.offset + at} names interface ${ifId}, which its section does not describe`);
        }
        const caplen = this.u32(body, 12);
        if (20 + caplen > body.length) return this.stop('capture/bad-block', `pcapng packet block at byte ${this.offset + at}: ${caplen} captured bytes overrun the block`);
        const ts = this.u32(body, 4) * 4294967296 + this.u32(body, 8);
        this.frame++;
        this.emit(sink, iface.linkType, (ts / iface.unitsPerSec + iface.offsetSec) * 1000, body.subarray(20, 20 + caplen), Math.max(this.u32(body, 16), caplen), ifId, iface.probe);
        return true;
      }
      case 3: {
        // Simple Packet Block: interface 0, no timestamp; captured length from snaplen.
        const iface = this.interfaces[0];
        if (iface === undefined || body.length < 4) {
          return this.stop('capture/bad-interface', `pcapng simple packet block at byte ${this.offset + at} comes before any interface block`);
        }
        const orig = this.u32(body, 0);
        let caplen = Math.min(orig, body.length - 4);
        if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
        this.frame++;
        this.emit(sink, iface.linkType, 0, body.subarray(4, 4 + caplen), orig, 0);
        return true;
      }
      default:
        // Name resolution, statistics, decryption secrets, custom blocks: nothing to replay.
        return true;
    }
  }
}
