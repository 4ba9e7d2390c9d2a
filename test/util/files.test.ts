import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeParentsSync, readBoundedFile, readBoundedFileSync } from '../../src/util/files.js';

const dir = mkdtempSync(join(tmpdir(), 'pw-files-'));
const small = join(dir, 'small.txt');
writeFileSync(small, 'héllo\n');
const big = join(dir, 'big.txt');
writeFileSync(big, 'x'.repeat(2000));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

for (const [name, read] of [
  ['sync', async (p: string, n: number) => readBoundedFileSync(p, n)],
  ['async', readBoundedFile],
] as const) {
  t.test(`${name}: reads a regular file within the bound`, async (t) => {
    t.same(await read(small, 100), { ok: true, text: 'héllo\n' });
  });
  t.test(`${name}: refuses a file over the bound`, async (t) => {
    const r = await read(big, 1000);
    t.equal(r.ok, false);
    if (!r.ok) t.equal(r.failure.kind, 'too-large');
  });
  t.test(`${name}: refuses a FIFO without blocking, and a device, and a directory`, async (t) => {
    for (const p of [fifo, '/dev/zero', dir]) {
      const r = await read(p, 1000);
      t.equal(r.ok, false, p);
      if (!r.ok) t.equal(r.failure.kind, 'not-a-file', p);
    }
  });
  t.test(`${name}: a missing file is unreadable with its errno`, async (t) => {
    const r = await read(join(dir, 'missing'), 1000);
    t.equal(r.ok, false);
    if (!r.ok) {
      t.equal(r.failure.kind, 'unreadable');
      t.match(r.failure.message, /ENOENT/);
    }
  });
}

t.test('makeParentsSync: mkdir -p that always returns', async (t) => {
  const deep = join(dir, 'a', 'b', 'c');
  makeParentsSync(deep);
  t.ok(statSync(deep).isDirectory(), 'every level made');
  makeParentsSync(deep);
  t.pass('an existing directory is fine');
  t.throws(() => makeParentsSync(join(small, 'sub')), { code: 'ENOTDIR' }, 'a file in the way');
  // Node's own { recursive: true } never returns here (ENOENT under an existing /proc).
  if (existsSync('/proc/self')) t.throws(() => makeParentsSync('/proc/peekwall-nonexistent/x'), { code: 'ENOENT' });
});
