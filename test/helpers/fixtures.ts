// Ground-truth fixtures made by independent tools (see test/fixtures/shared/README.md).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../src/util/paths.js';

export const fixturesDir = fromRoot('test', 'fixtures', 'shared');

export function fixturePath(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

/** Names (without extension) of the fixtures in a subfolder that have a `.bin`/`.pem` and a `.json`. */
export function fixtureNames(sub: 'clienthello' | 'serverflight' | 'certs', ext: string): string[] {
  return readdirSync(join(fixturesDir, sub))
    .filter((f) => f.endsWith(ext))
    .map((f) => f.slice(0, -ext.length))
    .sort();
}

export function readFixture(sub: string, file: string): Buffer {
  return readFileSync(join(fixturesDir, sub, file));
}

export function readFixtureJson<T = any>(sub: string, file: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, sub, file), 'utf8')) as T;
}
