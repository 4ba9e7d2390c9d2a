// A capture file's bytes in, TCP flows out: the format reader, the frame decoder and the flow
// tracker in one push-driven pipe. Pure: the shell pushes the file as it reads it.
import type { PeekwallError } from '../util/errors.js';
import { CaptureReader, captureError, type CaptureFormat, type CapturedPacket } from './formats.js';
import { decodeFrame, isKnownLinkType, type SkipReason } from './decode.js';
import { TcpTracker, type FlowConsumer, type FlowStart, type TrackerOptions } from './tcp.js';

export interface CaptureSummary {
  readonly format: CaptureFormat | null;
  /** Packet records read (frames). */
  readonly packets: number;
  readonly sections: number;
  readonly tcpSegments: number;
  /** TCP connections (tcp.stream count). */
  readonly flows: number;
  /** Frames that gave no TCP segment, by why (UDP, ARP, IP fragments, ...). */
  readonly skipped: Readonly<Partial<Record<SkipReason, number>>>;
  /** Segments of a connection already over (late ACKs, retransmissions after its end). */
  readonly afterClose: number;
  /** What stopped or limited the reading (truncated file, unknown link type...). */
  readonly problems: readonly PeekwallError[];
  /** Bytes of the file read. */
  readonly bytes: number;
}

export class CaptureWalk {
  private readonly reader = new CaptureReader();
  private readonly tracker: TcpTracker;
  private tcpSegments = 0;
  private readonly skipped: Partial<Record<SkipReason, number>> = {};
  /** Unknown link types: the first and last frame of each. */
  private readonly unknownLinks = new Map<number, { first: number; last: number; count: number }>();
  private bytes = 0;
  private readonly sink = (p: CapturedPacket) => this.packet(p);

  constructor(open: (start: FlowStart) => FlowConsumer, opts?: TrackerOptions) {
    this.tracker = new TcpTracker(open, opts);
  }

  /** The format, once the first bytes said it. */
  get format(): CaptureFormat | null {
    return this.reader.format;
  }

  /** Feed the next bytes of the file; false once reading stopped on a problem. */
  push(chunk: Uint8Array): boolean {
    this.bytes += chunk.length;
    return this.reader.push(chunk, this.sink) === null;
  }

  /** The file ended: every open flow ends too. */
  end(): CaptureSummary {
    const problem = this.reader.end();
    this.tracker.finish();
    const problems: PeekwallError[] = [];
    for (const [t, u] of this.unknownLinks) {
      problems.push(
        captureError(
          'capture/unknown-link-type',
          `link type ${t} is not one peekwall reads (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback): ${u.count} frame(s) skipped, frames ${u.first}..${u.last}`,
        ),
      );
    }
    if (problem) problems.push(problem);
    return {
      format: this.reader.format,
      packets: this.reader.packets,
      sections: this.reader.sectionCount,
      tcpSegments: this.tcpSegments,
      flows: this.tracker.streams,
      skipped: this.skipped,
      afterClose: this.tracker.afterClose,
      problems,
      bytes: this.bytes,
    };
  }

  private packet(p: CapturedPacket): void {
    const d = decodeFrame(p.linkType, p.data, p.originalLength);
    if (typeof d === 'string') {
      if (d === 'unknown-link-type' && !isKnownLinkType(p.linkType)) {
        const u = this.unknownLinks.get(p.linkType);
        if (u) {
          u.last = p.frame;
          u.count++;
        } else this.unknownLinks.set(p.linkType, { first: p.frame, last: p.frame, count: 1 });
      }
      this.skipped[d] = (this.skipped[d] ?? 0) + 1;
      return;
    }
    this.tcpSegments++;
    this.tracker.segment(d, p.probe ? { frame: p.frame, timeMs: p.timeMs, probe: true } : { frame: p.frame, timeMs: p.timeMs });
  }
}
