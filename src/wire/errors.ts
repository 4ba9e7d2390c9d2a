// Stable error codes of the wire layer. A code never changes meaning once shipped: the proxy,
// events, regression suites and log consumers match on it. Every malformed/not-tls/too-large
// result carries exactly one of these.
//
//   wire/truncated           the stream ended (reader.end()) before the message was complete
//   wire/length-overflow     a length field claims more bytes than its container holds
//   wire/length-mismatch     an inner length does not fill its container exactly
//   wire/bad-extension       an extension's body does not follow its RFC layout
//   wire/duplicate-extension the same extension type appears twice (RFC 8446 §4.2)
//   wire/bad-sni             server_name cannot be read one way only: its list framing is broken,
//                            the list or a host_name is empty, or it carries two host_name entries
//                            (SNI smuggling). A well-framed host_name that is not a usable DNS
//                            name is no error: it is decoded and flagged (anomaly codes below).
//   wire/bad-version         client_version / server_version is not 3.x
//   wire/bad-record          a TLS record header is invalid (version, zero or > 2^14 length)
//   wire/not-handshake       a non-handshake record came where the hello was expected
//   wire/not-client-hello    the first handshake message is not a ClientHello
//   wire/not-server-hello    the server's first handshake message is not a ServerHello
//   wire/unexpected-message  the server sent a handshake message out of order
//   wire/bad-certificate     the Certificate message's chain framing is invalid
//   wire/too-large           the bound (WireLimits) was reached before the message ended
//   wire/not-tls             the bytes are not TLS at all (see the hint)
//   wire/sslv2               an SSL 2.0 ClientHello (version 0x00xx): not TLS, no server speaks it
//                            (RFC 6176). One offering TLS is decoded: wire/sslv2-compat below.
//
// Anomaly codes: facts of a hello that was DECODED, not refused ("read leniently, judge
// strictly"): ClientHello.anomalies lists them and the proxy decides by settings.oddHellos. The
// same stability promise holds. Each SNI anomaly leaves the normalized `sni` null (see hello.ts).
//
//   wire/sslv2-compat        an SSLv2-format CLIENT-HELLO offering SSL 3.0/TLS (RFC 5246 E.2),
//                            read as a TLS hello without extensions, so without SNI
//   wire/sni-no-host-name    server_name carries entries, none of them a host_name
//   wire/sni-not-ascii       the host_name holds a byte >= 0x80 (an IDN travels as its xn-- A-label)
//   wire/sni-too-long        the host_name is over 253 bytes (its trailing dot not counted)
//   wire/sni-bad-syntax      an ASCII host_name that is not a DNS name: an empty label, a label
//                            over 63 bytes, a byte other than a letter, digit, '-', '_' or '.'
import { peekwallError, type PeekwallError } from '../util/errors.js';

export const WIRE_ERROR_CODES = [
  'wire/truncated',
  'wire/length-overflow',
  'wire/length-mismatch',
  'wire/bad-extension',
  'wire/duplicate-extension',
  'wire/bad-sni',
  'wire/bad-version',
  'wire/bad-record',
  'wire/not-handshake',
  'wire/not-client-hello',
  'wire/not-server-hello',
  'wire/unexpected-message',
  'wire/bad-certificate',
  'wire/too-large',
  'wire/not-tls',
  'wire/sslv2',
] as const;

export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

export const WIRE_ANOMALY_CODES = [
  'wire/sslv2-compat',
  'wire/sni-no-host-name',
  'wire/sni-not-ascii',
  'wire/sni-too-long',
  'wire/sni-bad-syntax',
] as const;

export type WireAnomalyCode = (typeof WIRE_ANOMALY_CODES)[number];

export function wireError(code: WireErrorCode, message: string): PeekwallError {
  return peekwallError(code, message);
}
