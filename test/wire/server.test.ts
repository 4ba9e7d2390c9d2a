// Server first flight: coalesced, fragmented, HRR, alerts, no certificate, bounds.
import t from 'tap';
import fc from 'fast-check';
import { readServerFlight, ServerFlightReader, type ServerFlightResult } from '../../src/wire/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { records, splitAt } from './build.js';

const flight = new Uint8Array(readFixture('serverflight', 'chain-leaf-intermediate.tls12.bin'));

/** All handshake bytes of the flight, record headers removed. */
function handshakeStream(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let o = 0; o + 5 <= b.length; ) {
    const len = (b[o + 3] << 8) | b[o + 4];
    if (b[o] === 22) out.push(...b.subarray(o + 5, o + 5 + len));
    o += 5 + len;
  }
  return Uint8Array.from(out);
}
const hs = handshakeStream(flight);
const expected = readServerFlight(flight);
const chainHex = (r: ServerFlightResult) => (r.kind === 'certificate' ? r.chain.map((c) => Buffer.from(c).toString('hex')) : r.kind);

function sh(o: { random?: Uint8Array; exts?: number[] } = {}): Uint8Array {
  const random = o.random ?? new Uint8Array(32).fill(5);
  const exts = o.exts ?? [];
  const body = [3, 3, ...random, 0, 0x13, 0x01, 0, ...(exts.length ? [exts.length >> 8, exts.length & 0xff, ...exts] : [])];
  return Uint8Array.from([2, 0, body.length >> 8, body.length & 0xff, ...body]);
}

t.test('the fixture yields two certificates, leaf first', async (t) => {
  t.equal(expected.kind, 'certificate');
  if (expected.kind === 'certificate') {
    t.equal(expected.chain.length, 2);
    t.equal(expected.serverHello.version, 0x0303);
    t.equal(expected.serverHello.helloRetryRequest, false);
  }
});

t.test('coalesced into one record, or fragmented over many, the chain is the same', async (t) => {
  t.same(chainHex(readServerFlight(records(hs, [], 0x0303))), chainHex(expected), 'one record');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }), fc.array(fc.nat(1500), { maxLength: 6 }), (sizes, cuts) => {
      const rd = new ServerFlightReader();
      let r: ServerFlightResult = { kind: 'need-more', buffered: 0 };
      for (const c of splitAt(records(hs, sizes, 0x0303), cuts)) r = rd.push(c);
      return JSON.stringify(chainHex(r)) === JSON.stringify(chainHex(expected));
    }),
    { numRuns: 200, seed: 0x7065656b },
  );
});

t.test('HelloRetryRequest is recognised by its special random', async (t) => {
  const hrr = Uint8Array.from(Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex'));
  const r = readServerFlight(records(sh({ random: hrr, exts: [0, 43, 0, 2, 3, 4] }), [], 0x0303));
  t.equal(r.kind, 'hello-retry-request');
  if (r.kind === 'hello-retry-request') t.equal(r.serverHello.version, 0x0304);
});

t.test('TLS 1.3 from supported_versions, ALPN read', async (t) => {
  const r = readServerFlight(records(sh({ exts: [0, 43, 0, 2, 3, 4, 0, 16, 0, 5, 0, 3, 2, 0x68, 0x32] }), [], 0x0303));
  t.equal(r.kind, 'tls13');
  if (r.kind === 'tls13') {
    t.equal(r.serverHello.alpn, 'h2');
    t.same(r.serverHello.extensions.map((e) => e.type), [43, 16]);
  }
});

t.test('no certificate: ServerHelloDone, ServerKeyExchange or CCS first', async (t) => {
  const done = Uint8Array.from([14, 0, 0, 0]);
  t.equal(readServerFlight(records(Uint8Array.from([...sh(), ...done]), [], 0x0303)).kind, 'no-certificate');
  const ccs = Uint8Array.from([20, 3, 3, 0, 1, 1]);
  t.equal(readServerFlight(Buffer.concat([records(sh(), [], 0x0303), ccs])).kind, 'no-certificate');
});

t.test('alerts, not-TLS and malformed answers', async (t) => {
  const a = readServerFlight(Uint8Array.from([21, 3, 3, 0, 2, 2, 40]));
  t.same(a, { kind: 'alert', level: 2, description: 40 });
  const h = readServerFlight(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
  t.equal(h.kind, 'not-tls');
  const c = (r: ServerFlightResult) => ('error' in r ? r.error.code : r.kind);
  t.equal(c(readServerFlight(records(Uint8Array.from([11, 0, 0, 3, 0, 0, 0]), [], 0x0303))), 'wire/not-server-hello');
  t.equal(c(readServerFlight(records(Uint8Array.from([...sh(), 11, 0, 0, 6, 0, 0, 3, 0, 0, 9]), [], 0x0303))), 'wire/bad-certificate');
  t.equal(c(readServerFlight(records(Uint8Array.from([...sh(), 4, 0, 0, 0]), [], 0x0303))), 'wire/unexpected-message');
  t.equal(c(readServerFlight(records(Uint8Array.from([2, 0, 0, 10, 3, 3, 1, 2, 3, 4, 5, 6, 7, 8]), [], 0x0303))), 'wire/length-overflow');
  const rd = new ServerFlightReader();
  rd.push(flight.subarray(0, 100));
  t.equal(c(rd.end()), 'wire/truncated');
});

t.test('bounds: a huge Certificate announces itself too-large', async (t) => {
  const big = Uint8Array.from([...sh(), 11, 0x02, 0x00, 0x00]);
  t.equal(readServerFlight(records(big, [], 0x0303)).kind, 'too-large', 'over the 64 KiB default');
  t.equal(readServerFlight(flight, { maxHandshakeBytes: 512 }).kind, 'too-large');
});

t.test('bounds: CertificateStatus messages before any Certificate count against the bound', async (t) => {
  // Each status message is consumed and skipped, but the reader keeps what it consumed: a
  // server repeating them must hit too-large, not buffer up to maxRecords records.
  const status = [22, 0x00, 0x03, 0xe8, ...new Array(1000).fill(1)];
  const r = new ServerFlightReader({ maxHandshakeBytes: 2048 });
  let last: ServerFlightResult = r.push(records(sh(), [], 0x0303));
  t.equal(last.kind, 'need-more');
  for (let i = 0; i < 10 && last.kind === 'need-more'; i++) last = r.push(records(Uint8Array.from(status), [], 0x0303));
  t.equal(last.kind, 'too-large');
  // One status message after the ServerHello is still fine, and the chain that follows is read.
  const afterHello = hs.subarray(4 + ((hs[1] << 16) | (hs[2] << 8) | hs[3]));
  const ok = readServerFlight(records(Uint8Array.from([...sh(), ...status, ...afterHello]), [], 0x0303));
  t.same(chainHex(ok), chainHex(expected));
});
