// The flow core's nouns: what the machine is told at start, the commands it answers with (each
// carries what performing it takes), the outcome and the report the connection event is built from.
import type { ClientHello } from '../wire/index.js';
import type { CertificateFacts, ServerIdentity, TsidSetting } from '../identity/index.js';
import type { Flow, Policy, PolicySettings, Verdict } from '../policy/index.js';
import type { PeekwallError, Result } from '../util/errors.js';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export interface MachineInit {
  readonly policy: Policy;
  /** Real addresses (the shell's view). */
  readonly src: Endpoint;
  /** Real upstream/original destination; null until routed (sni-route). */
  readonly dst: Endpoint | null;
  /** Port policy sees as the destination (default dst.port). */
  readonly flowPort?: number;
  /**
   * Real address policy sees as the destination (default dst.ip). Transparent listeners pass
   * the local address the client connected to — the original destination — which differs
   * from the upstream when one proxy stands for several server IPs.
   */
  readonly flowDstIp?: string;
  readonly toSeed: (ip: string) => string;
  /** Upper bound on the server's first flight held in passive mode (default 64 KiB). */
  readonly maxServerFlightBytes?: number;
  /**
   * Reads a certificate the server sent (default identity's certificateFacts). A capture
   * replay passes a cache keyed by the DER: one server's certificate recurs in every flow to
   * it, and parsing one costs more than the rest of the flow.
   */
  readonly certificateFacts?: (der: Uint8Array) => Result<CertificateFacts>;
}

export type Command =
  /** Read the client; answer peekTimeout() if no complete hello came within timeoutMs. */
  | { readonly kind: 'wait-hello'; readonly timeoutMs: number }
  /** The hello is complete: stop reading the client until decided. */
  | { readonly kind: 'pause-client' }
  /**
   * Find the upstream from the SNI (null: no SNI); answer with routed()/routeFailed(), or
   * routeFailed() with a timeout error after timeoutMs.
   */
  | { readonly kind: 'route'; readonly sni: string | null; readonly timeoutMs: number }
  /** TSID: obtain the server certificate chain (cached per cache settings); answer with certificate(). */
  | {
      readonly kind: 'probe';
      readonly dst: Endpoint;
      readonly hello: ClientHello;
      readonly timeoutMs: number;
      readonly cache: PolicySettings['tsidCache'];
    }
  /**
   * Connect to dst within timeoutMs and write `bytes` (the client's, held until now: the
   * machine holds them no longer). passive: keep the client paused and feed server bytes to
   * serverData() until a release or close, serverTimeout() after flightTimeoutMs; otherwise
   * splice right away (closing after idleMs without traffic), and with observeSession feed the
   * server's bytes to observeServer() beside the splice until it answers true.
   */
  | {
      readonly kind: 'connect';
      readonly dst: Endpoint;
      readonly bytes: readonly Buffer[];
      readonly passive: boolean;
      readonly observeSession: boolean;
      readonly timeoutMs: number;
      readonly flightTimeoutMs: number;
      readonly idleMs: number;
    }
  /**
   * A held server flight was judged Allow: write toServer upstream (client bytes that came
   * with the hello's last read) and toClient to the client, then splice.
   */
  | { readonly kind: 'release'; readonly toServer: readonly Buffer[]; readonly toClient: readonly Buffer[]; readonly idleMs: number }
  /**
   * Refuse: FIN (reset false) or RST (reset true) to the client, and the upstream if any; the
   * outcome is final and the event can be written.
   */
  | { readonly kind: 'close'; readonly reset: boolean; readonly outcome: Outcome };

export type ProbeAnswer =
  | { readonly ok: true; readonly chain: readonly CertificateFacts[]; readonly cache: 'hit' | 'miss' }
  | { readonly ok: false; readonly error: PeekwallError; readonly cache?: 'hit' | 'miss' };

/**
 * 'verify': TSID decided Allow on a probed certificate and settings.tsid.sessionCheck is
 * 'redecide': the hello went upstream and the server's first flight is held until the session's
 * own certificate is read and compared.
 */
export type MachineState = 'peek' | 'route' | 'probe' | 'passive' | 'verify' | 'decided' | 'closed';

/** What the session's own certificate said against the probed one (TLS <= 1.2 shows it). */
export type SessionCheck = 'match' | 'tsid/cert-mismatch' | 'unseen';

/** What the event needs once the machine decided (or failed). */
export interface Outcome {
  readonly phase: 'begin' | 'end';
  readonly verdict: Verdict | null;
  readonly identity: ServerIdentity | null;
  readonly action?: string;
  readonly reason?: string;
  readonly closeReason?: string;
  /** 'unknown' when the bytes could not be inspected. */
  readonly applicationProtocol?: string;
}

/** Everything the connection event needs from the machine, read once when the event is written. */
export interface FlowReport {
  readonly outcome: Outcome | null;
  readonly flow: Flow;
  /** The deciding identity (the outcome's), else the last one derived. */
  readonly identity: ServerIdentity | null;
  readonly hello: ClientHello | null;
  /** Negotiated (read from the server) or the highest the client offered; wire value. */
  readonly tlsVersion: number;
  readonly tsid: TsidSetting | null;
  readonly cache: 'hit' | 'miss' | undefined;
  readonly sessionCheck: SessionCheck | null;
  readonly sessionName: string | null;
  /** The real destination address (the original one, or the upstream), before any seed mapping. */
  readonly realDstIp: string;
  /** Leaf first; the issuers are parsed on first use (only a trust store asks). */
  chain(): readonly CertificateFacts[];
}

/** An inspection failure as the event shows it: fail open forwards, fail closed resets. */
export function failureOutcome(e: PeekwallError, open: boolean): Outcome {
  return open
    ? { phase: 'end', verdict: null, identity: null, action: 'Allow', reason: 'Fail Open', closeReason: e.code, applicationProtocol: 'unknown' }
    : {
        phase: 'begin',
        verdict: null,
        identity: null,
        action: 'Block with reset',
        reason: 'Inspection Failure',
        closeReason: e.code,
        applicationProtocol: 'unknown',
      };
}

