// Edge cases SNI peekers get wrong (DOMAIN.md §6), on synthetic hellos built byte by byte.
import t from 'tap';
import { ClientHelloReader, isGrease, ja4, readClientHello, versionName, type HelloReadResult } from '../../src/wire/index.js';
import { readFixture } from '../helpers/fixtures.js';
import { alpnExt, ext, helloMessage, keyShareExt, list16Ext, records, sniExt, versionsExt } from './build.js';

function hello(r: HelloReadResult) {
  if (r.kind !== 'hello') throw new Error(`expected hello, got ${JSON.stringify(r)}`);
  return r.hello;
}
function code(r: HelloReadResult): string | undefined {
  return 'error' in r ? r.error.code : undefined;
}

t.test('GREASE is exact: 0x?a?a with equal bytes only', async (t) => {
  for (let hi = 0; hi < 16; hi++) t.ok(isGrease((hi << 12) | 0x0a00 | (hi << 4) | 0x0a), `0x${hi.toString(16)}a${hi.toString(16)}a`);
  t.notOk(isGrease(0x0a1a), '0x0a1a has unequal bytes');
  t.notOk(isGrease(0x1a0a));
  t.notOk(isGrease(0x0b0b));
  t.notOk(isGrease(0x1301));
});

t.test('GREASE values are kept on the wire and dropped from fingerprints', async (t) => {
  const hs = helloMessage({
    ciphers: [0x2a2a, 0x1301, 0x1302],
    extensions: [ext(0x3a3a, []), sniExt('a.example'), versionsExt([0x4a4a, 0x0304, 0x0303]), list16Ext(10, [0x5a5a, 29]), list16Ext(13, [0x0403]), ext(0x1a1a, [0])],
  });
  const h = hello(readClientHello(records(hs)));
  t.same(h.cipherSuites, [0x2a2a, 0x1301, 0x1302]);
  t.same(h.extensions.map((e) => e.type), [0x3a3a, 0, 43, 10, 13, 0x1a1a]);
  t.match(ja4(h).ja4, /^t13d0204/, 'highest non-GREASE version, GREASE not counted');
});

t.test('record version 0x0300 is accepted; client_version is what counts', async (t) => {
  const h = hello(readClientHello(records(helloMessage({ extensions: [sniExt('x.test')] }), [], 0x0300)));
  t.equal(h.recordVersion, 0x0300);
  t.equal(h.clientVersion, 0x0303);
  t.equal(code(readClientHello(records(helloMessage({ version: 0x0200 })))), 'wire/bad-version');
  t.equal(code(readClientHello(records(helloMessage({}), [], 0x0305))), 'wire/bad-record');
});

t.test('SNI: lower-cased, trailing dot noted, raw bytes kept; odd names flagged, broken framing refused', async (t) => {
  let h = hello(readClientHello(records(helloMessage({ extensions: [sniExt('WWW.Example.COM.')] }))));
  t.equal(h.sni, 'www.example.com');
  t.equal(h.sniTrailingDot, true);
  t.equal(Buffer.from(h.sniRaw!).toString('latin1'), 'WWW.Example.COM.', 'case and dot as sent');
  t.same(h.anomalies, []);
  h = hello(readClientHello(records(helloMessage({ extensions: [sniExt('_dmarc.svc-1.example')] }))));
  t.equal(h.sni, '_dmarc.svc-1.example');
  t.equal(h.sniTrailingDot, false);
  // Well framed but no DNS name: decoded, sni null, flagged (test/wire/odd-hellos.test.ts has each case).
  for (const odd of ['.', '..', 'a..b', '.a.b', 'example.com..', 'a b.com', 'evil.com\u0000.good.com', 'ex/ample.com', 'x'.repeat(64) + '.com', 'é.com']) {
    const h2 = hello(readClientHello(records(helloMessage({ extensions: [sniExt(odd)] }))));
    t.equal(h2.sni, null, JSON.stringify(odd));
    t.ok(h2.anomalies.length > 0 && h2.anomalies.every((a) => a.code.startsWith('wire/sni-')), `${JSON.stringify(odd)}: ${h2.anomalies.map((a) => a.code)}`);
  }
  // Refused: an empty host_name, and a server_name list length disagreeing with the extension length
  t.equal(code(readClientHello(records(helloMessage({ extensions: [sniExt('')] })))), 'wire/bad-sni');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [ext(0, [0, 9, 0, 0, 3, 0x61, 0x62, 0x63])] })))), 'wire/bad-sni');
});

t.test('ECH (0xfe0d): flagged, the SNI is the outer public name', async (t) => {
  const h = hello(readClientHello(records(helloMessage({ extensions: [sniExt('public.example'), ext(0xfe0d, [0, 1, 2, 3])] }))));
  t.equal(h.ech, true);
  t.equal(h.sni, 'public.example');
});

t.test('ALPN, key_share, psk modes, padding, unknown extensions', async (t) => {
  const h = hello(readClientHello(records(helloMessage({
    extensions: [alpnExt(['h2', 'http/1.1']), keyShareExt([0x11ec, 29]), ext(45, [1, 1]), ext(0x7777, [1, 2, 3]), ext(21, new Array(100).fill(0))],
  }))));
  t.same(h.alpn, ['h2', 'http/1.1']);
  t.same(h.keyShareGroups, [0x11ec, 29]);
  t.same(h.pskModes, [1]);
  t.equal(h.paddingLength, 100);
  t.same(h.extensions.find((e) => e.type === 0x7777), { type: 0x7777, length: 3 });
  t.equal(ja4(h).ja4.slice(8, 10), 'h2');
});

t.test('JA4 ALPN rule: first/last char, hex when not alphanumeric, 00 when absent', async (t) => {
  const a = (protos: string[] | null) => {
    const exts = protos ? [alpnExt(protos)] : [];
    return ja4(hello(readClientHello(records(helloMessage({ extensions: exts }))))).ja4.slice(8, 10);
  };
  t.equal(a(['http/1.1']), 'h1');
  t.equal(a(['h2']), 'h2');
  t.equal(a(['x']), 'xx');
  t.equal(a(['\u00ab\u00cd']), 'ad', 'non-alphanumeric: hex "abcd" first/last');
  t.equal(a(null), '00');
});

t.test('JA4 counts are capped at 99', async (t) => {
  const ciphers = Array.from({ length: 150 }, (_, i) => 0x0100 + i);
  const exts = Array.from({ length: 120 }, (_, i) => ext(0x2000 + i, []));
  const h = hello(readClientHello(records(helloMessage({ ciphers, extensions: exts }))));
  t.equal(ja4(h).ja4.slice(0, 10), 't12i999900');
});

t.test('duplicate extensions and bad lengths have stable codes', async (t) => {
  t.equal(code(readClientHello(records(helloMessage({ extensions: [sniExt('a.b'), sniExt('a.b')] })))), 'wire/duplicate-extension');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [ext(43, [3, 3, 4])] })))), 'wire/bad-extension');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [ext(10, [0, 4, 0, 29])] })))), 'wire/bad-extension');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [ext(16, [0, 3, 0, 0x61, 0x62])] })))), 'wire/bad-extension');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [ext(51, [0, 6, 0, 29, 0, 9, 1, 1])] })))), 'wire/bad-extension');
  // An extension that claims more bytes than the block holds.
  const hs = helloMessage({ extensions: [ext(0x1234, [1, 2, 3, 4])] });
  hs[hs.length - 5] = 0x40; // its length low byte -> 0x0040
  t.equal(code(readClientHello(records(hs))), 'wire/length-overflow');
  // cipher suites running past the hello
  const hs2 = helloMessage({});
  hs2[4 + 35 + 32] = 0x7f;
  t.equal(code(readClientHello(records(hs2))), 'wire/length-overflow');
});

t.test('a hello without an extensions block (SSLv3-era) parses', async (t) => {
  const h = hello(readClientHello(records(helloMessage({ version: 0x0300, noExtensionsBlock: true }), [], 0x0300)));
  t.same(h.extensions, []);
  t.equal(h.sni, null);
  t.equal(ja4(h).ja4.slice(0, 4), 't' + 's3' + 'i');
});

t.test('stops at the end of the hello: CCS and early data in the same read are ignored', async (t) => {
  const base = readFixture('clienthello', 'openssl-default-sni.bin');
  const ccs = Uint8Array.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 4, 9, 9, 9, 9]);
  const both = Buffer.concat([base, ccs]);
  const h = hello(readClientHello(both));
  t.equal(h.totalLength, base.length, 'totalLength marks where the trailing bytes start');
  t.equal(h.sni, 'www.corpus.test');
});

t.test('not TLS: hints', async (t) => {
  const hint = (s: string) => {
    const r = readClientHello(Buffer.from(s, 'latin1'));
    return r.kind === 'not-tls' ? `${r.hint}:${r.error.code}` : r.kind;
  };
  t.equal(hint('GET / HTTP/1.1\r\n'), 'http:wire/not-tls');
  t.equal(hint('POST /x HTTP/1.1\r\n'), 'http:wire/not-tls');
  t.equal(hint('CONNECT tools.cisco.com:443 HTTP/1.1\r\n'), 'http-connect:wire/not-tls');
  t.equal(hint('SSH-2.0-OpenSSH_9.2\r\n'), 'ssh:wire/not-tls');
  t.equal(hint('EHLO mail\r\n'), 'smtp:wire/not-tls');
  t.equal(hint('PRI * HTTP/2.0\r\n'), 'http:wire/not-tls');
  t.equal(hint('\u0000\u0001garbage'), 'unknown:wire/not-tls');
  t.equal(hint('\u0016\u0001\u0000\u0000\u0000\u0000\u0000\u0000'), 'unknown:wire/not-tls', '0x16 without a 3.x version');
  // The verdict waits for HINT_WINDOW (8) bytes so that segmentation cannot change the hint.
  t.equal(hint('CONN'), 'need-more');
  const rd1 = new ClientHelloReader();
  t.equal(rd1.push(Buffer.from('CON')).kind, 'need-more');
  const r1 = rd1.push(Buffer.from('NECT x:443 HTTP/1.1\r\n'));
  t.equal(r1.kind === 'not-tls' && r1.hint, 'http-connect', 'split CONNECT still hinted');
  const rd = new ClientHelloReader();
  const e = rd.end();
  t.equal(e.kind === 'not-tls' && e.hint, 'empty');
});

t.test('SSL 2.0 hello (version 0x0002): refused as wire/sslv2 from its first 5 bytes', async (t) => {
  // 2-byte header (0x80 | len), CLIENT-HELLO (1), version 0x0002, then lengths...
  // (One offering TLS is decoded: test/wire/odd-hellos.test.ts.)
  const v2 = Uint8Array.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0, 0x15, 0, 0, 0, 0x10]);
  const r = readClientHello(v2);
  t.equal(r.kind, 'sslv2');
  if (r.kind === 'sslv2') {
    t.equal(r.version, 0x0002);
    t.equal(r.error.code, 'wire/sslv2');
  }
});

t.test('non-handshake records, wrong handshake type, bad records', async (t) => {
  t.equal(code(readClientHello(Uint8Array.from([21, 3, 3, 0, 2, 2, 40]))), 'wire/not-handshake');
  t.equal(code(readClientHello(Uint8Array.from([22, 3, 1, 0, 4, 2, 0, 0, 0]))), 'wire/not-client-hello');
  t.equal(code(readClientHello(Uint8Array.from([22, 3, 1, 0, 0]))), 'wire/bad-record');
  t.equal(code(readClientHello(Uint8Array.from([22, 3, 1, 0x40, 0x01]))), 'wire/bad-record', 'record over 2^14');
  // A CCS interleaved between two fragments of the hello
  const hs = helloMessage({ extensions: [sniExt('a.b')] });
  const two = records(hs, [20]);
  const first = two.subarray(0, 25);
  const mixed = Buffer.concat([first, Uint8Array.from([20, 3, 3, 0, 1, 1]), two.subarray(25)]);
  t.equal(code(readClientHello(mixed)), 'wire/not-handshake');
});

t.test('bounds: handshake size and record count', async (t) => {
  const hs = helloMessage({ extensions: [ext(21, new Array(600).fill(0))] });
  const r = readClientHello(records(hs), { maxHandshakeBytes: 512 });
  t.equal(r.kind, 'too-large');
  if (r.kind === 'too-large') t.equal(r.limit, 512);
  t.equal(readClientHello(records(hs), { maxHandshakeBytes: 1024 }).kind, 'hello');
  const tiny = records(hs, new Array(1000).fill(1));
  t.equal(readClientHello(tiny, { maxRecords: 50 }).kind, 'too-large', 'too many tiny records');
  t.equal(readClientHello(tiny).kind, 'hello', 'default allows a fragmented hello');
});

t.test('reader: need-more, truncation at end(), terminal result repeats', async (t) => {
  const bytes = readFixture('clienthello', 'openssl-maxsendfrag512-multirecord-mtu1500.bin');
  const rd = new ClientHelloReader();
  const r1 = rd.push(bytes.subarray(0, 700));
  t.same(r1, { kind: 'need-more', buffered: 700 });
  const r2 = rd.push(bytes.subarray(700, 1300));
  t.same(r2, { kind: 'need-more', buffered: 1300 });
  t.equal(code(rd.end()), 'wire/truncated');
  t.equal(code(rd.push(bytes.subarray(1300))), 'wire/truncated', 'a terminal result is returned again');

  const ok = new ClientHelloReader();
  ok.push(bytes.subarray(0, 3));
  const r = ok.push(bytes.subarray(3));
  t.equal(r.kind, 'hello');
  t.equal(ok.push(Uint8Array.from([1, 2, 3])), r, 'same object after the hello');
  t.same(ok.push(new Uint8Array(0)), r);
  t.equal(new ClientHelloReader().push(new Uint8Array(0)).kind, 'need-more');
});

t.test('the one-chunk hello is parsed in place (no copy of the input)', async (t) => {
  const bytes = readFixture('clienthello', 'openssl-default-sni.bin');
  const rd = new ClientHelloReader();
  const h = hello(rd.push(bytes));
  t.equal(h.random.buffer, bytes.buffer, 'random is a view of the input');
  t.equal(rd.buffered, 0, 'nothing was buffered');
});

t.test('versionName', async (t) => {
  t.equal(versionName(0x0303), 'TLSv1.2');
  t.equal(versionName(0x0304), 'TLSv1.3');
  t.equal(versionName(0x0301), 'TLSv1');
  t.equal(versionName(0x0300), 'SSLv3');
  t.equal(versionName(0x0a0a), 'GREASE(0x0a0a)');
  t.equal(versionName(0x1234), '0x1234');
});
