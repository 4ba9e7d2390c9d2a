import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { CURL_ERRORS, curlCodeFor, curlErrorLine } from '../../src/lab/curl.js';
import { createAddressMap } from '../../src/lab/addresses.js';
import { parsePemBundle, verifyDeviceChain } from '../../src/lab/verify.js';
import { makeTestPki } from './pki.js';

t.test('error lines read exactly like the field logs (seed 003)', async (t) => {
  t.equal(curlErrorLine(6), 'CH-LIB-ERROR: ch_pf_curl_send_msg[494], failed to perform, err code 6, err string "Couldn\'t resolve host name"');
  t.equal(curlErrorLine(60), 'CH-LIB-ERROR: ch_pf_curl_send_msg[494], failed to perform, err code 60, err string "SSL peer certificate or SSH remote key was not OK"');
  t.equal(CURL_ERRORS[35], 'SSL connect error');
  t.equal(CURL_ERRORS[56], 'Failure when receiving data from the peer');
  t.equal(CURL_ERRORS[28], 'Timeout was reached');
});

t.test('socket errors map to curl codes by how far the call got', async (t) => {
  t.equal(curlCodeFor({ code: 'ECONNREFUSED' }, 'connect', false), 7);
  t.equal(curlCodeFor({ code: 'ECONNRESET' }, 'handshake', false), 35, 'reset during the handshake (a block with reset)');
  t.equal(curlCodeFor({ code: 'ECONNRESET' }, 'transfer', false), 56, 'reset after the handshake');
  t.equal(curlCodeFor(null, 'transfer', false), 52);
  t.equal(curlCodeFor({ code: 'ECONNRESET' }, 'proxy', false), 56);
  t.equal(curlCodeFor({ code: 'ECONNRESET' }, 'handshake', true), 28, 'a deadline wins');
  t.equal(curlCodeFor({ code: 'ETIMEDOUT' }, 'connect', false), 28);
});

t.test('address map: loopback aliases show as seed addresses, others unchanged', async (t) => {
  const m = createAddressMap();
  t.equal(m.toSeed('127.163.4.38'), '72.163.4.38');
  t.equal(m.toSeed('::ffff:127.12.1.8'), '10.12.1.8');
  t.equal(m.toSeed('127.0.0.1'), '127.0.0.1');
  t.equal(m.toLab('173.37.145.8'), '127.37.145.8');
  t.ok(m.isMapped('127.10.81.2'));
  t.notOk(m.isMapped('10.10.81.2'));
});

t.test('device-side chain check uses the device clock, the trust store and the name', async (t) => {
  const now = new Date();
  const pki = await makeTestPki({ now });
  const chain = parsePemBundle(pki.certPem);
  const trust = [new X509Certificate(pki.caPem)];
  t.equal(chain.length, 2);
  t.equal(verifyDeviceChain(chain, trust, 'tools.cisco.com', now).ok, true);
  t.equal(verifyDeviceChain(chain, trust, 'toos.cisco.com', now).ok, true, 'first SAN is a valid name too');
  t.match(verifyDeviceChain(chain, trust, 'www.cisco.com', now).reason, /Hostname mismatch/);
  const late = new Date(pki.leafNotAfter.getTime() + 1000);
  t.equal(verifyDeviceChain(chain, trust, 'tools.cisco.com', late).reason, 'certificate has expired');
  const early = new Date(pki.leafNotBefore.getTime() - 1000);
  t.equal(verifyDeviceChain(chain, trust, 'tools.cisco.com', early).reason, 'certificate is not yet valid');
  const u = parsePemBundle(pki.untrustedCertPem);
  t.equal(verifyDeviceChain(u, trust, 'tools.cisco.com', now).reason, 'self signed certificate in certificate chain');
  t.equal(verifyDeviceChain(u.slice(0, 1), trust, 'tools.cisco.com', now).reason, 'unable to get local issuer certificate');
  t.equal(verifyDeviceChain(chain.slice(0, 1), trust, 'tools.cisco.com', now).ok, true, 'leaf alone builds to the trusted CA');
  const caExpired = new X509Certificate(pki.caPem);
  const afterCa = new Date(new Date(caExpired.validTo).getTime() + 1000);
  const r = verifyDeviceChain(chain, trust, 'tools.cisco.com', afterCa);
  t.same([r.reason, r.depth], ['certificate has expired', 1], 'leaf and CA expired: OpenSSL reports the CA first (top down)');
});
