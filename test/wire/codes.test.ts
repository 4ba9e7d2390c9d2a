// Every documented wire/* code is produced by some input, and every input's code is
// documented: a code nothing emits (or an emitted code missing from the list) fails here.
import t from 'tap';
import { ClientHelloReader, readClientHello, readServerFlight, WIRE_ANOMALY_CODES, WIRE_ERROR_CODES, type HelloReadResult, type ServerFlightResult } from '../../src/wire/index.js';
import { alpnExt, ext, helloMessage, records, sniExt } from './build.js';

const u24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const codeOf = (r: HelloReadResult | ServerFlightResult): string => ('error' in r ? r.error.code : `(${r.kind})`);
const bytes = (...xs: (number | Uint8Array | number[])[]) => Uint8Array.from(xs.flatMap((x) => (typeof x === 'number' ? [x] : [...x])));

const good = helloMessage({ extensions: [sniExt('a.example'), alpnExt(['h2'])] });
const goodBody = good.subarray(4);
const serverHello = bytes(2, u24(38), 3, 3, new Array(32).fill(5), 0, 0x13, 0x01, 0);

const client: [string, () => HelloReadResult][] = [
  ['wire/truncated', () => {
    const rd = new ClientHelloReader();
    rd.push(records(good).subarray(0, 20));
    return rd.end();
  }],
  ['wire/length-overflow', () => readClientHello(records(bytes(1, u24(10), new Array(10).fill(0))))],
  ['wire/length-mismatch', () => readClientHello(records(bytes(1, u24(goodBody.length + 2), goodBody, 0, 0)))],
  ['wire/bad-extension', () => readClientHello(records(helloMessage({ extensions: [ext(16, [0, 5, 0])] })))],
  ['wire/duplicate-extension', () => readClientHello(records(helloMessage({ extensions: [sniExt('a.example'), sniExt('b.example')] })))],
  ['wire/bad-sni', () => readClientHello(records(helloMessage({ extensions: [ext(0, [0, 12, 0, 0, 3, 0x61, 0x2e, 0x62, 0, 0, 3, 0x63, 0x2e, 0x64])] })))],
  ['wire/bad-version', () => readClientHello(records(helloMessage({ version: 0x0202 })))],
  ['wire/bad-record', () => readClientHello(records(good, [], 0x0305))],
  ['wire/not-handshake', () => readClientHello(bytes(23, 3, 3, 0, 1, 0))],
  ['wire/not-client-hello', () => readClientHello(records(bytes(2, u24(1), 0)))],
  ['wire/too-large', () => readClientHello(records(good), { maxHandshakeBytes: 40 })],
  ['wire/not-tls', () => readClientHello(Buffer.from('GET / HTTP/1.1\r\n'))],
  ['wire/sslv2', () => readClientHello(bytes(0x80, 0x2e, 0x01, 0x00, 0x02, 0, 0x15, 0, 0, 0, 0x10))],
];
const server: [string, () => ServerFlightResult][] = [
  ['wire/not-server-hello', () => readServerFlight(records(bytes(11, u24(3), 0, 0, 0), [], 0x0303))],
  ['wire/unexpected-message', () => readServerFlight(bytes(records(serverHello, [], 0x0303), 23, 3, 3, 0, 1, 0))],
  ['wire/bad-certificate', () => readServerFlight(records(bytes(serverHello, 11, u24(3), 0, 0, 5), [], 0x0303))],
];

t.test('each input yields the code it is named for', async (t) => {
  for (const [want, make] of [...client, ...server]) t.equal(codeOf(make()), want, want);
});

t.test('the documented codes are exactly the codes the readers emit', async (t) => {
  const emitted = new Set([...client, ...server].map(([, make]) => codeOf(make())));
  t.same([...emitted].sort(), [...WIRE_ERROR_CODES].sort());
});

// Anomalies: hellos decoded, not refused. Same promise: each documented code is produced, and
// nothing undocumented is.
const anomalous: [string, () => HelloReadResult][] = [
  ['wire/sslv2-compat', () => readClientHello(bytes(0x80, 28, 1, 3, 3, 0, 3, 0, 0, 0, 16, 0, 0, 0x2f, new Array(16).fill(9)))],
  ['wire/sni-no-host-name', () => readClientHello(records(helloMessage({ extensions: [ext(0, [0, 4, 1, 0, 1, 0x61])] })))],
  ['wire/sni-not-ascii', () => readClientHello(records(helloMessage({ extensions: [sniExt('\u00e9.example')] })))],
  ['wire/sni-too-long', () => readClientHello(records(helloMessage({ extensions: [sniExt(`${'a'.repeat(60)}.`.repeat(5))] })))],
  ['wire/sni-bad-syntax', () => readClientHello(records(helloMessage({ extensions: [sniExt('a..b')] })))],
];
const anomalyCodes = (r: HelloReadResult): string[] => (r.kind === 'hello' ? r.hello.anomalies.map((a) => a.code) : [`(${r.kind})`]);

t.test('each odd hello is decoded with the anomaly it is named for, and only that one', async (t) => {
  for (const [want, make] of anomalous) t.same(anomalyCodes(make()), [want], want);
});

t.test('the documented anomaly codes are exactly the ones the reader emits', async (t) => {
  const emitted = new Set(anomalous.flatMap(([, make]) => anomalyCodes(make())));
  t.same([...emitted].sort(), [...WIRE_ANOMALY_CODES].sort());
  t.same(WIRE_ANOMALY_CODES.filter((c) => (WIRE_ERROR_CODES as readonly string[]).includes(c)), [], 'no code is both an error and an anomaly');
});
