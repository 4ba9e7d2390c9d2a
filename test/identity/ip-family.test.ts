// identity/ is pure, so it spells out what node:net's isIP answers: the two must agree on every
// address shape, near-miss and junk (fast-check, fixed seed so a failure replays).
import t from 'tap';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { ipFamily } from '../../src/identity/index.js';

const examples = [
  '127.0.0.1', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', ' 1.2.3.4',
  '::', '::1', '1::', 'fe80::1%eth0', 'fe80::1%', '::ffff:127.0.0.1', '::ffff:127.0.0.01', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9',
  '1::2::3', ':::', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6::7:8', '12345::1', 'g::1', '[::1]', '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4', '', 'localhost', '::ffff:1.2.3.4:5',
];

t.test('agrees with node:net isIP on hand-picked shapes', async (t) => {
  for (const s of examples) t.equal(ipFamily(s), isIP(s), JSON.stringify(s));
});

t.test('agrees with node:net isIP on generated near-addresses', async (t) => {
  const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('00', '01', '', 'x'));
  const group = fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg'), minLength: 0, maxLength: 5 }), fc.constantFrom('', '0', 'ffff'));
  const v4 = fc.array(octet, { minLength: 2, maxLength: 5 }).map((xs) => xs.join('.'));
  const v6 = fc.tuple(fc.array(group, { minLength: 1, maxLength: 10 }), fc.option(v4), fc.option(fc.constantFrom('%eth0', '%', '%1'))).map(
    ([gs, tail, zone]) => `${gs.join(':')}${tail !== null ? `:${tail}` : ''}${zone ?? ''}`,
  );
  fc.assert(
    fc.property(fc.oneof(v4, v6, fc.string()), (s) => ipFamily(s) === isIP(s)),
    { seed: 20261206, numRuns: 20_000 },
  );
  t.pass('20,000 generated strings agree');
});
