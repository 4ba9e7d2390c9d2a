// The JSON Schemas in policies/schemas/: each compiles under ajv's strict mode, every shipped
// YAML file names its schema and validates against it, and the policy schema describes
// today's policy format exactly — on every policy the tests write, it accepts what the policy
// loader accepts and refuses what the loader refuses for its shape (policy/schema,
// unknown-key, missing-key), while object references, addresses and feeds stay the loader's.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_ACTIONS, parsePolicy, REPUTATION_LABELS, RULE_ACTIONS } from '../../src/policy/index.js';
import { PREFILTER_ACTIONS } from '../../src/policy/compiled.js';
import { TSID_PROFILES } from '../../src/identity/index.js';
import { formatSchema, readFormat, schemaFile, type IssueWords, type Schema, type SchemaName } from '../../src/schema/index.js';
import { formatError, type PeekwallError } from '../../src/util/errors.js';
import { fromRoot } from '../../src/util/paths.js';

const NAMES: readonly SchemaName[] = ['run-config', 'suite', 'lab-pki', 'policy'];
const schemaPath = (name: SchemaName): string => fromRoot(schemaFile(name));
const POLICY = formatSchema('policy');
const STRUCTURAL = new Set(['policy/schema', 'policy/unknown-key', 'policy/missing-key']);

/** Plain words for the policy schema's issues, independent of the loader's wording. */
const words: IssueWords = (i) => ({ code: i.keyword === 'additionalProperties' ? 'policy/unknown-key' : i.keyword === 'required' ? 'policy/missing-key' : 'policy/schema', message: `${i.path.join('.')}: ${i.ajvMessage}` });

function schemaErrors(text: string, file = 'p.yaml'): PeekwallError[] | null {
  const r = readFormat(text, file, 'policy', POLICY, words);
  return r.ok ? r.errors : null; // null: the YAML reader refused it before any schema
}

const shipped = {
  policy: readdirSync(fromRoot('policies')).filter((f) => /\.ya?ml$/.test(f) && f !== 'proxy.example.yaml').map((f) => fromRoot('policies', f)),
  suite: readdirSync(fromRoot('policies', 'tests')).filter((f) => f.endsWith('.test.yaml')).map((f) => fromRoot('policies', 'tests', f)),
  'run-config': [fromRoot('policies', 'proxy.example.yaml')],
  'lab-pki': [fromRoot('certs', 'lab.yaml')],
} satisfies Record<SchemaName, string[]>;

t.test('every schema is a valid draft-07 schema and compiles under ajv strict mode', async (t) => {
  // The product skips the meta-schema check (it costs more than the schema); it is made here.
  const { Ajv } = await import('ajv');
  const meta = new Ajv({ strict: true, allowUnionTypes: true, strictRequired: false, logger: false });
  for (const keyword of ['errorMessage', 'errorCode']) meta.addKeyword({ keyword, schemaType: 'string' });
  for (const name of NAMES) {
    const s = formatSchema(name);
    t.equal(meta.validateSchema(s.schema()), true, `${name}: valid against the draft-07 meta-schema ${JSON.stringify(meta.errors ?? [])}`);
    t.doesNotThrow(() => s.validate({}), `${name}: compiles`);
    t.equal((s.schema() as { $schema?: string }).$schema, 'http://json-schema.org/draft-07/schema#', `${name}: draft-07, what editors read`);
  }
});

t.test('the policy validator the product runs is generated from the policy schema as it is now', async (t) => {
  const { generatedSource, GENERATED } = await import('./generate.js');
  t.ok(readFileSync(GENERATED, 'utf8') === generatedSource(), `${GENERATED} is current (after editing a schema: node dist/test/schema/generate.js --write)`);
});

t.test('every shipped YAML file names its schema on its first line, and the file is there', async (t) => {
  const all = Object.entries(shipped).flatMap(([name, files]) => files.map((file) => ({ name: name as SchemaName, file })));
  t.ok(shipped.policy.length >= 3 && shipped.suite.length >= 1, `found the shipped files (${all.length})`);
  for (const { name, file } of all) {
    const first = readFileSync(file, 'utf8').split('\n', 1)[0];
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    t.ok(m, `${file}: modeline`);
    if (m) t.equal(resolve(dirname(file), m[1]), schemaPath(name), `${file}: names ${name}.schema.json`);
  }
});

t.test('every shipped file validates against its schema', async (t) => {
  const { parseRunConfig } = await import('../../src/proxy/index.js');
  const { parseSuite } = await import('../../src/regress/index.js');
  const { parseLabConfig } = await import('../../src/pki/index.js');
  for (const file of shipped.policy) t.same(schemaErrors(readFileSync(file, 'utf8'), file)?.map(formatError), [], file);
  for (const file of shipped.suite) t.same(parseSuite(readFileSync(file, 'utf8'), file).ok, true, file);
  for (const file of shipped['run-config']) t.same(parseRunConfig(readFileSync(file, 'utf8'), file).ok, true, file);
  for (const file of shipped['lab-pki']) t.same(parseLabConfig(readFileSync(file, 'utf8'), file).ok, true, file);
});

/** The policy texts the tests write inline: template literals and quoted strings holding a `rules:` key. */
function policiesInTests(): { text: string; where: string }[] {
  const out: { text: string; where: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const src = readFileSync(p, 'utf8');
        const rel = p.slice(fromRoot().length + 1);
        for (const m of src.matchAll(/`([^`]*)`/g)) if (!m[1].includes('${') && /(^|\n)rules:/.test(m[1])) out.push({ text: m[1], where: rel });
        for (const m of src.matchAll(/'((?:[^'\\\n]|\\.)*)'/g)) {
          if (!/(^|\\n)rules:/.test(m[1])) continue;
          try {
            out.push({ text: JSON.parse(`"${m[1].replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string, where: rel });
          } catch {
            // an escape JSON does not know: not a policy worth reading here
          }
        }
      }
    }
  };
  walk(fromRoot('test'));
  return out;
}

/** One policy using every key of the format, and one variant per value of each closed list. */
function everyKeyAndValue(): { text: string; where: string }[] {
  const full = (v: Record<string, string>) => `name: full
description: every key of the format
settings:
  tsid: {enabled: true, profile: ${v.profile ?? 'snort3-legacy'}, sessionCheck: ${v.sessionCheck ?? 'log'}}
  urlMatching: ${v.urlMatching ?? 'current'}
  failMode: ${v.failMode ?? 'closed'}
  timeouts: {peekMs: 1, probeMs: 3600000, connectMs: 5000, idleMs: 300000}
  maxHelloBytes: 512
  tsidCache: {maxEntries: 0, ttlMs: 604800000}
  oddHellos: {sslv2Compat: ${v.odd ?? 'allow'}, oddSni: ${v.odd ?? 'refuse'}}
objects:
  networks: {HOST: 10.12.1.8, NET: [10.10.0.0/16, HOST], EMPTY: null, ONE: 1.2.3.4}
  ports: {HTTPS: 443, WEB: [80, HTTPS, 8000-8999]}
  urls: {LIC: [tools.cisco.com, example.com/path]}
  applications: {Cisco: [cisco.com]}
urlDatabase: db.csv
securityIntelligence:
  network: [{name: N, action: ${v.si ?? 'block'}, entries: [10.0.0.0/8], description: x}]
  url: [{name: U, action: monitor, feed: f.txt}]
  dns: [{name: D, action: do-not-block, entries: example.org, feed: g.txt}]
prefilter:
  - {name: P, action: ${v.prefilter ?? 'Fastpath'}, sourceNetworks: [NET], destinationNetworks: any, destinationPorts: [873]}
rules:
  - name: R
    enabled: false
    action: ${v.action ?? 'Allow'}
    sourceNetworks: [HOST]
    destinationNetworks: [ONE]
    destinationPorts: [WEB]
    applications: [Cisco]
    urls:
      objects: [LIC]
      literals: [example.net]
      categories:
        - {category: News, reputation: ${v.reputation ?? 'Any'}, includeUnknown: true}
        - {category: Games}
    logging: {beginning: true, end: false}
    tsid: {enabled: false, profile: technote}
    comment: {any: [thing]}
  - {name: EMPTY, action: Block, urls: null, logging: null, tsid: null, sourceNetworks: null}
defaultAction: ${v.defaultAction ?? 'Block all traffic'}
`;
  const values: Record<string, readonly (string | number)[]> = {
    profile: TSID_PROFILES,
    sessionCheck: ['off', 'log', 'redecide'],
    urlMatching: ['current', 'legacy-substring'],
    failMode: ['closed', 'open'],
    odd: ['allow', 'refuse'],
    si: ['block', 'do-not-block', 'monitor'],
    prefilter: PREFILTER_ACTIONS,
    action: RULE_ACTIONS,
    reputation: ['Any', 1, 5, ...REPUTATION_LABELS],
    defaultAction: DEFAULT_ACTIONS,
  };
  return [{ text: full({}), where: 'every key' }, ...Object.entries(values).flatMap(([k, vs]) => vs.map((x) => ({ text: full({ [k]: typeof x === 'number' ? String(x) : `'${x}'` }), where: `${k}: ${x}` })))];
}

t.test('a policy using every key and every listed value: the loader and the schema accept it', async (t) => {
  const all = everyKeyAndValue();
  for (const { text, where } of all) {
    const loaded = parsePolicy(text, { file: 'p.yaml', baseDir: '/nonexistent', readFile: () => '' });
    t.same(loaded.ok ? [] : loaded.error.map(formatError), [], `${where}: the loader accepts it`);
    t.same(schemaErrors(text)?.map(formatError), [], `${where}: the schema accepts it`);
  }
});

t.test('the policy schema agrees with the policy loader on the shape of every policy the tests write', async (t) => {
  const corpus = [...shipped.policy.map((f) => ({ text: readFileSync(f, 'utf8'), where: f })), ...policiesInTests()];
  t.ok(corpus.length >= 40, `${corpus.length} policies found`);
  const disagreements: string[] = [];
  let accepted = 0;
  let refused = 0;
  for (const { text, where } of corpus) {
    const schema = schemaErrors(text);
    if (schema === null) continue;
    const loaded = parsePolicy(text, { file: 'p.yaml', baseDir: '/nonexistent', readFile: () => '' });
    const structural = loaded.ok ? [] : loaded.error.filter((e) => STRUCTURAL.has(e.code));
    if ((schema.length === 0) !== (structural.length === 0)) {
      disagreements.push(`${where}: schema says [${schema.map(formatError).join('; ')}], the loader [${structural.map(formatError).join('; ')}]\n${text.slice(0, 300)}`);
    }
    if (schema.length === 0) accepted++;
    else refused++;
  }
  t.same(disagreements, [], `schema and loader agree (${accepted} accepted, ${refused} refused for their shape)`);
  t.ok(accepted >= 30 && refused >= 5, 'both verdicts are exercised');
});

t.test('invalid policies fail the schema, each problem at its position', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['name: x\n', 'no rules', /^p\.yaml:1:1: .*rules.*\[policy\/missing-key\]$/],
    ['rules:\n  - name: A\n    action: Alow\n', 'a misspelt action', /^p\.yaml:3:13: .*\[policy\/schema\]$/],
    ['rules:\n  - name: A\n    action: Allow\n    colour: blue\n', 'an unknown key in a rule', /^p\.yaml:4:5: .*colour.*\[policy\/unknown-key\]$/],
    ['settings:\n  timeouts: {peekMs: 0}\nrules: []\n', 'a timeout below its bound', /^p\.yaml:2:22: .*\[policy\/schema\]$/],
    ['securityIntelligence:\n  url:\n    - {name: L, action: block}\nrules: []\n', 'an SI list with neither entries nor feed', /^p\.yaml:3:7: .*\[policy\/missing-key\]$/],
    ['rules:\n  - name: A\n    action: Block\n    urls: {categories: [{category: News, reputation: Dreadful}]}\n', 'an unknown reputation', /^p\.yaml:4:54: .*\[policy\/schema\]$/],
    ['defaultAction: Permit\nrules: []\n', 'an unknown default action', /^p\.yaml:1:16: .*\[policy\/schema\]$/],
  ];
  for (const [text, what, expected] of cases) {
    const e = schemaErrors(text);
    t.ok(e && e.length > 0, `${what}: refused`);
    t.match(e?.map(formatError)[0], expected, `${what}: positioned`);
    const loaded = parsePolicy(text, { file: 'p.yaml', baseDir: '/nonexistent' });
    t.equal(loaded.ok, false, `${what}: the loader refuses it too`);
  }
});

t.test('the closed lists the code names (actions, TSID profiles, reputation labels) are the schema\'s', async (t) => {
  const s = POLICY.schema() as { definitions: Record<string, Schema> };
  const d = s.definitions;
  const rule = d.rule.properties as Record<string, Schema>;
  t.same(rule.action.enum, RULE_ACTIONS);
  t.same(((s as unknown as { properties: Record<string, Schema> }).properties.defaultAction).enum, DEFAULT_ACTIONS);
  t.same(d.tsidProfile.enum, TSID_PROFILES);
  const prefilter = (s as unknown as { properties: { prefilter: { items: { properties: Record<string, Schema> } } } }).properties.prefilter.items.properties;
  t.same(prefilter.action.enum, PREFILTER_ACTIONS);
  const reputation = ((((rule.urls.properties as Record<string, Schema>).categories.items as Schema).properties as Record<string, Schema>).reputation.pattern as string);
  t.ok(REPUTATION_LABELS.every((l) => reputation.includes(l)), 'reputation labels');
  t.ok(existsSync(schemaPath('policy')));
});
