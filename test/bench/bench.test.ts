// The benchmark must not rot: run a ~1-second version of `npm run bench` end to end (real
// origin, real peekwall children, real sockets on loopback) and check the results file's
// shape. No speed is asserted here — speed belongs to the full benchmark — only that every
// path produced operations through every target and that the bookkeeping adds up.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../../bench/headline/options.js';
import { PATHS } from '../../bench/headline/paths.js';
import { computeRatios, RESULTS_SCHEMA, type BenchResults, type RunRecord } from '../../bench/headline/results.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.js');

t.test('parseArgs: --quick defaults, explicit overrides, bad input is a message', async (t) => {
  const q = parseArgs(['--quick', '--duration', '0.3', '--paths', '1,6']);
  if (typeof q === 'string') throw new Error(q);
  t.equal(q.rounds, 1);
  t.equal(q.durationS, 0.3);
  t.same(q.paths, ['1', '6']);
  t.equal(q.siEntries, 10_000);
  const full = parseArgs([]);
  if (typeof full === 'string') throw new Error(full);
  t.equal(full.rounds, 3, 'the full run interleaves at least 3 rounds');
  t.equal(full.siEntries, 1_000_000);
  t.match(parseArgs(['--paths', '9']), /unknown path 9/);
  t.match(parseArgs(['--rounds', 'x']), /--rounds needs a number/);
  t.match(parseArgs(['--bogus']), /unknown option --bogus/);
});

t.test('computeRatios: median of per-round ratios, normalised ratios, CPU efficiency', async (t) => {
  const run = (round: number, path: string, target: RunRecord['target'], rate: number, us: number | null): RunRecord => ({
    round, path, target, rate, ops: rate, errors: 0, durationS: 1, p50Ms: 1, p99Ms: 2,
    cpuS: { loadgen: 0, upstream: 0, middlebox: 0, middleboxUser: 0, middleboxSys: 0 }, middleboxCpuUsPerOp: us, loadavg1: 0,
  });
  const runs: RunRecord[] = [];
  // Round rates chosen so the per-round ratios are 0.5, 1.0 and 2.0: median 1.0, whereas the
  // ratio of medians would be 2/2 = 1.0 too, so also check the per-round list.
  const pw = [100, 200, 400];
  const hp = [200, 200, 200];
  for (let r = 1; r <= 3; r++) {
    runs.push(run(r, '2', 'peekwall', pw[r - 1], 100), run(r, '2', 'haproxy', hp[r - 1], 200), run(r, '2', 'direct', 400, null));
    runs.push(run(r, '5', 'peekwall', 150, 120), run(r, '5', 'direct', 300, null));
  }
  const ratios = computeRatios(runs, 3);
  const nc = ratios.find((x) => x.id === 'newconn-vs-haproxy');
  t.ok(nc);
  t.same(nc?.perRound, [0.5, 1, 2]);
  t.equal(nc?.value, 1);
  t.equal(nc?.cpuEfficiency, 2, 'HAProxy 200 µs/op over peekwall 100 µs/op');
  t.equal(nc?.met, true, 'goal 1.0 met by 1.0');
  // passive: (150/300) / (pw/direct per round) = 0.5 / (0.25, 0.5, 1.0) = 2, 1, 0.5
  const pv = ratios.find((x) => x.id === 'passive-vs-sni');
  t.same(pv?.perRound, [2, 1, 0.5]);
  t.equal(pv?.value, 1);
  t.notOk(ratios.find((x) => x.id === 'keepalive-vs-haproxy'), 'ratios without data are left out');
});

t.test('quick bench end to end: every path through direct and peekwall, JSON shape', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'peekwall-bench-test-'));
  const emptyBin = mkdtempSync(join(tmpdir(), 'peekwall-bench-nobin-'));
  t.teardown(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(emptyBin, { recursive: true, force: true });
  });
  // PATH without haproxy/nginx/wrk: --peers and --wrk must then skip them with a message, not fail.
  const child = spawn(process.execPath, [runJs, '--quick', '--duration', '0.1', '--peers', '--wrk', '--out', out], {
    env: { ...process.env, PATH: emptyBin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`);
  t.match(stdout, /\| path \| target \| rate \(median\)/);
  t.match(stdout, /results: .*\.json/);

  const files = readdirSync(out).filter((f) => f.endsWith('.json'));
  t.equal(files.length, 1, 'one results file');
  const r = JSON.parse(readFileSync(join(out, files[0]), 'utf8')) as BenchResults;
  t.equal(r.schema, RESULTS_SCHEMA);
  t.ok(r.machine.nproc >= 1 && r.machine.cpuModel.length > 0 && r.machine.node === process.version);
  t.match(r.command, /run\.js --quick/);
  t.match(r.peers, { haproxy: { skipped: /not installed/ }, nginx: { skipped: /not installed/ }, 'node-splice': { version: /splice/ } });
  t.same(r.paths.map((p) => p.id), PATHS.filter((p) => !p.optional).map((p) => p.id), 'every path ran (1w skipped: no wrk)');
  t.ok(r.notes.some((n) => /path 1w skipped: wrk is not installed/.test(n)), 'the wrk path says why it did not run');
  t.equal(r.options.rounds, 1);

  for (const p of r.paths) {
    // --peers with no HAProxy/nginx on PATH still brings the plain Node splice to paths 1 and 2.
    const expected = p.kind === 'blocked' ? ['peekwall'] : p.id === '1' || p.id === '2' ? ['direct', 'peekwall', 'node-splice'] : ['direct', 'peekwall'];
    t.same(p.targets, expected, `path ${p.id} targets`);
    for (const target of expected) {
      const runs = r.runs.filter((x) => x.path === p.id && x.target === target);
      t.equal(runs.length, 1, `path ${p.id} ${target}: one run per round`);
      const run = runs[0];
      if (!run) continue;
      t.ok(run.ops > 0, `path ${p.id} ${target}: ${run.ops} ops, ${run.errors} errors, endings ${JSON.stringify(run.endings)}`);
      t.ok(run.rate > 0 && Number.isFinite(run.rate));
      t.ok(run.p50Ms !== null && run.p99Ms !== null && run.p99Ms >= run.p50Ms, 'latency percentiles ordered');
      t.ok(run.cpuS.loadgen > 0, 'load generator CPU measured');
      if (target !== 'direct') {
        t.ok(run.middleboxCpuUsPerOp !== null && run.middleboxCpuUsPerOp >= 0, `${target} CPU per op measured`);
      } else t.equal(run.middleboxCpuUsPerOp, null);
      if (p.kind === 'blocked') {
        t.notOk(run.endings?.['handshake-completed'], 'no blocked client completed a handshake');
        t.equal(run.endings?.reset, run.ops, 'every refusal reached the client as a reset (RST)');
      }
      const m = r.medians.find((x) => x.path === p.id && x.target === target);
      t.equal(m?.rate, Math.round(run.rate * 10) / 10, 'median of one round is that round');
    }
  }
  for (const id of ['tsid-warm-vs-sni', 'passive-vs-sni', 'si-1m-vs-small', 'newconn-peekwall-vs-direct']) {
    const x = r.ratios.find((y) => y.id === id);
    t.ok(x && typeof x.value === 'number' && x.value > 0, `ratio ${id} computed`);
  }
  t.equal(r.proxyConfigs.big.siEntries, 10_001, 'quick mode loads 10k generated SI entries + the block entry');
  for (const role of ['upstream', 'peekwall-small', 'peekwall-tsid', 'peekwall-tsid-nocache', 'peekwall-big', 'node-splice', 'loadgen']) {
    t.ok(r.peakRssMiB[role] > 0, `peak RSS of ${role}`);
    t.ok(typeof r.cpuTotalS[role] === 'number', `CPU total of ${role}`);
  }
});
