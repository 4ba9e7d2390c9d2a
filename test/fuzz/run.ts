// `npm run fuzz -- --iterations N --seconds S [--seed X] [--no-save] [--json]`
// Stops by itself at N inputs or S seconds, whichever first. Prints one summary line
// (`fuzz: N inputs, K kinds: {...}, F failures`), saves each distinct failing input to
// test/fixtures/fuzz-regressions/, exits 1 when anything failed, 2 on bad arguments.
import { parseArgs } from 'node:util';
import { regressionDir, runFuzz, summaryLine } from './fuzz.js';
import { saveRegression } from './regressions.js';

function main(): number {
  let args;
  try {
    args = parseArgs({
      options: {
        iterations: { type: 'string', default: '100000' },
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string' },
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

process.exitCode = main();
