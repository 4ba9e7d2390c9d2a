// Recording what the proxy inspected (`--capture FILE.pcapng`): the shell half. Each
// connection gets a FlowTap that keeps references to the chunks its sockets read (no copy),
// until the end of the server's first flight; the connection's event closes the tap and the
// flow goes into a bounded ring (src/capture/writer.ts builds the packets). TSID probes are
// tapped below TLS, on their own socket. Not capturing costs one null check per chunk.
import { writeFileSync, renameSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CaptureRing, type RecordedChunk } from '../capture/index.js';
import type { ConnectionEvent } from '../events/index.js';
import type { Endpoint } from '../flow/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { ServerFlightReader } from '../wire/index.js';

/** Per flow: what the first flights take, with room for a long chain; the rest is left out. */
const MAX_FLOW_BYTES = 256 * 1024;

const nowUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

export interface CaptureStats {
  readonly flows: number;
  readonly dropped: number;
}

/** The ring of recorded flows and the file it is written to (at close, and on flush()). */
export class CaptureFile {
  private readonly ring: CaptureRing;
  private added = 0;

  constructor(
    readonly path: string,
    maxBytes: number,
  ) {
    this.ring = new CaptureRing(maxBytes);
  }

  flow(): FlowTap {
    return new FlowTap(this);
  }

  /** A tap for one TSID probe connection to `server`, drawn from the flow's client address. */
  probe(clientIp: string, server: Endpoint, sni: string | null): ProbeTap {
    return new ProbeTap(this, clientIp, server, sni);
  }

  add(f: Parameters<CaptureRing['add']>[0]): void {
    this.added++;
    this.ring.add(f);
  }

  get stats(): CaptureStats {
    return { flows: this.ring.size, dropped: this.ring.dropped };
  }

  /** Write the file whole (a temporary name, then renamed: a reader never sees half of it). */
  flush(): CaptureStats {
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, this.ring.file());
      renameSync(tmp, this.path);
    } catch (e) {
      throw new PeekwallFailure(peekwallError('proxy/capture-write', `cannot write the capture: ${(e as Error).message}`, { file: this.path }));
    }
    return this.stats;
  }
}

/** The first packet's comment: what FMC would show for the flow. */
export function captureComment(e: ConnectionEvent): string {
  const parts = [
    `peekwall: ${e.action}`,
    `rule ${e.accessControlRule || '(none)'}`,
    `identity source ${e.identitySource ?? '(none)'}`,
    `url ${e.url ?? '(none)'}`,
    `sni ${e.sni ?? '(none)'}`,
  ];
  if (e.reason) parts.push(`reason ${e.reason}`);
  if (e.closeReason) parts.push(`close ${e.closeReason}`);
  return parts.join('; ');
}

export class FlowTap {
  private readonly startUs = nowUs();
  private readonly chunks: RecordedChunk[] = [];
  private bytes = 0;
  private endUs = 0;
  private flight: ServerFlightReader | null = null;
  recording = true;

  constructor(private readonly file: CaptureFile) {}

  client(b: Buffer): void {
    if (this.recording) this.push(true, b);
  }

  server(b: Buffer): void {
    if (this.recording) this.push(false, b);
  }

  /**
   * Server bytes read beside a splice: kept until the server's first flight is complete;
   * true once nothing more is wanted (the caller detaches).
   */
  serverFlight(b: Buffer): boolean {
    if (!this.recording) return true;
    this.push(false, b);
    this.flight ??= new ServerFlightReader();
    if (this.flight.push(b).kind === 'need-more' && this.recording) return false;
    this.stop();
    return true;
  }

  stop(): void {
    if (!this.recording) return;
    this.recording = false;
    this.endUs = nowUs();
  }

  finish(e: ConnectionEvent): void {
    this.stop();
    this.file.add({
      client: { ip: e.srcIp, port: e.srcPort },
      server: { ip: e.dstIp, port: e.dstPort },
      comment: captureComment(e),
      probe: false,
      startUs: this.startUs,
      chunks: this.chunks,
      endUs: this.endUs,
    });
  }

  private push(fromClient: boolean, b: Buffer): void {
    if (this.bytes + b.length > MAX_FLOW_BYTES) return this.stop();
    this.bytes += b.length;
    this.chunks.push({ fromClient, us: nowUs(), bytes: b });
  }
}

/** One TSID probe's raw bytes, below TLS. */
export class ProbeTap {
  private readonly startUs = nowUs();
  private readonly chunks: RecordedChunk[] = [];
  private bytes = 0;
  private port = 0;
  private done = false;

  constructor(
    private readonly file: CaptureFile,
    private readonly clientIp: string,
    private readonly server: Endpoint,
    private readonly sni: string | null,
  ) {}

  connected(localPort: number): void {
    this.port = localPort;
  }

  sent(b: Uint8Array): void {
    this.push(true, b);
  }

  received(b: Uint8Array): void {
    this.push(false, b);
  }

  finish(outcome: string): void {
    if (this.done) return;
    this.done = true;
    this.file.add({
      client: { ip: this.clientIp, port: this.port },
      server: this.server,
      comment: `peekwall: TSID probe to ${this.server.ip}:${this.server.port}, SNI ${this.sni ?? '(none)'}: ${outcome}`,
      probe: true,
      startUs: this.startUs,
      chunks: this.chunks,
      endUs: nowUs(),
    });
  }

  private push(fromClient: boolean, b: Uint8Array): void {
    if (this.done || this.bytes + b.length > MAX_FLOW_BYTES) return;
    this.bytes += b.length;
    this.chunks.push({ fromClient, us: nowUs(), bytes: Uint8Array.prototype.slice.call(b) as Uint8Array });
  }
}
