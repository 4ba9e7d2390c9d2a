// Two independent decoders must agree: the fast DER reader the product uses (facts.ts) and the
// @peculiar/asn1-schema + asn1-x509 reference (test/helpers/facts-asn1.ts), over every certificate we have.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificatesFromPem, pemBlocks } from '../../src/identity/index.js';
import { certificateFactsAsn1 } from '../helpers/facts-asn1.js';
import { fixturesDir } from '../helpers/fixtures.js';
import { fromRoot } from '../../src/util/paths.js';

const dirs = [join(fixturesDir, 'certs'), fromRoot('test', 'identity', 'fixtures'), fromRoot('certs')];
let n = 0;
for (const dir of dirs) {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.pem') && !x.endsWith('.key.pem'))) {
    const text = readFileSync(join(dir, f), 'utf8');
    const fast = certificatesFromPem(text);
    if (!fast.ok) {
      t.fail(`${f}: ${fast.error.message}`);
      continue;
    }
    pemBlocks(text).forEach((der, i) => {
      n++;
      const ref = certificateFactsAsn1(der);
      t.ok(ref.ok, `${f}#${i}: reference reads it`);
      if (!ref.ok) return;
      const a = { ...fast.value[i], der: undefined };
      const b = { ...ref.value, der: undefined };
      // The reference renders IPv6 SANs with its own compression; compare IPs canonically.
      const ips = (x: typeof a) => x.sans.map((s) => (s.type === 'ip' ? { ...s, value: s.value.replace(/(^|:)0+([0-9a-f])/g, '$1$2') } : s));
      t.same({ ...a, sans: ips(a) }, { ...b, sans: ips(b) }, `${f}#${i}: identical facts`);
    });
  }
}
t.ok(n >= 30, `${n} certificates compared`);
