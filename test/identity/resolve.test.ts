// Identity resolution per TSID profile, SNI spoofing, the passive rule, and RFC 6125 matching.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  certificateFacts,
  certificateMatchesName,
  dnsNameMatches,
  resolveIdentity,
  TSID_PROFILES,
  TSID_PROFILE_SPECS,
  type CertificateFacts,
  type TsidProfile,
} from '../../src/identity/index.js';
import { fixturePath } from '../helpers/fixtures.js';

function load(name: string): CertificateFacts {
  const r = certificateFacts(readFileSync(fixturePath('certs', `${name}.pem`), 'utf8'));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const seed = load('first-san-differs-from-cn-cisco-like');
const noCn = load('no-cn-sans-only');
const ouOnly = load('ou-only-no-cn-no-san');
const ipOnly = load('ip-sans-only');
const wild = load('wildcard-cn');
const multiOu = load('multi-ou-with-cn');
const DST = '72.163.4.38';

const on = (profile: TsidProfile) => ({ enabled: true, profile });
const off = { enabled: false, profile: 'snort3-legacy' as TsidProfile };

function pick(i: ReturnType<typeof resolveIdentity>) {
  return `${i.name}/${i.source}`;
}

t.test('profiles are data: three named, ordered step lists', async (t) => {
  t.same(TSID_PROFILES, ['snort3-legacy', 'snort3', 'technote']);
  t.same(
    TSID_PROFILE_SPECS.map((p) => p.steps.map((s) => s.from)),
    [
      ['sni', 'cert-san', 'cert-cn'],
      ['sni', 'cert-cn', 'cert-san'],
      ['cert-cn', 'cert-san', 'cert-ou', 'sni'],
    ],
  );
});

t.test('the field case: seed-shaped certificate, no SNI', async (t) => {
  t.equal(pick(resolveIdentity({ sni: null, certificate: seed, tsid: on('snort3-legacy'), dstIp: DST })), 'toos.cisco.com/cert-san');
  t.equal(pick(resolveIdentity({ sni: null, certificate: seed, tsid: on('snort3'), dstIp: DST })), 'tools.cisco.com/cert-cn');
  t.equal(pick(resolveIdentity({ sni: null, certificate: seed, tsid: on('technote'), dstIp: DST })), 'tools.cisco.com/cert-cn');
  t.equal(pick(resolveIdentity({ sni: null, passiveCertificate: seed, tsid: off, dstIp: DST })), 'tools.cisco.com/passive-cn');
  // TSID off ignores a probe certificate; TSID on ignores the passive one.
  t.equal(pick(resolveIdentity({ sni: null, certificate: seed, tsid: off, dstIp: DST })), `${DST}/ip`);
  t.equal(pick(resolveIdentity({ sni: null, passiveCertificate: seed, tsid: on('snort3'), dstIp: DST })), `${DST}/ip`);
  const legacy = resolveIdentity({ sni: null, certificate: seed, tsid: on('snort3-legacy'), dstIp: DST });
  t.same(legacy.candidates, [
    { name: 'toos.cisco.com', source: 'cert-san' },
    { name: 'tools.cisco.com', source: 'cert-cn' },
    { name: DST, source: 'ip' },
  ]);
  t.equal(legacy.spoofedSni, undefined);
});

t.test('no-CN certificate', async (t) => {
  t.equal(pick(resolveIdentity({ sni: null, certificate: noCn, tsid: on('technote'), dstIp: DST })), 'san-first.example/cert-san');
  t.equal(pick(resolveIdentity({ sni: null, certificate: noCn, tsid: on('snort3'), dstIp: DST })), 'san-first.example/cert-san');
  // Passive rule reads the subject CN only: no CN, no name.
  t.equal(pick(resolveIdentity({ sni: null, passiveCertificate: noCn, tsid: off, dstIp: DST })), `${DST}/ip`);
});

t.test('OU is a name only for technote', async (t) => {
  t.equal(pick(resolveIdentity({ sni: null, certificate: ouOnly, tsid: on('technote'), dstIp: DST })), `${ouOnly.ous[0]}/cert-ou`);
  t.equal(pick(resolveIdentity({ sni: null, certificate: ouOnly, tsid: on('snort3-legacy'), dstIp: DST })), `${DST}/ip`);
  t.equal(pick(resolveIdentity({ sni: null, certificate: multiOu, tsid: on('technote'), dstIp: DST })), 'multi-ou.example/cert-cn');
});

t.test('a certificate without a usable host name gives the IP', async (t) => {
  for (const p of TSID_PROFILES) {
    t.equal(pick(resolveIdentity({ sni: null, certificate: ipOnly, tsid: on(p), dstIp: '192.0.2.10' })), '192.0.2.10/ip', p);
  }
  t.equal(pick(resolveIdentity({ sni: null, tsid: off, dstIp: '2001:db8::1' })), '2001:db8::1/ip');
  t.equal(pick(resolveIdentity({ sni: '', tsid: off, dstIp: DST })), `${DST}/ip`, 'empty SNI is no SNI');
});

t.test('SNI: honest, spoofed, TSID off', async (t) => {
  // Honest SNI (a SAN of the certificate) wins under both Snort profiles.
  for (const p of ['snort3-legacy', 'snort3'] as const) {
    const i = resolveIdentity({ sni: 'tools3.cisco.com', certificate: seed, tsid: on(p), dstIp: DST });
    t.equal(pick(i), 'tools3.cisco.com/sni', p);
    t.equal(i.spoofedSni, undefined);
  }
  // The CN counts as a certificate name for the spoof check.
  t.equal(pick(resolveIdentity({ sni: 'TOOLS.cisco.com', certificate: seed, tsid: on('snort3-legacy'), dstIp: DST })), 'TOOLS.cisco.com/sni');
  // technote: the certificate's CN outranks even an honest SNI.
  t.equal(pick(resolveIdentity({ sni: 'tools3.cisco.com', certificate: seed, tsid: on('technote'), dstIp: DST })), 'tools.cisco.com/cert-cn');
  // Spoofed: the certificate name wins, the SNI is reported.
  const cases: [TsidProfile, string][] = [
    ['snort3-legacy', 'toos.cisco.com/cert-san'],
    ['snort3', 'tools.cisco.com/cert-cn'],
    ['technote', 'tools.cisco.com/cert-cn'],
  ];
  for (const [p, want] of cases) {
    const i = resolveIdentity({ sni: 'allowed.example.com', certificate: seed, tsid: on(p), dstIp: DST });
    t.equal(pick(i), want, `${p} spoofed`);
    t.equal(i.spoofedSni, 'allowed.example.com');
    t.notOk(i.candidates.some((c) => c.source === 'sni'), 'spoofed SNI is not a candidate');
  }
  // TSID off: the SNI is taken as is (nothing to contradict it).
  t.equal(pick(resolveIdentity({ sni: 'allowed.example.com', passiveCertificate: seed, tsid: off, dstIp: DST })), 'allowed.example.com/sni');
  // TSID on but the probe failed: SNI, not spoofed.
  const noCert = resolveIdentity({ sni: 'a.example', tsid: on('snort3'), dstIp: DST });
  t.equal(pick(noCert), 'a.example/sni');
  t.equal(noCert.spoofedSni, undefined);
  // Wildcard certificates: one label only.
  t.equal(pick(resolveIdentity({ sni: 'www.wild.example', certificate: wild, tsid: on('snort3'), dstIp: DST })), 'www.wild.example/sni');
  const deep = resolveIdentity({ sni: 'a.b.wild.example', certificate: wild, tsid: on('snort3'), dstIp: DST });
  t.equal(deep.spoofedSni, 'a.b.wild.example');
  t.equal(deep.source, 'cert-cn');
  // IP literal SNI against IP SANs, compared as IPs.
  const v6 = resolveIdentity({ sni: '2001:0db8:0:0::0001', certificate: ipOnly, tsid: on('snort3'), dstIp: DST });
  t.equal(pick(v6), '2001:0db8:0:0::0001/sni');
  t.equal(resolveIdentity({ sni: '192.0.2.11', certificate: ipOnly, tsid: on('snort3'), dstIp: DST }).spoofedSni, '192.0.2.11');
});

t.test('RFC 6125 matching', async (t) => {
  const yes: [string, string][] = [
    ['*.example.com', 'www.example.com'],
    ['*.example.com', 'WWW.Example.COM.'],
    ['example.com', 'example.com'],
  ];
  const no: [string, string][] = [
    ['*.example.com', 'example.com'],
    ['*.example.com', 'a.b.example.com'],
    ['*.com', 'example.com'],
    ['w*.example.com', 'www.example.com'],
    ['www.*.com', 'www.example.com'],
    ['*.*.example.com', 'a.b.example.com'],
    ['*.example.com', '.example.com'],
    ['', ''],
  ];
  for (const [p, h] of yes) t.ok(dnsNameMatches(p, h), `${p} matches ${h}`);
  for (const [p, h] of no) t.notOk(dnsNameMatches(p, h), `${p} does not match ${h}`);
  // Strict (TLS client) rule: CN ignored when DNS SANs exist; 'always' counts it.
  t.notOk(certificateMatchesName(seed, 'tools.cisco.com'));
  t.ok(certificateMatchesName(seed, 'tools.cisco.com', { cn: 'always' }));
  t.ok(certificateMatchesName(seed, 'toos.cisco.com'));
  t.ok(certificateMatchesName(load('cn-only'), load('cn-only').cn as string), 'CN used when no SAN');
  t.ok(certificateMatchesName(ipOnly, '127.0.0.1'));
  t.ok(certificateMatchesName(ipOnly, '::ffff:127.0.0.1'), 'v4-mapped v6 compares as the v4 address');
  t.ok(certificateMatchesName(ipOnly, '2001:db8::1'));
  t.notOk(certificateMatchesName(ipOnly, '2001:db8::2'));
  t.notOk(certificateMatchesName(seed, '72.163.4.38'), 'IP never matches DNS names');
});
