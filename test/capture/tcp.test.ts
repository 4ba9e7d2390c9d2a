// TCP reassembly per direction on hand-built flows: out-of-order segments, retransmissions of
// the same bytes, overlapping retransmissions carrying different bytes (first wins, noted),
// missing segments (named: acknowledged-unseen, a hole at the end, the snaplen), flows whose
// handshake is not in the capture, connections that reuse addresses and ports.
import t from 'tap';
import { readFixture } from '../helpers/fixtures.js';
import { policyFrom } from '../proxy/lib/net.js';
import { ethernet, flowSegments, ipPacket, pcap, pcapOf, type Seg } from './build.js';
import { peekAll, replayAll } from './lib.js';

const hello = readFixture('clienthello', 'openssl-default-sni.bin'); // 321 bytes, SNI www.corpus.test
const flight = readFixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin');
// 0 SYN, 1 SYN-ACK, 2 ACK, 3..6 the hello in 100-byte segments, 7..8 the server flight, 9..11 FINs and the last ACK.
const segs = flowSegments({ clientBytes: hello, serverBytes: flight, mss: 100 });
const pick = (...idx: number[]) => idx.map((i) => segs[i]);

const policy = policyFrom(`
name: tcp
settings:
  tsid: { enabled: false }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

/** The hello's SNI bytes replaced (same length): a retransmission that says something else. */
function withSni(seg: Seg, from: string, to: string): Seg {
  const p = Buffer.from(seg.payload ?? []);
  const at = p.indexOf(from);
  if (at < 0) throw new Error(`${from} not in this segment`);
  p.write(to, at, 'latin1');
  return { ...seg, payload: p };
}

t.test('out-of-order segments are put back in order, both directions', async (t) => {
  const file = pcapOf([...pick(0, 1, 2, 6, 4, 3, 5), segs[8], segs[7], ...pick(9, 10, 11)]);
  const { flows } = peekAll(file);
  t.equal(flows.length, 1);
  t.equal(flows[0].hello?.kind === 'hello' && flows[0].hello.hello.sni, 'www.corpus.test');
  t.equal(flows[0].flight?.kind, 'certificate', 'the server flight reassembled too');
  t.same(flows[0].notes, []);
});

t.test('a retransmission of the same bytes changes nothing and is not noted', async (t) => {
  const file = pcapOf([...pick(0, 1, 2, 3, 4, 4, 3, 5, 5, 6, 6), ...pick(7, 8, 8, 9, 10, 11)]);
  const { flows } = replayAll(file, { policy });
  t.equal(flows.length, 1);
  t.equal(flows[0].evaluated, true);
  t.equal(flows[0].event?.sni, 'www.corpus.test');
  t.same(flows[0].notes, []);
  t.equal(flows[0].event?.bytesFromClient, hello.length, 'retransmitted bytes counted once');
  t.equal(flows[0].event?.bytesFromServer, flight.length);
});

t.test('overlapping bytes that differ: the first bytes seen win, and the flow says so', async (t) => {
  // Segment 3 carries the SNI. An in-order copy is delivered first; a later copy with another
  // name is ignored.
  const sniSeg = [3, 4, 5, 6].find((i) => Buffer.from(segs[i].payload ?? []).includes('corpus.test')) as number;
  const other = withSni(segs[sniSeg], 'corpus.test', 'corpus.evil');
  const later = pcapOf([...pick(0, 1, 2), ...[3, 4, 5, 6].flatMap((i) => (i === sniSeg ? [segs[i], other] : [segs[i]])), ...pick(7, 8, 9, 10, 11)]);
  const a = replayAll(later, { policy, trace: true });
  t.equal(a.flows[0].event?.sni, 'www.corpus.test', 'the delivered bytes stand');
  t.same(a.flows[0].notes.map((n) => n.code), ['capture/overlap-differs']);
  t.match(a.flows[0].notes[0].message, /first-wins/);
  t.ok(a.flows[0].trace?.some((l) => /CAPTURE: .*first-wins.*\[capture\/overlap-differs\]/.test(l)), 'the trace says it too');
  // The other copy arrives first, out of order (held), then the original: the held one wins.
  const first = pcapOf([...pick(0, 1, 2), other, ...pick(3, 4, 5, 6, 7, 8, 9, 10, 11)]);
  const b = replayAll(first, { policy });
  t.equal(b.flows[0].event?.sni, 'www.corpus.evil', sniSeg === 3 ? 'first delivered wins' : 'first held (out of order) wins');
  t.same(b.flows[0].notes.map((n) => n.code), ['capture/overlap-differs']);
});

t.test('missing segments: named as a gap, the flow not evaluated (never guessed)', async (t) => {
  // Segment 4 never captured; the server's ACKs cover it: missing for good.
  const acked = pcapOf(pick(0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11));
  const a = replayAll(acked, { policy });
  t.equal(a.flows[0].evaluated, false);
  t.equal(a.flows[0].reason?.code, 'capture/gap');
  t.match(a.flows[0].reason?.message, /100 bytes of the client stream are missing from the capture at offset 100 \(acknowledged by the peer, never captured\)/);
  // No acknowledgement in the capture: the hole is certain once the capture ends.
  const hole = pcapOf(pick(0, 2, 3, 5, 6));
  const b = replayAll(hole, { policy });
  t.equal(b.flows[0].reason?.code, 'capture/gap');
  t.match(b.flows[0].reason?.message, /100 bytes of the client stream are missing .* at offset 100/);
  // Packets cut by the snaplen: the reason says how to capture instead.
  const frames = segs.map((s, i) => {
    const data = ethernet(ipPacket(s));
    return i === 4 ? { data: data.subarray(0, data.length - 60), orig: data.length } : { data };
  });
  const c = replayAll(pcap(frames), { policy });
  t.equal(c.flows[0].reason?.code, 'capture/snaplen');
  t.match(c.flows[0].reason?.message, /-s 0/);
  // The server's flight missing in passive mode (TSID off, no SNI): the decision needs it.
  const noSni = flowSegments({ clientBytes: readFixture('clienthello', 'openssl-noservername.bin'), serverBytes: flight, mss: 100 });
  // 0..2 handshake, 3..5 the hello, 6..7 the flight: its first segment lost, the second held past the hole.
  const d = replayAll(pcapOf([...noSni.slice(0, 6), noSni[7]]), { policy });
  t.equal(d.flows[0].reason?.code, 'capture/gap', 'the server flight has a hole');
  t.match(d.flows[0].reason?.message, /of the server stream are missing .* before the server's first flight was complete/);
});

t.test('the capture ends mid-hello, or holds no connection: named reasons', async (t) => {
  const ended = replayAll(pcapOf(pick(0, 1, 2, 3)), { policy });
  t.equal(ended.flows[0].reason?.code, 'capture/ended');
  t.match(ended.flows[0].reason?.message, /after 100 bytes of the client/);
  const synOnly = replayAll(pcapOf([...pick(0), { ...segs[1], flags: 'RA', seq: 0 }]), { policy });
  t.equal(synOnly.flows[0].reason?.code, 'capture/no-connection', 'refused: no SYN-ACK');
  const acksOnly = replayAll(pcapOf([segs[2], { ...segs[2], src: segs[1].src, dst: segs[1].dst, sport: segs[1].sport, dport: segs[1].dport }]), { policy });
  t.equal(acksOnly.flows[0].reason?.code, 'capture/no-data');
  // A client that connects and leaves without a byte is what the proxy itself would judge.
  const left = replayAll(pcapOf([...pick(0, 1, 2), { ...segs[9], seq: segs[3].seq }]), { policy });
  t.equal(left.flows[0].evaluated, true);
  t.equal(left.flows[0].event?.closeReason, 'proxy/client-closed');
});

t.test('a flow whose handshake is not in the capture: read from its first bytes, and named mid-stream when those are no hello', async (t) => {
  const r = replayAll(pcapOf(pick(3, 4, 5, 6, 7, 8, 9, 10, 11)), { policy, trace: true });
  t.equal(r.flows.length, 1);
  t.equal(r.flows[0].handshake, false);
  t.equal(r.flows[0].evaluated, true);
  t.same(r.flows[0].client, { ip: '10.12.1.8', port: 40722 }, 'the ClientHello sender is the client');
  t.equal(r.flows[0].event?.sni, 'www.corpus.test');
  t.ok(r.flows[0].trace?.some((l) => l.includes('no SYN in the capture')));
  // The server speaks first in the capture (its flight), the client's hello is not there.
  const serverFirst = peekAll(pcapOf(pick(7, 8, 4, 5)));
  t.same(serverFirst.flows[0].client, { ip: '10.12.1.8', port: 40722 }, 'a ServerHello sender is the server');
  const mid = replayAll(pcapOf(pick(5, 6, 7, 8, 9, 10, 11)), { policy });
  t.equal(mid.flows[0].evaluated, false);
  t.equal(mid.flows[0].reason?.code, 'capture/mid-stream');
});

t.test('connections: numbered as tcp.stream, late packets of a closed one are not a new flow, a new SYN on the same ports is', async (t) => {
  const again = flowSegments({ clientBytes: hello, serverBytes: flight, isn: { client: 90000, server: 70000 } });
  const file = pcapOf([...segs, { ...segs[11] }, { ...segs[10] }, ...again]);
  const r = replayAll(file, { policy });
  t.same(r.flows.map((f) => [f.stream, f.evaluated, f.event?.sni]), [
    [0, true, 'www.corpus.test'],
    [1, true, 'www.corpus.test'],
  ]);
  // A connection is over at its second FIN: the last ACK of each, and the late copies, are not new flows.
  t.equal(r.summary.afterClose, 4, 'late packets belong to the closed connection');
  // Two connections interleaved: each its own stream, in order of first packet.
  const other = flowSegments({ clientBytes: hello, serverBytes: flight, mss: 100, client: { ip: '10.12.1.9', port: 40800 } });
  const mixed: Seg[] = [];
  for (let i = 0; i < segs.length; i++) mixed.push(segs[i], other[i]);
  const m = peekAll(pcapOf(mixed));
  t.same(m.flows.map((f) => [f.stream, f.client.ip]), [
    [0, '10.12.1.8'],
    [1, '10.12.1.9'],
  ]);
});

t.test('a hello bigger than the reader bound still ends: too-large is the machine\'s answer, not a hang', async (t) => {
  const big = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc]), Buffer.alloc(0x4000 - 4)]);
  const f = flowSegments({ clientBytes: big, mss: 1400 });
  const r = replayAll(pcapOf(f), { policy });
  t.equal(r.flows.length, 1);
  t.equal(r.flows[0].evaluated, true);
  t.match(r.flows[0].event?.closeReason, /^wire\//);
});
