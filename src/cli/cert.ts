// `peekwall cert FILE`: what peekwall reads from a certificate, the name each TSID profile
// derives from it (TSID on, and TSID off without SNI), and its status against a trust store.
import { readBoundedBytes } from '../util/files.js';
import { resolve } from 'node:path';
import {
  certificatesFromPem,
  certificateFacts,
  certificateStatus,
  resolveIdentity,
  TSID_PROFILES,
  type CertificateFacts,
  type IdentitySource,
  type TsidProfile,
} from '../identity/index.js';
import { loadTrustStore } from '../sources/index.js';
import { PeekwallFailure, peekwallError } from '../util/errors.js';
import { EXIT_OK, EXIT_PROBLEM, handleThrown, parseCommandArgs, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

/** A certificate file or stdin: a chain of a few certificates is a few KiB. */
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

const usage = `Usage: peekwall cert FILE [--json] [--trust DIR|PEM] [--name NAME] [--ip ADDR] [--now ISO]

Print a certificate's facts (subject attributes in order with their string types, SANs in
order, serial, validity, key, signature, SKI/AKI, SHA-256, self-signed), the identity every
TSID profile derives from it with TSID on (no SNI) and TSID off (passive subject CN, no SNI),
and, with --trust, its status (chain built by AKI/SKI to a trusted root).

FILE     PEM (a chain: the first certificate is the server's) or DER; '-' reads stdin.
--trust  a PEM bundle, or a directory whose every certificate is trusted (for the lab:
         certs/lab-ca.crt.pem).
--name   the name a client used (SNI): checked against SAN/CN for the status, and shown as
         the SNI TSID would weigh (spoofing).
--ip     destination IP used when no name exists (default 0.0.0.0).
--now    the clock for the status (default: now).
Exit status: 0; 1 when --trust is given and the status is not valid; 2 unreadable input.
`;

interface Named {
  name: string;
  source: IdentitySource;
  spoofedSni?: string;
}

function identities(leaf: CertificateFacts, ip: string, sni: string | undefined): Record<string, { tsidOn: Named; tsidOff: Named; withSni?: Named }> {
  const out: Record<string, { tsidOn: Named; tsidOff: Named; withSni?: Named }> = {};
  const pick = (i: ReturnType<typeof resolveIdentity>): Named =>
    i.spoofedSni !== undefined ? { name: i.name, source: i.source, spoofedSni: i.spoofedSni } : { name: i.name, source: i.source };
  for (const profile of TSID_PROFILES) {
    const on = { enabled: true, profile: profile as TsidProfile };
    const entry: { tsidOn: Named; tsidOff: Named; withSni?: Named } = {
      tsidOn: pick(resolveIdentity({ sni: null, certificate: leaf, tsid: on, dstIp: ip })),
      tsidOff: pick(resolveIdentity({ sni: null, passiveCertificate: leaf, tsid: { enabled: false, profile }, dstIp: ip })),
    };
    if (sni !== undefined) entry.withSni = pick(resolveIdentity({ sni, certificate: leaf, tsid: on, dstIp: ip }));
    out[profile] = entry;
  }
  return out;
}

function factsJson(f: CertificateFacts) {
  const { der, notBefore, notAfter, ...rest } = f;
  return { ...rest, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), derLength: der.length };
}

async function readInput(file: string, io: CliIo): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of io.stdin) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      total += b.length;
      if (total > MAX_INPUT_BYTES) throw new PeekwallFailure(peekwallError('identity/bad-certificate', 'stdin: more than 4 MiB'));
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }
  // Bounded and regular-file-only, like stdin above: /dev/zero or a FIFO is refused, not read.
  const r = await readBoundedBytes(resolve(io.cwd, file), MAX_INPUT_BYTES);
  if (!r.ok) throw new PeekwallFailure(peekwallError('identity/unreadable', `cannot read: ${r.failure.message}`, { file }));
  return r.bytes;
}

const cert: Subcommand = {
  name: 'cert',
  summary: 'certificate facts, the identity each TSID profile derives, status against a trust store',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    let json = argv.includes('--json');
    try {
      const args = parseCommandArgs(
        cert,
        argv,
        { json: { type: 'boolean' }, trust: { type: 'string' }, name: { type: 'string' }, ip: { type: 'string' }, now: { type: 'string' } },
        io,
        true,
      );
      if (!args) return EXIT_OK;
      json = args.values.json === true;
      if (args.positionals.length !== 1) throw new UsageError('cert needs exactly one FILE');
      const file = args.positionals[0];
      const name = args.values.name as string | undefined;
      const ip = (args.values.ip as string | undefined) ?? '0.0.0.0';
      let now: Date | undefined;
      if (args.values.now !== undefined) {
        now = new Date(args.values.now as string);
        if (Number.isNaN(now.getTime())) throw new UsageError(`--now: "${String(args.values.now)}" is not an ISO date`);
      }
      const bytes = await readInput(file, io);
      const text = bytes.toString('latin1');
      const parsed = text.includes('-----BEGIN CERTIFICATE-----')
        ? certificatesFromPem(bytes.toString('utf8'))
        : (() => {
            const one = certificateFacts(new Uint8Array(bytes));
            return one.ok ? { ok: true as const, value: [one.value] } : one;
          })();
      if (!parsed.ok) throw new PeekwallFailure({ ...parsed.error, file });
      const chain = parsed.value;
      const leaf = chain[0];
      const identity = identities(leaf, ip, name);
      let status: ReturnType<typeof certificateStatus> | null = null;
      if (args.values.trust !== undefined) {
        const t = await loadTrustStore(resolve(io.cwd, args.values.trust as string));
        if (!t.ok) throw new PeekwallFailure(t.error);
        status = certificateStatus({ chain, trust: t.value, ...(name ? { name } : {}), ip, ...(now ? { now } : {}) });
      }
      if (json) {
        writeJson(io, { file, chainLength: chain.length, ...factsJson(leaf), identity, ...(status ? { status } : {}) });
      } else {
        const w = (k: string, v: string) => io.stdout.write(`${k.padEnd(13)}${v}\n`);
        w('certificate', `${file}${chain.length > 1 ? ` (the first of ${chain.length} in the file)` : ''}`);
        w('subject', leaf.subjectDn || '(empty)');
        for (const a of leaf.subject) w('', `${a.type} = ${a.value}  (${a.stringType})`);
        w('issuer', leaf.issuerDn || '(empty)');
        w('serial', leaf.serial);
        w('validity', `${leaf.notBefore.toISOString()} .. ${leaf.notAfter.toISOString()}`);
        w('key', `${leaf.keyType}${leaf.keySize ? ` ${leaf.keySize}` : ''}, signed with ${leaf.signatureAlgorithm}`);
        w(`SANs (${leaf.sans.length})`, leaf.sans.length ? leaf.sans.map((s) => `${s.type}:${s.value}`).join(', ') : '(none)');
        w('CN / OU', `${leaf.cns.length ? leaf.cns.join(', ') : '(no CN)'} / ${leaf.ous.length ? leaf.ous.join(', ') : '(no OU)'}`);
        w('SKI / AKI', `${leaf.ski ?? '-'} / ${leaf.aki ?? '-'}`);
        w('SHA-256', leaf.sha256);
        w('self-signed', leaf.selfSigned ? 'yes (signature verified with its own key)' : 'no');
        w('identity', `${'profile'.padEnd(15)}${'TSID on, no SNI'.padEnd(34)}TSID off, no SNI (passive)`);
        for (const [p, v] of Object.entries(identity)) {
          w('', `${p.padEnd(15)}${`${v.tsidOn.name} (${v.tsidOn.source})`.padEnd(34)}${v.tsidOff.name} (${v.tsidOff.source})`);
          if (v.withSni) w('', `${''.padEnd(15)}with SNI ${name}: ${v.withSni.name} (${v.withSni.source})${v.withSni.spoofedSni ? ', SNI judged spoofed' : ''}`);
        }
        if (status) {
          w('status', `${status.status}: ${status.detail}`);
          if (status.logLine) w('', status.logLine);
        }
      }
      return status && status.status !== 'valid' ? EXIT_PROBLEM : EXIT_OK;
    } catch (e) {
      return handleThrown(e, io, json);
    }
  },
};

export default cert;
