// The policy engine names its feeds without node:path: joinPath must agree with path.resolve
// wherever the policy's folder is absolute (sources/ always hands it one), and policy/ must
// stay free of file and socket modules.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { joinPath } from '../../src/policy/feeds.js';
import { fromRoot } from '../../src/util/paths.js';

t.test('joinPath agrees with path.resolve for an absolute folder', async (t) => {
  const dirs = ['/', '/virtual', '/a/b/', '/a//b', '/a/./b', '/a/b/..'];
  const names = ['f.txt', 'sub/f.txt', './f.txt', '../f.txt', '../../../../f.txt', 'a/../b/./c.csv', 'x//y', 'dir/', '/abs/f.txt', '..', '.'];
  let n = 0;
  for (const d of dirs)
    for (const f of names) {
      const want = f.startsWith('/') ? f : resolve(d, f);
      t.equal(joinPath(d, f), want, `${d} + ${f}`);
      n++;
    }
  t.equal(n, dirs.length * names.length);
});

t.test('a relative folder stays relative (read against the reader\'s working directory)', async (t) => {
  t.equal(joinPath('policies', 'feeds/x.txt'), 'policies/feeds/x.txt');
  t.equal(joinPath('policies', '../x.txt'), 'x.txt');
  t.equal(joinPath('.', '../x.txt'), '../x.txt');
  t.equal(joinPath('a', '..'), '.');
});

t.test('policy/ imports no file, socket or path module', async (t) => {
  const dir = fromRoot('src', 'policy');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  t.ok(files.length > 5, 'found the policy sources');
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    t.notMatch(text, /from '(node:)?(fs|fs\/promises|net|path)'|util\/files\.js|import\('node:/, `${f}: pure`);
  }
});
