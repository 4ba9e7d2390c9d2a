// CI fuzz: a short, fixed-seed run of the same fuzzer `npm run fuzz` runs for hours.
// 3,000 mutated ClientHellos and server flights, one-shot and split into TCP reads: nothing
// escapes the readers, every answer is a documented kind with a documented code, answers are
// deterministic and independent of segmentation, and every parsed fact is backed by input bytes.
import t from 'tap';
import { runFuzz, summaryLine } from './fuzz.js';

t.test('3,000 mutated inputs: no failure of the wire contract', (t) => {
  const s = runFuzz({ seed: 0x9e3779b9, iterations: 3000, seconds: 60 });
  t.comment(summaryLine(s));
  t.equal(s.inputs, 3000, 'ran every input (the bound is iterations, not the clock)');
  t.same(
    s.distinct.map((f) => `[${f.category}] ${f.target} #${f.iteration}: ${f.detail} <- ${f.ops.join(' ')}`),
    [],
    'no failure',
  );
  t.equal(s.failures, 0);
  // The run must actually reach deep and shallow outcomes, or it proves little. Odd hellos
  // (read leniently) are decoded with anomalies: hello[code]; SNI smuggling stays bad-sni.
  const kinds = Object.keys(s.kinds);
  for (const k of [
    'clienthello:hello', 'clienthello:need-more', 'clienthello:not-tls(wire/not-tls)', 'clienthello:sslv2(wire/sslv2)', 'clienthello:hello[wire/sslv2-compat]',
    'clienthello:hello[wire/sni-not-ascii]', 'clienthello:hello[wire/sni-too-long]', 'clienthello:hello[wire/sni-bad-syntax]', 'clienthello:hello[wire/sni-no-host-name]',
    'clienthello:malformed(wire/bad-sni)', 'clienthello:too-large(wire/too-large)', 'clienthello:malformed(wire/duplicate-extension)', 'serverflight:certificate', 'serverflight:tls13',
  ]) {
    t.ok(kinds.includes(k), `reached ${k}`);
  }
  t.ok(kinds.filter((k) => k.includes('malformed')).length >= 8, 'reached many distinct malformed codes');
  t.ok(s.expectationsChecked > 300, `checked ${s.expectationsChecked} meaning-preserving mutations against the original parse`);
  t.end();
});

t.test('the run is reproducible from its seed', (t) => {
  const a = runFuzz({ seed: 7, iterations: 300, seconds: 60 });
  const b = runFuzz({ seed: 7, iterations: 300, seconds: 60 });
  t.same(a.kinds, b.kinds);
  t.same(a.ops, b.ops);
  t.equal(a.bytesFed, b.bytesFed);
  const c = runFuzz({ seed: 8, iterations: 300, seconds: 60 });
  t.not(c.bytesFed, a.bytesFed, 'another seed, other inputs');
  t.end();
});

t.test('the clock bound stops the run by itself', (t) => {
  let fake = 0;
  // A clock that advances 1 s per reading: the deadline passes after a handful of inputs.
  const s = runFuzz({ seed: 1, iterations: 1_000_000, seconds: 3, now: () => (fake += 1000) });
  t.equal(s.stoppedBy, 'seconds');
  t.ok(s.inputs < 1_000_000 && s.inputs > 0, `stopped after ${s.inputs} inputs`);
  t.end();
});
