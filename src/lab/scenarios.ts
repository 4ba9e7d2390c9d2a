// The lab's stories. Each scenario builds a LabWorld, runs acts (a policy, the devices'
// `license smart renew auth`, the events peekwall logged meanwhile) and checks every act
// against the outcome the field case predicts (the act harness: acts.ts). A scenario "passes"
// when the lab showed what it should, including failures that are the point of the act.
import { X509Certificate } from 'node:crypto';
import type { ConnectionEvent } from '../events/index.js';
import { fromRoot } from '../util/paths.js';
import {
  blockedRenewals,
  certFailure,
  everyEvent,
  isBlock,
  labRun,
  okRenewals,
  renewAll,
  runAct,
  transportFailure,
  withRegisteredWorld,
  withWorld,
  worldOptions,
  type LabAct,
  type LabCheck,
  type Scenario,
} from './acts.js';
import type { DeviceCommandResult } from './client.js';
import { DAY_MS } from './clock.js';
import { LAB_DEVICES, labPaths, readLabFile, type LabWorld } from './world.js';

export const SHIPPED_POLICY = 'policies/smart-licensing.yaml';
export const REMEDY_POLICIES = ['policies/smart-licensing-remedy-allow-toos.yaml', 'policies/smart-licensing-remedy-category.yaml'];
export const FMC_RULE = 'ALLOW_FMC_ASA_SNT_CISCO';
const FMC_ADDRESS = LAB_DEVICES[0].address;

function explanationToos(w: LabWorld, profile: string, blocked: readonly ConnectionEvent[]): string {
  const c = w.certificateNames();
  const shown = c.sans.slice(0, 4).join(', ');
  const b = blocked.find((e) => isBlock(e));
  const blocker = b
    ? b.siCategory
      ? `the Security Intelligence list ${b.siCategory} (${b.reason || b.action})`
      : `the rule ${b.accessControlRule}`
    : `the rule that blocks ${c.sans[0]}`;
  return (
    `Why: Smart Licensing clients send no SNI, so with TSID on the firewall names the server from ` +
    `its certificate. ${rel(w.paths.cert)} says CN=${c.cn}, but its first SAN is ${c.sans[0]} ` +
    `(SANs in order: ${shown}${c.sans.length > 4 ? ', …' : ''}), and the ${profile} TSID profile ranks ` +
    `the first SAN before the CN (identity source cert-san), so the URL becomes https://${c.sans[0]} and ` +
    `${blocker} blocks the renewals. With TSID off the firewall reads the CN passively from the TLS 1.2 ` +
    `Certificate message and reports https://${c.cn}. Nothing is wrong with the traffic: allow ${c.sans[0]} ` +
    `in the URL/SI policy, or allow Smart Licensing by URL category or a broader cisco.com pattern ` +
    `(the remedy policies above), and renew auth succeeds with TSID still on.`
  );
}

function rel(p: string): string {
  const root = fromRoot();
  return p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p;
}

const fmcEvents = (events: ConnectionEvent[]): ConnectionEvent[] => events.filter((e) => e.srcIp === FMC_ADDRESS);

// --- the scenarios ---------------------------------------------------------------------

const toos: Scenario = {
  name: 'toos',
  seed: '000/001',
  summary: 'the field case: TSID names tools.cisco.com "toos.cisco.com" (first SAN) and the block breaks renew auth; TSID off and the remedies',
  async run(o) {
    return withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      const acts: LabAct[] = [];
      acts.push(
        await runAct(w, {
          title: 'Act 1 — TSID on, the shipped policy',
          policy: SHIPPED_POLICY,
          expected: 'URL https://toos.cisco.com; the licensing flows are blocked; license smart renew auth fails',
          checks: (ev, cl) => [
            everyEvent(ev, 'every licensing flow is logged with URL https://toos.cisco.com', (e) => e.url === 'https://toos.cisco.com'),
            ...blockedRenewals(ev, cl),
          ],
          notes: (w) => [`${w.devices[0].name}# show license`, w.devices[0].showLicense()],
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 2 — TSID off, the same policy',
          policy: SHIPPED_POLICY,
          tsid: false,
          expected: 'URL https://tools.cisco.com (the CN, read passively); allowed; renew auth succeeds',
          checks: (ev, cl) => [
            everyEvent(ev, 'every licensing flow is logged with URL https://tools.cisco.com', (e) => e.url === 'https://tools.cisco.com'),
            everyEvent(ev, 'the name came from the passively read CN', (e) => e.identitySource === 'passive-cn'),
            everyEvent(ev, 'no licensing flow is blocked', (e) => !isBlock(e)),
            { what: 'every device renews its authorization', ok: cl.length > 0 && cl.every((c) => c.ok) },
          ],
        }),
      );
      let n = 3;
      for (const p of REMEDY_POLICIES) {
        acts.push(
          await runAct(w, {
            title: `Act ${n++} — TSID on, remedy ${rel(fromRoot(p)).replace(/^policies\/smart-licensing-remedy-|\.yaml$/g, '')}`,
            policy: p,
            expected: `URL https://toos.cisco.com, allowed by ${FMC_RULE}; renew auth succeeds`,
            checks: (ev, cl) => [
              everyEvent(ev, 'every licensing flow is logged with URL https://toos.cisco.com', (e) => e.url === 'https://toos.cisco.com'),
              everyEvent(ev, 'no licensing flow is blocked', (e) => !isBlock(e)),
              everyEvent(fmcEvents(ev), `the FMC's flows are allowed by ${FMC_RULE}`, (e) => e.accessControlRule === FMC_RULE, 1),
              { what: 'every device renews its authorization', ok: cl.length > 0 && cl.every((c) => c.ok) },
            ],
          }),
        );
      }
      return labRun('toos', 'toos.cisco.com — TSID, a missing SNI and the first SAN (seeds 000/001)', '000/001', acts, explanationToos(w, acts[0].tsid.profile, acts[0].events));
    });
  },
};

const explicitProxy: Scenario = {
  name: 'explicit-proxy',
  seed: '003',
  summary: 'devices configured with PROXY_SRV/PROXY_PORT: CONNECT tools.cisco.com, then the same TLS without SNI inside the tunnel',
  async run(o) {
    return withRegisteredWorld({ explicitProxy: true, ...worldOptions(o) }, async (w) => {
      const acts: LabAct[] = [];
      acts.push(
        await runAct(w, {
          title: 'Act 1 — through the explicit proxy (PROXY_SRV 192.0.2.10, PROXY_PORT 80), TSID on, the shipped policy',
          policy: SHIPPED_POLICY,
          expected: 'the tunnel opens, but the TLS inside has no SNI: TSID names it https://toos.cisco.com and the block applies; renew auth fails',
          checks: (ev, cl) => [
            everyEvent(ev, 'every tunnelled flow is logged with URL https://toos.cisco.com', (e) => e.url === 'https://toos.cisco.com'),
            everyEvent(ev, 'every tunnelled flow is blocked', isBlock),
            { what: 'every device fails renew auth with a transport error', ok: cl.length > 0 && cl.every(transportFailure) },
          ],
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 2 — through the explicit proxy, TSID on, remedy allow-toos',
          policy: REMEDY_POLICIES[0],
          expected: `allowed by ${FMC_RULE}; renew auth succeeds through the proxy`,
          checks: (ev, cl) => [
            everyEvent(ev, 'no tunnelled flow is blocked', (e) => !isBlock(e)),
            everyEvent(fmcEvents(ev), `the FMC's flows are allowed by ${FMC_RULE}`, (e) => e.accessControlRule === FMC_RULE, 1),
            { what: 'every device renews through the proxy', ok: cl.length > 0 && cl.every((c) => c.ok && (c.connectedTo ?? '').includes('(proxy)')) },
          ],
        }),
      );
      return labRun(
        'explicit-proxy',
        'Smart Licensing through an explicit proxy, PROXY_SRV/PROXY_PORT (seed 003)',
        '003',
        acts,
        'With PROXY_SRV/PROXY_PORT set, the agent sends CONNECT tools.cisco.com:443 to the proxy and then the same ' +
          'TLS 1.2 ClientHello without SNI inside the tunnel; the CONNECT line names the host, but the TLS does not, so ' +
          'a TSID-on policy still sees the certificate name. (The lab sends CONNECT to the cloud\'s loopback port instead of ' +
          '443, because it runs without root; events show 443.)',
      );
    });
  },
};

function caFacts(root?: string): { notAfter: Date; notBefore: Date; subject: string } {
  const c = new X509Certificate(readLabFile(labPaths(undefined, root).ca));
  return { notAfter: new Date(c.validTo), notBefore: new Date(c.validFrom), subject: c.subject.replace(/\n/g, ', ') };
}

function leafFacts(name = 'smart-licensing', root?: string): { notAfter: Date; notBefore: Date } {
  const c = new X509Certificate(readLabFile(labPaths(name, root).cert));
  return { notAfter: new Date(c.validTo), notBefore: new Date(c.validFrom) };
}

const expiredCa: Scenario = {
  name: 'expired-ca',
  seed: '002',
  summary: 'the lab CA reaches its notAfter: every device fails with err code 60 although the firewall allows the flows',
  async run(o) {
    const ca = caFacts(o.root);
    return withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      const acts: LabAct[] = [];
      const daysLeft = Math.floor((ca.notAfter.getTime() - w.clock.now().getTime()) / DAY_MS);
      acts.push(
        await runAct(w, {
          title: `Act 1 — today: the lab CA has ${daysLeft} days left (remedy allow-toos, TSID on)`,
          policy: REMEDY_POLICIES[0],
          expected: 'renew auth succeeds',
          checks: okRenewals,
        }),
      );
      // Seed 002: an internal CA is valid 10 years; the day after its notAfter every chain
      // that ends in it fails. The whole lab (cloud and devices) moves there.
      w.clock.set(new Date(ca.notAfter.getTime() + DAY_MS));
      acts.push(
        await runAct(w, {
          title: `Act 2 — the day after the lab CA's notAfter (${ca.notAfter.toISOString().slice(0, 10)})`,
          policy: REMEDY_POLICIES[0],
          expected: 'the firewall allows the flows, the devices refuse the chain: err code 60',
          checks: certFailure(/depth 1: certificate has expired/),
          notes: (w) => [`${w.devices[0].name}# show license`, w.devices[0].showLicense()],
        }),
      );
      return labRun(
        'expired-ca',
        'The lab CA expires (seed 002)',
        '002',
        acts,
        `The lab CA (${ca.subject}) is valid until ${ca.notAfter.toISOString()}. Once a device's clock passes a ` +
          `certificate's notAfter in its chain, libcurl fails the handshake check and the agent logs err code 60; ` +
          `the firewall in the path is innocent (its events show Allow). Renew the CA and re-issue the leaf ` +
          `(peekwall pki) before the 90-day warning runs out.`,
      );
    });
  },
};

const clockSkew: Scenario = {
  name: 'clock-skew',
  seed: '003',
  summary: 'a device whose clock is wrong sees the licensing certificate as not yet valid: err code 60; NTP fixes it',
  async run(o) {
    const leaf = leafFacts(undefined, o.root);
    return withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      // The device believes it is 30 days before the certificate was issued.
      w.deviceClock.setSkew(leaf.notBefore.getTime() - 30 * DAY_MS - w.clock.now().getTime());
      const acts: LabAct[] = [];
      acts.push(
        await runAct(w, {
          title: `Act 1 — device clocks at ${w.deviceClock.now().toISOString().slice(0, 10)} (wrong), remedy allow-toos`,
          policy: REMEDY_POLICIES[0],
          expected: 'the firewall allows the flows; the devices reject the certificate as not yet valid: err code 60',
          checks: certFailure(/not yet valid/),
        }),
      );
      w.deviceClock.setSkew(0);
      acts.push(
        await runAct(w, {
          title: 'Act 2 — clocks fixed (NTP)',
          policy: REMEDY_POLICIES[0],
          expected: 'renew auth succeeds',
          checks: okRenewals,
        }),
      );
      return labRun(
        'clock-skew',
        'A wrong device clock (seed 003, case 3)',
        '003',
        acts,
        'Certificate validity is checked with the device\'s own clock: a device whose time is off by more than the ' +
          'certificate\'s margins fails with err code 60 ("SSL peer certificate or SSH remote key was not OK") whatever ' +
          'the firewall does. Check `date` and NTP on the device first.',
      );
    });
  },
};

const untrustedChain: Scenario = {
  name: 'untrusted-chain',
  seed: '004',
  summary: 'the server presents a chain that does not build to the trusted lab CA: err code 60',
  async run(o) {
    const acts: LabAct[] = [];
    await withWorld({ serverCert: 'untrusted-leaf', ...worldOptions(o) }, async (w) => {
      acts.push(
        await runAct(w, {
          title: 'Act 1 — the cloud presents certs/untrusted-leaf (signed by untrusted-ca), remedy allow-toos',
          policy: REMEDY_POLICIES[0],
          expected: 'the firewall allows the flows; the devices cannot build the chain to the lab CA: err code 60',
          run: async (ds) => {
            const out: DeviceCommandResult[] = [];
            for (const d of ds) out.push(await d.register('LAB-TOKEN-VALID-0001'));
            return out;
          },
          checks: certFailure(/issuer|self signed/),
        }),
      );
    });
    return labRun(
      'untrusted-chain',
      'An untrusted chain (seed 004)',
      '004',
      acts,
      'A chain is trusted when it builds (by issuer and signature, not by names) to a trusted root. A device in the ' +
        'path that re-signs traffic (a decrypting firewall or proxy), or a server with the wrong chain, makes the ' +
        'licensing agent fail with err code 60; seed 003 asks for no such device in the path.',
    );
  },
};

const tls13: Scenario = {
  name: 'tls13',
  seed: '000',
  summary: 'if the service spoke TLS 1.3: TSID off sees no name at all (the URL is the IP, URL rules cannot match); TSID on still finds toos.cisco.com',
  async run(o) {
    return withRegisteredWorld({ tls13: true, devicesTls13: true, ...worldOptions(o) }, async (w) => {
      const acts: LabAct[] = [];
      acts.push(
        await runAct(w, {
          title: 'Act 1 — TLS 1.3, TSID off, the shipped policy',
          policy: SHIPPED_POLICY,
          tsid: false,
          expected:
            'the certificate is encrypted: no name at all, the URL is the server IP. The toos.cisco.com block does not ' +
            `apply, but neither can ${FMC_RULE} (it needs the URL tools.cisco.com): the FMC falls through to the default ` +
            'action and is blocked; the 10.10.x devices are allowed by ALLOW_ALL_CLIENTS_80_443',
          checks: (ev, cl) => {
            const fmc = fmcEvents(ev);
            const others = ev.filter((e) => e.srcIp !== FMC_ADDRESS);
            const fmcClient = cl.filter((c) => c.device === LAB_DEVICES[0].name);
            const otherClients = cl.filter((c) => c.device !== LAB_DEVICES[0].name);
            return [
              everyEvent(ev, 'every flow is logged with the server IP as URL', (e) => e.url === `https://${e.dstIp}`),
              everyEvent(ev, 'the identity source is the IP', (e) => e.identitySource === 'ip'),
              everyEvent(fmc, `the FMC's flows match no URL rule and are blocked by the default action`, isBlock, 1),
              everyEvent(others, 'the 10.10.x flows are allowed by ALLOW_ALL_CLIENTS_80_443', (e) => !isBlock(e) && e.accessControlRule === 'ALLOW_ALL_CLIENTS_80_443', 2),
              { what: 'the FMC fails renew auth', ok: fmcClient.length === 1 && fmcClient.every(transportFailure) },
              { what: 'the 10.10.x devices renew over TLS 1.3', ok: otherClients.length === 2 && otherClients.every((c) => c.ok && /TLSv1\.3/.test(c.output)) },
            ];
          },
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 2 — TLS 1.3, TSID on, the shipped policy',
          policy: SHIPPED_POLICY,
          expected: 'TSID\'s own handshake reads the certificate: https://toos.cisco.com, blocked',
          checks: (ev, cl) => [
            everyEvent(ev, 'every flow is logged with URL https://toos.cisco.com', (e) => e.url === 'https://toos.cisco.com'),
            ...blockedRenewals(ev, cl),
          ],
        }),
      );
      return labRun(
        'tls13',
        'TLS 1.3 — no passive name (seed 000, what if)',
        '000',
        acts,
        'Under TLS 1.3 the Certificate message is encrypted, so without SNI and without TSID the firewall has no ' +
          'name at all and URL conditions see only the IP. TSID\'s side connection completes its own handshake and ' +
          'reads the certificate, so it names the server (here, again, by its first SAN).',
      );
    });
  },
};

const dns: Scenario = {
  name: 'dns',
  seed: '003',
  summary: 'tools.cisco.com does not resolve on the devices: err code 6, no connection at all',
  async run(o) {
    return withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      for (const d of w.devices) d.useDns({});
      const acts = [
        await runAct(w, {
          title: 'Act 1 — the devices\' DNS has no answer for tools.cisco.com',
          policy: REMEDY_POLICIES[0],
          expected: 'err code 6 "Couldn\'t resolve host name"; the firewall never sees a flow',
          expectEvents: 0,
          checks: (ev, cl) => [
            { what: 'no flow reaches the firewall', ok: ev.length === 0 },
            { what: 'every device fails with err code 6', ok: cl.length > 0 && cl.every((c) => c.curl === 6) },
          ],
        }),
      ];
      return labRun('dns', 'DNS failure (seed 003, case 2)', '003', acts, 'err code 6 happens before any packet to tools.cisco.com: fix the device\'s DNS; no firewall policy is involved.');
    });
  },
};

const expiry: Scenario = {
  name: 'expiry',
  seed: '000/003',
  summary: 'nobody notices the block for 90 days: Authorization Expired; the remedy restores Authorized',
  async run(o) {
    return withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      const acts: LabAct[] = [];
      acts.push(
        await runAct(w, {
          title: 'Act 1 — TSID on, the shipped policy, then 90 days pass',
          policy: SHIPPED_POLICY,
          expected: 'renew auth fails; 90 days after the last successful contact the devices are Authorization Expired',
          run: async (ds) => {
            const out = await renewAll(ds);
            w.clock.advanceDays(91); // 91 days without a successful contact
            return out;
          },
          checks: (ev, cl) => [
            ...blockedRenewals(ev, cl),
            { what: 'every device is now Authorization Expired', ok: w.devices.every((d) => d.status().authorization === 'Authorization Expired') },
          ],
          notes: (w) => [`${w.devices[0].name}# show license   (91 days after the last contact)`, w.devices[0].showLicense()],
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 2 — remedy allow-toos deployed',
          policy: REMEDY_POLICIES[0],
          expected: 'renew auth succeeds; Authorized again',
          checks: (ev, cl) => [
            ...okRenewals(ev, cl),
            { what: 'every device is Authorized again', ok: w.devices.every((d) => d.status().authorization === 'Authorized') },
          ],
        }),
      );
      return labRun(
        'expiry',
        'What a silent block costs: Authorization Expired after 90 days',
        '000/003',
        acts,
        'Devices renew authorization every 30 days and keep working for 90 days without contact; then they show ' +
          'Authorization Expired (seed 003). A URL/SI block on toos.cisco.com is silent until then.',
      );
    });
  },
};

const profiles: Scenario = {
  name: 'profiles',
  seed: '000/001',
  summary: 'which certificate name TSID picks: snort3-legacy (first SAN), snort3 (CN first), technote (CN, then first SAN; toos only without a CN)',
  async run(o) {
    const acts: LabAct[] = [];
    const named = (url: string, source: string, blocked: boolean) => (ev: ConnectionEvent[], cl: DeviceCommandResult[]): LabCheck[] => [
      everyEvent(ev, `every licensing flow is logged with URL ${url}`, (e) => e.url === url),
      everyEvent(ev, `the name came from ${source}`, (e) => e.identitySource === source),
      ...(blocked ? blockedRenewals(ev, cl) : okRenewals(ev, cl)),
    ];
    await withRegisteredWorld({ ...worldOptions(o) }, async (w) => {
      acts.push(
        await runAct(w, {
          title: 'Act 1 — profile snort3-legacy (SNI, first SAN, CN: Snort 3.0.1-3.9.3), the seed certificate',
          policy: SHIPPED_POLICY,
          profile: 'snort3-legacy',
          expected: 'https://toos.cisco.com from the first SAN; blocked',
          checks: named('https://toos.cisco.com', 'cert-san', true),
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 2 — profile snort3 (SNI, CN, first SAN: Snort >= 3.9.5), the seed certificate',
          policy: SHIPPED_POLICY,
          profile: 'snort3',
          expected: 'https://tools.cisco.com from the CN; allowed',
          checks: named('https://tools.cisco.com', 'cert-cn', false),
        }),
      );
      acts.push(
        await runAct(w, {
          title: 'Act 3 — profile technote (CN, first SAN, OU: the TechNote text), the seed certificate',
          policy: SHIPPED_POLICY,
          profile: 'technote',
          expected: 'https://tools.cisco.com from the CN: the TechNote\'s own order does not reproduce its symptom with this certificate',
          checks: named('https://tools.cisco.com', 'cert-cn', false),
        }),
      );
    });
    await withRegisteredWorld({ serverCert: 'smart-licensing-nocn', ...worldOptions(o) }, async (w) => {
      acts.push(
        await runAct(w, {
          title: 'Act 4 — profile technote, certs/smart-licensing-nocn (same names, no CN)',
          policy: SHIPPED_POLICY,
          profile: 'technote',
          expected: 'no CN, so the first SAN: https://toos.cisco.com; blocked',
          checks: named('https://toos.cisco.com', 'cert-san', true),
        }),
      );
    });
    return labRun(
      'profiles',
      'TSID profiles: which certificate name wins (seeds 000/001, DOMAIN §2)',
      '000/001',
      acts,
      'Without SNI, TSID names the server from its certificate, and the order of the candidates decides ' +
        'the URL. The Snort 3 code before 3.9.5 takes the first SAN before the CN (snort3-legacy, the default: ' +
        'it reproduces the field case); later Snort and the TechNote\'s text take the CN first, which gives ' +
        'tools.cisco.com for this certificate, and the first SAN only when there is no CN. peekwall makes the ' +
        'order a named, configurable profile (settings.tsid.profile).',
    );
  },
};

export const SCENARIOS: readonly Scenario[] = [toos, explicitProxy, expiredCa, clockSkew, untrustedChain, tls13, dns, expiry, profiles];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
