// `peekwall cert FILE`: what peekwall reads from a certificate, the name each TSID profile
// derives from it (TSID on, and TSID off without SNI), and its status against a trust store.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { readBoundedBytes } from '../util/files.js';
import { resolve } from 'node:path';
import { peekFlows, sniffCaptureFormat, type PeekResult } from '../capture/index.js';
import { versionName } from '../wire/index.js';
import {
  certificatesFromPem,
  certificateFacts,
  certificateStatus,
  resolveIdentity,
  TSID_PROFILES,
  type CertificateFacts,
  type IdentitySource,
  type TrustStore,
  type TsidProfile,
} from '../identity/index.js';
import { loadTrustStore } from '../sources/index.js';
import { PeekwallFailure, peekwallError } from '../util/errors.js';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, handleThrown, parseCommandArgs, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';
import { isCapture, openInput, summaryLine, walkCapture, type InputChunks } from './capture-input.js';

/** A certificate file or stdin: a chain of a few certificates is a few KiB. */
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

const usage = `Usage: peekwall cert FILE [--json] [--trust DIR|PEM] [--name NAME] [--ip ADDR] [--now ISO]
       peekwall cert CAPTURE [--json] [--trust DIR|PEM] [--now ISO]

Print a certificate's facts (subject attributes in order with their string types, SANs in
order, serial, validity, key, signature, SKI/AKI, SHA-256, self-signed), the identity every
TSID profile derives from it with TSID on (no SNI) and TSID off (passive subject CN, no SNI),
and, with --trust, its status (chain built by AKI/SKI to a trusted root).

FILE     PEM (a chain: the first certificate is the server's) or DER; '-' reads stdin.
CAPTURE  a pcap or pcapng file: every distinct certificate its servers sent in clear
         (TLS <= 1.2), with the flows that showed it (SNI as --name, server as --ip), then
         the flows that showed none (TLS 1.3 encrypts it).
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

/** `stdin`: standard input, opened already to sniff it. */
async function readInput(file: string, io: CliIo, stdin: InputChunks | null): Promise<Buffer> {
  if (stdin !== null) {
    const input = stdin;
    const chunks: Buffer[] = [input.first];
    let total = input.first.length;
    for (;;) {
      if (total > MAX_INPUT_BYTES) throw new PeekwallFailure(peekwallError('identity/bad-certificate', 'stdin: more than 4 MiB'));
      const c = await input.rest.next();
      if (c.done) break;
      total += c.value.length;
      chunks.push(c.value);
    }
    return Buffer.concat(chunks);
  }
  // Bounded and regular-file-only, like stdin above: /dev/zero or a FIFO is refused, not read.
  const r = await readBoundedBytes(resolve(io.cwd, file), MAX_INPUT_BYTES);
  if (!r.ok) throw new PeekwallFailure(peekwallError('identity/unreadable', `cannot read: ${r.failure.message}`, { file }));
  return r.bytes;
}

/**
 * Standard input opened (its first bytes say whether it is a capture), or a regular file that
 * starts like a capture opened as a stream; null for anything else, read bounded as before.
 */
async function sniffInput(file: string, io: CliIo): Promise<InputChunks | null> {
  if (file === '-') return openInput('-', io);
  let head: Buffer;
  try {
    // Non-blocking: opening a FIFO for reading would wait for a writer.
    const fd = openSync(resolve(io.cwd, file), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      // A device or FIFO is left to the bounded reader, which refuses it by name.
      if (!fstatSync(fd).isFile()) return null;
      head = Buffer.alloc(4);
      head = head.subarray(0, readSync(fd, head, 0, 4, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null; // the bounded reader says why
  }
  return sniffCaptureFormat(head) === null ? null : openInput(file, io);
}

/** Leaf certificates seen in a capture, with the flows that showed each. */
interface SeenCertificate {
  readonly chain: readonly CertificateFacts[];
  readonly flows: { stream: number; client: string; server: string; serverIp: string; frame: number; sni: string | null; version: string }[];
}

/** Distinct certificates listed at most; more are counted. */
const MAX_LISTED_CERTIFICATES = 10_000;

const endpoint = (e: { ip: string; port: number }) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** What a server's first flight showed instead of a certificate. */
function noCertificate(r: PeekResult): string {
  const f = r.flight;
  if (f === null) return r.serverEnd === 'gap' ? 'server bytes missing from the capture [capture/gap]' : 'no server first flight in the capture [capture/ended]';
  switch (f.kind) {
    case 'tls13':
      return 'TLS 1.3: the certificate is encrypted';
    case 'hello-retry-request':
      return 'TLS 1.3 HelloRetryRequest: the certificate comes encrypted later';
    case 'no-certificate':
      return `${versionName(f.serverHello.version)} without a Certificate message (a resumed session)`;
    case 'alert':
      return `the server answered with a TLS alert (level ${f.level}, description ${f.description})`;
    case 'certificate':
      return 'a certificate peekwall could not read';
    case 'need-more':
      return 'the server flight is incomplete';
    default:
      return `${f.error.message} [${f.error.code}]`;
  }
}

/**
 * `peekwall cert CAPTURE`: every distinct certificate the servers of a capture sent in clear
 * (TLS <= 1.2), as `cert FILE` prints one, with the flows that showed it; then the flows that
 * showed none and why. Exit 1 when --trust finds one not valid or the capture is damaged.
 */
async function certsFromCapture(input: InputChunks, io: CliIo, o: { json: boolean; trust: TrustStore | null; now?: Date }): Promise<number> {
  const seen = new Map<string, SeenCertificate>();
  let unlisted = 0;
  const without: { stream: number; client: string; server: string; why: string }[] = [];
  const bad: { stream: number; server: string; error: string }[] = [];
  const open = peekFlows((r) => {
    const f = r.flight;
    const flow = { stream: r.stream, client: endpoint(r.client), server: endpoint(r.server) };
    if (f === null || f.kind !== 'certificate' || f.chain.length === 0) {
      if (r.hello?.kind === 'hello' || f !== null) without.push({ ...flow, why: noCertificate(r) });
      return;
    }
    const chain: CertificateFacts[] = [];
    for (const der of f.chain) {
      const c = certificateFacts(Uint8Array.prototype.slice.call(der) as Uint8Array);
      if (c.ok) chain.push(c.value);
      else if (chain.length === 0) {
        bad.push({ stream: r.stream, server: flow.server, error: `${c.error.message} [${c.error.code}]` });
        return;
      }
    }
    const sha = chain[0].sha256;
    let s = seen.get(sha);
    if (s === undefined) {
      if (seen.size >= MAX_LISTED_CERTIFICATES) {
        unlisted++;
        return;
      }
      s = { chain, flows: [] };
      seen.set(sha, s);
    }
    const sni = r.hello?.kind === 'hello' ? r.hello.hello.sni : null;
    if (s.flows.length < 100) s.flows.push({ ...flow, serverIp: r.server.ip, frame: r.flightFrame, sni, version: versionName(f.serverHello.version) });
  });
  const summary = await walkCapture(input, open);
  let invalid = 0;
  const listed = [...seen.values()].map((c) => {
    const first = c.flows[0];
    const name = first.sni ?? undefined;
    const status = o.trust
      ? certificateStatus({ chain: c.chain, trust: o.trust, ...(name ? { name } : {}), ip: first.serverIp, ...(o.now ? { now: o.now } : {}) })
      : null;
    if (status && status.status !== 'valid') invalid++;
    return { c, name, status, identity: identities(c.chain[0], first.serverIp, name) };
  });
  if (o.json) {
    writeJson(io, {
      capture: input.name,
      certificates: listed.map(({ c, status, identity }) => ({
        chainLength: c.chain.length,
        ...factsJson(c.chain[0]),
        identity,
        ...(status ? { status } : {}),
        flows: c.flows.map(({ serverIp: _ip, ...f }) => f),
      })),
      withoutCertificate: without,
      unreadable: bad,
      unlisted,
      summary: { format: summary.format, packets: summary.packets, flows: summary.flows },
      problems: summary.problems,
    });
  } else {
    let out = '';
    for (const { c, name, status, identity } of listed) {
      out += renderText(`seen in the capture (${c.flows.length} flow(s))`, c.chain, identity, status, name);
      for (const f of c.flows) {
        out += `${'seen in'.padEnd(13)}tcp.stream ${f.stream}  ${f.client} -> ${f.server}  frame ${f.frame}, ${f.version}, ${f.sni === null ? 'no SNI' : `SNI ${f.sni}`}\n`;
      }
      out += '\n';
    }
    if (unlisted > 0) out += `(${unlisted} more distinct certificates not listed)\n\n`;
    if (without.length > 0) {
      out += `No certificate in clear (${without.length}):\n`;
      for (const w of without) out += `  tcp.stream ${w.stream}  ${w.client} -> ${w.server}: ${w.why}\n`;
      out += '\n';
    }
    for (const b of bad) out += `  tcp.stream ${b.stream}  ${b.server}: ${b.error}\n`;
    out += `${summaryLine(input.name, summary)}: ${seen.size + unlisted} distinct certificate(s) seen\n`;
    io.stdout.write(out);
  }
  for (const p of summary.problems) io.stderr.write(`peekwall: ${input.name}: ${p.message} [${p.code}]\n`);
  if (summary.format === null || (summary.packets === 0 && summary.problems.length > 0)) return EXIT_USAGE;
  return invalid > 0 || summary.problems.length > 0 ? EXIT_PROBLEM : EXIT_OK;
}

type Status = ReturnType<typeof certificateStatus>;
type Identities = ReturnType<typeof identities>;

/** The text form: one certificate's facts, the name each profile derives, its status. */
function renderText(label: string, chain: readonly CertificateFacts[], identity: Identities, status: Status | null, name: string | undefined): string {
  const leaf = chain[0];
  let out = '';
  const w = (k: string, v: string) => {
    out += `${k.padEnd(13)}${v}\n`;
  };
  w('certificate', `${label}${chain.length > 1 ? ` (the first of ${chain.length} in the file)` : ''}`);
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
  return out;
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
      const opened = await sniffInput(file, io);
      const capture = opened !== null && isCapture(opened) ? opened : null;
      if (capture !== null) {
        let trust: TrustStore | null = null;
        if (args.values.trust !== undefined) {
          const t = await loadTrustStore(resolve(io.cwd, args.values.trust as string));
          if (!t.ok) throw new PeekwallFailure(t.error);
          trust = t.value;
        }
        return await certsFromCapture(capture, io, { json, trust, ...(now ? { now } : {}) });
      }
      const bytes = await readInput(file, io, opened);
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
        io.stdout.write(renderText(file, chain, identity, status, name));
      }
      return status && status.status !== 'valid' ? EXIT_PROBLEM : EXIT_OK;
    } catch (e) {
      return handleThrown(e, io, json);
    }
  },
};

export default cert;
