// `peekwall run` config: valid files load with paths resolved against the config's folder;
// every problem is reported with file:line.
import t from 'tap';
import { parseRunConfig } from '../../src/proxy/index.js';
import { fromRoot } from '../../src/util/paths.js';
import { readFileSync } from 'node:fs';

t.test('a full config', async (t) => {
  const r = parseRunConfig(
    `policy: policies/p.yaml
events: events/out.jsonl
listeners:
  - mode: transparent
    host: 127.0.0.1
    port: 8443
    flowPort: 443
    upstream:
      byLocalAddress:
        127.163.4.38: { host: 127.0.0.1, port: 9443 }
  - mode: sni-route
    host: 127.0.0.1
    port: 0
    routes: { Example.com: { host: 127.0.0.1, port: 1443 } }
    fallback: { host: 127.0.0.1, port: 2443 }
  - mode: explicit
    host: 127.0.0.1
    port: 3128
admin: { port: 9100 }
workers: 2
limits: { maxConnections: 100 }
`,
    '/etc/peekwall/run.yaml',
  );
  t.ok(r.ok);
  if (!r.ok) return;
  const c = r.value;
  t.equal(c.policy, '/etc/peekwall/policies/p.yaml');
  t.equal(c.events, '/etc/peekwall/events/out.jsonl');
  t.equal(c.listeners.length, 3);
  t.same(c.listeners[0], { mode: 'transparent', host: '127.0.0.1', port: 8443, flowPort: 443, upstream: { byLocalAddress: { '127.163.4.38': { host: '127.0.0.1', port: 9443 } } } });
  t.same(c.listeners[1], { mode: 'sni-route', host: '127.0.0.1', port: 0, routes: { 'example.com': { host: '127.0.0.1', port: 1443 } }, fallback: { host: '127.0.0.1', port: 2443 } });
  t.same(c.admin, { host: '127.0.0.1', port: 9100 });
  t.equal(c.workers, 2);
  t.same(c.limits, { maxConnections: 100 });
  t.equal(c.watch, true);
});

t.test('every problem with file:line', async (t) => {
  const r = parseRunConfig(
    `policy: p.yaml
listeners:
  - mode: transparent
    port: 99999
  - mode: transparent
    port: 8443
    upstream: { host: x }
  - mode: sideways
    port: 1
colour: blue
`,
    '/x/run.yaml',
  );
  t.notOk(r.ok);
  if (r.ok) return;
  const msgs = r.error.map((e) => `${e.line}:${e.message}`);
  t.match(msgs.join('\n'), /4:listeners\.0\.port: expected a port/);
  t.match(msgs.join('\n'), /7:listeners\.1\.upstream\.port/);
  t.match(msgs.join('\n'), /8:listeners\.2\.mode/);
  t.match(msgs.join('\n'), /10:colour: unknown key/);
  t.ok(r.error.every((e) => e.file === '/x/run.yaml' && e.code.startsWith('config/')));
});

t.test('YAML syntax errors and non-mappings', async (t) => {
  const bad = parseRunConfig('listeners: [\n', '/x.yaml');
  t.notOk(bad.ok);
  if (!bad.ok) t.equal(bad.error[0].code, 'config/yaml');
  const list = parseRunConfig('- a\n', '/x.yaml');
  t.notOk(list.ok);
});

t.test('the shipped example config is valid', async (t) => {
  const file = fromRoot('policies', 'proxy.example.yaml');
  const r = parseRunConfig(readFileSync(file, 'utf8'), file);
  t.ok(r.ok, r.ok ? 'ok' : JSON.stringify(r.error));
});

t.test('loadRunConfig refuses what is not a small regular file', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadRunConfig } = await import('../../src/proxy/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const asDir = await loadRunConfig(dir);
  t.equal(asDir.ok ? 'ok' : asDir.error[0].code, 'config/not-a-file');
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
  const r = await loadRunConfig(big);
  t.equal(r.ok ? 'ok' : r.error[0].code, 'config/too-large');
  const missing = await loadRunConfig(join(dir, 'nope.yaml'));
  t.equal(missing.ok ? 'ok' : missing.error[0].code, 'config/unreadable');
  const bomb = parseRunConfig(`a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`, '/x.yaml');
  t.equal(bomb.ok ? 'ok' : bomb.error[0].code, 'config/yaml', 'an alias bomb is an error value');
});

t.test('events: a syslog collector and the FTD syslog format', async (t) => {
  const cfg = (extra: string) => parseRunConfig(`policy: p.yaml\nlisteners: [{ mode: explicit, port: 0 }]\n${extra}`, '/etc/peekwall/run.yaml');
  const d = cfg('');
  t.ok(d.ok && d.value.eventsFormat === 'jsonl' && d.value.events === 'stdout', 'defaults: JSON lines on stdout');
  t.ok(d.ok && d.value.syslog.style === 7 && d.value.syslog.rfc === 5424 && d.value.syslog.host === null, 'syslog defaults: 7.x, RFC 5424');
  const u = cfg('events: udp://127.0.0.1:5514\neventsFormat: ftd-syslog\nsyslogStyle: 6\nsyslogRfc: 3164\nsyslogHost: ftd-lab\n');
  t.ok(u.ok);
  if (u.ok) {
    t.equal(u.value.events, 'udp://127.0.0.1:5514', 'kept as a URL, not made a path');
    t.equal(u.value.eventsFormat, 'ftd-syslog');
    t.same(u.value.syslog, { style: 6, rfc: 3164, host: 'ftd-lab' });
  }
  const tcp = cfg('events: tcp://[::1]:6514\n');
  t.ok(tcp.ok && tcp.value.events === 'tcp://[::1]:6514');
  const bad = cfg('events: udp://127.0.0.1\neventsFormat: cef\nsyslogStyle: 8\nsyslogRfc: 5425\n');
  t.notOk(bad.ok);
  if (!bad.ok) {
    const m = bad.error.map((e) => `${e.line}: ${e.message}`);
    t.match(m.join('\n'), /3: events: udp:\/\/127\.0\.0\.1: expected udp:\/\/HOST:PORT/);
    t.match(m.join('\n'), /4: eventsFormat: expected jsonl or ftd-syslog/);
    t.match(m.join('\n'), /5: syslogStyle: expected 7 or 6/);
    t.match(m.join('\n'), /6: syslogRfc: expected 5424 or 3164/);
  }
});
