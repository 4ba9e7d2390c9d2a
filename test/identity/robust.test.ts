// certificateFacts never throws: random byte flips, truncations, insertions into real DER
// (fast-check, fixed seed so a failure replays), and lengths that lie.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { certificateFacts, certificatesFromPem } from '../../src/identity/index.js';
import { fixturePath } from '../helpers/fixtures.js';

const der = (n: string) => new Uint8Array(Buffer.from(readFileSync(fixturePath('certs', n), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));
const seeds = [der('first-san-differs-from-cn-cisco-like.pem'), der('ecdsa-p256.pem'), der('ip-sans-only.pem')];

function neverThrows(input: Uint8Array | string): boolean {
  try {
    const r = certificateFacts(input);
    return r.ok ? typeof r.value.sha256 === 'string' : r.error.code === 'identity/bad-certificate' && r.error.message.length > 0;
  } catch {
    return false;
  }
}

t.test('mutated DER: a value, never a throw', async (t) => {
  const mutation = fc.record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('set', 'cut', 'insert') }), { minLength: 1, maxLength: 6 }),
  });
  fc.assert(
    fc.property(mutation, ({ seed, edits }) => {
      let b = Array.from(seeds[seed]);
      for (const e of edits) {
        const at = e.at % (b.length + 1);
        if (e.kind === 'set' && at < b.length) b[at] = e.byte;
        else if (e.kind === 'cut') b = b.slice(0, at);
        else b.splice(at, 0, e.byte);
      }
      return neverThrows(new Uint8Array(b));
    }),
    { numRuns: 400, seed: 20261124 },
  );
  t.pass('400 mutations');
});

t.test('arbitrary bytes and text', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => neverThrows(b)), { numRuns: 300, seed: 7 });
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => neverThrows(`-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----\n`)),
    { numRuns: 200, seed: 8 },
  );
  t.pass();
});

t.test('a length field claiming 4 GiB, and a bundle with one bad block', async (t) => {
  const b = new Uint8Array(seeds[0]);
  b[1] = 0x84;
  b[2] = 0xff;
  b[3] = 0xff;
  b[4] = 0xff;
  b[5] = 0xff;
  t.equal(certificateFacts(b).ok, false);
  const good = readFileSync(fixturePath('certs', 'cn-only.pem'), 'utf8');
  const r = certificatesFromPem(`${good}-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`);
  t.equal(r.ok, false);
  if (!r.ok) t.match(r.error.message, /^certificate #2 of the bundle/);
});
