// `peekwall trace`: evaluate one described flow offline against a policy and print it the way
// FTD's `system support trace` would. Exit 0 whenever the flow was evaluated, whatever the
// verdict (a block is an answer, not a failure: scripts read the verdict from --json);
// exit 2 on bad input (unreadable or invalid policy, bad address, unreadable certificate).
import { resolve } from 'node:path';
import { certificateFacts, resolveIdentity, type CertificateFacts, type IdentityInput, type TsidProfile } from '../identity/index.js';
import { readBoundedFile } from '../util/files.js';
import { checkSniName, sniNameAnomalies } from '../wire/index.js';
import {
  evaluate,
  overrideTsid,
  parseAddress,
  traceLines,
  tsidFor,
  type Flow,
  type FlowIdentity,
} from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { FMC_OPTION_SPECS, FMC_OPTIONS_USAGE, fmcOptions } from './fmc-options.js';
import { EXIT_OK, parseCommandArgs, reportErrors, UsageError, writeJson, type CliIo, type Subcommand } from './command.js';

/** A PEM certificate file, or a bundle whose first certificate is used. */
const MAX_CERT_BYTES = 1024 * 1024;

const PROFILES: readonly TsidProfile[] = ['snort3-legacy', 'snort3', 'technote'];

const usage = `Usage: peekwall trace --policy FILE --src IP --dst IP [options]

Evaluate one TCP flow offline and print system-support-trace lines, then the verdict.

Options:
  --policy FILE     policy YAML (feeds and URL database are read relative to it), or an
                    FMC bundle (a JSON file or folder; see the FMC options below)
  --src IP          client address          --sport N   client port (default 40722)
  --dst IP          server address          --dport N   server port (default 443)
  --sni NAME        SNI the client sent (default: none, like Smart Licensing clients)
  --cert PEM        server leaf certificate (first certificate of the file): with TSID on it
                    is what the TSID probe would read; with TSID off it is read passively
                    (TLS <= 1.2, subject CN only)
  --tsid on|off     override the policy's TSID setting (and any rule-level lab override)
  --profile P       TSID name order: snort3-legacy | snort3 | technote
  --json            print the verdict (plus identity, tsid, flow) as JSON

${FMC_OPTIONS_USAGE}

Exit status: 0 when the flow was evaluated (allowed or blocked), 2 on bad input.
`;

function port(text: string | undefined, dflt: number, what: string): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) throw new UsageError(`${what} must be a port 1-65535, not '${text}'`);
  return n;
}

const trace: Subcommand = {
  name: 'trace',
  summary: 'evaluate one flow against a policy offline, FTD system-support-trace style',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseCommandArgs(
      trace,
      argv,
      {
        policy: { type: 'string' },
        src: { type: 'string' },
        dst: { type: 'string' },
        sport: { type: 'string' },
        dport: { type: 'string' },
        sni: { type: 'string' },
        cert: { type: 'string' },
        tsid: { type: 'string' },
        profile: { type: 'string' },
        json: { type: 'boolean' },
        ...FMC_OPTION_SPECS,
      },
      io,
      false,
    );
    if (!args) return EXIT_OK;
    const v = args.values;
    const json = v.json === true;
    if (!v.policy) throw new UsageError('trace needs --policy FILE');
    if (!v.src) throw new UsageError('trace needs --src IP (the client address)');
    if (!v.dst) throw new UsageError('trace needs --dst IP (the server address)');
    if (!parseAddress(v.src)) throw new UsageError(`--src must be an IPv4 or IPv6 address, not '${v.src}'`);
    if (!parseAddress(v.dst)) throw new UsageError(`--dst must be an IPv4 or IPv6 address, not '${v.dst}'`);
    if (v.tsid !== undefined && v.tsid !== 'on' && v.tsid !== 'off') throw new UsageError(`--tsid must be on or off, not '${v.tsid}'`);
    if (v.profile !== undefined && !(PROFILES as readonly string[]).includes(v.profile))
      throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}, not '${v.profile}'`);
    let sni: string | null = null;
    if (v.sni !== undefined && v.sni !== '') {
      // What a real hello's SNI can be: the wire reader flags any other name (wire/sni-*), sets
      // no SNI, and the proxy refuses it by default (settings.oddHellos.oddSni).
      const checked = checkSniName(v.sni);
      if (typeof checked === 'string') {
        const codes = sniNameAnomalies(v.sni).join(', ');
        throw new UsageError(`--sni '${v.sni}': ${checked} (a ClientHello carrying it is flagged ${codes}, read as no SNI, and refused unless settings.oddHellos.oddSni is allow)`);
      }
      sni = checked.name;
    }

    const loaded = await loadPolicyFile(resolve(io.cwd, v.policy), fmcOptions(v, io.cwd));
    if (!loaded.ok) return reportErrors(io, loaded.error, json);
    let policy = loaded.value;
    if (v.tsid !== undefined || v.profile !== undefined) {
      policy = overrideTsid(policy, {
        ...(v.tsid !== undefined ? { enabled: v.tsid === 'on' } : {}),
        ...(v.profile !== undefined ? { profile: v.profile as TsidProfile } : {}),
      });
    }

    let cert: CertificateFacts | undefined;
    if (v.cert !== undefined) {
      // Bounded and regular-file-only: a FIFO or /dev/zero given as --cert would never end.
      const read = await readBoundedFile(resolve(io.cwd, v.cert), MAX_CERT_BYTES);
      if (!read.ok) return reportErrors(io, [{ code: 'cli/unreadable', message: `cannot read certificate (${read.failure.message})`, file: v.cert }], json);
      const facts = certificateFacts(read.text);
      if (!facts.ok) return reportErrors(io, [{ ...facts.error, file: v.cert }], json);
      cert = facts.value;
    }

    const flow: Flow = {
      srcIp: v.src,
      srcPort: port(v.sport, 40722, '--sport'),
      dstIp: v.dst,
      dstPort: port(v.dport, 443, '--dport'),
      protocol: 'tcp',
      scheme: 'https',
      sni,
    };
    const tsid = tsidFor(policy, flow);
    const input: IdentityInput = {
      sni,
      tsid,
      dstIp: flow.dstIp,
      ...(cert ? (tsid.enabled ? { certificate: cert } : { passiveCertificate: cert }) : {}),
    };
    const identity = resolveIdentity(input);
    const fi: FlowIdentity = { name: identity.name, source: identity.source };
    const verdict = evaluate(policy, flow, fi);

    if (json) {
      writeJson(io, { ...verdict, identity, tsid, flow, policy: policy.name });
      return EXIT_OK;
    }
    const prefix = `${flow.srcIp} ${flow.srcPort} -> ${flow.dstIp} ${flow.dstPort} 6 AS=0 ID=0 GR=1-1 `;
    const pre: string[] = [];
    pre.push(`${prefix}SSL: client hello ${sni === null ? 'without SNI' : `SNI '${sni}'`}`);
    if (tsid.enabled) {
      pre.push(`${prefix}SSL: TSID enabled (profile ${tsid.profile}), ${cert ? 'probe read the server certificate' : 'no server certificate available'}`);
    } else {
      pre.push(`${prefix}SSL: TSID disabled, ${cert ? 'server certificate read passively (TLS <= 1.2)' : 'no server certificate seen'}`);
    }
    if (identity.spoofedSni) pre.push(`${prefix}SSL: SNI '${identity.spoofedSni}' does not match the certificate, treated as spoofed`);
    const out = [...pre, ...traceLines(flow, fi, verdict)];
    out.push('');
    out.push(`Result: ${verdict.action}${verdict.reason ? ` (${verdict.reason})` : ''} by '${verdict.rule}'`);
    out.push(`URL: ${verdict.url || '(none)'} [name from ${identity.source}]`);
    out.push(`URL Category: ${verdict.urlCategory}    URL Reputation: ${verdict.urlReputation.level} ${verdict.urlReputation.label}`);
    if (verdict.application) out.push(`Web Application: ${verdict.application}`);
    if (verdict.siCategory) out.push(`Security Intelligence Category: ${verdict.siCategory}`);
    if (verdict.monitored.length > 0) out.push(`Monitored by: ${verdict.monitored.join(', ')}`);
    io.stdout.write(`${out.join('\n')}\n`);
    return EXIT_OK;
  },
};

export default trace;
