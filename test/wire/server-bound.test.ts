import t from 'tap';
import { ServerFlightReader } from '../../src/wire/index.js';
import { readFixture } from '../helpers/fixtures.js';

// A hostile server can send ServerHello and then handshake messages the reader skips
// (CertificateStatus, type 22) for ever. The reader must answer too-large once the total
// handshake it has held passes its bound, not keep every consumed byte (found by the fuzzer).
t.test('skipped handshake messages count against the server-flight bound', async (t) => {
  const flight = readFixture('serverflight', 'cn-only.tls12.bin');
  // First record = ServerHello only in this fixture (record lengths 65, ...).
  const first = flight.subarray(0, 5 + flight.readUInt16BE(3));
  t.equal(first[5], 2, 'the first record holds the ServerHello');
  const body = Buffer.alloc(16000);
  const msg = Buffer.concat([Buffer.from([22, 0, body.length >> 8, body.length & 0xff]), body]);
  const rec = Buffer.concat([Buffer.from([22, 3, 3, msg.length >> 8, msg.length & 0xff]), msg]);
  const reader = new ServerFlightReader({ maxHandshakeBytes: 65536 });
  let r = reader.push(first);
  t.equal(r.kind, 'need-more');
  let pushes = 0;
  while (r.kind === 'need-more' && pushes < 100) {
    r = reader.push(rec);
    pushes++;
  }
  t.equal(r.kind, 'too-large', 'refused instead of buffering without end');
  t.ok(pushes <= 5, `refused after ${pushes} records of 16 KB (bound 64 KiB)`);
});

t.test('a real chain within the bound still parses', async (t) => {
  const r = new ServerFlightReader().push(readFixture('serverflight', 'chain-leaf-intermediate.tls12.bin'));
  t.equal(r.kind, 'certificate');
  if (r.kind === 'certificate') t.equal(r.chain.length, 2);
});
