// The pcapng writer on its own: what it writes is read back by peekwall's own reader (both IP
// families, large chunks cut into segments, the probe interface told apart), its address
// parser, and the ring's bound — past it the oldest flows go, the newest stay.
import t, { type Test } from 'tap';
import { CaptureRing, CaptureWalk, ipBytes, type FlowConsumer, type FlowStart, type RecordedFlow } from '../../src/capture/index.js';

function flow(o: { client: string; server: string; port: number; clientBytes: number; serverBytes: number; probe?: boolean }): RecordedFlow {
  return {
    client: { ip: o.client, port: o.port },
    server: { ip: o.server, port: 443 },
    comment: `flow ${o.port}`,
    probe: o.probe ?? false,
    startUs: 1_700_000_000_000_000,
    chunks: [
      { fromClient: true, us: 1_700_000_000_000_100, bytes: new Uint8Array(o.clientBytes).fill(1) },
      { fromClient: false, us: 1_700_000_000_000_200, bytes: new Uint8Array(o.serverBytes).fill(2) },
    ],
    endUs: 1_700_000_000_000_300,
  };
}

interface Seen {
  start: FlowStart;
  client: number;
  server: number;
  ended: string[];
}

function readBack(t: Test, file: Uint8Array): Seen[] {
  const seen: Seen[] = [];
  const walk = new CaptureWalk((start): FlowConsumer => {
    const s: Seen = { start, client: 0, server: 0, ended: [] };
    seen.push(s);
    return {
      wants: () => true,
      data: (side, b) => {
        s[side] += b.length;
      },
      end: (side, how) => s.ended.push(`${side}:${how}`),
      note: () => undefined,
      close: () => undefined,
    };
  });
  walk.push(file);
  const summary = walk.end();
  t.same(summary.problems, [], 'the file reads without a problem');
  return seen;
}

t.test('flows written are read back: handshake, every byte in order, FINs; IPv4 and IPv6; the probe interface', async (t) => {
  const ring = new CaptureRing(16 * 1024 * 1024);
  ring.add(flow({ client: '10.12.1.8', server: '72.163.4.38', port: 40001, clientBytes: 517, serverBytes: 100_000 }));
  ring.add(flow({ client: '2001:db8::8', server: '72.163.4.38', port: 40002, clientBytes: 300, serverBytes: 4000 }));
  ring.add(flow({ client: '10.12.1.8', server: '72.163.4.38', port: 40003, clientBytes: 200, serverBytes: 3000, probe: true }));
  const seen = readBack(t, ring.file());
  t.same(
    seen.map((s) => [s.start.client.ip, s.start.server.ip, s.start.client.port, s.start.syn, s.client, s.server]),
    [
      ['10.12.1.8', '72.163.4.38', 40001, true, 517, 100_000],
      // Mixed families are drawn as IPv6, the IPv4 side mapped.
      ['2001:db8::8', '::ffff:72.163.4.38', 40002, true, 300, 4000],
      ['10.12.1.8', '72.163.4.38', 40003, true, 200, 3000],
    ],
    'addresses, the handshake, and every byte of both sides (100,000 server bytes cut into segments)',
  );
  t.ok(seen.every((s) => s.ended.includes('client:fin') && s.ended.includes('server:fin')), 'both sides end with a FIN');
  t.same(seen.map((s) => s.start.first.probe === true), [false, false, true], 'only the probe is on the probe interface');
});

t.test('ipBytes: IPv4, IPv6 with ::, an embedded IPv4, a zone; nonsense is null', async (t) => {
  t.same([...(ipBytes('127.163.4.38') ?? [])], [127, 163, 4, 38]);
  t.same([...(ipBytes('::1') ?? [])], [...new Array(15).fill(0), 1]);
  t.same([...(ipBytes('::ffff:1.2.3.4') ?? [])], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
  t.same([...(ipBytes('fe80::1%eth0') ?? [])].slice(0, 2), [0xfe, 0x80]);
  for (const bad of ['', '1.2.3', '256.1.1.1', '1::2::3', 'x::1', '1:2:3:4:5:6:7:8:9']) t.equal(ipBytes(bad), null, bad);
});

t.test('the ring: past its bound the oldest flows go, the newest stay; a flow larger than the bound is left out', async (t) => {
  const one = flow({ client: '10.0.0.1', server: '10.0.0.2', port: 1, clientBytes: 500, serverBytes: 5000 });
  const probe = new CaptureRing(1 << 30);
  probe.add(one);
  const per = probe.file().length;
  const ring = new CaptureRing(per * 3);
  for (let port = 1; port <= 10; port++) ring.add(flow({ client: '10.0.0.1', server: '10.0.0.2', port, clientBytes: 500, serverBytes: 5000 }));
  t.ok(ring.size >= 2 && ring.size <= 3, `a few flows kept (${ring.size})`);
  t.equal(ring.dropped, 10 - ring.size, 'the others are counted as dropped');
  t.same(readBack(t, ring.file()).map((s) => s.start.client.port), Array.from({ length: ring.size }, (_, i) => 10 - ring.size + 1 + i), 'the newest ones, in order');
  ring.add(flow({ client: '10.0.0.1', server: '10.0.0.2', port: 99, clientBytes: per * 4, serverBytes: 0 }));
  t.equal(readBack(t, ring.file()).at(-1)?.start.client.port, 10, 'a flow over the whole bound is not kept');
});
