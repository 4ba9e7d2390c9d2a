// Public face of the wire layer (sans-IO TLS bytes). Import only from here.
export { ClientHelloReader, readClientHello, DEFAULT_MAX_HELLO_BYTES, DEFAULT_MAX_RECORDS } from './client.js';
export { ServerFlightReader, readServerFlight, DEFAULT_MAX_FLIGHT_BYTES } from './server.js';
export { ja3, ja4, versionName } from './fingerprint.js';
export { isGrease } from './hello.js';
export { WIRE_ERROR_CODES, type WireErrorCode } from './errors.js';
export type * from './types.js';
