// The house rules of docs/ARCHITECTURE.md, checked on the source: dependencies point one way
// (each folder imports only folders below it), folders meet through their index.ts, the pure
// core opens no file and no socket, and no source file grows past 500 lines.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, relative, sep } from 'node:path';
import { fromRoot } from '../src/util/paths.js';

/** Lower imports nothing above it; the same number means the two may not import each other. */
const RANK: Record<string, number> = {
  util: 0,
  schema: 1,
  wire: 1,
  identity: 1,
  policy: 2,
  pki: 2,
  flow: 3,
  sources: 3,
  events: 4,
  capture: 5,
  proxy: 6,
  lab: 7,
  regress: 7,
  cli: 8,
};
const PURE = ['schema', 'wire', 'identity', 'policy', 'flow'];
const IO_MODULES = /^node:(fs|fs\/promises|net|path|tls|http|https|dgram|child_process|worker_threads|cluster|os)$/;
const MAX_LINES = 500;

const src = fromRoot('src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Import {
  readonly file: string;
  readonly from: string;
  readonly spec: string;
  /** The top-level folder imported, for a relative import inside src/. */
  readonly to: string | null;
  readonly target: string | null;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const from = relative(src, file).split(sep)[0];
  const out: Import[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) {
      out.push({ file, from, spec, to: null, target: null });
      continue;
    }
    const target = normalize(join(file, '..', spec));
    const rel = relative(src, target);
    out.push({ file, from, spec, to: rel.startsWith('..') ? null : rel.split(sep)[0], target: rel });
  }
  return out;
}

const files = tsFiles(src);
const folders = readdirSync(src).filter((d) => statSync(join(src, d)).isDirectory());
const imports = files.flatMap(importsOf);

t.test('every folder of src/ has a place in the layering', async (t) => {
  t.ok(files.length > 100, `${files.length} source files read`);
  for (const d of folders) t.ok(d in RANK, `${d} is ranked (add it to RANK and to docs/ARCHITECTURE.md)`);
});

t.test('dependencies point one way: a folder imports only folders below it', async (t) => {
  const up = imports.filter((i) => i.to !== null && i.to !== i.from && !(RANK[i.to] < RANK[i.from]));
  t.same(
    up.map((i) => `${relative(src, i.file)} imports ${i.spec}`),
    [],
    'no import goes sideways or up',
  );
  const edges = new Set(imports.filter((i) => i.to !== null && i.to !== i.from).map((i) => `${i.from}->${i.to}`));
  t.ok(edges.has('flow->policy') && edges.has('proxy->flow') && edges.has('cli->proxy'), 'the check sees the real arrows');
});

t.test('folders meet through their index.ts (util/ has none by design)', async (t) => {
  const past = imports.filter((i) => i.to !== null && i.to !== i.from && i.to !== 'util' && !/^[a-z]+[/\\]index\.js$/.test(i.target ?? ''));
  t.same(
    past.map((i) => `${relative(src, i.file)} imports ${i.spec}`),
    [],
    'no import reaches past another folder\'s index.ts',
  );
});

t.test('the pure core (schema, wire, identity, policy, flow) opens no file and no socket', async (t) => {
  const io = imports.filter((i) => PURE.includes(i.from) && IO_MODULES.test(i.spec));
  t.same(
    io.map((i) => `${relative(src, i.file)} imports ${i.spec}`),
    [],
  );
  t.ok(PURE.every((p) => folders.includes(p)), 'the pure folders exist');
});

t.test(`no source file over ${MAX_LINES} lines`, async (t) => {
  const long = files
    .map((f) => ({ f: relative(src, f), n: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((x) => x.n > MAX_LINES);
  t.same(long.map((x) => `${x.f}: ${x.n} lines`), []);
});
