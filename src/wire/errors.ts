// Stable error codes of the wire layer. A code never changes meaning once shipped: the proxy,
// events, regression suites and log consumers match on it. Every malformed/not-tls/too-large
// result carries exactly one of these.
//
//   wire/truncated           the stream ended (reader.end()) before the message was complete
//   wire/length-overflow     a length field claims more bytes than its container holds
//   wire/length-mismatch     an inner length does not fill its container exactly
//   wire/bad-extension       an extension's body does not follow its RFC layout
//   wire/duplicate-extension the same extension type appears twice (RFC 8446 §4.2)
//   wire/bad-sni             server_name is not a syntactically valid DNS host name
//   wire/bad-version         client_version / server_version is not 3.x
//   wire/bad-record          a TLS record header is invalid (version, zero or > 2^14 length)
//   wire/not-handshake       a non-handshake record came where the hello was expected
//   wire/not-client-hello    the first handshake message is not a ClientHello
//   wire/not-server-hello    the server's first handshake message is not a ServerHello
//   wire/unexpected-message  the server sent a handshake message out of order
//   wire/bad-certificate     the Certificate message's chain framing is invalid
//   wire/too-large           the bound (WireLimits) was reached before the message ended
//   wire/not-tls             the bytes are not TLS at all (see the hint)
//   wire/sslv2               an SSLv2-format ClientHello (no extensions, so no SNI)
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

export function wireError(code: WireErrorCode, message: string): PeekwallError {
  return peekwallError(code, message);
}
