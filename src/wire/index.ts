// Public face of the wire layer (sans-IO TLS bytes). Import only from here.
//
// Why our own reader rather than read-tls-client-hello (HTTP Toolkit, used as a test oracle):
// that library reads from a socket stream and parses the first TLS record only, so it cannot
// be fed bytes by a sans-IO core, and it misreads hellos split across records (post-quantum
// Chromium hellos, DPI-evasion fragmenting). This reader takes bytes as they arrive, reassembles
// across reads and records, is bounded (WireLimits), returns typed results with stable
// `wire/*` codes instead of throwing, parses the common one-chunk hello in place, and decodes
// lists (and JA3/JA4) only when asked.
//
// ClientHelloReader.push(chunk) -> HelloReadResult (need-more until terminal; then the same
// answer again), .end() when the stream closes (-> wire/truncated). readClientHello(bytes) is
// the one-shot form. A parsed hello keeps a view of the input bytes: do not mutate them.
// Read leniently, judge strictly: valid-but-odd hellos (an SSLv2-format hello offering TLS, a
// host_name that is not a DNS name) are decoded with `anomalies` (WIRE_ANOMALY_CODES) and the
// bytes as sent (`sniRaw`); only bytes that cannot be read one way are refused.
// ServerFlightReader / readServerFlight: TLS <= 1.2 certificate chain (DER views, leaf first),
// 'tls13' at a TLS 1.3 ServerHello, 'hello-retry-request', 'alert', 'no-certificate'.
export { ClientHelloReader, readClientHello, DEFAULT_MAX_HELLO_BYTES, DEFAULT_MAX_RECORDS, HINT_WINDOW } from './client.js';
export { ServerFlightReader, readServerFlight, DEFAULT_MAX_FLIGHT_BYTES } from './server.js';
export { ja3, ja4 } from './fingerprint.js';
export { checkSniName, sniNameAnomalies } from './sni.js';
export { isGrease, versionName, tlsVersionName, highestVersion, lowestVersion, offeredVersions, type TlsVersionName } from './versions.js';
export { WIRE_ERROR_CODES, WIRE_ANOMALY_CODES, type WireErrorCode, type WireAnomalyCode } from './errors.js';
export type * from './types.js';
