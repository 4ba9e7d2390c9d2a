import t from 'tap';
import { DomainSet, parseDomainEntry, UrlDatabase, type DomainEntry } from '../../src/policy/domains.js';

function set(...entries: string[]): DomainSet {
  const s = new DomainSet();
  entries.forEach((e, i) => s.add(parseDomainEntry(e) as DomainEntry, i));
  return s;
}

t.test('a domain matches itself and its subdomains, label-aligned only', async (t) => {
  const s = set('example.com');
  t.equal(s.first('example.com', null), 'example.com');
  t.equal(s.first('www.example.com', null), 'example.com');
  t.equal(s.first('a.b.example.com', null), 'example.com');
  t.equal(s.first('example.co.uk', null), null);
  t.equal(s.first('example.com.evil.net', null), null);
  t.equal(s.first('badexample.com', null), null);
  t.equal(s.first('com', null), null);
});

t.test('ign.com does not match verisign.com', async (t) => {
  const s = set('ign.com');
  t.equal(s.first('www.ign.com', null), 'ign.com');
  t.equal(s.first('verisign.com', null), null);
});

t.test("a trailing '/' means exactly that name", async (t) => {
  const s = set('example.com/');
  t.equal(s.first('example.com', null), 'example.com/');
  t.equal(s.first('www.example.com', null), null);
});

t.test("'*' stands for one whole label", async (t) => {
  const s = set('*.example.com');
  t.equal(s.first('example.com', null), null, 'the bare domain has no label for *');
  t.equal(s.first('www.example.com', null), '*.example.com');
  t.equal(s.first('a.www.example.com', null), '*.example.com', 'and names under it');
  const mid = set('www.*.example.org');
  t.equal(mid.first('www.eu.example.org', null), 'www.*.example.org');
  t.equal(mid.first('www.a.b.example.org', null), null, '* is one label, not several');
  t.equal(mid.first('ftp.eu.example.org', null), null);
  t.match(parseDomainEntry('ww*.example.com'), /whole label/);
  t.match(parseDomainEntry('*'), /every name/);
});

t.test("a single label ('org') matches every name under it", async (t) => {
  const s = set('org');
  t.equal(s.first('example.org', null), 'org');
  t.equal(s.first('org', null), 'org');
  t.equal(s.first('example.org.uk', null), null);
});

t.test('scheme, case, port and trailing dot are normalised', async (t) => {
  t.same(parseDomainEntry('HTTPS://Example.COM.'), { host: 'example.com', exact: false, path: null, wildcard: false });
  t.same(parseDomainEntry('example.com:8443'), { host: 'example.com', exact: false, path: null, wildcard: false });
  t.match(parseDomainEntry('exa mple.com'), /not allowed/);
  t.match(parseDomainEntry('a..b'), /empty label/);
  t.match(parseDomainEntry(''), /empty/);
});

t.test('labels: 63 characters accepted, 64 refused, in any position', async (t) => {
  const l63 = 'a'.repeat(63);
  const l64 = 'a'.repeat(64);
  for (const host of [l63, `${l63}.example`, `www.${l63}.example`, `example.${l63}`]) {
    t.same(parseDomainEntry(host), { host, exact: false, path: null, wildcard: false }, `${host.length}-character name with a 63-character label`);
    t.same(parseDomainEntry(`*.${host}/`), { host: `*.${host}`, exact: true, path: null, wildcard: true }, `wildcard exact entry with a 63-character label`);
  }
  for (const host of [l64, `${l64}.example`, `www.${l64}.example`, `example.${l64}`, `https://example.${l64}/p`]) {
    t.match(parseDomainEntry(host), /label longer than 63/, `${host.length}-character entry with a 64-character label`);
  }
});

t.test('path entries need the URL path (plain HTTP) to start with it', async (t) => {
  const s = set('example.com/bad');
  t.equal(s.first('www.example.com', '/bad/x'), 'example.com/bad');
  t.equal(s.first('www.example.com', '/good'), null);
  t.equal(s.first('www.example.com', null), null, 'TLS flows carry no path');
});

t.test('forEach reports every matching entry with its lists', async (t) => {
  const s = new DomainSet();
  s.add(parseDomainEntry('cisco.com') as DomainEntry, 0);
  s.add(parseDomainEntry('toos.cisco.com') as DomainEntry, 1);
  s.add(parseDomainEntry('toos.cisco.com') as DomainEntry, 2);
  s.add(parseDomainEntry('*.cisco.com') as DomainEntry, 3);
  const seen: string[] = [];
  s.forEach('toos.cisco.com', null, (ids, entry) => seen.push(`${entry}:${ids.join('+')}`));
  t.same(seen.sort(), ['*.cisco.com:3', 'cisco.com:0', 'toos.cisco.com:1+2']);
});

t.test('big sets (hash table growth) agree with a brute-force reading of the syntax', async (t) => {
  const entries: string[] = [];
  for (let i = 0; i < 6000; i++) entries.push(i % 3 === 0 ? `d${i}.example.com` : i % 3 === 1 ? `x${i}.net` : `a.b${i}.co.uk`);
  entries.push('org', 'exact.example/', 'www.*.wild.test', '*.star.test');
  const s = new DomainSet();
  entries.forEach((e, i) => s.add(parseDomainEntry(e) as DomainEntry, i % 5));
  // Reference: label-wise comparison from the right, '*' = any one label.
  const matches = (entry: string, host: string): boolean => {
    const exact = entry.endsWith('/');
    const el = (exact ? entry.slice(0, -1) : entry).split('.').reverse();
    const hl = host.split('.').reverse();
    if (hl.length < el.length || (exact && hl.length !== el.length)) return false;
    return el.every((l, k) => l === '*' || l === hl[k]);
  };
  const hosts = ['d3.example.com', 'www.d3.example.com', 'd4.example.com', 'x4.net', 'y.x4.net', 'a.b5.co.uk', 'b5.co.uk', 'example.org',
    'exact.example', 'sub.exact.example', 'www.eu.wild.test', 'www.wild.test', 'a.star.test', 'star.test', 'nothing.here', 'x40.net.evil.com', 'com',
    ...Array.from({ length: 300 }, (_, i) => `w.d${i * 3}.example.com`)];
  let bad = 0;
  for (const h of hosts) {
    const want = entries.filter((e) => matches(e, h)).map((e) => e).sort();
    const got: string[] = [];
    s.forEach(h, null, (_ids, entry) => got.push(entry));
    if (JSON.stringify(got.sort()) !== JSON.stringify(want)) {
      bad++;
      t.same(got, want, h);
    }
    if ((s.first(h, null) !== null) !== want.length > 0) bad++;
  }
  t.equal(bad, 0);
});

t.test('thousands of entries in several lists: each match reports every list it is in', async (t) => {
  const s = new DomainSet();
  // 3,000 suffix and 3,000 exact entries (both tables grow several times), each name in
  // list i % 4, and every tenth name in list 7 as well.
  for (let i = 0; i < 3000; i++) {
    for (const e of [`n${i}.lists.test`, `e${i}.lists.test/`]) {
      s.add(parseDomainEntry(e) as DomainEntry, i % 4);
      if (i % 10 === 0) s.add(parseDomainEntry(e) as DomainEntry, 7);
    }
  }
  let bad = 0;
  for (let i = 0; i < 3000; i += 7) {
    const want = i % 10 === 0 ? [i % 4, 7] : [i % 4];
    const seen: Array<[string, readonly number[]]> = [];
    s.forEach(`www.n${i}.lists.test`, null, (ids, entry) => seen.push([entry, ids]));
    s.forEach(`e${i}.lists.test`, null, (ids, entry) => seen.push([entry, ids]));
    s.forEach(`www.e${i}.lists.test`, null, (ids, entry) => seen.push([entry, ids]));
    const expect = [[`n${i}.lists.test`, want], [`e${i}.lists.test/`, want]];
    if (JSON.stringify(seen) !== JSON.stringify(expect)) {
      bad++;
      t.same(seen, expect, `entry ${i}`);
    }
  }
  t.equal(bad, 0);
  t.equal(s.first('n12.lists.test.evil', null), null, 'a suffix of nothing');
});

t.test('URL database: the most specific entry wins, later entries replace earlier ones', async (t) => {
  const db = new UrlDatabase();
  for (let i = 0; i < 2000; i++) db.set(`h${i}.cats.test`, { categories: ['Business and Industry'], reputation: 4 });
  db.set('cats.test', { categories: ['Computers and Internet'], reputation: 5 });
  db.set('h5.cats.test', { categories: ['Malware Sites'], reputation: 1 });
  t.same(db.lookup('a.h5.cats.test'), { categories: ['Malware Sites'], reputation: 1 });
  t.same(db.lookup('h6.cats.test'), { categories: ['Business and Industry'], reputation: 4 });
  t.same(db.lookup('other.cats.test'), { categories: ['Computers and Internet'], reputation: 5 });
  t.same(db.lookup('cats.test.example'), { categories: ['Uncategorized'], reputation: 0 });
  t.equal(db.size, 2001);
});

t.test('a small set costs little: 2,000 one-name sets (a rule URL condition each) stay under 4 MB of buffers', async (t) => {
  // Each set has two tables; at their old fixed 32 KiB each, 20,000 URL rules held 1.3 GB.
  const before = process.memoryUsage().arrayBuffers;
  const sets = Array.from({ length: 2000 }, (_, i) => set(`h${i}.example.com`));
  const grown = process.memoryUsage().arrayBuffers - before;
  t.ok(grown < 4 * 1024 * 1024, `${(grown / 1048576).toFixed(1)} MB of buffers for ${sets.length} sets`);
  t.equal(sets[1234].first('www.h1234.example.com', null), 'h1234.example.com');
});
