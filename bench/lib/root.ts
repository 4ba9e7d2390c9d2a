// Where the benchmarks find the repository and their own compiled scripts. The bench runs from
// a build dir (<outDir>/bench/…), while certs/, test fixtures, bench/results and bench/README.md
// live in the repository: walk up to the folder that holds package.json and bench/.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    dir = dirname(dir);
  }
  return join(start, '..', '..');
}

/** The compiled bench/ directory this build runs from (holds run.js and the *-child.js scripts). */
export const benchDir: string = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The repository root: where package.json, certs/, test/fixtures and bench/ live. */
export const repoRoot: string = findRoot(benchDir);

export function fromRoot(...parts: string[]): string {
  return resolve(repoRoot, ...parts);
}
