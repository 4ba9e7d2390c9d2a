// `peekwall hello FILE|-`: decode the raw bytes a TLS client sent (as captured from a TCP
// stream) with the same reader the proxy uses, and print a summary or the parse as JSON.
import {
  ClientHelloReader,
  ja3,
  ja4,
  isGrease,
  versionName,
  type ClientHello,
  type HelloReadResult,
} from '../wire/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, parseCommandArgs, UsageError, type CliIo, type Subcommand } from './command.js';
import { isCapture, openInput, summaryLine, walkCapture, writeOut, type InputChunks } from './capture-input.js';
import { peekFlows, type PeekResult, type SideEnd } from '../capture/index.js';

const usage = `Usage: peekwall hello FILE|- [options]

Decode a TLS ClientHello from raw client bytes (a TCP stream capture, from its first byte;
'-' reads standard input), or every ClientHello of a pcap/pcapng capture (each TCP flow's
client bytes reassembled, then read the same way; exit 1 when some flow opened with none). The hello may span several TCP reads and TLS records; bytes after
it (ChangeCipherSpec, early data) are ignored. Prints SNI (normalized, and the bytes as sent),
ALPN, versions, cipher suites, extensions, ECH, JA3 and JA4. Odd but readable hellos are
decoded and their anomalies listed (exit 0): an SSLv2-format hello offering TLS
(wire/sslv2-compat), a server_name that is no DNS host name (wire/sni-not-ascii,
wire/sni-too-long, wire/sni-bad-syntax, wire/sni-no-host-name: SNI then shows none). The proxy
decides on them by settings.oddHellos.

Options:
  --json             print the parse as JSON (sni, sniRaw {hex, text}, anomalies [{code,
                     detail}], alpn, versions, cipherSuites, extensions, ja3, ja3Hash, ja4,
                     records, length, ech, ...)
  --max-bytes N      handshake size bound (default 16384, as the proxy)
Exit: 0 decoded; 2 unreadable file or not a valid ClientHello: the error is printed as
{"error": CODE, "message": ...} (with --json) or on stderr. Codes: wire/truncated,
wire/not-tls, wire/sslv2, wire/too-large, wire/bad-sni, wire/length-overflow, ...`;

const EXT_NAMES: Record<number, string> = {
  0: 'server_name', 1: 'max_fragment_length', 5: 'status_request', 10: 'supported_groups',
  11: 'ec_point_formats', 13: 'signature_algorithms', 16: 'alpn', 17: 'status_request_v2',
  18: 'signed_certificate_timestamp', 21: 'padding', 22: 'encrypt_then_mac',
  23: 'extended_master_secret', 27: 'compress_certificate', 28: 'record_size_limit',
  35: 'session_ticket', 41: 'pre_shared_key', 42: 'early_data', 43: 'supported_versions',
  44: 'cookie', 45: 'psk_key_exchange_modes', 49: 'post_handshake_auth',
  50: 'signature_algorithms_cert', 51: 'key_share', 13172: 'next_protocol_negotiation',
  17513: 'application_settings', 17613: 'application_settings', 0xfe0d: 'encrypted_client_hello',
  0xff01: 'renegotiation_info',
};

const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;

// Characters a terminal may act on (C0/C1 controls, bidi and zero-width marks): shown escaped,
// so a hostile name cannot rewrite the screen or reorder what is read.
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/gu;

/**
 * The host_name as sent, readable and unambiguous: `text` has printable ASCII as is and every
 * other byte (and '"', '\\') as \xNN; `utf8` is the decoded form when the bytes are valid
 * UTF-8 beyond ASCII (an IDN typed as Unicode instead of its xn-- A-label).
 */
export function sniText(raw: Uint8Array): { text: string; utf8?: string } {
  let text = '';
  let ascii = true;
  for (const c of raw) {
    if (c >= 0x80) ascii = false;
    text += c >= 0x20 && c < 0x7f && c !== 0x5c && c !== 0x22 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  if (ascii) return { text };
  try {
    const u = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    return { text, utf8: u.replace(UNSAFE_TEXT, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`) };
  } catch {
    return { text }; // not UTF-8: the escaped bytes say it all
  }
}

function sniRawRow(raw: Uint8Array): string {
  const t = sniText(raw);
  return `${raw.length} bytes ${Buffer.from(raw).toString('hex')}  "${t.text}"${t.utf8 !== undefined ? `  (UTF-8: ${t.utf8})` : ''}`;
}
const extName = (t: number) => EXT_NAMES[t] ?? (isGrease(t) ? 'GREASE' : 'unknown');

/** Bytes read from the input at most: the largest --max-bytes hello plus its record headers,
 * with room to count what trails it. The proxy never buffers more than the hello either. */
const MAX_INPUT_BYTES = (1 << 24) + (1 << 20);

/**
 * Feed the input to the reader as it arrives, the way the proxy feeds TCP reads. Reading
 * stops at MAX_INPUT_BYTES, so /dev/zero, an endless pipe or a huge capture cannot exhaust
 * memory; bytes after the hello are only counted.
 */
async function readHello(input: InputChunks, reader: ClientHelloReader): Promise<{ r: HelloReadResult; inputBytes: number }> {
  let r: HelloReadResult = { kind: 'need-more', buffered: 0 };
  let inputBytes = 0;
  const feed = (chunk: Buffer) => {
    const take = Math.min(chunk.length, MAX_INPUT_BYTES - inputBytes);
    if (r.kind === 'need-more') r = reader.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    inputBytes += take;
  };
  try {
    feed(input.first);
    while (inputBytes < MAX_INPUT_BYTES) {
      const c = await input.rest.next();
      if (c.done) break;
      feed(c.value);
    }
  } finally {
    input.close();
  }
  return { r, inputBytes };
}

export function helloJson(h: ClientHello, inputBytes: number): Record<string, unknown> {
  const j3 = ja3(h);
  const j4 = ja4(h);
  return {
    sni: h.sni,
    sniTrailingDot: h.sniTrailingDot,
    sniRaw: h.sniRaw === null ? null : { hex: Buffer.from(h.sniRaw).toString('hex'), ...sniText(h.sniRaw) },
    anomalies: h.anomalies.map((a) => ({ code: a.code, detail: a.detail })),
    ech: h.ech,
    echNote: h.ech ? 'encrypted_client_hello present: sni is the OUTER public name, not the real destination' : undefined,
    alpn: h.alpn,
    versions: {
      record: hex4(h.recordVersion),
      client: hex4(h.clientVersion),
      supported: h.supportedVersions.map(hex4),
      names: {
        record: versionName(h.recordVersion),
        client: versionName(h.clientVersion),
        supported: h.supportedVersions.map(versionName),
      },
    },
    cipherSuites: h.cipherSuites.map(hex4),
    compressionMethods: h.compressionMethods,
    extensions: h.extensions.map((e) => ({ type: e.type, name: extName(e.type), length: e.length })),
    supportedGroups: h.supportedGroups.map(hex4),
    signatureAlgorithms: h.signatureAlgorithms.map(hex4),
    signatureAlgorithmsCert: h.signatureAlgorithmsCert.map(hex4),
    keyShareGroups: h.keyShareGroups.map(hex4),
    pskModes: h.pskModes,
    ecPointFormats: h.ecPointFormats,
    paddingLength: h.paddingLength,
    sessionIdLength: h.sessionId.length,
    ja3: j3.text,
    ja3Hash: j3.hash,
    ja4: j4.ja4,
    ja4_r: j4.ja4_r,
    ja4_o: j4.ja4_o,
    ja4_ro: j4.ja4_ro,
    records: h.recordLengths,
    length: h.handshakeLength,
    totalLength: h.totalLength,
    trailingBytes: inputBytes - h.totalLength,
  };
}

function summary(h: ClientHello, inputBytes: number): string {
  const j = helloJson(h, inputBytes);
  const v = j.versions as { names: { record: string; client: string; supported: string[] } };
  const rows: [string, string][] = [
    ['ClientHello', `${h.handshakeLength} bytes of handshake in ${h.recordLengths.length} record(s) [${h.recordLengths.join(', ')}], ${h.totalLength} bytes of stream`],
    ['SNI', h.sni === null ? (h.sniRaw === null ? '(none)' : '(none: the host_name is no DNS name, see Anomalies)') : `${h.sni}${h.sniTrailingDot ? '  (sent with a trailing dot)' : ''}${h.ech ? '  (ECH: outer public name, a decoy)' : ''}`],
    ...(h.sniRaw === null ? [] : [['SNI raw', sniRawRow(h.sniRaw)] as [string, string]]),
    ...(h.anomalies.length === 0 ? [] : [['Anomalies', h.anomalies.map((a) => `${a.code}: ${a.detail}`).join(`\n${' '.repeat(12)}`)] as [string, string]]),
    ['ALPN', h.alpn.length ? h.alpn.join(', ') : '(none)'],
    ['Versions', `record ${v.names.record}, client_version ${v.names.client}${v.names.supported.length ? `, supported ${v.names.supported.join(' ')}` : ''}`],
    ['Ciphers', `${h.cipherSuites.length}: ${(j.cipherSuites as string[]).join(' ')}`],
    ['Extensions', `${h.extensions.length}: ${h.extensions.map((e) => `${extName(e.type)}(${e.type})`).join(' ')}`],
    ['Groups', (j.supportedGroups as string[]).join(' ') || '(none)'],
    ['Key shares', (j.keyShareGroups as string[]).join(' ') || '(none)'],
    ['Sig algs', (j.signatureAlgorithms as string[]).join(' ') || '(none)'],
    ['ECH', h.ech ? 'yes (0xfe0d)' : 'no'],
    ['Padding', h.paddingLength === null ? 'no' : `${h.paddingLength} bytes`],
    ['JA3', String(j.ja3)],
    ['JA3 hash', String(j.ja3Hash)],
    ['JA4', String(j.ja4)],
  ];
  if (inputBytes > h.totalLength) rows.push(['Trailing', `${inputBytes - h.totalLength} bytes after the hello (ignored)`]);
  return rows.map(([k, val]) => `${k.padEnd(12)}${val}`).join('\n') + '\n';
}

function failure(r: Exclude<HelloReadResult, { kind: 'hello' | 'need-more' }>, io: CliIo, json: boolean): number {
  const extra =
    r.kind === 'not-tls' ? { hint: r.hint } : r.kind === 'sslv2' ? { version: hex4(r.version) } : r.kind === 'too-large' ? { limit: r.limit } : {};
  if (json) io.stdout.write(`${JSON.stringify({ error: r.error.code, message: r.error.message, kind: r.kind, ...extra })}\n`);
  else io.stderr.write(`peekwall: ${r.error.message} [${r.error.code}]\n`);
  return EXIT_USAGE;
}

const endpoint = (e: { ip: string; port: number }) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

/** Why a flow gave no hello: the reader's answer, or how its client bytes ran out. */
function noHello(r: PeekResult): { code: string; message: string } {
  if (r.hello !== null && r.hello.kind !== 'hello' && r.hello.kind !== 'need-more') return r.hello.error;
  const ends: Record<SideEnd, [string, string]> = {
    gap: ['capture/gap', 'client bytes are missing from the capture before the ClientHello was complete'],
    'capture-end': ['capture/ended', 'the capture holds no more of the client before its ClientHello was complete'],
    fin: ['capture/no-data', 'the client sent nothing'],
    rst: ['capture/no-data', 'the client sent nothing'],
  };
  if (r.clientBytes === 0) return { code: 'capture/no-data', message: 'the client sent nothing in the capture' };
  const [code, message] = ends[r.clientEnd ?? 'capture-end'];
  return { code, message: `${message} (${r.clientBytes} bytes seen)` };
}

/**
 * `peekwall hello CAPTURE`: every TCP flow's ClientHello, reassembled and read by the same
 * reader. Exit 0 when every flow opened with one, 1 when some did not (listed, each with its
 * reason) or the capture is damaged, 2 when it is no capture.
 */
async function helloFromCapture(input: InputChunks, io: CliIo, opts: { json: boolean; maxHelloBytes?: number }): Promise<number> {
  let out = '';
  let first = true;
  let decoded = 0;
  const missing: PeekResult[] = [];
  if (opts.json) out += `{"capture":${JSON.stringify(input.name)},"flows":[\n`;
  const open = peekFlows(
    (r) => {
      const head = { stream: r.stream, client: r.client, server: r.server };
      if (r.hello?.kind === 'hello') {
        decoded++;
        if (opts.json) out += `${first ? '' : ',\n'}${JSON.stringify({ ...head, frame: r.helloFrame, hello: helloJson(r.hello.hello, r.clientBytes) })}`;
        else out += `tcp.stream ${r.stream}  ${endpoint(r.client)} -> ${endpoint(r.server)}  (ClientHello complete in frame ${r.helloFrame})\n${summary(r.hello.hello, r.clientBytes)}\n`;
      } else {
        missing.push(r);
        if (opts.json) out += `${first ? '' : ',\n'}${JSON.stringify({ ...head, error: noHello(r) })}`;
      }
      first = false;
    },
    { flight: false, ...(opts.maxHelloBytes !== undefined ? { maxHelloBytes: opts.maxHelloBytes } : {}) },
  );
  const drain = async () => {
    const text = out;
    out = '';
    await writeOut(io.stdout, text);
  };
  const s = await walkCapture(input, open, drain);
  if (opts.json) out += `\n],"summary":${JSON.stringify({ format: s.format, packets: s.packets, flows: s.flows, hellos: decoded })},"problems":${JSON.stringify(s.problems)}}\n`;
  else {
    if (missing.length > 0) {
      out += `No ClientHello (${missing.length}):\n`;
      for (const r of missing) {
        const e = noHello(r);
        out += `  tcp.stream ${r.stream}  ${endpoint(r.client)} -> ${endpoint(r.server)}: ${e.message} [${e.code}]\n`;
      }
      out += '\n';
    }
    out += `${summaryLine(input.name, s)}: ${decoded} ClientHello(s) decoded\n`;
  }
  await drain();
  for (const p of s.problems) io.stderr.write(`peekwall: ${input.name}: ${p.message} [${p.code}]\n`);
  if (s.format === null || (s.packets === 0 && s.problems.length > 0)) return EXIT_USAGE;
  return missing.length > 0 || s.problems.length > 0 ? EXIT_PROBLEM : EXIT_OK;
}

const hello: Subcommand = {
  name: 'hello',
  summary: 'decode a captured TLS ClientHello (SNI, ALPN, versions, JA3/JA4)',
  usage,
  async run(argv, io) {
    const parsed = parseCommandArgs({ usage }, argv, { json: { type: 'boolean' }, 'max-bytes': { type: 'string' } }, io);
    if (!parsed) return EXIT_OK;
    const { values, positionals } = parsed;
    const json = Boolean(values.json);
    if (positionals.length !== 1) throw new UsageError('give exactly one FILE (or - for standard input); see peekwall hello --help');
    let max: number | undefined;
    if (values['max-bytes'] !== undefined) {
      max = Number(values['max-bytes']);
      if (!Number.isInteger(max) || max < 64 || max > 1 << 24) throw new UsageError(`--max-bytes must be an integer between 64 and ${1 << 24}`);
    }
    const reader = new ClientHelloReader(max === undefined ? undefined : { maxHandshakeBytes: max });
    let read: { r: HelloReadResult; inputBytes: number };
    try {
      const input = await openInput(positionals[0], io);
      // A pcap/pcapng file: every flow's hello, read by the same reader after TCP reassembly.
      if (isCapture(input)) return await helloFromCapture(input, io, { json, ...(max !== undefined ? { maxHelloBytes: max } : {}) });
      read = await readHello(input, reader);
    } catch (e) {
      if (e instanceof PeekwallFailure && json) {
        const first = e.errors[0];
        io.stdout.write(`${JSON.stringify({ error: first.code, message: first.message })}\n`);
        return EXIT_USAGE;
      }
      throw e;
    }
    let r = read.r;
    if (r.kind === 'need-more') r = reader.end();
    if (r.kind === 'need-more') r = { kind: 'malformed', error: peekwallError('wire/truncated', 'incomplete ClientHello') };
    if (r.kind !== 'hello') return failure(r, io, json);
    if (json) io.stdout.write(`${JSON.stringify(helloJson(r.hello, read.inputBytes), null, 2)}\n`);
    else io.stdout.write(summary(r.hello, read.inputBytes));
    return EXIT_OK;
  },
};

export default hello;
