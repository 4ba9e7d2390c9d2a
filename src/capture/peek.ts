// What each TCP flow of a capture opened with: the client's ClientHello and the server's first
// flight, read by the proxy's own wire readers (one code path). For `peekwall hello CAPTURE`
// and `peekwall cert CAPTURE`; no policy involved.
import { ClientHelloReader, ServerFlightReader, type HelloReadResult, type ServerFlightResult } from '../wire/index.js';
import type { PeekwallError } from '../util/errors.js';
import type { Endpoint, FlowConsumer, FlowStart, FlowStats, GapInfo, PacketMeta, Side, SideEnd } from './tcp.js';

export interface PeekResult {
  readonly stream: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** Terminal reader answer, or null when the client's bytes ran out first. */
  readonly hello: HelloReadResult | null;
  readonly helloFrame: number;
  /** Client stream bytes the reader was given (the hello's `trailing` counts past it). */
  readonly clientBytes: number;
  readonly flight: ServerFlightResult | null;
  readonly flightFrame: number;
  /** Why a side ran out before its reader answered (a gap, the capture's end). */
  readonly clientEnd: SideEnd | null;
  readonly serverEnd: SideEnd | null;
  readonly notes: readonly PeekwallError[];
}

export interface PeekOptions {
  /** Read the client's hello (default true). */
  readonly hello?: boolean;
  /** Read the server's first flight (default true). */
  readonly flight?: boolean;
  readonly maxHelloBytes?: number;
}

export function peekFlows(emit: (r: PeekResult) => void, opts: PeekOptions = {}): (start: FlowStart) => FlowConsumer {
  return (start) => new FlowPeek(start, emit, opts);
}

class FlowPeek implements FlowConsumer {
  private readonly helloReader: ClientHelloReader;
  private readonly flightReader = new ServerFlightReader();
  private hello: HelloReadResult | null = null;
  private flight: ServerFlightResult | null = null;
  private helloFrame = 0;
  private flightFrame = 0;
  private clientBytes = 0;
  private clientEnd: SideEnd | null = null;
  private serverEnd: SideEnd | null = null;
  private readonly notes: PeekwallError[] = [];

  constructor(
    private readonly start: FlowStart,
    private readonly emit: (r: PeekResult) => void,
    private readonly opts: PeekOptions,
  ) {
    this.helloReader = new ClientHelloReader(opts.maxHelloBytes ? { maxHandshakeBytes: opts.maxHelloBytes } : undefined);
  }

  wants(side: Side): boolean {
    return side === 'client' ? this.opts.hello !== false && this.hello === null : this.opts.flight !== false && this.flight === null;
  }

  data(side: Side, bytes: Buffer, p: PacketMeta): void {
    if (side === 'client') {
      this.clientBytes += bytes.length;
      const r = this.helloReader.push(bytes);
      if (r.kind !== 'need-more') {
        this.hello = r;
        this.helloFrame = p.frame;
      }
    } else {
      const r = this.flightReader.push(bytes);
      if (r.kind !== 'need-more') {
        this.flight = r;
        this.flightFrame = p.frame;
      }
    }
  }

  end(side: Side, how: SideEnd, _gap: GapInfo | null, p: PacketMeta | null): void {
    if (side === 'client') {
      this.clientEnd = how;
      if (this.hello === null && this.clientBytes > 0 && (how === 'fin' || how === 'rst')) {
        this.hello = this.helloReader.end();
        this.helloFrame = p?.frame ?? 0;
      }
    } else this.serverEnd = how;
  }

  note(n: PeekwallError): void {
    this.notes.push(n);
  }

  close(_stats: FlowStats): void {
    const s = this.start;
    this.emit({
      stream: s.stream,
      client: s.client,
      server: s.server,
      hello: this.hello,
      helloFrame: this.helloFrame,
      clientBytes: this.clientBytes,
      flight: this.flight,
      flightFrame: this.flightFrame,
      clientEnd: this.clientEnd,
      serverEnd: this.serverEnd,
      notes: this.notes,
    });
  }
}
