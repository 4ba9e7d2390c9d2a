// The connection event: one per connection, FMC's columns plus what a TLS peek knows.
// Written as JSON lines (pino) by the proxy, rendered as FMC's table by `peekwall events`,
// asserted by the lab and by `peekwall test --from-events`.
import type { IdentitySource } from '../identity/index.js';

export interface ConnectionEvent {
  /** ISO 8601 with milliseconds. */
  readonly time: string;
  readonly eventType: 'Connection';
  /** 'begin' for blocks (logged at connection beginning), 'end' for allows/monitors. */
  readonly phase: 'begin' | 'end';
  /** Allow | Trust | Block | Block with reset | Interactive Block(+reset) | Monitor | Default Action ... */
  readonly action: string;
  readonly reason: string;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly protocol: 'tcp';
  /** 'HTTPS', 'HTTP', or 'unknown' when inspection failed. */
  readonly applicationProtocol: string;
  /** FMC's Client column: the client application ('SSL client' for any TLS ClientHello). */
  readonly client?: string;
  readonly webApplication?: string;
  /** e.g. 'https://toos.cisco.com'; null when no name could be derived. */
  readonly url: string | null;
  readonly urlCategory?: string;
  readonly urlReputation?: string;
  readonly accessControlRule: string;
  readonly siCategory?: string;
  // --- beyond FMC: what peekwall saw and why ---
  readonly identitySource?: IdentitySource;
  readonly sni: string | null;
  readonly spoofedSni?: string;
  /** Negotiated (read passively) or the highest the client offered. */
  readonly tlsVersion?: string;
  /** Every version the ClientHello offered (supported_versions, else its legacy version). */
  readonly tlsVersionsOffered?: readonly string[];
  readonly alpn?: readonly string[];
  readonly ja3?: string;
  readonly ja4?: string;
  readonly certStatus?: string;
  readonly tsid?: {
    readonly enabled: boolean;
    readonly profile: string;
    readonly cache?: 'hit' | 'miss';
    /**
     * The certificate the session itself carried against the probed one (settings.tsid.
     * sessionCheck): 'match', 'tsid/cert-mismatch', or 'unseen' (TLS 1.3 encrypts it, or the
     * server sent none). Absent when TSID named no server from a probe or the check is off.
     */
    readonly sessionCheck?: 'match' | 'tsid/cert-mismatch' | 'unseen';
    /** On a mismatch: the name the session's certificate gives. */
    readonly sessionName?: string;
  };
  readonly bytesFromClient: number;
  readonly bytesFromServer: number;
  readonly durationMs: number;
  /**
   * Milliseconds from accept: the ClientHello complete (helloMs) and the verdict reached
   * (decisionMs: after the TSID probe or the server's certificate when those were needed).
   * Absent when that point was never reached.
   */
  readonly timings?: { readonly helloMs?: number; readonly decisionMs?: number };
  /**
   * Whether FMC would have shown this event: false when the deciding rule's `logging:` does not
   * log at this event's phase (a rule without logging produces no connection event in FMC).
   * Security Intelligence blocks and the default action always log. peekwall writes every
   * connection regardless; `peekwall events --fmc-logged` shows FMC's view. Absent when no
   * verdict was reached (inspection failures are always logged).
   */
  readonly fmcLogged?: boolean;
  /** The deciding rule's logging (FTD's 430002 at beginning, 430003 at end). Absent without a verdict. */
  readonly fmcLog?: { readonly beginning: boolean; readonly end: boolean };
  /**
   * What was odd about a ClientHello that was read anyway (wire anomaly codes, e.g.
   * 'wire/sni-not-ascii', 'wire/sslv2-compat'); the SNI of such a hello is null, its bytes as
   * sent are in sniRawHex. Absent for an ordinary hello.
   */
  readonly helloAnomalies?: readonly string[];
  readonly sniRawHex?: string;
  /** Why the connection ended or was refused: a stable code (e.g. 'wire/truncated', 'policy/block'). */
  readonly closeReason?: string;
  /** When the lab's address map applied: the real loopback addresses behind the seed ones. */
  readonly mapped?: { readonly srcIp: string; readonly dstIp: string };
}
