// Contract of the policy engine (pure). Owned by src/policy/; consumers import from
// src/policy/index.ts only. A compiled Policy is immutable: reload builds a new one.
import type { IdentitySource, TsidSetting } from '../identity/index.js';

/** Actions a rule can carry, spelled as FMC shows them. */
export type RuleAction =
  | 'Allow'
  | 'Trust'
  | 'Monitor'
  | 'Block'
  | 'Block with reset'
  | 'Interactive Block'
  | 'Interactive Block with reset';

/** Final verdict actions (Monitor never ends evaluation). */
export type VerdictAction = Exclude<RuleAction, 'Monitor'>;

export type DefaultAction = 'Block all traffic' | 'Trust all traffic' | 'Intrusion Prevention';

export type FailMode = 'closed' | 'open';

export type UrlMatchingMode = 'current' | 'legacy-substring';

/** What the proxy does with a ClientHello the wire reader decoded but flagged (anomalies). */
export type OddHelloAction = 'allow' | 'refuse';

export type TsidSessionCheck = 'off' | 'log' | 'redecide';

/**
 * settings.oddHellos, one action per family of wire anomalies. allow: go on as a hello
 * without SNI (TSID, the certificate or the address give the identity). refuse: reset,
 * reason 'Inspection Failure', closeReason the anomaly code, whatever failMode says.
 */
export interface OddHelloSettings {
  /** wire/sslv2-compat: an SSLv2-format hello offering TLS. */
  readonly sslv2Compat: OddHelloAction;
  /** wire/sni-*: a server_name that is no usable DNS host name. */
  readonly oddSni: OddHelloAction;
}

export interface PolicyTimeouts {
  /** Longest wait for a complete ClientHello (ms). */
  readonly peekMs: number;
  /** TSID probe connect+handshake deadline (ms). */
  readonly probeMs: number;
  /** Upstream connect deadline (ms). */
  readonly connectMs: number;
  /** Idle timeout of a spliced connection (ms). */
  readonly idleMs: number;
}

export interface PolicySettings {
  readonly tsid: TsidSetting;
  readonly urlMatching: UrlMatchingMode;
  readonly failMode: FailMode;
  readonly timeouts: PolicyTimeouts;
  /** Bound on ClientHello handshake bytes held while peeking. */
  readonly maxHelloBytes: number;
  /** TSID identity cache: entries and time to live. */
  readonly tsidCache: { readonly maxEntries: number; readonly ttlMs: number };
  /** Hellos decoded with anomalies: allow or refuse, per family. */
  readonly oddHellos: OddHelloSettings;
  /**
   * settings.tsid.sessionCheck: TSID names the server from a certificate the proxy probed; a
   * server can show the probe one certificate and the client another. For sessions that show
   * their certificate (TLS <= 1.2) the proxy compares them: 'log' records a mismatch in the
   * event (tsid/cert-mismatch) without delaying the splice, 'redecide' holds the server's first
   * flight until it is read and judges the connection again on the session's certificate,
   * 'off' does neither.
   */
  readonly tsidSessionCheck: TsidSessionCheck;
}

/** One connection as policy sees it (what the firewall knows before the verdict). */
export interface Flow {
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  readonly protocol: 'tcp';
  /** 'https' for TLS flows, 'http' for plain requests on the explicit listener. */
  readonly scheme: 'https' | 'http';
  readonly sni: string | null;
  readonly alpn?: readonly string[];
  /** Plain HTTP only: request path + query, used by URL entries containing '/'. */
  readonly path?: string;
}

/** Identity as fed to evaluation (from src/identity resolveIdentity, or null when none). */
export interface FlowIdentity {
  readonly name: string | null;
  readonly source: IdentitySource;
}

export interface UrlReputation {
  /** 0 Unknown, 1 Untrusted, 2 Questionable, 3 Neutral, 4 Favorable, 5 Trusted. */
  readonly level: 0 | 1 | 2 | 3 | 4 | 5;
  readonly label: string;
}

/** One line of a `system support trace`-style explanation. */
export interface TraceStep {
  /** 'Prefilter' | 'Security Intelligence' | 'Firewall' | 'URL' | 'Identity' | ... */
  readonly module: string;
  readonly message: string;
}

export interface Verdict {
  readonly action: VerdictAction;
  /** The deciding rule's name, 'Default Action', or the SI list name for SI blocks. */
  readonly rule: string;
  /** FMC "Reason" column, e.g. 'URL Block', 'IP Block', 'DNS Block', '' for plain rule hits. */
  readonly reason: string;
  /** Set when Security Intelligence decided or monitored: the list/category name. */
  readonly siCategory?: string;
  readonly urlCategory: string;
  readonly urlReputation: UrlReputation;
  /** Web application (e.g. 'Cisco') when an application object matched the host. */
  readonly application?: string;
  /** The URL as logged: `https://<identity name>` (or the full http URL). */
  readonly url: string;
  /** Monitor rules that matched on the way (each logs, evaluation continued). */
  readonly monitored: readonly string[];
  /** Whether the matching rule / default action asked for logging at beginning / end. */
  readonly log: { readonly beginning: boolean; readonly end: boolean };
  readonly trace: readonly TraceStep[];
  /** Every Security Intelligence list that matched, whatever its action (for coverage). */
  readonly siMatched: readonly string[];
  /** Monitor rules that matched plus the deciding rule (for coverage); no 'Default Action'. */
  readonly rulesMatched: readonly string[];
}

/** Security Intelligence list kinds and actions, as FMC names them. */
export type SiKind = 'network' | 'url' | 'dns';
export type SiAction = 'block' | 'do-not-block' | 'monitor';

export interface PolicyRuleInfo {
  readonly name: string;
  readonly action: RuleAction;
  readonly enabled: boolean;
  /** Where the rule is declared (for lint and trace messages). */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface SiListInfo {
  readonly name: string;
  readonly kind: SiKind;
  readonly action: SiAction;
  /** Number of entries after loading (inline + feed). */
  readonly entries: number;
  /** Feed file path when the list was loaded from a feed. */
  readonly feed?: string;
}

/**
 * A loaded, validated and compiled policy. Immutable: a reload builds a new one.
 * The compiled matchers live on the implementing class, CompiledPolicy (compiled.ts);
 * only parsePolicy (compile.ts) creates Policies.
 */
export interface Policy {
  readonly name: string;
  readonly file: string;
  readonly settings: PolicySettings;
  readonly defaultAction: DefaultAction;
  readonly rules: readonly PolicyRuleInfo[];
  readonly siLists: readonly SiListInfo[];
}

/** Evaluation options. The trace is diagnostic: turn it off on the hot path. */
export interface EvaluateOptions {
  /** Record trace[] (default true). false returns trace: [] and uses the rule index. */
  readonly trace?: boolean;
}

/** One finding of `lintPolicy`. */
export interface LintFinding {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly rule?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}
