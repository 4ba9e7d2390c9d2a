// Loading a suite's policy: with or without the suite's settings overrides, a policy and the
// feeds it names are read with the same reader and the same bounds as `peekwall run` reads them.
import t from 'tap';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyVariant } from '../../src/regress/index.js';
import { MAX_FEED_BYTES } from '../../src/policy/index.js';
import { formatError } from '../../src/util/errors.js';

t.test('a feed over 64 MiB loads with settings overrides as it does without them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-load-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 65 MiB of NUL bytes (a sparse file: nothing is written to disk): blank lines, an empty
  // feed, but past the 64 MiB a second copy of the feed reader used to allow.
  const size = 65 * 1024 * 1024;
  t.ok(size < MAX_FEED_BYTES, 'within the one feed bound');
  writeFileSync(join(dir, 'big.txt'), '');
  truncateSync(join(dir, 'big.txt'), size);
  const policy = join(dir, 'p.yaml');
  writeFileSync(policy, 'securityIntelligence:\n  url:\n    - {name: BIG, action: block, feed: big.txt}\nrules:\n  - {name: A, action: Allow}\n');
  const plain = await loadPolicyVariant(policy, null);
  t.same(plain.ok ? [] : plain.error.map(formatError), [], 'without overrides: loads');
  const overridden = await loadPolicyVariant(policy, { tsid: { enabled: false } });
  t.same(overridden.ok ? [] : overridden.error.map(formatError), [], 'with the suite overriding settings: loads too');
  if (overridden.ok) t.equal(overridden.value.settings.tsid.enabled, false, 'and the override applies');
});
