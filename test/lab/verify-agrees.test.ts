// The devices' own chain check (src/lab/verify.ts, OpenSSL-like, on the device clock) and the
// firewall's certificate status (src/identity) are separate code for separate roles; on the
// shipped lab PKI they must agree on what is valid, at several clocks.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { certificatesFromPem, certificateStatus, trustStoreFromPem } from '../../src/identity/index.js';
import { parsePemBundle, verifyDeviceChain } from '../../src/lab/verify.js';
import { fromRoot } from '../../src/util/paths.js';

const VARIANTS = ['smart-licensing', 'smart-licensing-nocn', 'smart-licensing-ecdsa', 'self-signed', 'expired', 'untrusted-leaf'];
const read = (n: string): string => readFileSync(fromRoot('certs', `${n}.crt.pem`), 'utf8');

t.test('device verdict == identity status on every shipped variant', async (t) => {
  const caPem = read('lab-ca');
  const trustR = trustStoreFromPem(caPem);
  if (!trustR.ok) throw new Error(trustR.error.message);
  const trust = parsePemBundle(caPem);
  const clocks = [new Date('2025-06-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'), new Date('2035-12-15T00:00:00Z'), new Date('2036-06-01T00:00:00Z')];
  for (const v of VARIANTS) {
    const pem = read(v);
    const facts = certificatesFromPem(pem);
    if (!facts.ok) throw new Error(facts.error.message);
    for (const now of clocks) {
      const dev = verifyDeviceChain(parsePemBundle(pem), trust, 'tools.cisco.com', now);
      const id = certificateStatus({ chain: facts.value, trust: trustR.value, name: 'tools.cisco.com', now });
      if (id.status === 'self-signed') t.equal(dev.reason, 'self signed certificate', `${v}: OpenSSL's words for a self-signed leaf`);
      t.equal(dev.ok, id.status === 'valid', `${v} at ${now.toISOString().slice(0, 10)}: device '${dev.reason}', identity '${id.status}'`);
    }
  }
});
