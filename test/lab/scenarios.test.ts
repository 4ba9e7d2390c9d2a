// The scenarios on a throwaway PKI (independent of the shipped certs/): the story's shape
// holds for any licensing certificate whose first SAN differs from its CN.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeekwallFailure } from '../../src/util/errors.js';
import { findScenario } from '../../src/lab/scenarios.js';
import { fromRoot } from '../../src/util/paths.js';
import { makeTestPki } from './pki.js';

const firstCert = (pem: string): string => `${pem.split('-----END CERTIFICATE-----')[0]}-----END CERTIFICATE-----\n`;

t.test('toos on a throwaway PKI: blocked as toos, passive tools, remedies allow', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'peekwall-lab-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const pki = await makeTestPki();
  mkdirSync(join(root, 'certs'));
  mkdirSync(join(root, 'policies', 'lab'), { recursive: true });
  writeFileSync(join(root, 'certs', 'lab-ca.crt.pem'), pki.caPem);
  writeFileSync(join(root, 'certs', 'smart-licensing.crt.pem'), firstCert(pki.certPem));
  writeFileSync(join(root, 'certs', 'smart-licensing.key.pem'), pki.keyPem);
  copyFileSync(fromRoot('policies', 'lab', 'tokens.txt'), join(root, 'policies', 'lab', 'tokens.txt'));
  const run = await findScenario('toos')!.run({ root });
  for (const a of run.acts) for (const c of a.checks) t.ok(c.ok, `${a.title}: ${c.what}`);
  t.equal(run.ok, true);
  t.same(run.acts.map((a) => a.events[0]?.url), ['https://toos.cisco.com', 'https://tools.cisco.com', 'https://toos.cisco.com', 'https://toos.cisco.com']);
  t.match(run.acts[0].clients[0].output, /err code 35, err string "SSL connect error"/);
});

t.test('missing lab files are a typed failure, not a crash', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'peekwall-lab-empty-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  await t.rejects(findScenario('toos')!.run({ root }), PeekwallFailure);
  // (A try/catch here asserted nothing when run() resolved.)
  const code = await findScenario('dns')!.run({ root }).then(
    () => 'resolved',
    (e: unknown) => (e instanceof PeekwallFailure ? e.errors[0].code : String(e)),
  );
  t.equal(code, 'lab/missing-file');
});

t.test('a device in place of a lab file is refused, not read forever', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'peekwall-lab-dev-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'certs'));
  mkdirSync(join(root, 'policies', 'lab'), { recursive: true });
  for (const f of ['lab-ca.crt.pem', 'smart-licensing.crt.pem', 'smart-licensing.key.pem']) symlinkSync('/dev/zero', join(root, 'certs', f));
  symlinkSync('/dev/zero', join(root, 'policies', 'lab', 'tokens.txt'));
  const code = await findScenario('toos')!.run({ root }).then(
    () => 'resolved',
    (e: unknown) => (e instanceof PeekwallFailure ? e.errors[0].code : String(e)),
  );
  t.equal(code, 'lab/missing-file');
});
