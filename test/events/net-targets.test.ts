// The event sink to a syslog collector over real loopback sockets: one datagram per message on
// UDP, octet-counted frames on TCP, reconnect after the collector comes back, and a collector
// that is down never holds the caller (events wait bounded, then are counted dropped).
import t from 'tap';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createEventLog, parseNetDestination, type ConnectionEvent } from '../../src/events/index.js';

const ev = (n: number): ConnectionEvent => ({
  time: new Date(0).toISOString(), eventType: 'Connection', phase: 'end', action: 'Allow', reason: '',
  srcIp: '127.0.0.1', dstIp: '127.0.0.2', srcPort: n, dstPort: 443, protocol: 'tcp', applicationProtocol: 'HTTPS',
  url: null, accessControlRule: 'R', sni: null, bytesFromClient: 0, bytesFromServer: 0, durationMs: 0,
});
const format = (e: ConnectionEvent) => [`<161>1 - h FTD - 430003 - %FTD-1-430003: SrcPort: ${e.srcPort}, Note: a\nb`];

t.test('parseNetDestination', async (t) => {
  t.same(parseNetDestination('udp://127.0.0.1:514'), { proto: 'udp', host: '127.0.0.1', port: 514 });
  t.same(parseNetDestination('TCP://[::1]:6514'), { proto: 'tcp', host: '::1', port: 6514 });
  t.equal(parseNetDestination('/var/log/x'), null);
  t.equal(parseNetDestination('stdout'), null);
  t.match(parseNetDestination('udp://h:0'), /port 1\.\.65535/);
  t.match(parseNetDestination('tcp://h'), /tcp:\/\/HOST:PORT/);
});

t.test('UDP: one datagram per message, no line end, a line break inside made a space', async (t) => {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => sock.close());
  const got: string[] = [];
  const three = new Promise<void>((r) => sock.on('message', (m) => (got.push(m.toString()), got.length === 3 && r())));
  const log = createEventLog({ destination: `udp://127.0.0.1:${sock.address().port}`, format });
  for (let i = 1; i <= 3; i++) log.write(ev(i));
  await three;
  await log.close();
  t.same(got, [1, 2, 3].map((i) => `<161>1 - h FTD - 430003 - %FTD-1-430003: SrcPort: ${i}, Note: a b`));
  t.equal(log.written, 3);
});

/** A TCP collector that keeps what it read; close() ends its connections. */
async function collector(port = 0): Promise<{ server: Server; port: number; data: () => string; close(): Promise<void>; conns: Set<Socket> }> {
  let data = '';
  const conns = new Set<Socket>();
  const server = createServer((s) => {
    conns.add(s);
    s.on('data', (d) => (data += d.toString()));
    s.on('close', () => conns.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    server, conns, data: () => data,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of conns) s.destroy(); server.close(() => r()); }),
  };
}

/** Octet-counted frames (RFC 6587): LEN SP MSG, back to back. Throws on a malformed stream. */
function frames(s: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < s.length) {
    const m = /^(\d+) /.exec(s.slice(at));
    if (!m) throw new Error(`not a frame at ${at}: ${JSON.stringify(s.slice(at, at + 40))}`);
    const len = Number(m[1]);
    out.push(s.slice(at + m[0].length, at + m[0].length + len));
    at += m[0].length + len;
  }
  return out;
}

t.test('TCP: octet counting; the collector goes away and comes back: reconnected, nothing blocks', async (t) => {
  const c1 = await collector();
  const port = c1.port;
  const errors: string[] = [];
  const notices: string[] = [];
  const log = createEventLog({ destination: `tcp://127.0.0.1:${port}`, format, retryMs: 20, onError: (e) => errors.push(e.code), onNotice: (m) => notices.push(m) });
  t.teardown(() => log.close(100));
  log.write(ev(1));
  log.write(ev(2));
  await log.flush(5000);
  for (let i = 0; i < 200 && frames(c1.data()).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(frames(c1.data()), [1, 2].map((i) => `<161>1 - h FTD - 430003 - %FTD-1-430003: SrcPort: ${i}, Note: a b`));
  await c1.close();
  // Down: writes return at once (the sink queues them), whatever the collector does.
  for (let i = 3; i <= 6; i++) log.write(ev(i));
  for (let i = 0; i < 500 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(errors, ['events/write-failed'], 'one warning for the episode');
  const c2 = await collector(port);
  t.teardown(() => c2.close());
  for (let i = 0; i < 1000 && !frames(c2.data()).some((f) => f.includes('SrcPort: 6,')); i++) await new Promise((r) => setTimeout(r, 10));
  const got = frames(c2.data()).map((f) => Number(/SrcPort: (\d+)/.exec(f)![1]));
  t.ok([3, 4, 5, 6].every((n) => got.includes(n)), `the events held while it was down arrive after reconnecting: ${got}`);
  t.match(notices.join('\n'), /writing to tcp:\/\/127\.0\.0\.1:\d+ again; 0 event\(s\) were dropped/);
});

t.test('TCP: a collector that never answers: events beyond the bound are dropped and counted', async (t) => {
  const log = createEventLog({ destination: 'tcp://127.0.0.1:1', format, retryMs: 10, maxBufferedBytes: 2000 });
  for (let i = 0; i < 100; i++) log.write(ev(i));
  t.ok(log.dropped > 0, `dropped ${log.dropped}`);
  t.ok(log.queued * 60 <= 2000 + 200, 'what waits stays bounded');
  await log.close(50);
  t.equal(log.dropped + log.written, 100, 'every event is written or counted dropped');
});
