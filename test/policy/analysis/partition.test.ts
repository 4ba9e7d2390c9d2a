// The partition of each dimension (step 1 of issue 18): every class is exact — all its members
// are inside the same sets — and every class comes with a concrete witness inside it.
import t from 'tap';
import { IpSet, parseNetwork } from '../../../src/policy/ip.js';
import { partitionAddresses, addressText, toBig } from '../../../src/policy/analysis/addresses.js';
import { partitionPorts } from '../../../src/policy/analysis/ports.js';
import { domainPattern, endingPattern, partitionNames, type NamePattern, type NameClass } from '../../../src/policy/analysis/names.js';
import { parseAddress } from '../../../src/policy/ip.js';
import { hasBit } from '../../../src/policy/analysis/bitset.js';

function ipset(...texts: string[]): IpSet {
  return new IpSet(texts.map((x) => ({ interval: parseNetwork(x) as Exclude<ReturnType<typeof parseNetwork>, string>, label: x })));
}

const big = (s: string) => toBig(parseAddress(s)!);

t.test('addresses: CIDR edges cut the space; equal membership is one class, whatever its segments', async (t) => {
  const a = ipset('10.0.0.0/8');
  const b = ipset('10.1.0.0/16', '192.0.2.0/24');
  const atoms = partitionAddresses(4, 1, [{ set: a, bit: 0 }, { set: b, bit: 1 }, { set: null, bit: 2 }]);
  // outside both, in a only, in a and b, in b only
  t.equal(atoms.count, 4);
  const at = (x: string) => atoms.locate(big(x));
  t.equal(at('9.255.255.255'), at('11.0.0.0'), 'both sides of 10/8 are one class');
  t.equal(at('9.255.255.255'), at('192.0.3.0'));
  t.not(at('10.0.255.255'), at('10.1.0.0'), 'the /16 edge cuts');
  t.equal(at('10.0.255.255'), at('10.2.0.0'), '10/8 minus 10.1/16 is one class of two segments');
  t.same(atoms.segments(at('10.0.0.1')).map(([lo, hi]) => `${addressText(4, lo)}-${addressText(4, hi)}`), ['10.0.0.0-10.0.255.255', '10.2.0.0-10.255.255.255']);
  for (let c = 0; c < atoms.count; c++) {
    t.equal(atoms.locate(atoms.witness(c)), c, `witness ${atoms.witnessText(c)} is inside class ${c}`);
    t.ok(hasBit(atoms.bits(c), 2), 'an any-set is a member everywhere');
  }
  t.equal(atoms.witnessText(at('11.0.0.0')), '198.51.100.1', 'a documentation address when one is inside');
  t.equal(atoms.size(at('10.1.2.3')), 65536);
  t.equal(atoms.bits(at('10.1.2.3'))[0] & 3, 3);
  t.equal(atoms.bits(at('192.0.2.9'))[0] & 3, 2);
});

t.test('addresses: single addresses (a name entry spelling an address) are classes of their own', async (t) => {
  const atoms = partitionAddresses(4, 1, [{ set: ipset('10.0.0.0/8'), bit: 0 }], [big('10.0.0.7')]);
  t.equal(atoms.count, 3);
  const c = atoms.locate(big('10.0.0.7'));
  t.same(atoms.segments(c).length, 1);
  t.equal(atoms.witnessText(c), '10.0.0.7');
  t.equal(atoms.locate(big('10.0.0.6')), atoms.locate(big('10.0.0.8')));
});

t.test('addresses: IPv6, and the IPv4-mapped block is no IPv6 flow', async (t) => {
  const atoms = partitionAddresses(6, 1, [{ set: ipset('2001:db8::/32'), bit: 0 }, { set: ipset('::/0'), bit: 1 }]);
  t.ok(atoms.inSpace(atoms.locate(big('2001:db8::5'))));
  t.ok(!atoms.inSpace(atoms.locate(0xffff00000001n)), '::ffff:0.0.0.1 is outside the IPv6 space');
  t.equal(atoms.witnessText(atoms.locate(big('2001:db8::5'))), '2001:db8::1');
  t.equal(atoms.locate(big('::1')), atoms.locate(big('2001:db9::1')), 'both sides of 2001:db8::/32 are one class');
  t.equal(addressText(6, big('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  t.equal(addressText(6, 0n), '::');
});

t.test('ports: every range edge cuts 1..65535; overlapping ranges of one rule count once', async (t) => {
  const p = partitionPorts(1, [
    { ranges: Int32Array.of(80, 80), bit: 0 },
    { ranges: Int32Array.of(1, 1024, 443, 443), bit: 1 },
    { ranges: null, bit: 2 },
  ]);
  t.equal(p.count, 3);
  t.same(p.segments(p.locate(443)), [[1, 79], [81, 1024]]);
  t.same(p.segments(p.locate(80)), [[80, 80]]);
  t.same(p.segments(p.locate(65535)), [[1025, 65535]]);
  t.equal(p.witness(p.locate(22)), 443);
  t.equal(p.witness(p.locate(80)), 80);
  t.equal(p.witness(p.locate(2000)), 8443);
  t.equal(p.size(p.locate(22)), 1023);
});

// A brute-force reading of a pattern, as the DomainSet and substring matchers read it.
function matches(name: string, p: NamePattern): boolean {
  const labels = name.split('.').reverse();
  const need = p.labels.length + (p.partialEnd !== null ? 1 : 0);
  if (labels.length < need || (p.exact && labels.length !== need)) return false;
  for (let k = 0; k < p.labels.length; k++) if (p.labels[k] !== '*' && p.labels[k] !== labels[k]) return false;
  return p.partialEnd === null || labels[p.labels.length].endsWith(p.partialEnd);
}

const vector = (name: string, ps: readonly NamePattern[]) => ps.map((p) => (matches(name, p) ? '1' : '0')).join('');

function pseudoRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('names: suffix, exact, wildcard and ending patterns; every name has a class with its matches', async (t) => {
  const patterns: NamePattern[] = [
    domainPattern('cisco.com', false),
    domainPattern('tools.cisco.com', false),
    domainPattern('toos.cisco.com', false),
    domainPattern('tool.cisco.com', true),
    domainPattern('*.cisco-licensing.com', false),
    domainPattern('*.*.example', true),
    domainPattern('org', false),
    endingPattern('ample.com')!,
    endingPattern('mple.com')!,
    endingPattern('.webex.com')!,
  ];
  const classes: NameClass[] = [];
  const r = partitionNames(patterns, (c) => classes.push(c));
  t.equal(r.unwitnessed, 0);
  t.equal(r.classes, classes.length);
  const byWitness = new Map(classes.map((c) => [c.witness, c]));
  t.equal(byWitness.size, classes.length, 'witnesses are distinct');
  t.ok(byWitness.get('toos.cisco.com')?.description.includes('toos.cisco.com and names under it'));
  t.match(byWitness.get('tool.cisco.com')?.description, /exactly/);
  t.ok(byWitness.has('www.example.invalid'), 'the names nothing matches have a class');
  const vectors = new Set(classes.map((c) => vector(c.witness, patterns)));
  // Random names built from the patterns' own labels, endings and strangers: each one's
  // match vector must be some class's.
  const rnd = pseudoRandom(7);
  const pool = ['com', 'cisco', 'tools', 'toos', 'tool', 'cisco-licensing', 'example', 'org', 'ample', 'xample', 'mple', 'simple', 'webex', 'a', 'zz', 'www'];
  let checked = 0;
  for (let i = 0; i < 20_000; i++) {
    const n = 1 + Math.floor(rnd() * 4);
    const name = Array.from({ length: n }, () => pool[Math.floor(rnd() * pool.length)]).join('.');
    const v = vector(name, patterns);
    if (!vectors.has(v)) t.fail(`${name}: no class matches like it (${v})`);
    checked++;
  }
  t.equal(checked, 20_000);
  // Each class is one set of matches: two witnesses of different classes may share a vector
  // (the walk never merges across label paths), but every class's witness is really in it.
  for (const c of classes) t.ok(c.weight > 0 && c.weight <= 1, `${c.witness}: weight ${c.weight}`);
});

t.test('names: nothing but entries under one name yields few classes', async (t) => {
  const classes: NameClass[] = [];
  partitionNames([domainPattern('a.example.com', false), domainPattern('b.example.com', false)], (c) => classes.push(c));
  t.same(classes.map((c) => c.description).sort(), ['a.example.com and names under it', 'any other name', 'b.example.com and names under it', 'com and names under it', 'example.com and names under it'].sort());
});
