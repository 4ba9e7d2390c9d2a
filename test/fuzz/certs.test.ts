// Certificates from hostile servers reach certificateFacts through the TSID probe and the
// passive reader: mutated DER and PEM (bit flips, truncation, length bytes, inserted junk,
// random bytes behind a SEQUENCE tag) must come back as a value or an identity/* error,
// never an exception. Seeded, so a failure names its input.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateFacts, certificatesFromPem } from '../../src/identity/index.js';
import { fixtureRoot } from './fuzz.js';
import { Prng } from './prng.js';

t.test('600 mutated certificates: a value or an identity/* error, never a throw', (t) => {
  const dir = join(fixtureRoot, 'certs');
  const ders = readdirSync(dir)
    .filter((f) => f.endsWith('.pem'))
    .map((f) => Buffer.from(readFileSync(join(dir, f), 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
  t.ok(ders.length >= 5, `${ders.length} real certificates as seeds`);
  const p = new Prng(0xce27);
  const outcomes: Record<string, number> = {};
  const thrown: string[] = [];
  for (let i = 0; i < 600; i++) {
    let d = Buffer.from(p.pick(ders));
    const op = p.int(5);
    if (op === 0) for (let k = p.range(1, 8); k > 0; k--) d[p.int(d.length)] ^= 1 << p.int(8);
    else if (op === 1) d = d.subarray(0, p.int(d.length));
    else if (op === 2) d[p.int(d.length)] = p.pick([0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff]);
    else if (op === 3) {
      const at = p.int(d.length);
      d = Buffer.concat([d.subarray(0, at), Buffer.from(p.bytes(p.range(1, 16))), d.subarray(at)]);
    } else {
      d = Buffer.from(p.bytes(p.range(0, 1500)));
      if (p.chance(0.5)) d[0] = 0x30;
    }
    const pem = p.chance(0.3);
    const input = pem ? `-----BEGIN CERTIFICATE-----\n${d.toString('base64')}\n-----END CERTIFICATE-----\n` : new Uint8Array(d);
    try {
      const r = certificateFacts(input);
      const k = r.ok ? 'ok' : r.error.code;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
      if (!r.ok && (!/^identity\/[a-z-]+$/.test(r.error.code) || !r.error.message)) thrown.push(`#${i}: error without a proper code/message: ${JSON.stringify(r.error)}`);
      if (pem) certificatesFromPem(input as string);
    } catch (e) {
      thrown.push(`#${i} (op ${op}): ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  t.same(thrown.slice(0, 5), [], `no exception (${JSON.stringify(outcomes)})`);
  t.ok(Object.keys(outcomes).length >= 2, 'both accepted and refused inputs were produced');
  t.end();
});
