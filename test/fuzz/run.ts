// `npm run fuzz -- --iterations N --seconds S [--seed X] [--no-save] [--json]`
// Stops by itself at N inputs or S seconds, whichever first. Prints one summary line
// (`fuzz: N inputs, K kinds: {...}, F failures`), saves each distinct failing input to
// test/fixtures/fuzz-regressions/, exits 1 when anything failed, 2 on bad arguments.
import { parseArgs } from 'node:util';
import { checkInput } from './check.js';
import { checkExpectation, rebuild, regressionDir, runFuzz, summaryLine } from './fuzz.js';
import { saveRegression } from './regressions.js';

function main(): number {
  let args;
  try {
    args = parseArgs({
      options: {
        iterations: { type: 'string', default: '100000' },
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string' },
        replay: { type: 'string' },
        'no-save': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write('usage: npm run fuzz -- --iterations N --seconds S [--seed X] [--no-save] [--json]\n');
    return 0;
  }
  const iterations = Number(args.iterations);
  const seconds = Number(args.seconds);
  const seed = args.seed === undefined ? Date.now() >>> 0 : Number(args.seed);
  if (!Number.isInteger(iterations) || iterations < 0 || !(seconds > 0) || !Number.isInteger(seed)) {
    process.stderr.write('fuzz: --iterations must be a non-negative integer, --seconds positive, --seed an integer\n');
    return 2;
  }
  if (args.replay !== undefined) return replay(seed, Number(args.replay), !args['no-save']);
  const saved: string[] = [];
  const summary = runFuzz({
    seed,
    iterations,
    seconds,
    onFailure: (f) => {
      process.stderr.write(`FAIL [${f.category}] ${f.target} ${f.seedName} #${f.iteration}: ${f.detail}\n  ops: ${f.ops.join(' ')}\n`);
      if (!args['no-save']) {
        saved.push(
          saveRegression(regressionDir, f.input, {
            target: f.target,
            splitEnds: f.splitEnds,
            ...(f.limits ? { limits: f.limits } : {}),
            category: f.category,
            detail: f.detail,
            ops: f.ops,
            seedName: f.seedName,
            fuzzSeed: seed,
            iteration: f.iteration,
            found: new Date().toISOString(),
          }),
        );
      }
    },
  });
  const secs = summary.elapsedMs / 1000;
  if (args.json) {
    const { distinct, ...rest } = summary;
    process.stdout.write(`${JSON.stringify({ ...rest, distinct: distinct.map((d) => ({ category: d.category, detail: d.detail, seedName: d.seedName, iteration: d.iteration })), saved })}\n`);
  }
  process.stdout.write(
    `seed ${seed}, ${secs.toFixed(1)} s (stopped by ${summary.stoppedBy}), ${Math.round(summary.inputs / Math.max(secs, 1e-3))} inputs/s, ` +
      `${(summary.bytesFed / 1e6).toFixed(1)} MB fed, ${summary.expectationsChecked} metamorphic checks, ops ${JSON.stringify(summary.ops)}\n`,
  );
  if (saved.length) process.stdout.write(`saved ${saved.length} regression input(s) to test/fixtures/fuzz-regressions/\n`);
  process.stdout.write(`${summaryLine(summary)}\n`);
  return summary.failures === 0 ? 0 : 1;
}

/** `--seed S --replay I`: rebuild input I of that run, check it, print it, save it if it fails. */
function replay(seed: number, i: number, save: boolean): number {
  if (!Number.isInteger(i) || i < 0) {
    process.stderr.write('fuzz: --replay takes an input number\n');
    return 2;
  }
  const g = rebuild(seed, i);
  const out = checkInput(g.seed.target, g.bytes, g.splitEnds, g.limits);
  const failures = [...out.failures];
  if (failures.length === 0) {
    const why = checkExpectation(g.seed, g.expect, g.bytes, g.limits);
    if (why) failures.push({ category: 'expectation', detail: why });
  }
  process.stdout.write(
    `${g.seed.target} ${g.seed.name} #${i}: ${out.label}\n  ops: ${g.ops.join(' ')}\n  reads: ${g.splitEnds.join(',')}\n  limits: ${JSON.stringify(g.limits ?? null)}\n  bytes: ${Buffer.from(g.bytes).toString('hex')}\n`,
  );
  for (const f of failures) {
    process.stdout.write(`FAIL [${f.category}] ${f.detail}\n`);
    if (save) {
      const name = saveRegression(regressionDir, g.bytes, {
        target: g.seed.target,
        splitEnds: g.splitEnds,
        ...(g.limits ? { limits: g.limits } : {}),
        category: f.category,
        detail: f.detail,
        ops: g.ops,
        seedName: g.seed.name,
        fuzzSeed: seed,
        iteration: i,
        found: new Date().toISOString(),
      });
      process.stdout.write(`saved ${name}\n`);
    }
  }
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
