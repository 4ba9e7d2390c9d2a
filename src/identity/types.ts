// Contract of the identity layer. Owned by src/identity/; consumers import from
// src/identity/index.ts only.

export interface NameAttribute {
  /** Short name when known (CN, OU, O, L, ST, C, emailAddress, ...), else the dotted OID. */
  readonly type: string;
  readonly oid: string;
  readonly value: string;
  /** ASN.1 string type as read: utf8, printable, bmp, teletex, ia5, universal, ... */
  readonly stringType: string;
}

export type SanType = 'dns' | 'ip' | 'email' | 'uri' | 'other';

export interface SanEntry {
  readonly type: SanType;
  readonly value: string;
}

export interface CertificateFacts {
  readonly der: Uint8Array;
  /** Subject attributes in DER order (RDN sequence order). */
  readonly subject: readonly NameAttribute[];
  /** RFC 2253 rendering, most-specific first, as `openssl -nameopt RFC2253` prints it. */
  readonly subjectDn: string;
  readonly issuer: readonly NameAttribute[];
  readonly issuerDn: string;
  /** First CN in DER order, or null. */
  readonly cn: string | null;
  readonly cns: readonly string[];
  readonly ous: readonly string[];
  readonly sans: readonly SanEntry[];
  /** Upper-case hex, no separators. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyType: string;
  readonly keySize: number | null;
  readonly signatureAlgorithm: string;
  /** Lower-case hex or null. */
  readonly ski: string | null;
  readonly aki: string | null;
  /** Upper-case hex with colons, as openssl prints it. */
  readonly sha256: string;
  /** Issuer equals subject and the signature verifies with its own key. */
  readonly selfSigned: boolean;
  /** basicConstraints cA=TRUE: may issue certificates (checked when building chains). */
  readonly isCa: boolean;
}

/** Trusted roots, indexed for chain building by key identifier (never by name). */
export interface TrustStore {
  readonly certificates: readonly CertificateFacts[];
  /** Lower-case hex SKI -> certificates with that key identifier. */
  readonly bySki: ReadonlyMap<string, readonly CertificateFacts[]>;
  /** SHA-256 fingerprints (openssl format) of every trusted certificate. */
  readonly fingerprints: ReadonlySet<string>;
  /** Where it was loaded from, for messages. */
  readonly source: string;
  /** Parsed public keys of trusted certificates by SHA-256, filled on first use (parsing a key
   * costs ~270 µs; a store lives as long as the proxy). Internal to the identity layer. */
  readonly keyCache: Map<string, unknown>;
}

export interface CertificateStatusResult {
  readonly status: CertificateStatus;
  /** Depth of the certificate the status is about: 0 is the leaf. */
  readonly depth: number;
  /** One sentence: what was found. */
  readonly detail: string;
  /** The operator log line in seed 004's shape, or null when valid. */
  readonly logLine: string | null;
}

export type IdentitySource = 'sni' | 'cert-san' | 'cert-cn' | 'cert-ou' | 'passive-cn' | 'ip';

export type TsidProfile = 'snort3-legacy' | 'snort3' | 'technote';

export interface TsidSetting {
  readonly enabled: boolean;
  readonly profile: TsidProfile;
}

export interface IdentityInput {
  readonly sni: string | null;
  /** Leaf certificate obtained by the TSID probe (TSID on). */
  readonly certificate?: CertificateFacts;
  /** Leaf certificate read passively from a TLS <= 1.2 server flight (TSID off). */
  readonly passiveCertificate?: CertificateFacts;
  readonly tsid: TsidSetting;
  readonly dstIp: string;
}

export interface IdentityCandidate {
  readonly name: string;
  readonly source: IdentitySource;
}

export interface ServerIdentity {
  /** The name policy sees as the URL host; the destination IP when nothing better exists. */
  readonly name: string;
  readonly source: IdentitySource;
  /** Set when TSID judged the client's SNI spoofed (no certificate name matches it). */
  readonly spoofedSni?: string;
  /** Every name considered, in the order the profile ranks them. */
  readonly candidates: readonly IdentityCandidate[];
}

export type CertificateStatus =
  | 'valid'
  | 'self-signed'
  | 'invalid-issuer'
  | 'invalid-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'server-mismatch';
