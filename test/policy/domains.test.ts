import t from 'tap';
import { DomainSet, parseDomainEntry, type DomainEntry } from '../../src/policy/domains.js';

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

t.test('sealed (filtered) big sets answer exactly like the plain lookup', async (t) => {
  const plain = new DomainSet();
  const sealed = new DomainSet();
  const entries: string[] = [];
  for (let i = 0; i < 6000; i++) entries.push(i % 3 === 0 ? `d${i}.example.com` : i % 3 === 1 ? `x${i}.net` : `a.b${i}.co.uk`);
  entries.push('org', 'exact.example/', 'www.*.wild.test');
  entries.forEach((e, i) => {
    plain.add(parseDomainEntry(e) as DomainEntry, i % 5);
    sealed.add(parseDomainEntry(e) as DomainEntry, i % 5);
  });
  sealed.seal();
  const hosts = ['d3.example.com', 'www.d3.example.com', 'd4.example.com', 'x4.net', 'y.x4.net', 'a.b5.co.uk', 'b5.co.uk', 'example.org',
    'exact.example', 'sub.exact.example', 'www.eu.wild.test', 'nothing.here', 'x40.net.evil.com', 'com'];
  for (const h of hosts) {
    const collect = (s: DomainSet) => {
      const out: string[] = [];
      s.forEach(h, null, (ids, entry) => out.push(`${entry}=${ids.join('+')}`));
      return out.sort();
    };
    t.same(collect(sealed), collect(plain), h);
    t.equal(sealed.first(h, null) === null, plain.first(h, null) === null, `first ${h}`);
  }
});
