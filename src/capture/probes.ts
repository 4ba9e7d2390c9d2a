// TSID probes in a capture peekwall wrote (their own interface, see writer.ts): each one's
// hello SNI and the chain its server sent, kept by the replay as the probe's answer for the
// client flows of the same server and name.
import type { CertificateFacts } from '../identity/index.js';
import type { Result } from '../util/errors.js';
import { readClientHello, ServerFlightReader } from '../wire/index.js';
import type { Endpoint, FlowConsumer, PacketMeta, Side } from './tcp.js';

export interface ProbeRead {
  readonly chain: readonly CertificateFacts[];
  readonly frame: number;
  readonly server: Endpoint;
}

/** The replay's side: certificates parsed once, and where a probe's answer goes. */
export interface ProbeSink {
  facts(der: Uint8Array): Result<CertificateFacts>;
  probeRead(server: Endpoint, sni: string | null, chain: readonly CertificateFacts[], frame: number): void;
}

export const probeKey = (server: Endpoint, sni: string | null): string => `${server.ip}:${server.port}/${sni ?? ''}`;

/** A TSID probe recorded by the proxy: its hello's SNI and the chain its server sent. */
export class ProbeRecord implements FlowConsumer {
  private readonly flight = new ServerFlightReader();
  private hello: Buffer = Buffer.alloc(0);
  private sni: string | null | undefined;
  private done = false;

  constructor(
    private readonly run: ProbeSink,
    private readonly server: Endpoint,
  ) {}

  wants(side: Side): boolean {
    return !this.done && (side === 'server' || this.sni === undefined);
  }

  data(side: Side, bytes: Buffer, p: PacketMeta): void {
    if (side === 'client') {
      if (this.hello.length > 64 * 1024) return;
      this.hello = Buffer.concat([this.hello, bytes]);
      const h = readClientHello(this.hello);
      if (h.kind === 'hello') this.sni = h.hello.sni;
      else if (h.kind !== 'need-more') this.done = true;
      return;
    }
    const r = this.flight.push(bytes);
    if (r.kind === 'need-more') return;
    this.done = true;
    if (r.kind !== 'certificate' || r.chain.length === 0 || this.sni === undefined) return;
    const chain: CertificateFacts[] = [];
    for (const der of r.chain) {
      const f = this.run.facts(der);
      if (f.ok) chain.push(f.value);
      else if (chain.length === 0) return;
    }
    this.run.probeRead(this.server, this.sni, chain, p.frame);
  }

  end(): void {}

  note(): void {}

  close(): void {}
}

