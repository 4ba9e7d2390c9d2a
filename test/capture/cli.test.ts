// The capture subcommands as a user runs them, on the captures real programs made: replay
// (table, --json, --events read back by `peekwall events`, --trace, --certs, exit codes),
// hello CAPTURE (it used to refuse a pcap as 'first byte 0xd4 [wire/not-tls]') and cert CAPTURE.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../src/util/paths.js';
import { runCli } from '../helpers/io.js';
import { capturesDir, captureExpect, readCapture } from './lib.js';

const cap = (name: string) => join(capturesDir, name);
const POLICY = fromRoot('policies', 'smart-licensing.yaml');
const dir = mkdtempSync(join(tmpdir(), 'peekwall-capture-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test("replay: the field case's no-SNI TLS 1.2 flow, both TSID settings, as the seed tells it", async (t) => {
  const on = await runCli(['replay', cap('openssl-nosni-tls12-nsec.pcap'), '--policy', POLICY, '--tsid', 'on', '--json']);
  t.equal(on.code, 0, on.stderr);
  const j = JSON.parse(on.stdout);
  t.equal(j.flows.length, 1);
  t.match(j.flows[0], { evaluated: true, certificateOrigin: 'capture', event: { url: 'https://toos.cisco.com', identitySource: 'cert-san', action: 'Block with reset' } });
  t.match(j.summary, { format: 'pcap', flows: 1, evaluated: 1, notEvaluated: 0 });
  const off = await runCli(['replay', cap('openssl-nosni-tls12-nsec.pcap'), '--policy', POLICY, '--tsid', 'off']);
  t.equal(off.code, 0);
  t.match(off.stdout, /Time\s+Event Type\s+Action/, 'the FMC table');
  t.match(off.stdout, /https:\/\/tools\.cisco\.com/, 'TSID off: the passive CN');
  t.notMatch(off.stdout, /stands for what the probe/, 'no probe with TSID off');
  const text = await runCli(['replay', cap('openssl-nosni-tls12-nsec.pcap'), '--policy', POLICY, '--tsid', 'on', '--trace']);
  t.match(text.stdout, /SSL: TSID enabled .*the certificate seen in the capture \(frame 6\) stands for what the probe would have read/);
  t.match(text.stdout, /Result: Block with reset \(URL Block\) by 'Lookalike-Domains'/);
  t.match(text.stdout, /TSID on: the certificate seen in the capture stands for what the probe would have read \(1 flow\(s\)\)/);
});

t.test('replay: TLS 1.3 is not evaluated with TSID on (named, exit 1) until --certs supplies the server certificate', async (t) => {
  const r = await runCli(['replay', cap('openssl-tls13.pcapng'), '--policy', POLICY, '--tsid', 'on']);
  t.equal(r.code, 1);
  t.match(r.stdout, /Not evaluated \(1\):\n\s+tcp\.stream 0 .*\[capture\/tls13-certificate\]/);
  const certs = join(dir, 'certs');
  rmSync(certs, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(certs);
  copyFileSync(fromRoot('certs', 'smart-licensing.crt.pem'), join(certs, '127.0.0.1.pem'));
  writeFileSync(join(certs, 'README.txt'), 'not named by an address: ignored');
  const s = await runCli(['replay', cap('openssl-tls13.pcapng'), '--policy', POLICY, '--tsid', 'on', '--certs', certs, '--json']);
  t.equal(s.code, 0, s.stderr);
  t.match(JSON.parse(s.stdout).flows[0], { evaluated: true, certificateOrigin: 'certs', event: { sni: 'toos.cisco.com' } });
  writeFileSync(join(certs, '10.0.0.1.pem'), 'not a certificate');
  const bad = await runCli(['replay', cap('openssl-tls13.pcapng'), '--policy', POLICY, '--certs', certs]);
  t.equal(bad.code, 2, 'an unreadable --certs file is bad input');
  t.match(bad.stderr, /10\.0\.0\.1\.pem/);
});

t.test('replay --events writes JSON lines that peekwall events renders; every fixture flow is evaluated with TSID off', async (t) => {
  for (const name of ['any-sll2-curl-node.pcap', 'openssl-fragmented-hello.pcap', 'openssl-tls12-sni.pcap']) {
    const events = join(dir, `${name}.jsonl`);
    const r = await runCli(['replay', cap(name), '--policy', POLICY, '--tsid', 'off', '--events', events]);
    t.equal(r.code, 0, `${name}: ${r.stderr}`);
    const lines = readFileSync(events, 'utf8').trim().split('\n');
    const want = captureExpect(name).flows;
    t.equal(lines.length, want.length, `${name}: one event per flow`);
    t.same(lines.map((l) => JSON.parse(l).sni).sort(), want.map((f) => f.sni).sort(), `${name}: the SNI tshark read`);
    const shown = await runCli(['events', events, '--oldest-first']);
    t.equal(shown.code, 0);
    t.match(shown.stdout, /Connection/);
    t.equal(shown.stderr, '', 'every line is a connection event');
  }
});

t.test('replay reads standard input, and refuses what is no capture (exit 2)', async (t) => {
  const r = await runCli(['replay', '-', '--policy', POLICY, '--tsid', 'off', '--json'], { stdin: readCapture('openssl-tls12-sni.pcap') });
  t.equal(r.code, 0);
  t.equal(JSON.parse(r.stdout).flows[0].event.sni, 'www.example.com');
  const not = await runCli(['replay', POLICY, '--policy', POLICY]);
  t.equal(not.code, 2);
  t.match(not.stderr, /not a pcap or pcapng capture .*\[capture\/unknown-format\]/);
  t.equal((await runCli(['replay', cap('openssl-tls13.pcapng')])).code, 2, 'no --policy');
  t.equal((await runCli(['replay', cap('openssl-tls13.pcapng'), '--policy', POLICY, '--tsid', 'maybe'])).code, 2);
  t.equal((await runCli(['replay', join(dir, 'missing.pcap'), '--policy', POLICY])).code, 2);
  // A truncated capture: the flows before the cut, the damage named, exit 1.
  const whole = readCapture('openssl-nosni-tls12-nsec.pcap');
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, whole.subarray(0, whole.length - 30));
  const tr = await runCli(['replay', cut, '--policy', POLICY, '--tsid', 'off']);
  t.equal(tr.code, 1);
  t.match(tr.stderr, /\[capture\/truncated\]/);
  t.match(tr.stdout, /https:\/\/tools\.cisco\.com/, 'the flow before the cut is still judged');
});

t.test('hello CAPTURE decodes every ClientHello (it used to say: first byte 0xd4 ... [wire/not-tls])', async (t) => {
  const r = await runCli(['hello', cap('any-sll2-curl-node.pcap')]);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stderr, /wire\/not-tls/);
  t.match(r.stdout, /tcp\.stream 0 .*\nClientHello .*\nSNI\s+www\.ign\.com/);
  t.match(r.stdout, /tcp\.stream 1 .*\nClientHello .*\nSNI\s+cisc0\.com/);
  const j = JSON.parse((await runCli(['hello', cap('openssl-fragmented-hello.pcap'), '--json'])).stdout);
  t.equal(j.flows[0].hello.sni, 'www.webex.com');
  t.same(j.flows[0].hello.records.length, 2, 'the hello spans two TLS records');
  t.equal(j.flows[0].hello.ja3Hash, captureExpect('openssl-fragmented-hello.pcap').flows[0].ja3);
});

t.test('cert CAPTURE lists the certificates seen in clear, and the TLS 1.3 flows that showed none', async (t) => {
  const r = await runCli(['cert', cap('openssl-nosni-tls12-nsec.pcap'), '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.certificates.length, 1);
  t.match(j.certificates[0], { cns: ['tools.cisco.com'], flows: [{ stream: 0, sni: null, version: 'TLSv1.2' }] });
  t.match(j.certificates[0].identity['snort3-legacy'], { tsidOn: { name: 'toos.cisco.com', source: 'cert-san' }, tsidOff: { name: 'tools.cisco.com', source: 'passive-cn' } });
  const mixed = await runCli(['cert', cap('any-sll2-curl-node.pcap')]);
  t.match(mixed.stdout, /seen in\s+tcp\.stream 1 .*SNI cisc0\.com/);
  t.match(mixed.stdout, /No certificate in clear \(1\):\n\s+tcp\.stream 0 .*TLS 1\.3: the certificate is encrypted/);
  const trusted = await runCli(['cert', cap('openssl-nosni-tls12-nsec.pcap'), '--trust', fromRoot('certs', 'lab-ca.crt.pem'), '--now', '2027-01-01T00:00:00Z']);
  t.equal(trusted.code, 0, 'the lab certificate is valid against the lab CA');
  t.match(trusted.stdout, /status\s+valid/);
});

t.test('test --from-capture writes a suite pinning the replayed verdicts, and the suite passes', async (t) => {
  const out = join(dir, 'from-capture.test.yaml');
  const g = await runCli(['test', '--from-capture', cap('openssl-nosni-tls12-nsec.pcap'), '--policy', POLICY, '--out', out]);
  t.equal(g.code, 0, g.stderr);
  const suite = readFileSync(out, 'utf8');
  t.match(suite, /Generated by `peekwall test --from-capture /);
  t.match(suite, /identity:\n\s+name: toos\.cisco\.com\n\s+source: cert-san/);
  t.match(suite, /rule: Lookalike-Domains/);
  const run = await runCli(['test', out]);
  t.equal(run.code, 0, run.stdout);
  // A flow the replay cannot judge is said on stderr, not pinned.
  const mixed = await runCli(['test', '--from-capture', cap('any-sll2-curl-node.pcap'), '--policy', POLICY]);
  t.equal(mixed.code, 0);
  t.match(mixed.stderr, /tcp\.stream 0 not evaluated: .*\[capture\/tls13-certificate\]/);
  t.match(mixed.stdout, /sni: cisc0\.com/);
  t.equal((await runCli(['test', '--from-capture', POLICY, '--policy', POLICY])).code, 2, 'not a capture');
});
