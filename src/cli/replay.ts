// `peekwall replay CAPTURE --policy P`: every TCP flow of a pcap/pcapng capture through the
// proxy's own decision (src/capture replays it with src/flow's machine), printed as the FMC
// table `peekwall events` prints, as JSON, or as system-support-trace lines. The capture is
// streamed: results are printed as flows end.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Replay, type FlowResult } from '../capture/index.js';
import { columnWidths, renderEventRows, renderEventsTable, type ConnectionEvent, type TableOptions } from '../events/index.js';
import { canonicalIp, certificateFacts, certificatesFromPem, type CertificateFacts, type TsidProfile } from '../identity/index.js';
import { overrideTsid } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { formatError, peekwallError, PeekwallFailure, type PeekwallError } from '../util/errors.js';
import { readBoundedBytesSync } from '../util/files.js';
import { isCapture, openInput, summaryLine, walkCapture, writeOut } from './capture-input.js';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, parseCommandArgs, reportErrors, UsageError, type CliIo, type Subcommand } from './command.js';

const PROFILES: readonly TsidProfile[] = ['snort3-legacy', 'snort3', 'technote'];

const usage = `Usage: peekwall replay CAPTURE|- --policy FILE [options]

Replay every TCP flow of a pcap or pcapng capture (tcpdump, Wireshark, FTD 'capture ...'
exported) through the proxy's own decision: the same ClientHello and server-flight readers,
the same connection machine and policy, the same connection event. Prints the FMC
connection-events table (flows in the order they ended), then the flows that could not be
evaluated, each with a named reason.

Identity as the proxy derives it: TSID off, no SNI: the certificate the server sent in clear
(TLS <= 1.2), else the destination IP. TSID on: the certificate the server sent in the
capture stands for what the TSID probe would have read; TLS 1.3 encrypts it, so such a flow
is not evaluated (capture/tls13-certificate) unless --certs supplies the server's
certificate. Link types: Ethernet (802.1Q), Linux cooked SLL/SLL2 (tcpdump -i any), raw IP,
BSD loopback; IPv4 and IPv6. TCP reassembly per direction; overlapping retransmissions with
different bytes: the first bytes seen win (capture/overlap-differs).

Options:
  --policy FILE     policy YAML (feeds and URL database relative to it)
  --tsid on|off     override the policy's TSID setting (and any rule-level lab override)
  --profile P       TSID name order: snort3-legacy | snort3 | technote
  --certs DIR       server certificates by address, files named <ip>.pem (or .crt, .der):
                    stand for the TSID probe where the capture shows none (TLS 1.3)
  --json            one JSON object: capture, flows [{stream, client, server, evaluated,
                    event | reason, notes, trace}], summary, problems
  --events FILE     also write the events as JSON lines (peekwall events FILE renders them)
  --trace           system support trace lines per flow, then the table
  --wide            more table columns (as peekwall events --wide)

Exit: 0 every flow evaluated; 1 some flow could not be (a gap, the capture's end, a TLS 1.3
certificate, ...) or the capture is damaged (capture/truncated, capture/unknown-link-type);
2 bad input (unreadable or not a pcap/pcapng file, invalid policy, bad options).`;

/** A certificate file named by address: the bound a certificate chain needs. */
const MAX_CERT_BYTES = 1024 * 1024;

/** `--certs DIR`: every file whose name (less .pem/.crt/.cer/.der) is an IP address. */
export function loadCertsDir(dir: string): Map<string, readonly CertificateFacts[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new PeekwallFailure(peekwallError('cli/unreadable', `--certs: cannot read the directory: ${(e as Error).message}`, { file: dir }));
  }
  const out = new Map<string, readonly CertificateFacts[]>();
  for (const name of names) {
    const ip = canonicalIp(name.replace(/(\.crt|\.cer)?(\.pem|\.der|\.crt|\.cer)$/i, ''));
    if (ip === null) continue;
    const file = join(dir, name);
    const read = readBoundedBytesSync(file, MAX_CERT_BYTES);
    if (!read.ok) throw new PeekwallFailure(peekwallError('cli/unreadable', `--certs: ${read.failure.message}`, { file }));
    const text = read.bytes.toString('latin1');
    const chain = text.includes('-----BEGIN CERTIFICATE-----')
      ? certificatesFromPem(read.bytes.toString('utf8'))
      : (() => {
          const one = certificateFacts(new Uint8Array(read.bytes));
          return one.ok ? { ok: true as const, value: [one.value] } : one;
        })();
    if (!chain.ok) throw new PeekwallFailure({ ...chain.error, file });
    out.set(ip, chain.value);
  }
  return out;
}

function flowName(r: FlowResult): string {
  const ep = (e: { ip: string; port: number }) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
  return `tcp.stream ${r.stream}  ${ep(r.client)} -> ${ep(r.server)}  frames ${r.firstFrame}..${r.lastFrame}`;
}

function flowJson(r: FlowResult): Record<string, unknown> {
  return {
    stream: r.stream,
    client: r.client,
    server: r.server,
    firstFrame: r.firstFrame,
    lastFrame: r.lastFrame,
    packets: r.packets,
    handshake: r.handshake,
    evaluated: r.evaluated,
    ...(r.event ? { event: r.event } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    notes: r.notes,
    certificateOrigin: r.certificateOrigin,
    ...(r.trace ? { trace: r.trace } : {}),
  };
}

/** The table streamed: widths from the first rows, later rows widen their columns as needed. */
class TableOut {
  private rows: ConnectionEvent[] = [];
  private widths: number[] | null = null;
  constructor(
    private readonly opts: TableOptions,
    private readonly stream: boolean,
  ) {}
  add(e: ConnectionEvent): string {
    if (this.widths !== null) return renderEventRows([e], this.opts, this.widths);
    this.rows.push(e);
    return this.stream && this.rows.length >= 200 ? this.flush() : '';
  }
  flush(): string {
    if (this.widths !== null) return '';
    this.widths = columnWidths(this.rows, this.opts);
    const text = this.rows.length > 0 ? renderEventsTable(this.rows, this.opts) : '';
    this.rows = [];
    return text;
  }
}

const replay: Subcommand = {
  name: 'replay',
  summary: 'replay a pcap/pcapng capture through the policy: the event FMC would log per TCP flow',
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseCommandArgs(
      { usage },
      argv,
      {
        policy: { type: 'string' },
        tsid: { type: 'string' },
        profile: { type: 'string' },
        certs: { type: 'string' },
        json: { type: 'boolean' },
        events: { type: 'string' },
        trace: { type: 'boolean' },
        wide: { type: 'boolean' },
      },
      io,
    );
    if (!args) return EXIT_OK;
    const v = args.values;
    const json = v.json === true;
    if (args.positionals.length !== 1) throw new UsageError('replay needs exactly one CAPTURE (a pcap or pcapng file, or - for standard input)');
    if (!v.policy) throw new UsageError('replay needs --policy FILE');
    if (v.tsid !== undefined && v.tsid !== 'on' && v.tsid !== 'off') throw new UsageError(`--tsid must be on or off, not '${v.tsid}'`);
    if (v.profile !== undefined && !(PROFILES as readonly string[]).includes(v.profile)) {
      throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}, not '${v.profile}'`);
    }
    const loaded = await loadPolicyFile(resolve(io.cwd, v.policy));
    if (!loaded.ok) return reportErrors(io, loaded.error, json);
    let policy = loaded.value;
    if (v.tsid !== undefined || v.profile !== undefined) {
      policy = overrideTsid(policy, {
        ...(v.tsid !== undefined ? { enabled: v.tsid === 'on' } : {}),
        ...(v.profile !== undefined ? { profile: v.profile as TsidProfile } : {}),
      });
    }
    const certs = v.certs !== undefined ? loadCertsDir(resolve(io.cwd, v.certs)) : null;

    const input = await openInput(args.positionals[0], io);
    if (!isCapture(input)) {
      input.close();
      const hex = input.first.subarray(0, 4).toString('hex');
      return reportErrors(
        io,
        [peekwallError('capture/unknown-format', `${input.name} is not a pcap or pcapng capture (it starts with ${hex ? `0x${hex}` : 'nothing'})`)],
        json,
      );
    }

    let eventsOut: import('node:fs').WriteStream | null = null;
    if (v.events !== undefined) {
      const { createWriteStream } = await import('node:fs');
      const file = resolve(io.cwd, v.events);
      const s = createWriteStream(file);
      const opened = await new Promise<Error | null>((ok) => {
        s.once('open', () => ok(null));
        s.once('error', (e) => ok(e));
      });
      if (opened) {
        input.close();
        return reportErrors(io, [peekwallError('cli/unwritable', `cannot write the events file: ${opened.message}`, { file })], json);
      }
      eventsOut = s;
    }

    const trace = v.trace === true;
    const table = new TableOut({ wide: v.wide === true, newestFirst: false }, !trace);
    let out = '';
    let eventsText = '';
    let firstFlow = true;
    const unevaluated: FlowResult[] = [];
    const noted: FlowResult[] = [];
    const origins = { capture: 0, certs: 0, probe: 0 };
    let flows = 0;
    let evaluatedCount = 0;
    const tsidForced = v.tsid === undefined ? null : v.tsid === 'on';
    if (json) {
      out += `{"capture":${JSON.stringify(input.name)},"policy":${JSON.stringify(policy.name)}${tsidForced === null ? '' : `,"tsid":${tsidForced}`},"flows":[\n`;
    }

    const run = new Replay(
      {
        policy,
        trace,
        // JA3/JA4 are a sixth of a replay's CPU: computed when the output carries them (as the
        // proxy computes them only for an event log); the table has no column for them.
        fingerprints: json || eventsOut !== null,
        ...(certs ? { certsFor: (ip: string) => certs.get(canonicalIp(ip) ?? ip) ?? null } : {}),
      },
      (r) => {
        flows++;
        if (r.evaluated) evaluatedCount++;
        else unevaluated.push(r);
        if (r.notes.some((n) => n.code !== 'capture/probe-certificate')) noted.push(r);
        if (r.certificateOrigin) origins[r.certificateOrigin]++;
        if (r.event && eventsOut) eventsText += `${JSON.stringify(r.event)}\n`;
        if (json) {
          out += `${firstFlow ? '' : ',\n'}${JSON.stringify(flowJson(r))}`;
          firstFlow = false;
          return;
        }
        if (trace && r.trace) out += `${r.trace.join('\n')}\n\n`;
        if (r.event) out += table.add(r.event);
      },
    );
    const drain = async () => {
      const text = out;
      out = '';
      await writeOut(io.stdout, text);
      if (eventsOut && eventsText !== '') {
        const e = eventsText;
        eventsText = '';
        await writeOut(eventsOut, e);
      }
    };
    const summary = await walkCapture(input, run.open, drain);
    if (eventsOut) await new Promise<void>((ok) => (eventsOut as import('node:fs').WriteStream).end(ok));

    // Not a capture after all (a damaged header): bad input, whatever was printed.
    const fatal = summary.format === null || (summary.packets === 0 && summary.problems.some((p) => p.code !== 'capture/unknown-link-type'));
    const status = fatal ? EXIT_USAGE : unevaluated.length > 0 || summary.problems.length > 0 ? EXIT_PROBLEM : EXIT_OK;
    if (json) {
      const s = {
        format: summary.format,
        sections: summary.sections,
        packets: summary.packets,
        tcpSegments: summary.tcpSegments,
        flows,
        evaluated: evaluatedCount,
        notEvaluated: unevaluated.length,
        skipped: summary.skipped,
        certificateStoodForProbe: origins,
      };
      out += `\n],"summary":${JSON.stringify(s)},"problems":${JSON.stringify(summary.problems)}}\n`;
      await drain();
      return status;
    }
    out += table.flush();
    if (flows === 0) out += '(no TCP flow in the capture)\n';
    if (unevaluated.length > 0) {
      out += `\nNot evaluated (${unevaluated.length}):\n`;
      for (const r of unevaluated) out += `  ${flowName(r)}: ${formatError(r.reason as PeekwallError)}\n`;
    }
    if (noted.length > 0) {
      out += '\nNotes:\n';
      for (const r of noted) for (const n of r.notes) if (n.code !== 'capture/probe-certificate') out += `  ${flowName(r)}: ${formatError(n)}\n`;
    }
    if (origins.capture > 0) out += `\nTSID on: the certificate seen in the capture stands for what the probe would have read (${origins.capture} flow(s)).\n`;
    if (origins.probe > 0) out += `${origins.capture > 0 ? '' : '\n'}TSID on: the TSID probe peekwall recorded in the capture answered (${origins.probe} flow(s)).\n`;
    if (origins.certs > 0) out += `TSID on: a certificate from --certs stands for what the probe would have read (${origins.certs} flow(s), TLS 1.3).\n`;
    out += `\n${summaryLine(input.name, summary)}: ${evaluatedCount} evaluated, ${unevaluated.length} not evaluated\n`;
    await drain();
    for (const p of summary.problems) io.stderr.write(`peekwall: ${input.name}: ${p.message} [${p.code}]\n`);
    return status;
  },
};

export default replay;
