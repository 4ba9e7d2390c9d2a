// SNI smuggling over a real socket: a ClientHello whose server_name carries two host_name
// entries (one the policy allows, one it blocks) must be refused by the proxy with the wire
// reader's code, and not one byte of it may reach the origin. If the reader ever kept only one
// of the names, the proxy would judge one name while the server might serve the other.
import t from 'tap';
import { startProxy } from '../../src/proxy/index.js';
import { ext, helloMessage, records, versionsExt } from '../wire/build.js';
import { EventSink, policyFrom, rawExchange, startTcp } from '../proxy/lib/net.js';

const policy = policyFrom(`
name: sni-smuggling
settings:
  tsid: { enabled: false }
  failMode: closed
  timeouts: { peekMs: 3000, connectMs: 2000, idleMs: 3000 }
rules:
  - name: BLOCK_EVIL
    action: Block with reset
    urls: { literals: [evil.example] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

/** A TLS record stream holding one ClientHello whose server_name lists these host_names. */
function helloNaming(...names: string[]): Buffer {
  const body = names.flatMap((name) => {
    const n = [...Buffer.from(name, 'latin1')];
    return [0, n.length >> 8, n.length & 0xff, ...n];
  });
  const serverName = ext(0, [body.length >> 8, body.length & 0xff, ...body]);
  return Buffer.from(records(helloMessage({ extensions: [serverName, versionsExt([0x0304, 0x0303])] })));
}

t.test('two host_name entries: refused with wire/bad-sni, nothing reaches the origin', async (t) => {
  // The origin counts what it receives and hangs up once a whole hello has arrived, so a
  // forwarded connection ends by itself.
  const seen = { connections: 0, bytes: 0 };
  let expect = Infinity;
  const origin = await startTcp((s) => {
    seen.connections++;
    let got = 0;
    s.on('data', (d: Buffer) => {
      seen.bytes += d.length;
      got += d.length;
      if (got >= expect) s.end();
    });
  });
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  const port = proxy.listeners[0].port;

  for (const names of [['good.example', 'evil.example'], ['evil.example', 'good.example']]) {
    const hello = helloNaming(...names);
    expect = hello.length;
    const r = await rawExchange(port, [hello]);
    const e = await sink.next();
    t.same(
      { action: e.action, reason: e.reason, closeReason: e.closeReason, sni: e.sni ?? null },
      { action: 'Block with reset', reason: 'Inspection Failure', closeReason: 'wire/bad-sni', sni: null },
      `${names.join(' + ')}: refused with the reader's code`,
    );
    t.equal(r.data.length, 0, `${names.join(' + ')}: the client got no byte back`);
    t.same(seen, { connections: 0, bytes: 0 }, `${names.join(' + ')}: the origin saw no connection and no byte`);
  }

  // The same framing with one host_name goes through whole: the origin above would have seen it.
  const good = helloNaming('good.example');
  expect = good.length;
  await rawExchange(port, [good]);
  const e = await sink.next();
  t.same([e.action, e.sni], ['Allow', 'good.example'], 'one host_name: allowed');
  t.same(seen, { connections: 1, bytes: good.length }, 'and the origin received the hello');
});
