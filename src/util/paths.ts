import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled files live in dist/src/util/, sources in src/util/: walk up to the folder that
// holds package.json so shipped policies/ and certs/ are found from either place.
const here = dirname(fileURLToPath(import.meta.url));
const up = here.includes(`${'/'}dist${'/'}`) || here.endsWith('/dist') ? '../../..' : '../..';

/** The repository (package) root: where package.json, policies/ and certs/ live. */
export const repoRoot: string = resolve(here, up);

export function fromRoot(...parts: string[]): string {
  return resolve(repoRoot, ...parts);
}
