// The fuzz driver as a library: seeds from the real fixtures, a seeded mutation stream,
// the oracle, counting, and metamorphic expectations. Bounded by iterations AND seconds;
// both the CLI (run.ts) and the CI tap test call runFuzz.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isGrease, readClientHello, readServerFlight } from '../../src/wire/index.js';
import type { ClientHello, HelloReadResult, ServerFlightResult, WireLimits } from '../../src/wire/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { canonical, checkInput, type Failure } from './check.js';
import { makeSeed, mutate, randomSplits, type Expectation, type Seed, type TargetName } from './mutate.js';
import { Prng } from './prng.js';

export const fixtureRoot = fromRoot('test', 'fixtures', 'shared');
export const regressionDir = fromRoot('test', 'fixtures', 'fuzz-regressions');

export function loadSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const [sub, target] of [
    ['clienthello', 'clienthello'],
    ['serverflight', 'serverflight'],
  ] as const) {
    const dir = join(fixtureRoot, sub);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin')).sort()) {
      seeds.push(makeSeed(`${sub}/${f}`, target, new Uint8Array(readFileSync(join(dir, f)))));
    }
  }
  return seeds;
}

export interface FoundFailure extends Failure {
  readonly target: TargetName;
  readonly seedName: string;
  readonly iteration: number;
  readonly ops: readonly string[];
  readonly input: Uint8Array;
  readonly splitEnds: readonly number[];
  readonly limits?: WireLimits;
}

export interface FuzzOptions {
  readonly seed: number;
  readonly iterations: number;
  readonly seconds: number;
  /** Called for each new (deduplicated) failure as it is found. */
  readonly onFailure?: (f: FoundFailure) => void;
  /** Stop keeping details after this many distinct failures (the count goes on). */
  readonly maxKept?: number;
  readonly now?: () => number;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly inputs: number;
  readonly elapsedMs: number;
  readonly stoppedBy: 'iterations' | 'seconds';
  readonly kinds: Record<string, number>;
  readonly ops: Record<string, number>;
  readonly expectationsChecked: number;
  readonly failures: number;
  readonly distinct: FoundFailure[];
  readonly bytesFed: number;
}

function meaning(h: ClientHello): string {
  // What a peeker decides on; framing (record version, lengths) is allowed to differ.
  return JSON.stringify([
    h.clientVersion,
    Buffer.from(h.random).toString('hex'),
    Buffer.from(h.sessionId).toString('hex'),
    h.cipherSuites,
    h.compressionMethods,
    h.extensions.filter((e) => !isGrease(e.type)).map((e) => [e.type, e.length]),
    h.sni,
    h.sniTrailingDot,
    h.sniRaw === null ? null : Buffer.from(h.sniRaw).toString('hex'),
    h.anomalies.map((a) => a.code),
    h.alpn,
    h.supportedVersions,
    h.supportedGroups,
    h.signatureAlgorithms,
    h.keyShareGroups,
    h.pskModes,
    h.ech,
    h.paddingLength,
  ]);
}

function original(seed: Seed): HelloReadResult | ServerFlightResult {
  return seed.target === 'clienthello' ? readClientHello(seed.bytes) : readServerFlight(seed.bytes);
}

/** Checks a metamorphic promise against the mutant's one-shot answer. Null when kept. */
export function checkExpectation(seed: Seed, expect: Expectation, mutantBytes: Uint8Array, limits: WireLimits | undefined): string | null {
  if (expect.kind === 'none' || limits) return null;
  const before = original(seed);
  const after = seed.target === 'clienthello' ? readClientHello(mutantBytes) : readServerFlight(mutantBytes);
  switch (expect.kind) {
    case 'same':
    case 'same-plus-grease':
      if (before.kind === 'hello' && after.kind === 'hello') {
        if (meaning(before.hello) !== meaning(after.hello)) return 'meaning-preserving mutation changed the parsed hello';
        const extra = after.hello.extensions.length - before.hello.extensions.length;
        const want = expect.kind === 'same' ? 0 : expect.extraExtensions;
        return extra === want ? null : `expected ${want} more extensions, got ${extra}`;
      }
      return canonical(before) === canonical(after) ? null : `meaning-preserving mutation: ${canonical(before).slice(0, 60)} became ${canonical(after).slice(0, 100)}`;
    case 'not-hello':
      return after.kind === 'hello' ? `accepted a hello with ${expect.why}` : null;
    case 'too-large':
      return after.kind === 'too-large' ? null : `expected too-large, got ${canonical(after).slice(0, 80)}`;
    case 'flagged':
      // Read leniently: decoded, no name taken from it, the reason listed. A longer name can
      // push a hello that was near the size bound past it: the bound wins, as for any growth.
      if (after.kind === 'too-large') return null;
      if (after.kind !== 'hello') return `odd server_name refused instead of flagged: ${canonical(after).slice(0, 80)}`;
      if (after.hello.sni !== null) return `odd server_name kept as sni ${after.hello.sni}`;
      return after.hello.anomalies.some((a) => a.code === expect.code) ? null : `expected ${expect.code}, got [${after.hello.anomalies.map((a) => a.code).join(',')}]`;
    default:
      return null;
  }
}

/** Failures are deduplicated by category + the first words of the detail (not the bytes). */
function signature(target: string, f: Failure): string {
  return `${target}:${f.category}:${f.detail.replace(/[0-9]+/g, '#').slice(0, 80)}`;
}

/** One generated input, exactly as runFuzz builds input number `i` of a run with `seed`. */
export interface Generated {
  readonly seed: Seed;
  readonly bytes: Uint8Array;
  readonly ops: readonly string[];
  readonly expect: Expectation;
  readonly splitEnds: number[];
  readonly limits: WireLimits | undefined;
}

function generate(prng: Prng, seeds: readonly Seed[]): Generated {
  const seed = prng.pick(seeds);
  const m = mutate(seed, prng, seeds);
  const splitEnds = randomSplits(prng, m.bytes.length);
  const limits: WireLimits | undefined = prng.chance(0.1) ? { maxHandshakeBytes: prng.range(1, 4096), maxRecords: prng.range(1, 64) } : undefined;
  return { seed, bytes: m.bytes, ops: m.ops, expect: m.expect, splitEnds, limits };
}

/** Rebuilds input `i` of the run with `seed` (for `fuzz --replay I`). */
export function rebuild(fuzzSeed: number, i: number): Generated {
  const master = new Prng(fuzzSeed);
  for (let k = 0; k < i; k++) master.fork();
  return generate(new Prng(master.fork()), loadSeeds());
}

export function runFuzz(o: FuzzOptions): FuzzSummary {
  const now = o.now ?? (() => performance.now());
  const seeds = loadSeeds();
  const master = new Prng(o.seed);
  const kinds: Record<string, number> = {};
  const ops: Record<string, number> = {};
  const seen = new Set<string>();
  const distinct: FoundFailure[] = [];
  const maxKept = o.maxKept ?? 50;
  let failures = 0;
  let expectationsChecked = 0;
  let bytesFed = 0;
  const start = now();
  const deadline = start + o.seconds * 1000;
  let i = 0;
  let stoppedBy: FuzzSummary['stoppedBy'] = 'iterations';
  for (; i < o.iterations; i++) {
    // Check the clock every 64 inputs: cheap, and keeps the bound within a few ms.
    if ((i & 63) === 0 && now() > deadline) {
      stoppedBy = 'seconds';
      break;
    }
    // One derived generator per input: (seed, i) alone rebuilds input i.
    const { seed, splitEnds, limits, ...m } = generate(new Prng(master.fork()), seeds);
    bytesFed += m.bytes.length;
    for (const op of m.ops) {
      const k = op.replace(/\(.*$/, '');
      ops[k] = (ops[k] ?? 0) + 1;
    }
    const out = checkInput(seed.target, m.bytes, splitEnds, limits);
    const key = `${seed.target}:${out.label}`;
    kinds[key] = (kinds[key] ?? 0) + 1;
    const found: Failure[] = [...out.failures];
    if (out.failures.length === 0 && m.expect.kind !== 'none' && !limits) {
      expectationsChecked++;
      const why = checkExpectation(seed, m.expect, m.bytes, limits);
      if (why) found.push({ category: 'expectation', detail: why });
    }
    for (const f of found) {
      failures++;
      const sig = signature(seed.target, f);
      if (seen.has(sig) || distinct.length >= maxKept) continue;
      seen.add(sig);
      const ff: FoundFailure = { ...f, target: seed.target, seedName: seed.name, iteration: i, ops: m.ops, input: m.bytes, splitEnds, ...(limits ? { limits } : {}) };
      distinct.push(ff);
      o.onFailure?.(ff);
    }
  }
  return { seed: o.seed, inputs: i, elapsedMs: now() - start, stoppedBy, kinds, ops, expectationsChecked, failures, distinct, bytesFed };
}

export function summaryLine(s: FuzzSummary): string {
  const kinds = Object.fromEntries(Object.entries(s.kinds).sort((a, b) => b[1] - a[1]));
  return `fuzz: ${s.inputs} inputs, ${Object.keys(kinds).length} kinds: ${JSON.stringify(kinds)}, ${s.failures} failures`;
}
