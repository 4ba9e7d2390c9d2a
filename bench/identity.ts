// Identity micro-benchmark: what a TSID decision costs per connection once the certificate
// is in hand. Certificate facts from DER with peekwall's own reader (the per-connection path
// on a cache miss and in passive mode) against the @peculiar/asn1 reference reader it is
// tested against, then resolveIdentity (the per-connection path on every decision) for each
// TSID profile, with and without an SNI.
//
//   node dist/bench/identity.js [--samples N] [--batch N] [--json-only]
//
// Bounded: a fixed warm-up and samples x batch calls per case (the reference reader 1/20 of
// that); ~6 s with the defaults.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { certificateFacts, pemBlocks, resolveIdentity, TSID_PROFILES, type CertificateFacts } from '../src/identity/index.js';
import { certificateFactsAsn1 } from '../test/helpers/facts-asn1.js';
import { fromRoot } from './lib/root.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  const n = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`${name} needs an integer 1..1000000`);
  return n;
};
const SAMPLES = opt('--samples', 100);
const BATCH = opt('--batch', 200);
const WARMUP = Math.min(5_000, SAMPLES * BATCH);

function der(...path: string[]): Uint8Array {
  const blocks = pemBlocks(readFileSync(fromRoot(...path), 'utf8'));
  if (blocks.length === 0) throw new Error(`${path.join('/')}: no certificate`);
  return blocks[0];
}
function facts(d: Uint8Array): CertificateFacts {
  const f = certificateFacts(d);
  if (!f.ok) throw new Error(f.error.message);
  return f.value;
}

// The lab's Smart Licensing certificate (RSA-2048, 15 SANs, the first one toos.cisco.com)
// and an ECDSA P-256 one: the two shapes peekwall meets in the lab.
const LAB = der('certs', 'smart-licensing.crt.pem');
const ECDSA = der('certs', 'smart-licensing-ecdsa.crt.pem');
const labFacts = facts(LAB);

interface Case {
  readonly name: string;
  readonly run: () => unknown;
  /** The reference reader is ~50x slower: it runs 1/slow of the calls, to stay bounded. */
  readonly slow?: number;
}
const cases: Case[] = [
  { name: 'facts: peekwall DER reader (RSA lab cert)', run: () => certificateFacts(LAB) },
  { name: 'facts: @peculiar/asn1 reference (RSA lab cert)', run: () => certificateFactsAsn1(LAB), slow: 20 },
  { name: 'facts: peekwall DER reader (ECDSA lab cert)', run: () => certificateFacts(ECDSA) },
  { name: 'facts: @peculiar/asn1 reference (ECDSA lab cert)', run: () => certificateFactsAsn1(ECDSA), slow: 20 },
];
for (const profile of TSID_PROFILES) {
  cases.push({
    name: `resolve ${profile}, no SNI`,
    run: () => resolveIdentity({ sni: null, certificate: labFacts, tsid: { enabled: true, profile }, dstIp: '72.163.4.38' }),
  });
  cases.push({
    name: `resolve ${profile}, SNI tools.cisco.com`,
    run: () => resolveIdentity({ sni: 'tools.cisco.com', certificate: labFacts, tsid: { enabled: true, profile }, dstIp: '72.163.4.38' }),
  });
}

let sink = 0;
function measure(c: Case): { medianNs: number; p10Ns: number; p90Ns: number } {
  const batch = Math.max(1, Math.floor(BATCH / (c.slow ?? 1)));
  const warmup = Math.floor(WARMUP / (c.slow ?? 1));
  for (let i = 0; i < warmup; i++) sink += c.run() ? 1 : 0;
  const per: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink += c.run() ? 1 : 0;
    per.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  per.sort((a, b) => a - b);
  const at = (q: number) => per[Math.min(per.length - 1, Math.floor(q * per.length))];
  return { medianNs: Math.round(at(0.5)), p10Ns: Math.round(at(0.1)), p90Ns: Math.round(at(0.9)) };
}

const results = cases.map((c) => ({ case: c.name, ...measure(c) }));
const by = (name: string) => results.find((r) => r.case === name)?.medianNs ?? Number.NaN;
const speedup = {
  rsa: Number((by('facts: @peculiar/asn1 reference (RSA lab cert)') / by('facts: peekwall DER reader (RSA lab cert)')).toFixed(1)),
  ecdsa: Number((by('facts: @peculiar/asn1 reference (ECDSA lab cert)') / by('facts: peekwall DER reader (ECDSA lab cert)')).toFixed(1)),
};
if (!args.includes('--json-only')) {
  console.log(`${'case'.padEnd(50)}  median ns    p10 ns    p90 ns`);
  for (const r of results) console.log(`${r.case.padEnd(50)}  ${String(r.medianNs).padStart(9)}  ${String(r.p10Ns).padStart(8)}  ${String(r.p90Ns).padStart(8)}`);
  console.log(`own DER reader vs reference: ${speedup.rsa}x (RSA), ${speedup.ecdsa}x (ECDSA)`);
}
console.log(
  JSON.stringify({
    schema: 'peekwall-bench-identity/1',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    samples: SAMPLES,
    batch: BATCH,
    results,
    speedup,
    sink: sink > 0,
  }),
);
