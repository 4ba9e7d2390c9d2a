// The capture formats and link layers, on captures built from bytes: pcap in both byte
// orders and resolutions, pcapng with several sections (each its own byte order) and
// interfaces (each its own link type and timestamp resolution), every link type read, and the
// damaged files (truncated, unknown link type, corrupt lengths) named with a capture/ code
// while the packets before the damage are still used.
import t from 'tap';
import { CaptureReader, decodeFrame, sniffCaptureFormat, type CapturedPacket } from '../../src/capture/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { ethernet, flowSegments, ipPacket, nullLoop, pcap, pcapng, sll, sll2, type Seg } from './build.js';
import { peekAll } from './lib.js';

const hello = readFixture('clienthello', 'openssl-default-sni.bin'); // SNI www.corpus.test
const flight = readFixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin');
const segs = flowSegments({ clientBytes: hello, serverBytes: flight, mss: 100 });

function readPackets(bytes: Buffer, chunk = bytes.length): { packets: CapturedPacket[]; problem: ReturnType<CaptureReader['end']> } {
  const r = new CaptureReader();
  const packets: CapturedPacket[] = [];
  // The data is a view valid during the callback: copy it as a consumer that keeps it must.
  const sink = (p: CapturedPacket) => packets.push({ ...p, data: Buffer.from(p.data) });
  for (let o = 0; o < bytes.length; o += chunk) if (r.push(bytes.subarray(o, o + chunk), sink)) break;
  return { packets, problem: r.end() };
}

/** The one flow's SNI and certificate, as peekAll reads them. */
function flowFacts(bytes: Buffer, chunk?: number) {
  const { flows, summary } = peekAll(bytes, chunk);
  return {
    problems: summary.problems.map((p) => p.code),
    flows: flows.map((f) => ({
      stream: f.stream,
      client: f.client,
      server: f.server,
      sni: f.hello?.kind === 'hello' ? f.hello.hello.sni : f.hello?.kind,
      cert: f.flight?.kind === 'certificate' ? f.flight.chain.length : f.flight?.kind,
    })),
  };
}

const ONE_FLOW = [{ stream: 0, client: { ip: '10.12.1.8', port: 40722 }, server: { ip: '72.163.4.38', port: 443 }, sni: 'www.corpus.test', cert: 1 }];

t.test('pcap: both byte orders, micro- and nanosecond timestamps, any chunking', async (t) => {
  const frames = segs.map((s, i) => ({ data: ethernet(ipPacket(s)), timeMs: 1_700_000_000_123.456 + i }));
  for (const be of [false, true]) {
    for (const nanos of [false, true]) {
      const file = pcap(frames, { be, nanos });
      t.equal(sniffCaptureFormat(file), 'pcap');
      const { packets, problem } = readPackets(file, 13);
      t.equal(problem, null, `be=${be} nanos=${nanos}: read to the end`);
      t.equal(packets.length, frames.length);
      t.same(packets.map((p) => p.frame), frames.map((_, i) => i + 1), 'frames numbered from 1');
      // Microsecond files keep 3 decimals of the millisecond, nanosecond ones all of it.
      t.ok(Math.abs(packets[0].timeMs - 1_700_000_000_123.456) < (nanos ? 1e-3 : 1e-3 + 1e-9), `time ${packets[0].timeMs}`);
      t.same(flowFacts(file, 29), { problems: [], flows: ONE_FLOW }, 'the flow read');
    }
  }
});

t.test('pcapng: several sections (LE then BE), several interfaces with their own link type and resolution, other blocks skipped', async (t) => {
  const second = flowSegments({ clientBytes: hello, serverBytes: flight, client: { ip: '2001:db8::8', port: 50000 }, server: { ip: '2001:db8::443', port: 443 } });
  const file = pcapng([
    {
      interfaces: [{ linkType: 1 }, { linkType: 276, tsresol: 9 }],
      junk: true,
      // The first flow's packets alternate between the two interfaces (an 'any' style capture).
      packets: segs.map((s, i) => ({
        iface: i % 2,
        data: i % 2 ? sll2(ipPacket(s)) : ethernet(ipPacket(s)),
        ts: i % 2 ? 1_700_000_000_000_000_000n + BigInt(i) : 1_700_000_000_000_000n + BigInt(i),
      })),
    },
    {
      be: true,
      interfaces: [{ linkType: 101, tsresol: 0x80 | 10 }],
      packets: second.map((s, i) => ({ iface: 0, data: ipPacket(s), ts: 1_700_000_000n * 1024n + BigInt(i) })),
    },
  ]);
  t.equal(sniffCaptureFormat(file), 'pcapng');
  const { packets, problem } = readPackets(file, 64);
  t.equal(problem, null);
  t.equal(packets.length, segs.length + second.length);
  t.equal(packets[0].linkType, 1);
  t.equal(packets[1].linkType, 276);
  t.equal(packets[segs.length].linkType, 101, 'the second section has its own interface 0');
  t.ok(Math.abs(packets[0].timeMs - 1_700_000_000_000) < 1e-6, 'microseconds by default');
  t.ok(Math.abs(packets[1].timeMs - 1_700_000_000_000.000001) < 1e-3, 'if_tsresol 9: nanoseconds');
  t.ok(Math.abs(packets[segs.length].timeMs - 1_700_000_000_000) < 1e-3, 'if_tsresol 2^-10 in a big-endian section');
  const facts = flowFacts(file, 50);
  t.same(facts.problems, []);
  t.same(facts.flows, [
    ...ONE_FLOW,
    { stream: 1, client: { ip: '2001:db8::8', port: 50000 }, server: { ip: '2001:db8::443', port: 443 }, sni: 'www.corpus.test', cert: 1 },
  ]);
});

t.test('link types: Ethernet with 802.1Q and QinQ, SLL, SLL2, raw IP (101, 12, 228/229), BSD loopback both orders, OpenBSD loop', async (t) => {
  const cases: [string, number, (ip: Buffer) => Buffer][] = [
    ['Ethernet 802.1Q', 1, (ip) => ethernet(ip, [42])],
    ['Ethernet QinQ', 1, (ip) => ethernet(ip, [100, 42])],
    ['SLL', 113, sll],
    ['SLL2', 276, sll2],
    ['raw 101', 101, (ip) => ip],
    ['raw 12', 12, (ip) => ip],
    ['raw IPv4 228', 228, (ip) => ip],
    ['NULL little-endian', 0, (ip) => nullLoop(ip, true)],
    ['NULL big-endian', 0, (ip) => nullLoop(ip, false)],
  ];
  for (const [what, linkType, wrap] of cases) {
    const file = pcap(segs.map((s) => ({ data: wrap(ipPacket(s)) })), { linkType });
    t.same(flowFacts(file), { problems: [], flows: ONE_FLOW }, what);
  }
  const v6 = flowSegments({ clientBytes: hello, serverBytes: flight, client: { ip: 'fe80::1', port: 40000 }, server: { ip: '::ffff:0:0', port: 443 } });
  for (const [what, linkType, wrap] of [
    ['raw IPv6 229, hop-by-hop header', 229, (s: Seg) => ipPacket(s, { ipv6ExtHeaders: true })],
    ['NULL AF_INET6=24 (BSD)', 0, (s: Seg) => nullLoop(ipPacket(s), true, 24)],
    ['NULL AF_INET6=28 (FreeBSD)', 0, (s: Seg) => nullLoop(ipPacket(s), true, 28)],
    ['LOOP (OpenBSD, network order) AF 24', 108, (s: Seg) => nullLoop(ipPacket(s), false, 24)],
  ] as const) {
    const file = pcap(v6.map((s) => ({ data: wrap(s) })), { linkType });
    const f = flowFacts(file);
    t.same(f.problems, [], what);
    t.same(f.flows.map((x) => [x.client.ip, x.sni, x.cert]), [['fe80::1', 'www.corpus.test', 1]], what);
  }
});

t.test('frames that are not TCP are counted, not errors: UDP, ARP, IP fragments', async (t) => {
  const udp = ipPacket(segs[0]);
  udp[9] = 17;
  const arp = Buffer.concat([Buffer.alloc(12, 0xbb), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
  const frag = ipPacket(segs[3], { fragment: true });
  const file = pcap([{ data: ethernet(udp) }, { data: arp }, { data: ethernet(frag) }, ...segs.map((s) => ({ data: ethernet(ipPacket(s)) }))]);
  const { flows, summary } = peekAll(file);
  t.same(summary.skipped, { 'not-tcp': 1, 'not-ip': 1, 'ip-fragment': 1 });
  t.equal(flows.length, 1);
  t.equal(decodeFrame(1, Buffer.alloc(5)), 'short', 'a runt frame');
});

t.test('a truncated file: capture/truncated, and the packets before the cut are still used', async (t) => {
  const file = pcap(segs.map((s) => ({ data: ethernet(ipPacket(s)) })));
  // Cut inside the server's second segment: the hello (earlier) is whole.
  const cut = file.length - 200;
  const { flows, summary } = peekAll(file.subarray(0, cut), 512);
  t.same(summary.problems.map((p) => p.code), ['capture/truncated']);
  t.match(summary.problems[0].message, /ends inside a record at byte \d+/);
  t.equal(flows.length, 1);
  t.equal(flows[0].hello?.kind === 'hello' && flows[0].hello.hello.sni, 'www.corpus.test', 'the hello before the cut is decoded');
  // A cut inside the global header: not even the format is known.
  t.same(peekAll(file.subarray(0, 10)).summary.problems.map((p) => p.code), ['capture/unknown-format']);
  const ng = pcapng([{ interfaces: [{ linkType: 1 }], packets: segs.map((s, i) => ({ iface: 0, data: ethernet(ipPacket(s)), ts: BigInt(i) })) }]);
  t.same(peekAll(ng.subarray(0, ng.length - 3)).summary.problems.map((p) => p.code), ['capture/truncated'], 'pcapng too');
});

t.test('an unknown link type is named; in pcapng the other interfaces are still read', async (t) => {
  const only = pcap(segs.map((s) => ({ data: ethernet(ipPacket(s)) })), { linkType: 127 });
  const a = peekAll(only);
  t.same(a.summary.problems.map((p) => p.code), ['capture/unknown-link-type']);
  t.match(a.summary.problems[0].message, new RegExp(`link type 127 .* ${segs.length} frame\\(s\\) skipped, frames 1..${segs.length}`));
  t.equal(a.flows.length, 0);
  const mixed = pcapng([
    {
      interfaces: [{ linkType: 1 }, { linkType: 105 }],
      packets: [
        ...segs.map((s, i) => ({ iface: 0, data: ethernet(ipPacket(s)), ts: BigInt(i) })),
        { iface: 1, data: Buffer.alloc(40), ts: 99n },
      ],
    },
  ]);
  const b = flowFacts(mixed);
  t.same(b.problems, ['capture/unknown-link-type']);
  t.same(b.flows, ONE_FLOW, 'the Ethernet interface is read');
});

t.test('damaged files: not a capture, an absurd record length, a pcapng block whose lengths disagree, an undeclared interface', async (t) => {
  const codes = (b: Buffer) => peekAll(b).summary.problems.map((p) => p.code);
  t.same(codes(Buffer.from('GET / HTTP/1.1\r\n\r\n')), ['capture/unknown-format']);
  t.same(codes(Buffer.alloc(0)), ['capture/unknown-format']);
  const file = pcap(segs.map((s) => ({ data: ethernet(ipPacket(s)) })));
  const huge = Buffer.from(file);
  huge.writeUInt32LE(0x7fffffff, 24 + 8); // the first record's captured length
  t.same(codes(huge), ['capture/record-too-large']);
  const ng = pcapng([{ interfaces: [{ linkType: 1 }], packets: segs.map((s, i) => ({ iface: 0, data: ethernet(ipPacket(s)), ts: BigInt(i) })) }]);
  const bad = Buffer.from(ng);
  bad.writeUInt32LE(0, ng.length - 4);
  const r = peekAll(bad);
  t.same(r.summary.problems.map((p) => p.code), ['capture/bad-block']);
  t.equal(r.summary.packets, segs.length - 1, 'every block before the bad one was read');
  const noIface = pcapng([{ interfaces: [], packets: [{ iface: 3, data: ethernet(ipPacket(segs[0])), ts: 0n }] }]);
  t.same(codes(noIface), ['capture/bad-interface']);
  const v1 = Buffer.from(file);
  v1.writeUInt16LE(1, 4);
  t.same(codes(v1), ['capture/bad-header'], 'pcap version 1.x');
});
