// `peekwall hello`: summary, --json against tshark ground truth, stdin, odd hellos, error exits.
import t from 'tap';
import { runCli } from '../helpers/io.js';
import { fixturePath, readFixture, readFixtureJson } from '../helpers/fixtures.js';
import { helloMessage, records, sniExt, v2Hello } from './build.js';

t.test('--json agrees with the tshark ground truth', async (t) => {
  const truth = readFixtureJson('clienthello', 'openssl-alpn-h2-http11.json');
  const r = await runCli(['hello', fixturePath('clienthello', 'openssl-alpn-h2-http11.bin'), '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.equal(j.sni, truth.summary.sni);
  t.same(j.alpn, truth.summary.alpn);
  t.same(j.cipherSuites, truth.summary.cipher_suites);
  t.same(j.extensions.map((e: { type: number }) => e.type), truth.summary.extension_types);
  t.equal(j.extensions[0].name, 'server_name');
  t.same(j.versions.supported, truth.summary.supported_versions);
  t.equal(j.versions.client, truth.summary.client_hello_version);
  t.equal(j.ja3Hash, truth.summary.ja3);
  t.equal(j.ja3, truth.summary.ja3_full);
  t.equal(j.ja4, truth.ja4_foxio.JA4);
  t.same(j.records, truth.summary.record_lengths);
  t.equal(j.length, truth.summary.handshake_length);
  t.equal(j.ech, false);
});

t.test('readable summary from stdin, multi-record hello', async (t) => {
  const bytes = readFixture('clienthello', 'openssl-maxsendfrag512-multirecord-mtu1500.bin');
  const r = await runCli(['hello', '-'], { stdin: bytes });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^SNI\s+www\.corpus\.test$/m);
  t.match(r.stdout, /in 5 record\(s\) \[512, 512, 512, 512, 314\]/);
  t.match(r.stdout, /^JA4\s+t13d3111px_e8f1e7e78f70_1f22a2ca17c4$/m);
});

t.test('bad input: JSON error with a stable code, exit 2', async (t) => {
  const cases: [Buffer, string][] = [
    [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'wire/not-tls'],
    [readFixture('clienthello', 'openssl-default-sni.bin').subarray(0, 100), 'wire/truncated'],
    [readFixture('clienthello', 'node-tls-huge-alpn-mtu1500.bin'), 'wire/too-large'],
    [Buffer.alloc(0), 'wire/not-tls'],
  ];
  for (const [bytes, code] of cases) {
    const r = await runCli(['hello', '-', '--json'], { stdin: bytes });
    t.equal(r.code, 2, code);
    const j = JSON.parse(r.stdout);
    t.equal(j.error, code);
    t.type(j.message, 'string');
  }
  const huge = await runCli(['hello', '-', '--json', '--max-bytes', '32768'], { stdin: readFixture('clienthello', 'node-tls-huge-alpn-mtu1500.bin') });
  t.equal(huge.code, 0, 'a larger bound accepts the 18.9 KB hello');
  const text = await runCli(['hello', '-'], { stdin: Buffer.from('SSH-2.0-x\r\n') });
  t.equal(text.code, 2);
  t.match(text.stderr, /\[wire\/not-tls\]/);
  const missing = await runCli(['hello', '/nonexistent/x.bin', '--json']);
  t.equal(missing.code, 2);
  t.equal(JSON.parse(missing.stdout).error, 'cli/unreadable');
  const usage = await runCli(['hello']);
  t.equal(usage.code, 2);
  const help = await runCli(['hello', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: peekwall hello/);
});

t.test('endless input is read bounded: /dev/zero answers not-tls instead of filling memory', async (t) => {
  const r = await runCli(['hello', '/dev/zero', '--json']);
  t.equal(r.code, 2);
  t.match(JSON.parse(r.stdout), { error: 'wire/not-tls', kind: 'not-tls' });
});

t.test('odd hellos are decoded (exit 0): flags, the raw SNI as hex and as sent, the normalized name', async (t) => {
  const idn = Buffer.from(records(helloMessage({ extensions: [sniExt(Buffer.from('Bücher.Example', 'utf8'))] })));
  let r = await runCli(['hello', '-'], { stdin: idn });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^SNI\s+\(none: the host_name is no DNS name, see Anomalies\)$/m);
  t.match(r.stdout, /^SNI raw\s+15 bytes 42c3bc636865722e4578616d706c65 {2}"B\\xc3\\xbccher\.Example" {2}\(UTF-8: Bücher\.Example\)$/m);
  t.match(r.stdout, /^Anomalies\s+wire\/sni-not-ascii: .*byte 0xc3 at offset 1/m);
  r = await runCli(['hello', '-', '--json'], { stdin: idn });
  t.equal(r.code, 0, r.stderr);
  let j = JSON.parse(r.stdout);
  t.equal(j.sni, null);
  t.same(j.sniRaw, { hex: '42c3bc636865722e4578616d706c65', text: 'B\\xc3\\xbccher.Example', utf8: 'Bücher.Example' });
  t.same(j.anomalies.map((a: { code: string }) => a.code), ['wire/sni-not-ascii']);

  // An ordinary name: normalized beside the bytes as sent.
  r = await runCli(['hello', '-', '--json'], { stdin: Buffer.from(records(helloMessage({ extensions: [sniExt('WWW.Example.COM.')] }))) });
  j = JSON.parse(r.stdout);
  t.equal(j.sni, 'www.example.com');
  t.same(j.sniRaw, { hex: Buffer.from('WWW.Example.COM.').toString('hex'), text: 'WWW.Example.COM.' });
  t.same(j.anomalies, []);

  // Control bytes never reach the terminal raw.
  r = await runCli(['hello', '-'], { stdin: Buffer.from(records(helloMessage({ extensions: [sniExt('a\u001b[2J.example')] }))) });
  t.equal(r.code, 0);
  t.notOk(r.stdout.includes('\u001b'), 'ESC escaped');
  t.match(r.stdout, /"a\\x1b\[2J\.example"/);
  t.match(r.stdout, /^Anomalies\s+wire\/sni-bad-syntax: .*byte 0x1b/m);

  // SSLv2-compatible: a TLS hello without SNI, flagged.
  r = await runCli(['hello', '-'], { stdin: Buffer.from(v2Hello()) });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^SNI\s+\(none\)$/m);
  t.match(r.stdout, /^Versions\s+record SSLv2, client_version TLSv1\.2$/m);
  t.match(r.stdout, /^Ciphers\s+2: 0x009c 0x002f$/m);
  t.match(r.stdout, /^Anomalies\s+wire\/sslv2-compat: SSLv2-format ClientHello offering TLSv1\.2/m);
  t.notMatch(r.stdout, /SNI raw/);
  // SSL 2.0 itself: still an error.
  r = await runCli(['hello', '-', '--json'], { stdin: Buffer.from(v2Hello({ version: 0x0002 })) });
  t.equal(r.code, 2);
  t.match(JSON.parse(r.stdout), { error: 'wire/sslv2', kind: 'sslv2', version: '0x0002' });
});
