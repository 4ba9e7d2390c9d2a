// Replays every input the fuzzer ever failed on (test/fixtures/fuzz-regressions/) plus the
// hand-made hostile corpus, against the current wire contract: the bytes as they were fed
// then (same TCP reads, same limits), and also one byte per read.
import t from 'tap';
import { checkInput } from './check.js';
import { regressionDir } from './fuzz.js';
import { loadRegressions } from './regressions.js';

const all = loadRegressions(regressionDir);

t.ok(all.length > 0, `${all.length} regression inputs on file`);
for (const r of all) {
  t.test(`${r.name} (${r.meta.category} when found: ${r.meta.detail.slice(0, 60)})`, (t) => {
    const asFound = checkInput(r.meta.target, r.input, r.meta.splitEnds, r.meta.limits);
    t.same(asFound.failures, [], `as found: ${asFound.label}`);
    const bytewise = Array.from({ length: r.input.length }, (_, i) => i + 1);
    const slow = checkInput(r.meta.target, r.input, bytewise.length ? bytewise : [0], r.meta.limits);
    t.same(slow.failures, [], 'one byte per read');
    t.end();
  });
}
