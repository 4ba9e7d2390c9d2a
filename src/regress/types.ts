// Policy regression testing (`peekwall test`): the nouns. A suite names a policy and a list of
// cases; a case is one flow (what the firewall sees) and the verdict fields it must produce.
// Everything here is plain data so results can be printed, serialised (JSON/TAP/JUnit) and
// compared without touching the policy engine again.
import type { CertificateFacts, IdentitySource, TsidProfile } from '../identity/index.js';
import type { TlsVersionName } from '../wire/index.js';

/** TLS versions a case's client offers, spelled as the events show them. */
export type { TlsVersionName };

/** Where a case's server certificate comes from. */
export type CaseCertificate =
  | { readonly kind: 'file'; /** As written in the suite. */ readonly ref: string }
  | { readonly kind: 'inline'; readonly pem: string };

export interface CaseFlow {
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  /** null: the client sends no SNI (the Smart Licensing case). */
  readonly sni: string | null;
  readonly alpn: readonly string[];
  /** Offered versions; the lab server negotiates the highest. */
  readonly versions: readonly TlsVersionName[];
  readonly cert?: CaseCertificate;
  /** Case-level TSID override (on/off); absent: the policy's setting (tsidFor). */
  readonly tsid?: boolean;
  readonly profile?: TsidProfile;
  /**
   * A recorded identity (suites generated from events: the event shows the name but not the
   * certificate). When present it is used as is instead of being derived from sni/cert.
   */
  readonly identity?: { readonly name: string; readonly source: IdentitySource };
}

/** Every field a case may state. Only stated fields are checked. */
export interface CaseExpect {
  readonly action?: string;
  readonly rule?: string;
  readonly url?: string;
  readonly identitySource?: IdentitySource;
  /** null: no Security Intelligence list may have decided or monitored. */
  readonly siCategory?: string | null;
  readonly urlCategory?: string;
  /** Label ('Trusted') or level ('5'). */
  readonly urlReputation?: string;
  readonly reason?: string;
}

export const EXPECT_FIELDS = [
  'action',
  'rule',
  'url',
  'identitySource',
  'siCategory',
  'urlCategory',
  'urlReputation',
  'reason',
] as const satisfies readonly (keyof CaseExpect)[];
export type ExpectField = (typeof EXPECT_FIELDS)[number];

export interface Located {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface SuiteCase {
  readonly name: string;
  readonly at: Located;
  /** This case's own policy (relative to the suite), e.g. a remediation; default the suite's. */
  readonly policy?: string;
  readonly flow: CaseFlow;
  readonly expect: CaseExpect;
}

/** A parsed suite file, before its policy and certificates are loaded. */
export interface SuiteSpec {
  readonly file: string;
  /** As written (relative to the suite's directory). */
  readonly policy: string;
  readonly policyAt: Located;
  /** Overrides merged into the policy file's `settings:` before it is compiled. */
  readonly settings: Readonly<Record<string, unknown>> | null;
  readonly settingsAt: Located | null;
  readonly cases: readonly SuiteCase[];
}

/** What one case produced, in the same vocabulary as CaseExpect (plus context for humans). */
export interface ActualVerdict {
  readonly action: string;
  readonly rule: string;
  readonly url: string | null;
  readonly identity: string | null;
  readonly identitySource: IdentitySource | null;
  readonly siCategory: string | null;
  readonly urlCategory: string | null;
  readonly urlReputation: string | null;
  readonly reason: string;
}

export interface FieldDiff {
  readonly field: ExpectField;
  readonly expected: string | null;
  readonly actual: string | null;
}

export type CaseStatus =
  /** Every stated field matched (and, with --live, the live verdict equals the offline one). */
  | 'pass'
  /** The offline verdict differs from what the case expects. */
  | 'fail'
  /** --live: the proxy's verdict differs from the offline one (the simulator disagrees with itself). */
  | 'live-mismatch'
  /** --live: the live run could not produce a verdict (no event, handshake error, timeout). */
  | 'live-error';

export interface LiveOutcome {
  readonly actual: ActualVerdict | null;
  /** Offline vs live, every compared field that differs. */
  readonly diffs: readonly FieldDiff[];
  readonly error?: string;
  /** Why this case was not run live (its offline result stands alone). */
  readonly skipped?: string;
}

export interface CaseResult {
  readonly suite: string;
  readonly name: string;
  readonly at: Located;
  readonly status: CaseStatus;
  readonly actual: ActualVerdict;
  /** Expected vs offline actual (empty when the case passed its expectations). */
  readonly diffs: readonly FieldDiff[];
  readonly live?: LiveOutcome;
  /** Rules and SI lists this case reached (coverage). */
  readonly rulesMatched: readonly string[];
  readonly siMatched: readonly string[];
  /** Trace of the offline evaluation, shown for failures. */
  readonly trace: readonly string[];
  /** Milliseconds the case took (offline evaluation plus its live run); JUnit's `time`. */
  readonly timeMs?: number;
}

export interface PolicyCoverage {
  readonly policy: string;
  readonly rules: { readonly total: number; readonly reached: readonly string[]; readonly unreached: readonly string[] };
  readonly siLists: { readonly total: number; readonly hit: readonly string[]; readonly unhit: readonly string[] };
  /** Disabled rules are listed but not counted: no flow can reach them. */
  readonly disabledRules: readonly string[];
  /** (reached rules + hit lists) / (enabled rules + lists) * 100; 100 when there is nothing to reach. */
  readonly percent: number;
}

export interface RunReport {
  readonly suites: readonly { readonly file: string; readonly policy: string; readonly cases: readonly CaseResult[] }[];
  readonly counts: {
    readonly total: number;
    readonly passed: number;
    readonly failed: number;
    readonly liveMismatch: number;
    readonly liveError: number;
    /** Cases --live could not reproduce (counted as passed or failed by their offline result). */
    readonly liveSkipped: number;
  };
  readonly coverage: readonly PolicyCoverage[];
  readonly live: boolean;
  /** When the run started (ISO 8601, UTC); JUnit's `timestamp`. */
  readonly startedAt?: string;
}

/** Loaded flow: the certificate read and parsed, ready for the pure runner. */
export interface ResolvedCase extends SuiteCase {
  /** The compiled policy this case runs under (the suite's, or its own), settings applied. */
  readonly compiled: import('../policy/index.js').Policy;
  /** Absolute path of that policy file (coverage is per policy file). */
  readonly policyPath: string;
  readonly certificate: CertificateFacts | null;
  /** Absolute path of the certificate file (live mode needs the key beside it). */
  readonly certPath: string | null;
}
