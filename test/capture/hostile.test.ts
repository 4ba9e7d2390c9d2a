// Hostile and damaged captures never crash a replay: every committed capture and a hand-built
// one, with bytes flipped, records cut and lengths forged, pushed in random chunk sizes. Each
// run ends with results and named problems, never an exception. Seeded: a failure names its
// seed and iteration.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { overrideTsid } from '../../src/policy/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { Prng } from '../fuzz/prng.js';
import { policyFrom } from '../proxy/lib/net.js';
import { flowSegments, pcapOf } from './build.js';
import { capturesDir, peekAll, readCapture, replayAll } from './lib.js';

const off = policyFrom(`
name: hostile
settings:
  tsid: { enabled: false }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);
const on = overrideTsid(off, { enabled: true });

const seeds: Buffer[] = readdirSync(capturesDir)
  .filter((f) => /\.pcap(ng)?$/.test(f))
  .map((f) => readCapture(f));
seeds.push(
  pcapOf(
    flowSegments({
      clientBytes: readFixture('clienthello', 'openssl-noservername.bin'),
      serverBytes: readFixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin'),
      mss: 60,
    }),
  ),
);

function mutate(rng: Prng, src: Buffer): Buffer {
  const b = Buffer.from(src);
  const kind = rng.int(4);
  if (kind === 0) {
    for (let i = rng.range(1, 20); i > 0; i--) b[rng.int(b.length)] = rng.int(256); // bytes flipped
    return b;
  }
  if (kind === 1) return b.subarray(0, rng.int(b.length)); // cut anywhere
  if (kind === 2) {
    // A length forged somewhere past the file header (a record or block length, an IP length).
    const at = 24 + rng.int(Math.max(1, b.length - 28));
    b.writeUInt32LE(rng.next(), at - (at % 4));
    return b;
  }
  // A stretch duplicated (retransmissions, repeated blocks) into the middle.
  const from = rng.int(b.length);
  const len = rng.int(400);
  const at = rng.int(b.length);
  return Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)]);
}

t.test('mutated captures: results or named problems, never an exception', async (t) => {
  const seed = 0x17c4;
  const rng = new Prng(seed);
  let problems = 0;
  for (let i = 0; i < 400; i++) {
    const input = mutate(rng, seeds[rng.int(seeds.length)]);
    const chunk = rng.range(1, 4096);
    try {
      const r = replayAll(input, { policy: rng.int(2) ? on : off, trace: true }, chunk);
      for (const f of r.flows) if (!f.evaluated && !/^capture\//.test(f.reason?.code ?? '')) throw new Error(`unnamed reason ${JSON.stringify(f.reason)}`);
      problems += r.summary.problems.length;
      peekAll(input, chunk);
    } catch (e) {
      t.fail(`seed ${seed} iteration ${i}: ${(e as Error).stack}`);
      return;
    }
  }
  t.ok(problems > 0, 'some inputs were damaged files, named as such');
  t.pass('400 mutated captures replayed');
});
