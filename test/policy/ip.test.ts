import fc from 'fast-check';
import t from 'tap';
import { IpSet, parseAddress, parseIpv4, parseIpv6, parseNetwork, type Interval } from '../../src/policy/ip.js';

t.test('IPv4 parsing refuses ambiguous and malformed text', async (t) => {
  t.equal(parseIpv4('10.12.1.8'), 10 * 2 ** 24 + 12 * 2 ** 16 + 1 * 256 + 8);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.', 'a.b.c.d', ' 1.2.3.4']) {
    t.equal(parseIpv4(bad), -1, bad);
  }
});

t.test('IPv6 parsing: compression, embedded IPv4, zones, errors', async (t) => {
  const w = new Uint32Array(4);
  t.ok(parseIpv6('2001:db8::1', w));
  t.same([...w], [0x20010db8, 0, 0, 1]);
  t.ok(parseIpv6('::', w));
  t.same([...w], [0, 0, 0, 0]);
  t.ok(parseIpv6('::ffff:10.12.1.8', w));
  t.same([...w], [0, 0, 0xffff, 0x0a0c0108]);
  t.ok(parseIpv6('fe80::1%eth0', w));
  t.same([...w], [0xfe800000, 0, 0, 1]);
  t.ok(parseIpv6('1:2:3:4:5:6:7:8', w));
  t.same([...w], [0x10002, 0x30004, 0x50006, 0x70008]);
  for (const bad of [':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', '1:2:3:4:5:6:7', 'g::1', '1:', ':1']) {
    t.notOk(parseIpv6(bad, w), bad);
  }
});

t.test('IPv4-mapped IPv6 becomes IPv4 so IPv4 objects match dual-stack sockets', async (t) => {
  t.same(parseAddress('::ffff:127.0.0.1'), { family: 4, v4: 0x7f000001 });
});

t.test('networks: CIDR host bits cleared, ranges ordered, families not mixed', async (t) => {
  t.same(parseNetwork('10.1.2.3/8'), { family: 4, start: 0x0a000000, end: 0x0affffff });
  t.same(parseNetwork('0.0.0.0/0'), { family: 4, start: 0, end: 0xffffffff });
  t.same(parseNetwork('10.0.0.9 - 10.0.0.1'), "'10.0.0.9 - 10.0.0.1' is an empty range (start after end)");
  t.match(parseNetwork('10.0.0.1-2001:db8::1'), /mixes IPv4 and IPv6/);
  t.match(parseNetwork('10.0.0.0/33'), /prefix length must be 0-32/);
  t.match(parseNetwork('2001:db8::/129'), /0-128/);
  const v6 = parseNetwork('2001:db8:abcd::/36') as Extract<Interval, { family: 6 }>;
  t.same([...v6.start], [0x20010db8, 0xa0000000, 0, 0]);
  t.same([...v6.end], [0x20010db8, 0xafffffff, 0xffffffff, 0xffffffff]);
});

t.test('IpSet: hosts, CIDRs, ranges and IPv6 prefixes', async (t) => {
  const entries = ['10.12.1.8', '10.10.0.0/16', '192.0.2.10-192.0.2.20', '2001:db8:bad::/48', '::1'].map((label) => ({
    interval: parseNetwork(label) as Interval,
    label,
  }));
  const set = new IpSet(entries);
  const find = (ip: string) => {
    const a = parseAddress(ip);
    if (!a) return undefined;
    const i = set.find(a);
    return i >= 0 ? set.label(i) : undefined;
  };
  t.equal(find('10.12.1.8'), '10.12.1.8');
  t.equal(find('10.12.1.9'), undefined);
  t.equal(find('10.10.81.2'), '10.10.0.0/16');
  t.equal(find('10.11.0.0'), undefined);
  t.equal(find('192.0.2.20'), '192.0.2.10-192.0.2.20');
  t.equal(find('192.0.2.21'), undefined);
  t.equal(find('2001:db8:bad:ffff::1'), '2001:db8:bad::/48');
  t.equal(find('2001:db8:bae::1'), undefined);
  t.equal(find('::1'), '::1');
  t.equal(find('::2'), undefined);
});

t.test('IpSet.find4 agrees with a scan of every entry (property)', async (t) => {
  const range = fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 300 })).map(([s, len]) => ({ s, e: s + len }));
  fc.assert(
    fc.property(fc.array(range, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 5400 }), { maxLength: 40 }), (ranges, probes) => {
      const set = new IpSet(ranges.map((r, i) => ({ interval: { family: 4, start: r.s, end: r.e } as Interval, label: String(i) })));
      for (const p of probes) {
        const scan = ranges.some((r) => p >= r.s && p <= r.e);
        if ((set.find4(p) >= 0) !== scan) return false;
      }
      return true;
    }),
    { numRuns: 300, seed: 0x7065656b },
  );
  t.pass('find4 matches the scan');
});

t.test('IpSet.covers', async (t) => {
  const mk = (...xs: string[]) => new IpSet(xs.map((label) => ({ interval: parseNetwork(label) as Interval, label })));
  t.ok(mk('10.0.0.0/8').covers(mk('10.1.0.0/16', '10.2.3.4')));
  t.notOk(mk('10.0.0.0/16').covers(mk('10.0.0.0/8')));
  t.ok(mk('10.0.0.0/9', '10.128.0.0/9').covers(mk('10.0.0.0/8')), 'adjacent intervals merge');
  t.ok(mk('2001:db8::/32').covers(mk('2001:db8:1::/48')));
  t.notOk(mk('2001:db8::/48').covers(mk('2001:db8::/32')));
});

t.test('IpSet: adjacent IPv6 intervals merge (lint coverage relies on it), a one-address gap does not', async (t) => {
  const mk = (...xs: string[]) => new IpSet(xs.map((label) => ({ interval: parseNetwork(label) as Interval, label })));
  const hex = (w: Uint32Array) => [...w].map((x) => x.toString(16).padStart(8, '0')).join(':');
  const spans = (s: IpSet) => s.intervals6().map((iv) => `${hex(iv.s)}-${hex(iv.e)}`);
  // Two halves of a /32, in either order: one interval, which covers the /32.
  for (const halves of [['2001:db8::/33', '2001:db8:8000::/33'], ['2001:db8:8000::/33', '2001:db8::/33']]) {
    const set = mk(...halves);
    t.equal(set.size, 1, `${halves.join(' + ')}: one merged interval`);
    t.same(spans(set), ['20010db8:00000000:00000000:00000000-20010db8:ffffffff:ffffffff:ffffffff']);
    t.ok(set.covers(mk('2001:db8::/32')), `${halves.join(' + ')} covers 2001:db8::/32`);
  }
  // Adjacency across a 32-bit word boundary (the +1 carries from word 3 into word 2) and
  // within the last word.
  t.equal(mk('2001:db8::-2001:db8::ffff:ffff', '2001:db8::1:0:0-2001:db8::1:ffff:ffff').size, 1, 'carry across a word boundary');
  t.ok(mk('2001:db8::-2001:db8::ffff:ffff', '2001:db8::1:0:0-2001:db8::1:ffff:ffff').covers(mk('2001:db8::/95')));
  t.equal(mk('::1-::5', '::6-::9').size, 1, '::1-::5 + ::6-::9');
  t.ok(mk('::1-::5', '::6-::9').covers(mk('::1-::9')));
  // Not adjacent: '::7' is in neither, so two intervals and no coverage of the whole.
  t.equal(mk('::1-::6', '::8-::9').size, 2, 'a one-address gap keeps two intervals');
  t.notOk(mk('::1-::6', '::8-::9').covers(mk('::1-::9')));
  // The top of the address space: adding one overflows, the set must still merge what overlaps.
  t.equal(mk('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').size, 1, 'top address');
});

t.test('big IpSets (bucketed by /16) still agree with a scan', async (t) => {
  // 3000 intervals force the /16 bucket table; some span many /16s.
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const ranges = Array.from({ length: 3000 }, (_, i) => {
    const s = Math.floor(rnd() * 2 ** 32);
    const len = i % 100 === 0 ? Math.floor(rnd() * 2 ** 24) : Math.floor(rnd() * 512);
    return { s, e: Math.min(2 ** 32 - 1, s + len) };
  });
  const set = new IpSet(ranges.map((r, i) => ({ interval: { family: 4, start: r.s, end: r.e } as Interval, label: String(i) })));
  let mismatches = 0;
  const probes = [...ranges.slice(0, 500).flatMap((r) => [r.s, r.e, r.e + 1, r.s - 1]), ...Array.from({ length: 2000 }, () => Math.floor(rnd() * 2 ** 32))];
  for (const p of probes) {
    if (p < 0 || p > 2 ** 32 - 1) continue;
    const scan = ranges.some((r) => p >= r.s && p <= r.e);
    if ((set.find4(p) >= 0) !== scan) mismatches++;
  }
  t.equal(mismatches, 0);
});
