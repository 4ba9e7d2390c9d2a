// Crashing inputs, kept forever: each failure the fuzzer ever finds is written to
// test/fixtures/fuzz-regressions/ as NAME.bin (the bytes) + NAME.json (how it was made, how it
// arrived, what went wrong), and test/fuzz/regressions.test.ts replays every one of them.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireLimits } from '../../src/wire/index.js';
import type { TargetName } from './mutate.js';

export interface RegressionMeta {
  readonly target: TargetName;
  /** TCP reads: end offsets of each chunk. */
  readonly splitEnds: readonly number[];
  readonly limits?: WireLimits;
  /** What went wrong when it was found (history; the replay checks the current contract). */
  readonly category: string;
  readonly detail: string;
  readonly ops: readonly string[];
  readonly seedName: string;
  /** `fuzz --seed S` input number, to rebuild it. */
  readonly fuzzSeed?: number;
  readonly iteration?: number;
  readonly found: string;
}

export interface Regression {
  readonly name: string;
  readonly input: Uint8Array;
  readonly meta: RegressionMeta;
}

export function saveRegression(dir: string, input: Uint8Array, meta: RegressionMeta): string {
  mkdirSync(dir, { recursive: true });
  const name = `${meta.target}-${meta.category}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}`;
  if (!existsSync(join(dir, `${name}.bin`))) {
    writeFileSync(join(dir, `${name}.bin`), input);
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(meta, null, 2)}\n`);
  }
  return name;
}

export function loadRegressions(dir: string): Regression[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -4);
      const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as RegressionMeta;
      return { name, input: new Uint8Array(readFileSync(join(dir, f))), meta };
    });
}
