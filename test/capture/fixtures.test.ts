// Captures made by real programs on loopback (tcpdump recording openssl, curl and node; see
// test/fixtures/captures/make.sh): peekwall's reading of each flow against what tshark
// decoded from the same file (the .json beside it), in any chunking of the file.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { certificateFacts } from '../../src/identity/index.js';
import { ja3 } from '../../src/wire/index.js';
import { captureExpect, capturesDir, peekAll, readCapture } from './lib.js';

const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;
const captures = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

t.test('the fixtures cover what the issue asks for', async (t) => {
  const kinds = captures.map((c) => captureExpect(c));
  t.ok(kinds.some((k) => k.linkType === 'linux-sll2'), 'an SLL2 capture (tcpdump -i any)');
  t.ok(captures.some((c) => c.endsWith('.pcapng')), 'a pcapng written by editcap');
  t.ok(kinds.some((k) => k.flows.some((f) => f.serverVersion === '0x0304')), 'a TLS 1.3 flow');
  t.ok(kinds.some((k) => k.flows.some((f) => f.sni === null && f.certificate?.subjectCn.includes('tools.cisco.com'))), 'a no-SNI TLS 1.2 flow with the Cisco-like certificate');
  t.ok(captures.includes('openssl-fragmented-hello.pcap'), 'a hello split across TLS records (-max_send_frag)');
  t.ok(captures.some((c) => c.includes('nsec')), 'a nanosecond pcap');
});

for (const name of captures) {
  t.test(`${name}: every flow read as tshark reads it`, async (t) => {
    const want = captureExpect(name);
    const bytes = readCapture(name);
    for (const chunk of [bytes.length, 4096, 100, 7]) {
      const { flows, summary } = peekAll(bytes, chunk);
      t.same(summary.problems, [], `chunk ${chunk}: no problem reading the file`);
      t.equal(summary.packets, want.packets, `chunk ${chunk}: every frame read`);
      t.equal(flows.length, want.flows.length, `chunk ${chunk}: one flow per tcp.stream`);
      for (const w of want.flows) {
        const got = flows.find((f) => f.stream === w.stream);
        if (!got) {
          t.fail(`tcp.stream ${w.stream} missing`);
          continue;
        }
        const at = `chunk ${chunk}, tcp.stream ${w.stream}`;
        t.same(got.client, w.client, `${at}: the client is the ClientHello's sender`);
        t.same(got.server, w.server, `${at}: server`);
        if (got.hello?.kind !== 'hello') {
          t.fail(`${at}: no hello (${JSON.stringify(got.hello)})`);
          continue;
        }
        const h = got.hello.hello;
        t.equal(got.helloFrame, w.helloFrame, `${at}: hello complete in tshark's frame`);
        t.equal(h.sni, w.sni, `${at}: SNI`);
        t.same(h.alpn, w.alpn, `${at}: ALPN`);
        t.equal(hex4(h.clientVersion), w.clientVersion, `${at}: client_version`);
        t.same(h.supportedVersions.map(hex4), w.supportedVersions, `${at}: supported_versions`);
        t.equal(ja3(h).hash, w.ja3, `${at}: JA3`);
        t.equal(ja3(h).text, w.ja3Full, `${at}: JA3 string`);
        const f = got.flight;
        if (w.serverVersion !== undefined) {
          t.ok(f && 'serverHello' in f, `${at}: server hello read`);
          if (f && 'serverHello' in f) t.equal(hex4(f.serverHello.version), w.serverVersion, `${at}: negotiated version`);
        }
        if (w.certificate) {
          t.equal(f?.kind, 'certificate', `${at}: certificate in clear`);
          if (f?.kind !== 'certificate') continue;
          t.equal(f.chain.length, w.certificate.chainLength, `${at}: chain length`);
          t.equal(got.flightFrame, w.certificate.frame, `${at}: certificate frame`);
          const leaf = certificateFacts(f.chain[0]);
          t.ok(leaf.ok, `${at}: leaf parsed`);
          if (!leaf.ok) continue;
          t.equal(leaf.value.sha256.replace(/:/g, '').toLowerCase(), w.certificate.sha256, `${at}: the same certificate bytes`);
          t.same(leaf.value.cns, w.certificate.subjectCn, `${at}: subject CN`);
          t.same(leaf.value.sans.filter((s) => s.type === 'dns').map((s) => s.value), w.certificate.dnsSans, `${at}: DNS SANs in order`);
        } else if (w.serverVersion === '0x0304') {
          t.equal(f?.kind, 'tls13', `${at}: TLS 1.3, no certificate in clear`);
        }
      }
    }
  });
}
