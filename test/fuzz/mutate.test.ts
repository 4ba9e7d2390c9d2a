// The mutation engine itself: reproducible, and its meaning-preserving mutations really
// preserve meaning — checked with an independent parser (HTTP Toolkit's read-tls-client-hello),
// so the fuzzer's metamorphic expectations rest on something other than its own model.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { readTlsClientHello } from 'read-tls-client-hello';
import { loadSeeds } from './fuzz.js';
import { chunksOf, mutate, randomSplits } from './mutate.js';
import { Prng } from './prng.js';
import { fromFlight, lengthFields, splitHandshakes, splitRecords } from './tlsmodel.js';

const seeds = loadSeeds();

t.test('the PRNG is seeded and spreads', (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 1000 }, () => a.int(10));
  t.same(xs, Array.from({ length: 1000 }, () => b.int(10)));
  const counts = new Array(10).fill(0);
  for (const x of xs) counts[x]++;
  t.ok(counts.every((c) => c > 60 && c < 140), `roughly uniform: ${counts.join(',')}`);
  t.end();
});

t.test('every fixture round-trips through the fuzzer model, with its length fields found', (t) => {
  t.ok(seeds.length >= 20, `${seeds.length} seeds`);
  for (const s of seeds) {
    t.same(Buffer.from(fromFlight(s.flight)), Buffer.from(s.bytes), `${s.name} re-frames to the same bytes`);
    const fields = lengthFields(s.flight.hs);
    const hsHeader = fields.find((f) => f.name.startsWith('hs') && f.name.endsWith('.length') && f.offset === 1);
    t.ok(hsHeader && hsHeader.value === s.flight.hs.length - 4 - (splitHandshakes(s.flight.hs).length > 1 ? s.flight.hs.length - 4 - hsHeader.value : 0), `${s.name} handshake length field`);
    t.ok(fields.some((f) => f.name.endsWith('extensions.length')), `${s.name} has an extensions length field`);
  }
  t.end();
});

t.test('mutate is a pure function of (seed, prng state)', (t) => {
  for (let i = 0; i < 200; i++) {
    const s = seeds[i % seeds.length];
    const a = mutate(s, new Prng(i), seeds);
    const b = mutate(s, new Prng(i), seeds);
    t.same(Buffer.from(a.bytes), Buffer.from(b.bytes));
    t.same(a.ops, b.ops);
  }
  t.end();
});

t.test('split points cover the input exactly', (t) => {
  const p = new Prng(3);
  for (let n = 0; n < 300; n++) {
    const ends = randomSplits(p, n);
    const chunks = chunksOf(new Uint8Array(n), ends);
    t.equal(chunks.reduce((a, c) => a + c.length, 0), n);
  }
  t.end();
});

t.test('GREASE insertion and re-framing keep a hello an independent parser accepts', async (t) => {
  let checked = 0;
  for (let i = 0; i < 3000 && checked < 40; i++) {
    const s = seeds[i % seeds.length];
    if (s.target !== 'clienthello') continue;
    const m = mutate(s, new Prng(1000 + i), seeds);
    if (m.expect.kind !== 'same-plus-grease') continue;
    const recs = splitRecords(m.bytes).records;
    const greaseTypes = m.ops.filter((o) => o.startsWith('insert-grease')).map((o) => parseInt(o.slice(o.indexOf('0x') + 2), 16));
    // The reference parser reads one record only: join the handshake bytes into one record.
    const hs = Buffer.concat(recs.filter((r) => r.type === 22).map((r) => Buffer.from(r.payload)));
    const one = Buffer.concat([Buffer.from([22, 3, 1, hs.length >> 8, hs.length & 0xff]), hs]);
    const stream = new PassThrough();
    stream.end(one);
    const parsed = await readTlsClientHello(stream);
    const ids = parsed.extensions.map((e) => e.id);
    for (const g of greaseTypes) t.ok(ids.includes(g), `${s.name}: GREASE 0x${g.toString(16)} seen by read-tls-client-hello (${m.ops.join(' ')})`);
    checked++;
  }
  t.ok(checked >= 20, `${checked} GREASE mutants checked`);
});
