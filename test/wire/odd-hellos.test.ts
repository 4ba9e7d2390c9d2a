// Read leniently, judge strictly: valid-but-odd ClientHellos are decoded and flagged (anomalies,
// the host_name bytes as sent), while bytes that cannot be read one way only are still refused.
// Every hello is built here byte by byte (build.ts; v2Hello below follows RFC 5246 E.2).
import t from 'tap';
import { ClientHelloReader, ja3, ja4, readClientHello, type ClientHello, type HelloReadResult } from '../../src/wire/index.js';
import { ext, helloMessage, records, sniExt, splitAt, v2Hello } from './build.js';

function hello(r: HelloReadResult): ClientHello {
  if (r.kind !== 'hello') throw new Error(`expected hello, got ${JSON.stringify(r)}`);
  return r.hello;
}
const code = (r: HelloReadResult): string => ('error' in r ? r.error.code : r.kind);
const codes = (h: ClientHello): string[] => h.anomalies.map((a) => a.code);
const raw = (h: ClientHello): string | null => (h.sniRaw === null ? null : Buffer.from(h.sniRaw).toString('latin1'));
const withSni = (name: string | Uint8Array) => records(helloMessage({ extensions: [sniExt(name), ext(43, [2, 3, 3])] }));

/** The same bytes one per read: the answer must not depend on segmentation. */
function bytewise(bytes: Uint8Array): HelloReadResult {
  const rd = new ClientHelloReader();
  let last: HelloReadResult = { kind: 'need-more', buffered: 0 };
  for (const c of splitAt(bytes, Array.from({ length: bytes.length }, (_, i) => i))) last = rd.push(c);
  return last;
}

t.test('SNI over 253 bytes: decoded, sni null, flagged wire/sni-too-long, bytes kept', async (t) => {
  const exact = `${`${'a'.repeat(61)}.`.repeat(4)}b.cde`; // labels of 61 bytes, 253 in all
  t.equal(exact.length, 253);
  t.equal(hello(readClientHello(withSni(exact))).sni, exact, '253 bytes: a DNS name, used');
  t.equal(hello(readClientHello(withSni(`${exact}.`))).sni, exact, '253 bytes + the root dot: still used');
  const long = `${exact}f`; // 254
  const h = hello(readClientHello(withSni(long.toUpperCase())));
  t.equal(h.sni, null);
  t.same(codes(h), ['wire/sni-too-long']);
  t.match(h.anomalies[0].detail, /254 bytes long/);
  t.equal(raw(h), long.toUpperCase(), 'raw bytes and case as sent');
  t.same(codes(hello(bytewise(withSni(long)))), ['wire/sni-too-long'], 'same answer one byte per read');
});

t.test('non-ASCII SNI: decoded, sni null (not latin1, not punycode), flagged wire/sni-not-ascii', async (t) => {
  const utf8 = Buffer.from('bücher.example', 'utf8');
  const h = hello(readClientHello(withSni(utf8)));
  t.equal(h.sni, null, 'no name is made up from the bytes');
  t.same(codes(h), ['wire/sni-not-ascii']);
  t.match(h.anomalies[0].detail, /byte 0xc3 at offset 1/);
  t.same(Buffer.from(h.sniRaw!), utf8, 'the UTF-8 bytes as sent');
  // Its A-label is an ordinary name.
  const a = hello(readClientHello(withSni('xn--bcher-kva.example')));
  t.equal(a.sni, 'xn--bcher-kva.example');
  t.same(a.anomalies, []);
  // latin1 byte, not UTF-8: the same flag
  t.same(codes(hello(readClientHello(withSni(Uint8Array.from([0xe9, 0x2e, 0x66, 0x72]))))), ['wire/sni-not-ascii']);
});

t.test('ASCII that is no DNS name: wire/sni-bad-syntax, each reason', async (t) => {
  for (const [name, why] of [
    ['.', /only the root dot/],
    ['a..b', /empty label/],
    ['.a.b', /empty label/],
    ['example.com..', /empty label/],
    ['a b.com', /byte 0x20/],
    ['evil.com\u0000.good.com', /byte 0x00/],
    ['*.example.com', /byte 0x2a/],
    [`${'x'.repeat(64)}.com`, /label longer than 63/],
  ] as const) {
    const h = hello(readClientHello(withSni(name)));
    t.equal(h.sni, null, JSON.stringify(name));
    t.same(codes(h), ['wire/sni-bad-syntax'], JSON.stringify(name));
    t.match(h.anomalies[0].detail, why, JSON.stringify(name));
    t.equal(raw(h), name);
  }
});

t.test('several reasons at once: all listed, in a fixed order', async (t) => {
  const name = Buffer.concat([Buffer.from('é', 'utf8'), Buffer.from(`..${'a'.repeat(60)}`.repeat(5))]);
  const h = hello(readClientHello(withSni(name)));
  t.same(codes(h), ['wire/sni-not-ascii', 'wire/sni-too-long', 'wire/sni-bad-syntax']);
  t.same(codes(hello(bytewise(withSni(name)))), codes(h), 'one byte per read');
});

t.test('server_name without a host_name entry: decoded, no SNI, wire/sni-no-host-name', async (t) => {
  // list of one entry of name type 1 ("abc"), then one of type 7 (empty)
  const h = hello(readClientHello(records(helloMessage({ extensions: [ext(0, [0, 9, 1, 0, 3, 0x61, 0x62, 0x63, 7, 0, 0]), ext(43, [2, 3, 3])] }))));
  t.equal(h.sni, null);
  t.equal(h.sniRaw, null);
  t.same(codes(h), ['wire/sni-no-host-name']);
  t.match(h.anomalies[0].detail, /only name type\(s\) 1, 7/);
  t.same(h.extensions.map((e) => e.type), [0, 43], 'the extension is still listed (JA3/JA4 count it)');
  // A host_name after another type is found and used.
  const h2 = hello(readClientHello(records(helloMessage({ extensions: [ext(0, [0, 10, 1, 0, 1, 0x61, 0, 0, 3, 0x78, 0x2e, 0x79])] }))));
  t.equal(h2.sni, 'x.y');
  t.same(h2.anomalies, []);
});

t.test('still refused: framing, an empty host_name, two host_names, a duplicate server_name', async (t) => {
  const sni = (data: number[]) => readClientHello(records(helloMessage({ extensions: [ext(0, data)] })));
  t.equal(code(sni([0, 0])), 'wire/bad-sni', 'empty list (RFC 6066: one entry at least)');
  t.equal(code(sni([0, 3, 0, 0, 0])), 'wire/bad-sni', 'empty host_name');
  t.equal(code(sni([0, 6, 0, 0, 9, 0x61, 0x62, 0x63])), 'wire/bad-sni', 'entry runs past the extension');
  t.equal(code(sni([0, 2, 0, 0])), 'wire/bad-sni', 'entry header runs past the extension');
  t.equal(code(sni([0, 13, 0, 0, 3, 0x61, 0x2e, 0x62, 1, 0, 0, 0, 0, 1, 0xe9])), 'wire/bad-sni', 'two host_names, an odd one second');
  t.equal(code(readClientHello(records(helloMessage({ extensions: [sniExt('é'), sniExt('a.b')] })))), 'wire/duplicate-extension');
});

t.test('SSLv2-compatible hello: decoded as a TLS hello without extensions, flagged wire/sslv2-compat', async (t) => {
  const bytes = v2Hello();
  const h = hello(readClientHello(bytes));
  t.same(codes(h), ['wire/sslv2-compat']);
  t.match(h.anomalies[0].detail, /offering TLSv1\.2.*2 TLS cipher suite\(s\); 1 SSL 2\.0-only/);
  t.equal(h.recordVersion, 0x0002, 'SSL 2.0 record format');
  t.equal(h.clientVersion, 0x0303);
  t.same(h.cipherSuites, [0x009c, 0x002f], 'TLS suites only');
  t.same(h.compressionMethods, [0]);
  t.same(h.extensions, []);
  t.equal(h.sni, null);
  t.equal(h.sniRaw, null);
  t.same(h.alpn, []);
  t.same([...h.random], [...new Array(16).fill(0), ...Array.from({ length: 16 }, (_, i) => 0xa0 + i)], 'the challenge, right-aligned in 32 bytes (RFC 5246 E.2)');
  t.equal(h.sessionId.length, 0);
  t.same(h.recordLengths, [bytes.length - 2]);
  t.equal(h.totalLength, bytes.length);
  t.equal(h.handshakeLength, bytes.length - 3);
  t.match(ja4(h).ja4, /^t12i0200/, 'fingerprints work on it');
  t.match(ja3(h).text, /^771,156-47,,,$/);
  t.same((h as unknown as { toJSON(): unknown }).toJSON(), (hello(bytewise(bytes)) as unknown as { toJSON(): unknown }).toJSON(), 'one byte per read: the same hello');
  // Bytes after it are not part of it.
  t.equal(hello(readClientHello(Uint8Array.from([...bytes, 0x16, 3, 3]))).totalLength, bytes.length);
  // Other versions, a 32-byte challenge, a session id.
  const h2 = hello(readClientHello(v2Hello({ version: 0x0301, challenge: new Array(32).fill(7), sid: new Array(16).fill(5) })));
  t.equal(h2.clientVersion, 0x0301);
  t.same([...h2.random], new Array(32).fill(7));
  t.same([...h2.sessionId], new Array(16).fill(5));
  t.equal(hello(readClientHello(v2Hello({ version: 0x0300 }))).clientVersion, 0x0300);
});

t.test('SSLv2-compatible hello: bounded, and broken lengths still refused', async (t) => {
  const rd = new ClientHelloReader();
  const bytes = v2Hello();
  t.equal(rd.push(bytes.subarray(0, 20)).kind, 'need-more');
  t.equal(code(rd.end()), 'wire/truncated');
  t.equal(code(readClientHello(bytes, { maxHandshakeBytes: 20 })), 'wire/too-large');
  t.equal(code(readClientHello(v2Hello({ length: 0x7fff }).subarray(0, 10))), 'wire/too-large', 'announced 32 KiB: over the default bound at once');
  t.equal(code(readClientHello(v2Hello({ extra: [0, 0] }))), 'wire/length-mismatch', 'bytes after the challenge inside the message');
  t.equal(code(readClientHello(v2Hello({ length: 20 }).subarray(0, 22))), 'wire/length-overflow', 'lengths past the message');
  t.equal(code(readClientHello(v2Hello({ length: 5 }).subarray(0, 7))), 'wire/length-overflow', 'shorter than its fixed fields');
  t.equal(code(readClientHello(v2Hello({ specs: [] }))), 'wire/length-mismatch', 'no cipher spec');
  t.equal(code(readClientHello(v2Hello({ challenge: new Array(15).fill(1) }))), 'wire/length-mismatch', 'challenge under 16 bytes');
  t.equal(code(readClientHello(v2Hello({ challenge: new Array(33).fill(1) }))), 'wire/length-mismatch', 'challenge over 32 bytes');
  t.equal(code(readClientHello(v2Hello({ sid: new Array(33).fill(1) }))), 'wire/length-overflow', 'session id over 32 bytes');
  // cipher_spec_length not a multiple of 3
  const odd = Uint8Array.from([0x80, 27, 1, 3, 3, 0, 2, 0, 0, 0, 16, 0, 0x2f, ...new Array(16).fill(1)]);
  t.equal(code(readClientHello(odd)), 'wire/length-mismatch');
  // SSL 2.0 itself stays refused
  t.equal(code(readClientHello(v2Hello({ version: 0x0002 }))), 'wire/sslv2');
});
