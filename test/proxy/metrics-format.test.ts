// /metrics as Prometheus reads it: the scrape goes through parse-prometheus-text-format (a port
// of Prometheus's own text-format parser, which throws on a malformed exposition), and the
// families operators build dashboards on are there with the right types: latency histograms
// (ClientHello, verdict, TSID probe), connections by action, build info, Node process metrics.
import t from 'tap';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startProxy } from '../../src/proxy/index.js';
import { EventSink, makeCert, policyFrom, rawHttp, startOrigin, tlsRoundTrip } from './lib/net.js';

const policy = policyFrom(`
name: metrics
settings:
  tsid: { enabled: true }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
rules:
  - name: BLOCK_BAD
    action: Block with reset
    urls: { literals: [metrics.test] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`);

t.test('/metrics parses as Prometheus text and has the histograms, build info, process metrics and actions', async (t) => {
  const origin = await startOrigin(await makeCert({ cn: 'metrics.test', sans: ['metrics.test', 'ok.test'] }));
  t.teardown(() => origin.close());
  const sink = new EventSink();
  const proxy = await startProxy({
    policy,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: origin.port } }],
    admin: { host: '127.0.0.1', port: 0 },
    onEvent: sink.onEvent,
  });
  t.teardown(() => proxy.close());
  // TSID names the server from its certificate (first SAN metrics.test): blocked, after a probe.
  await tlsRoundTrip(proxy.listeners[0].port, { servername: 'ok.test' });
  const first = await sink.next();
  t.equal(first.tsid?.cache, 'miss', 'a probe ran');
  const scrape = await rawHttp(proxy.admin!.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(scrape.split('\r\n')[0], /200/);
  const body = scrape.slice(scrape.indexOf('\r\n\r\n') + 4);
  const text = /transfer-encoding: chunked/i.test(scrape) ? unchunk(body) : body;
  let families: ReturnType<typeof parsePrometheusTextFormat> = [];
  t.doesNotThrow(() => (families = parsePrometheusTextFormat(text)), 'a valid Prometheus exposition');
  const fam = (name: string) => families.find((f) => f.name === name);
  for (const h of ['peekwall_client_hello_seconds', 'peekwall_verdict_seconds', 'peekwall_tsid_probe_seconds']) {
    t.equal(fam(h)?.type, 'HISTOGRAM', `${h} is a histogram`);
    t.equal(fam(h)?.metrics[0]?.count, '1', `${h}: the one connection observed`);
    t.ok(Number(fam(h)?.metrics[0]?.buckets?.['+Inf']) === 1, `${h}: +Inf bucket`);
  }
  const build = fam('peekwall_build_info');
  t.equal(build?.type, 'GAUGE');
  t.match(build?.metrics[0]?.labels, { version: /^\d+\.\d+\.\d+/, node: process.version });
  for (const p of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) t.ok(fam(p), `Node process metric ${p}`);
  const byAction = fam('peekwall_connections_by_action_total');
  t.equal(byAction?.type, 'COUNTER');
  t.same(byAction?.metrics.map((m) => [m.labels?.action, m.value]), [[first.action, '1']]);
  t.ok(fam('peekwall_policy_reloads_total') && fam('peekwall_events_dropped_total'), 'reload and drop counters');
});

/** HTTP/1.1 chunked body → its data. */
function unchunk(s: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const nl = s.indexOf('\r\n', at);
    const n = parseInt(s.slice(at, nl), 16);
    if (!n) return out;
    out += s.slice(nl + 2, nl + 2 + n);
    at = nl + 2 + n + 2;
  }
}
