// resolveIdentity against independent ground truth: every certificate fixture's
// `identity_candidates` (CN, first DNS SAN, first OU, as OpenSSL printed them; see
// test/fixtures/shared/README.md), for every TSID profile and for TSID off. The expected
// candidate order of each profile is written out here, not read from TSID_PROFILE_SPECS, so a
// wrong step table fails too.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { certificateFacts, resolveIdentity, TSID_PROFILES, type IdentitySource, type TsidProfile } from '../../src/identity/index.js';
import { fixtureNames, fixturePath, readFixtureJson } from '../helpers/fixtures.js';

interface Truth {
  cn: string | null;
  cns: string[];
  san_dns?: string[];
  identity_candidates: { cn: string | null; first_san_dns: string | null; first_ou: string | null };
}

// Certificate steps per profile, in rank order (DOMAIN.md §2; the SNI steps are exercised by
// test/identity/resolve.test.ts: here the SNI is absent or contradicted by the certificate).
const CERT_ORDER: Record<TsidProfile, readonly ('cn' | 'first_san_dns' | 'first_ou')[]> = {
  'snort3-legacy': ['first_san_dns', 'cn'],
  snort3: ['cn', 'first_san_dns'],
  technote: ['cn', 'first_san_dns', 'first_ou'],
};
const SOURCE = { cn: 'cert-cn', first_san_dns: 'cert-san', first_ou: 'cert-ou' } as const satisfies Record<string, IdentitySource>;
const DST = '192.0.2.77';
// A name none of the fixtures carries (checked below against each one's CNs and SANs).
const SPOOF = 'not-in-any-certificate.invalid';

t.same(Object.keys(CERT_ORDER).sort(), [...TSID_PROFILES].sort(), 'every TSID profile has its expected order here');

const names = fixtureNames('certs', '.json').filter((n) => readFixtureJson<Partial<Truth>>('certs', `${n}.json`).identity_candidates);
t.ok(names.length >= 14, `${names.length} certificate fixtures carry identity_candidates`);

for (const name of names) {
  t.test(`certs/${name}: resolveIdentity agrees with OpenSSL's names`, async (t) => {
    const truth = readFixtureJson<Truth>('certs', `${name}.json`);
    const facts = certificateFacts(readFileSync(fixturePath('certs', `${name}.pem`), 'utf8'));
    if (!facts.ok) throw new Error(`${name}: ${facts.error.message}`);
    const cert = facts.value;
    const want = truth.identity_candidates;
    t.notOk([...truth.cns, ...(truth.san_dns ?? [])].includes(SPOOF), 'the spoofed SNI is not in the certificate');

    for (const profile of TSID_PROFILES) {
      const candidates = [
        ...CERT_ORDER[profile].flatMap((k) => (want[k] === null ? [] : [{ name: want[k] as string, source: SOURCE[k] }])),
        { name: DST, source: 'ip' },
      ];
      const none = resolveIdentity({ sni: null, certificate: cert, tsid: { enabled: true, profile }, dstIp: DST });
      t.same(
        { name: none.name, source: none.source, candidates: none.candidates, spoofedSni: none.spoofedSni },
        { name: candidates[0].name, source: candidates[0].source, candidates, spoofedSni: undefined },
        `${profile}, no SNI`,
      );
      const spoofed = resolveIdentity({ sni: SPOOF, certificate: cert, tsid: { enabled: true, profile }, dstIp: DST });
      t.same(
        { name: spoofed.name, source: spoofed.source, candidates: spoofed.candidates, spoofedSni: spoofed.spoofedSni },
        { name: candidates[0].name, source: candidates[0].source, candidates, spoofedSni: SPOOF },
        `${profile}, SNI the certificate does not carry: flagged and passed over`,
      );
    }

    // TSID off, no SNI, the certificate read passively: the subject CN only (SANs and OUs are
    // not consulted), else the address.
    const passive = resolveIdentity({ sni: null, passiveCertificate: cert, tsid: { enabled: false, profile: 'snort3-legacy' }, dstIp: DST });
    const wantPassive = want.cn === null ? [{ name: DST, source: 'ip' }] : [{ name: want.cn, source: 'passive-cn' }, { name: DST, source: 'ip' }];
    t.same(
      { name: passive.name, source: passive.source, candidates: passive.candidates },
      { name: wantPassive[0].name, source: wantPassive[0].source, candidates: wantPassive },
      'TSID off, no SNI: passive CN',
    );
  });
}
