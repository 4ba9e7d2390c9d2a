// Contract of the wire layer (sans-IO). Owned by src/wire/; consumers import from
// src/wire/index.ts only. Numbers are the on-the-wire values (e.g. 0x0303 for TLS 1.2).
import type { PeekwallError } from '../util/errors.js';
import type { WireAnomalyCode } from './errors.js';

export interface ExtensionInfo {
  readonly type: number;
  /** Length of extension_data in bytes. */
  readonly length: number;
}

/** A valid-but-odd fact of a decoded hello (the codes are listed in errors.ts). */
export interface HelloAnomaly {
  readonly code: WireAnomalyCode;
  readonly detail: string;
}

export interface ClientHello {
  /**
   * legacy_record_version of the first record carrying the hello (0x0300 is accepted);
   * 0x0002 for an SSLv2-format hello (wire/sslv2-compat).
   */
  readonly recordVersion: number;
  /** legacy_version inside the handshake (client_version). */
  readonly clientVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: readonly number[];
  /** Every extension in wire order, unknown ones included. */
  readonly extensions: readonly ExtensionInfo[];
  /**
   * server_name host_name, validated and lower-cased, trailing dot removed; null if absent
   * or not a usable DNS name (then `anomalies` says why and `sniRaw` holds what was sent).
   */
  readonly sni: string | null;
  /** The SNI carried a trailing dot on the wire. */
  readonly sniTrailingDot: boolean;
  /** The host_name bytes exactly as sent (case, trailing dot, any byte); null without one. */
  readonly sniRaw: Uint8Array | null;
  /** Valid-but-odd facts the reader decoded past instead of refusing; empty for most hellos. */
  readonly anomalies: readonly HelloAnomaly[];
  readonly alpn: readonly string[];
  readonly supportedVersions: readonly number[];
  readonly supportedGroups: readonly number[];
  readonly signatureAlgorithms: readonly number[];
  /** signature_algorithms_cert (extension 50); tshark reports it in the same field as 13. */
  readonly signatureAlgorithmsCert: readonly number[];
  readonly keyShareGroups: readonly number[];
  readonly pskModes: readonly number[];
  /** ec_point_formats (extension 11) list; JA3's last field. */
  readonly ecPointFormats: readonly number[];
  /** encrypted_client_hello (0xfe0d) present: `sni` is then the OUTER public name, a decoy. */
  readonly ech: boolean;
  /** Length of the padding extension's data, or null when absent. */
  readonly paddingLength: number | null;
  /** Lengths of the TLS records that carried the hello, in order (SSLv2 format: its one
   *  message's length, from the 2-byte header). */
  readonly recordLengths: readonly number[];
  /** Length of the ClientHello handshake body (from its 3-byte header; SSLv2 format: the
   *  message after its msg_type byte). */
  readonly handshakeLength: number;
  /** Bytes of the stream consumed up to the end of the record holding the hello's last byte. */
  readonly totalLength: number;
}

export type NotTlsHint = 'http' | 'http-connect' | 'ssh' | 'smtp' | 'empty' | 'unknown';

/** What a ClientHelloReader answers after each push. */
export type HelloReadResult =
  | { readonly kind: 'need-more'; readonly buffered: number }
  | { readonly kind: 'hello'; readonly hello: ClientHello }
  | { readonly kind: 'not-tls'; readonly hint: NotTlsHint; readonly error: PeekwallError }
  /** SSL 2.0 itself (version 0x00xx). An SSLv2-format hello offering TLS is a 'hello'. */
  | { readonly kind: 'sslv2'; readonly version: number; readonly error: PeekwallError }
  | { readonly kind: 'too-large'; readonly limit: number; readonly error: PeekwallError }
  | { readonly kind: 'malformed'; readonly error: PeekwallError };

export interface ServerHelloInfo {
  /** legacy_version field. */
  readonly legacyVersion: number;
  /** The negotiated version: supported_versions when present, else legacyVersion. */
  readonly version: number;
  readonly cipherSuite: number;
  readonly sessionId: Uint8Array;
  readonly extensions: readonly ExtensionInfo[];
  readonly alpn: string | null;
  /** The "ServerHello" is really a HelloRetryRequest (RFC 8446 special random). */
  readonly helloRetryRequest: boolean;
}

/** What a ServerFlightReader answers after each push (server → client bytes). */
export type ServerFlightResult =
  | { readonly kind: 'need-more'; readonly buffered: number }
  /** TLS <= 1.2: the chain in clear, leaf first, DER. */
  | {
      readonly kind: 'certificate';
      readonly serverHello: ServerHelloInfo;
      readonly chain: readonly Uint8Array[];
    }
  /** TLS 1.3 negotiated: the certificate is encrypted, no name can be read passively. */
  | { readonly kind: 'tls13'; readonly serverHello: ServerHelloInfo }
  | { readonly kind: 'hello-retry-request'; readonly serverHello: ServerHelloInfo }
  /** TLS <= 1.2 without a Certificate message (PSK/anon/resumption): ServerHelloDone or CCS came first. */
  | { readonly kind: 'no-certificate'; readonly serverHello: ServerHelloInfo }
  | { readonly kind: 'alert'; readonly level: number; readonly description: number }
  | { readonly kind: 'not-tls'; readonly error: PeekwallError }
  | { readonly kind: 'too-large'; readonly limit: number; readonly error: PeekwallError }
  | { readonly kind: 'malformed'; readonly error: PeekwallError };

export interface WireLimits {
  /** Upper bound on buffered handshake bytes before answering too-large (default 16384
   *  for a ClientHello, 65536 for a server flight: certificate chains are big). */
  readonly maxHandshakeBytes?: number;
  /** Upper bound on the number of TLS records the message may span (default 1024). Bounds
   *  memory when a client fragments into tiny records: 5 bytes of header per record. */
  readonly maxRecords?: number;
}
