// Every real ClientHello fixture must agree with tshark (and FoxIO's ja4.py) on every field
// tshark gives; server flights must yield the served chain. Differential check against
// read-tls-client-hello (HTTP Toolkit) on SNI/ALPN/ciphers.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readTlsClientHello, getExtensionData } from 'read-tls-client-hello';
import { ClientHelloReader, ja3, ja4, readClientHello, readServerFlight, type ClientHello } from '../../src/wire/index.js';
import { fixtureNames, fixturePath, readFixture, readFixtureJson } from '../helpers/fixtures.js';
import { splitAt } from './build.js';

const hex = (s: string) => parseInt(s, 16);
const BIG = { maxHandshakeBytes: 65536 };

function parse(bytes: Uint8Array): ClientHello {
  const r = readClientHello(bytes, BIG);
  if (r.kind !== 'hello') throw new Error(`expected a hello, got ${r.kind} ${JSON.stringify(r)}`);
  return r.hello;
}

const names = fixtureNames('clienthello', '.bin');
t.ok(names.length >= 19, 'all clienthello fixtures are found');

for (const name of names) {
  t.test(`clienthello/${name} agrees with tshark`, async (t) => {
    const bytes = readFixture('clienthello', `${name}.bin`);
    const truth = readFixtureJson('clienthello', `${name}.json`);
    const s = truth.summary;
    const h = parse(bytes);
    t.equal(h.sni, s.sni, 'sni');
    t.same(h.alpn, s.alpn, 'alpn');
    t.equal(h.recordVersion, hex(s.legacy_record_version), 'record version');
    t.equal(h.clientVersion, hex(s.client_hello_version), 'client_version');
    t.same(h.supportedVersions, s.supported_versions.map(hex), 'supported_versions');
    t.same(h.cipherSuites, s.cipher_suites.map(hex), 'cipher_suites');
    t.same(h.extensions.map((e) => e.type), s.extension_types, 'extension types in order');
    t.same(h.extensions.map((e) => e.length), truth.tshark_fields['tls.handshake.extension.len'].map(Number), 'extension lengths');
    t.same(h.supportedGroups, s.supported_groups.map(hex), 'supported_groups');
    t.same(h.keyShareGroups, s.key_share_groups.map(Number), 'key_share groups');
    // tshark's sig_hash_alg field holds signature_algorithms (13) and, when present,
    // signature_algorithms_cert (50), in extension order.
    const types = h.extensions.map((e) => e.type);
    const sigs = types.indexOf(50) >= 0 && types.indexOf(50) < types.indexOf(13)
      ? [...h.signatureAlgorithmsCert, ...h.signatureAlgorithms]
      : [...h.signatureAlgorithms, ...h.signatureAlgorithmsCert];
    t.same(sigs, s.signature_algorithms.map(hex), 'signature_algorithms (+ _cert)');
    if (types.includes(50)) t.ok(h.signatureAlgorithmsCert.length > 0, 'signature_algorithms_cert decoded');
    t.same(h.ecPointFormats, (truth.tshark_fields['tls.handshake.extensions_ec_point_format'] ?? []).map(Number), 'ec_point_formats');
    t.same(h.compressionMethods, truth.tshark_fields['tls.handshake.comp_method'].map(Number), 'compression');
    t.equal(h.sessionId.length, Number(truth.tshark_fields['tls.handshake.session_id_length'][0]), 'session id length');
    const j3 = ja3(h);
    t.equal(j3.text, s.ja3_full, 'ja3 string');
    t.equal(j3.hash, s.ja3, 'ja3 md5');
    t.equal(j3.hash, createHash('md5').update(s.ja3_full).digest('hex'), 'ja3 hash is md5 of its string');
    t.same(h.recordLengths, s.record_lengths, 'record lengths');
    t.equal(h.recordLengths.length, s.record_count, 'record count');
    t.equal(h.handshakeLength, s.handshake_length, 'handshake length');
    t.equal(h.totalLength, s.total_length, 'total length');
    const j4 = ja4(h);
    t.same(j4, { ja4: truth.ja4_foxio.JA4, ja4_r: truth.ja4_foxio.JA4_r, ja4_o: truth.ja4_foxio.JA4_o, ja4_ro: truth.ja4_foxio.JA4_ro }, 'JA4 (FoxIO ja4.py)');
    t.equal(h.ech, false, 'no ECH in these captures');
    t.equal(h.sniTrailingDot, false);

    // The TCP reads as they arrived on the wire give the same answer through the reader.
    const reader = new ClientHelloReader(BIG);
    let r;
    let at = 0;
    for (const size of truth.capture.read_sizes as number[]) {
      r = reader.push(bytes.subarray(at, at + size));
      at += size;
    }
    t.equal(r?.kind, 'hello', 'the captured TCP reads reassemble');
    if (r?.kind === 'hello') t.same((r.hello as any).toJSON(), (h as any).toJSON(), 'same parse via the reader');

    // Differential oracle: read-tls-client-hello agrees on SNI, ALPN, ciphers, extensions.
    // It reads only the first record, so only single-record hellos are compared.
    if (s.record_count === 1) {
      // A stream left open (like a socket that has not closed): the library reads what it needs.
      const stream = new PassThrough();
      stream.write(Buffer.from(bytes));
      const other = await readTlsClientHello(stream);
      stream.destroy();
      t.equal(getExtensionData(other, 'sni')?.serverName ?? null, h.sni, 'read-tls-client-hello: sni');
      t.same(getExtensionData(other, 'alpn')?.protocols ?? [], h.alpn, 'read-tls-client-hello: alpn');
      t.same(other.cipherSuites, h.cipherSuites, 'read-tls-client-hello: ciphers');
      t.same(other.extensions.map((e) => e.id), h.extensions.map((e) => e.type), 'read-tls-client-hello: extensions');
      t.equal(other.version, h.clientVersion, 'read-tls-client-hello: version');
    }
  });
}

t.test('the 18.9 KB hello exceeds the 16 KiB default bound and is reported too-large', async (t) => {
  const bytes = readFixture('clienthello', 'node-tls-huge-alpn-mtu1500.bin');
  const r = readClientHello(bytes);
  t.equal(r.kind, 'too-large');
  if (r.kind === 'too-large') {
    t.equal(r.limit, 16384);
    t.equal(r.error.code, 'wire/too-large');
  }
  // The first TCP read alone already decides it: the handshake header announces the size.
  t.equal(new ClientHelloReader().push(bytes.subarray(0, 100)).kind, 'too-large');
});

const flightNames = fixtureNames('serverflight', '.json');
t.ok(flightNames.length >= 5, `${flightNames.length} serverflight fixtures found (a wrong path would silently test none)`);

for (const name of flightNames) {
  t.test(`serverflight/${name}`, async (t) => {
    const bytes = readFixture('serverflight', `${name}.bin`);
    const truth = readFixtureJson('serverflight', `${name}.json`);
    const r = readServerFlight(bytes);
    const tf = truth.tshark_fields;
    if (name.endsWith('.tls13')) {
      t.equal(r.kind, 'tls13', 'TLS 1.3: certificate encrypted');
      if (r.kind === 'tls13') {
        t.equal(r.serverHello.version, 0x0304);
        t.equal(r.serverHello.legacyVersion, hex(tf['tls.handshake.version'][0]));
        t.equal(r.serverHello.cipherSuite, hex(tf['tls.handshake.ciphersuite'][0]));
      }
      return;
    }
    t.equal(r.kind, 'certificate');
    if (r.kind !== 'certificate') return;
    t.equal(r.serverHello.version, hex(tf['tls.handshake.version'][0]), 'version');
    t.equal(r.serverHello.cipherSuite, hex(tf['tls.handshake.ciphersuite'][0]), 'cipher');
    t.same(r.chain.map((c) => c.length), tf['tls.handshake.certificate_length'].map(Number), 'certificate lengths');
    // The served PEM files are the DER we must find, leaf first.
    const served = (truth.served_certificate as string).split(' + ').map((p) => p.trim().replace(/^certs\//, ''));
    served.forEach((file, i) => {
      const der = new X509Certificate(readFileSync(fixturePath('certs', file))).raw;
      t.ok(Buffer.from(r.chain[i]).equals(der), `chain[${i}] is the DER of ${file}`);
    });
    // Any split into TCP reads gives the same chain.
    const reads = splitAt(bytes, [1, 7, 60, 300, 301, 900]);
    const { ServerFlightReader } = await import('../../src/wire/index.js');
    const rd = new ServerFlightReader();
    let last;
    for (const c of reads) last = rd.push(c);
    t.equal(last?.kind, 'certificate');
    if (last?.kind === 'certificate') t.same(last.chain.map((c) => Buffer.from(c).toString('hex')), r.chain.map((c) => Buffer.from(c).toString('hex')));
  });
}
