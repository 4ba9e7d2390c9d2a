import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Sources live in src/util/, compiled files in <outDir>/src/util/ (dist/ or a private build
// dir): walk up to the folder that holds package.json so shipped policies/, certs/ and the
// test fixtures are found from wherever the code runs.
function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'policies'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start, '../..');
    dir = parent;
  }
}

/** The repository (package) root: where package.json, policies/ and certs/ live. */
export const repoRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));

export function fromRoot(...parts: string[]): string {
  return resolve(repoRoot, ...parts);
}
