// The fuzzer's oracle: feeds one input to a sans-IO reader one-shot and split into TCP reads,
// and checks every property the wire contract promises. A violation is returned as a
// Failure value (never thrown) so the driver can count, deduplicate and save it.
import {
  ClientHelloReader,
  ServerFlightReader,
  WIRE_ANOMALY_CODES,
  WIRE_ERROR_CODES,
  ja3,
  ja4,
  readClientHello,
  readServerFlight,
} from '../../src/wire/index.js';
import type { ClientHello, HelloReadResult, ServerFlightResult, ServerHelloInfo, WireLimits } from '../../src/wire/index.js';
import type { TargetName } from './mutate.js';
import { chunksOf } from './mutate.js';
import { concat, splitRecords } from './tlsmodel.js';

export type FailureCategory =
  | 'exception' // something escaped the reader (or a lazy getter, or ja3/ja4)
  | 'bad-kind' // result is not one of the documented kinds
  | 'bad-code' // error code not in WIRE_ERROR_CODES, or missing message
  | 'nondeterministic' // same bytes, same split, different answer
  | 'split-divergence' // same bytes, different TCP segmentation, different answer
  | 'sticky' // after a terminal result, push answered something else
  | 'out-of-range' // a parse fact that is not backed by the input bytes
  | 'expectation'; // a meaning-preserving mutation changed the answer (or a duplicate was accepted)

export interface Failure {
  readonly category: FailureCategory;
  readonly detail: string;
}

export const HELLO_KINDS = new Set(['need-more', 'hello', 'not-tls', 'sslv2', 'too-large', 'malformed']);
export const FLIGHT_KINDS = new Set([
  'need-more',
  'certificate',
  'tls13',
  'hello-retry-request',
  'no-certificate',
  'alert',
  'not-tls',
  'too-large',
  'malformed',
]);
const HINTS = new Set(['http', 'http-connect', 'ssh', 'smtp', 'empty', 'unknown']);
const CODES = new Set<string>(WIRE_ERROR_CODES);
const ANOMALY_CODES = new Set<string>(WIRE_ANOMALY_CODES);

type AnyResult = HelloReadResult | ServerFlightResult;

interface Reader {
  push(chunk: Uint8Array): AnyResult;
  end?: () => AnyResult;
}

function hex(b: Uint8Array | undefined): string {
  return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : 'undefined';
}

function helloFacts(h: ClientHello): string {
  // Explicit field list: the hello is a class with lazy getters, JSON.stringify would miss them.
  return JSON.stringify([
    h.recordVersion,
    h.clientVersion,
    hex(h.random),
    hex(h.sessionId),
    h.cipherSuites,
    h.compressionMethods,
    h.extensions.map((e) => [e.type, e.length]),
    h.sni,
    h.sniTrailingDot,
    h.sniRaw === null ? null : hex(h.sniRaw),
    h.anomalies.map((a) => [a.code, a.detail]),
    h.alpn,
    h.supportedVersions,
    h.supportedGroups,
    h.signatureAlgorithms,
    h.keyShareGroups,
    h.pskModes,
    h.ech,
    h.paddingLength,
    h.recordLengths,
    h.handshakeLength,
    h.totalLength,
  ]);
}

function serverHelloFacts(s: ServerHelloInfo): unknown[] {
  return [s.legacyVersion, s.version, s.cipherSuite, hex(s.sessionId), s.extensions.map((e) => [e.type, e.length]), s.alpn, s.helloRetryRequest];
}

/** A canonical string of a result: equal strings <=> equal answers. Touches every lazy field. */
export function canonical(r: AnyResult): string {
  switch (r.kind) {
    case 'need-more':
      return `need-more:${r.buffered}`;
    case 'hello':
      return `hello:${helloFacts(r.hello)}`;
    case 'certificate':
      return `certificate:${JSON.stringify(serverHelloFacts(r.serverHello))}:${r.chain.map(hex).join(',')}`;
    case 'tls13':
    case 'hello-retry-request':
    case 'no-certificate':
      return `${r.kind}:${JSON.stringify(serverHelloFacts(r.serverHello))}`;
    case 'alert':
      return `alert:${r.level}:${r.description}`;
    case 'not-tls':
      return `not-tls:${'hint' in r ? r.hint : ''}:${r.error?.code}`;
    case 'sslv2':
      return `sslv2:${r.version}:${r.error?.code}`;
    case 'too-large':
      return `too-large:${r.limit}:${r.error?.code}`;
    case 'malformed':
      return `malformed:${r.error?.code}`;
    default:
      return `unknown:${(r as { kind: unknown }).kind}`;
  }
}

/** The outcome label the summary counts: kind, plus the error code or the anomaly codes. */
export function label(r: AnyResult): string {
  if (r.kind === 'hello' && r.hello.anomalies.length > 0) return `hello[${r.hello.anomalies.map((a) => a.code).join(',')}]`;
  return 'error' in r && r.error ? `${r.kind}(${r.error.code})` : r.kind;
}

const isU = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

function checkNumbers(name: string, list: readonly number[], max: number): string | null {
  if (!Array.isArray(list)) return `${name} is not an array`;
  for (const v of list) if (!isU(v, max)) return `${name} holds ${String(v)}`;
  return null;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength));
}

/** Reassembles the handshake bytes the reader says it used (its recordLengths) from the input. */
function helloStream(input: Uint8Array, recordLengths: readonly number[]): Uint8Array | string {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const len of recordLengths) {
    if (off + 5 + len > input.length) return `recordLengths reach byte ${off + 5 + len} of ${input.length}`;
    if (input[off] !== 22) return `record at ${off} is type ${input[off]}, not handshake`;
    if (((input[off + 3] << 8) | input[off + 4]) !== len) return `record at ${off} is ${(input[off + 3] << 8) | input[off + 4]} bytes, reader says ${len}`;
    parts.push(input.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return concat(parts);
}

/**
 * Every fact of a hello must be backed by the input bytes at the place the format puts it.
 * This is an independent re-walk of the body at the reader's own framing: if the reader had
 * read past a container (JS typed arrays give undefined -> 0, never an exception), the
 * facts would not line up with the bytes.
 */
function checkHello(h: ClientHello, input: Uint8Array): string | null {
  if (!isU(h.recordVersion, 0xffff) || !isU(h.clientVersion, 0xffff)) return 'version not a u16';
  if (!(h.random instanceof Uint8Array) || h.random.length !== 32) return 'random is not 32 bytes';
  if (!(h.sessionId instanceof Uint8Array) || h.sessionId.length > 32) return `session id of ${h.sessionId?.length} bytes`;
  for (const [n, l] of [
    ['cipherSuites', h.cipherSuites],
    ['supportedVersions', h.supportedVersions],
    ['supportedGroups', h.supportedGroups],
    ['signatureAlgorithms', h.signatureAlgorithms],
    ['keyShareGroups', h.keyShareGroups],
  ] as const) {
    const e = checkNumbers(n, l, 0xffff);
    if (e) return e;
  }
  for (const [n, l] of [
    ['compressionMethods', h.compressionMethods],
    ['pskModes', h.pskModes],
  ] as const) {
    const e = checkNumbers(n, l, 0xff);
    if (e) return e;
  }
  if (!isU(h.totalLength, input.length)) return `totalLength ${h.totalLength} > input ${input.length}`;
  let framed = 0;
  for (const len of h.recordLengths) {
    if (!isU(len, 16384)) return `record length ${len}`;
    framed += 5 + len;
  }
  if (framed !== h.totalLength) return `recordLengths sum to ${framed}, totalLength is ${h.totalLength}`;
  const hs = helloStream(input, h.recordLengths);
  if (typeof hs === 'string') return hs;
  const L = h.handshakeLength;
  if (!isU(L, hs.length - 4)) return `handshakeLength ${L} exceeds the ${hs.length} handshake bytes framed`;
  if (hs[0] !== 1 || ((hs[1] << 16) | (hs[2] << 8) | hs[3]) !== L) return 'handshake header does not match handshakeLength';
  const b = hs.subarray(4, 4 + L);
  if (((b[0] << 8) | b[1]) !== h.clientVersion) return 'clientVersion is not the bytes';
  if (hex(b.subarray(2, 34)) !== hex(h.random)) return 'random is not the bytes at its offset';
  let o = 34;
  if (b[o] !== h.sessionId.length || hex(b.subarray(o + 1, o + 1 + b[o])) !== hex(h.sessionId)) return 'sessionId is not the bytes at its offset';
  o += 1 + b[o];
  const csLen = (b[o] << 8) | b[o + 1];
  if (csLen !== 2 * h.cipherSuites.length) return `cipher_suites length ${csLen} vs ${h.cipherSuites.length} suites`;
  for (let i = 0; i < h.cipherSuites.length; i++) if (((b[o + 2 + 2 * i] << 8) | b[o + 3 + 2 * i]) !== h.cipherSuites[i]) return `cipher suite ${i} differs from the bytes`;
  o += 2 + csLen;
  if (b[o] !== h.compressionMethods.length) return 'compression count differs from the bytes';
  o += 1 + b[o];
  if (o > L) return `fixed part ends at ${o}, past the ${L}-byte body`;
  if (o === L) {
    if (h.extensions.length !== 0) return 'extensions reported but the body has none';
  } else {
    const total = (b[o] << 8) | b[o + 1];
    if (o + 2 + total !== L) return `extensions block of ${total} bytes does not end the ${L}-byte body (ends at ${o + 2 + total})`;
    let p = o + 2;
    for (const e of h.extensions) {
      if (!isU(e.type, 0xffff) || !isU(e.length, 0xffff)) return 'extension type/length not u16';
      if (p + 4 + e.length > L) return `extension 0x${e.type.toString(16)} runs past the body`;
      if (((b[p] << 8) | b[p + 1]) !== e.type || ((b[p + 2] << 8) | b[p + 3]) !== e.length) return `extension at ${p} differs from the bytes`;
      p += 4 + e.length;
    }
    if (p !== L) return `extensions cover ${p - o - 2} of ${total} bytes`;
    const types = new Set<number>();
    for (const e of h.extensions) {
      if (types.has(e.type)) return `duplicate extension 0x${e.type.toString(16)} accepted`;
      types.add(e.type);
    }
  }
  if (h.sni !== null) {
    if (typeof h.sni !== 'string' || h.sni.length === 0 || h.sni.length > 253) return `sni ${JSON.stringify(h.sni)} has a bad length`;
    if (!/^[a-z0-9._-]+$/.test(h.sni)) return `sni ${JSON.stringify(h.sni)} is not a lower-case host name`;
    if (!h.extensions.some((e) => e.type === 0)) return 'sni without a server_name extension';
    if (indexOf(b, Buffer.from(h.sni, 'latin1')) < 0 && indexOf(Buffer.from(b).map((c) => (c >= 65 && c <= 90 ? c + 32 : c)), Buffer.from(h.sni, 'latin1')) < 0) {
      return `sni ${h.sni} is not in the hello bytes`;
    }
  }
  const sniOdd = h.anomalies.filter((a) => a.code.startsWith('wire/sni-')).map((a) => a.code);
  if (h.anomalies.length !== sniOdd.length) return `a TLS-format hello flagged ${h.anomalies.map((a) => a.code).join(',')}`;
  if (sniOdd.length > 0 && h.sni !== null) return `sni ${h.sni} kept despite ${sniOdd.join(',')}`;
  if ((sniOdd.length > 0 || h.sni !== null) && !h.extensions.some((e) => e.type === 0)) return 'SNI facts without a server_name extension';
  if (h.sniRaw !== null) {
    // The raw bytes are the host_name entry as sent: in the hello, and the normalized name is
    // them lower-cased without the root dot.
    if (!(h.sniRaw instanceof Uint8Array) || h.sniRaw.length === 0) return 'sniRaw is not bytes';
    if (indexOf(b, h.sniRaw) < 0) return 'sniRaw is not in the hello bytes';
    if (h.sniTrailingDot !== (h.sniRaw[h.sniRaw.length - 1] === 0x2e)) return 'sniTrailingDot disagrees with sniRaw';
    if (h.sni !== null && Buffer.from(h.sniRaw).toString('latin1').toLowerCase().replace(/\.$/, '') !== h.sni) return `sni ${h.sni} is not sniRaw normalized`;
    if (h.sni === null && sniOdd.length === 0) return 'a host_name neither used nor flagged';
    if (sniOdd.includes('wire/sni-no-host-name')) return 'no-host-name flagged with a host_name';
  } else {
    if (h.sni !== null) return 'sni without sniRaw';
    if (sniOdd.length > 0 && sniOdd.join() !== 'wire/sni-no-host-name') return `${sniOdd.join(',')} without sniRaw`;
  }
  for (const a of h.alpn) {
    if (typeof a !== 'string' || a.length === 0 || a.length > 255) return `alpn entry ${JSON.stringify(a)}`;
    if (indexOf(b, Buffer.from(a, 'latin1')) < 0) return `alpn ${JSON.stringify(a)} is not in the hello bytes`;
  }
  if (h.ech !== h.extensions.some((e) => e.type === 0xfe0d)) return 'ech flag disagrees with the extension list';
  const pad = h.extensions.find((e) => e.type === 21);
  if ((pad ? pad.length : null) !== h.paddingLength) return 'paddingLength disagrees with the extension list';
  return null;
}

/** An SSLv2-format hello (RFC 5246 E.2): every fact re-read from the input at its offset. */
function checkSslv2Hello(h: ClientHello, input: Uint8Array): string | null {
  if (h.anomalies.length !== 1) return `sslv2-compat hello with anomalies ${h.anomalies.map((a) => a.code).join(',')}`;
  if (!(input[0] & 0x80) || input[2] !== 1 || input[3] !== 3) return 'sslv2-compat hello from bytes that are no SSLv2 CLIENT-HELLO offering 3.x';
  const len = ((input[0] & 0x7f) << 8) | input[1];
  if (h.recordVersion !== 0x0002 || h.clientVersion !== ((input[3] << 8) | input[4])) return 'versions are not the bytes';
  if (h.recordLengths.length !== 1 || h.recordLengths[0] !== len || h.totalLength !== 2 + len || h.handshakeLength !== len - 1) return 'lengths disagree with the 2-byte header';
  if (h.totalLength > input.length) return `totalLength ${h.totalLength} > input ${input.length}`;
  const cs = (input[5] << 8) | input[6];
  const sid = (input[7] << 8) | input[8];
  const ch = (input[9] << 8) | input[10];
  if (9 + cs + sid + ch !== len) return 'inner lengths do not fill the message';
  const suites: number[] = [];
  for (let i = 11; i < 11 + cs; i += 3) if (input[i] === 0) suites.push((input[i + 1] << 8) | input[i + 2]);
  if (JSON.stringify(suites) !== JSON.stringify(h.cipherSuites)) return 'cipher suites are not the TLS specs of the bytes';
  if (hex(h.sessionId) !== hex(input.subarray(11 + cs, 11 + cs + sid))) return 'session id is not the bytes';
  const random = new Uint8Array(32);
  random.set(input.subarray(11 + cs + sid, 11 + cs + sid + ch), 32 - ch);
  if (hex(h.random) !== hex(random)) return 'random is not the challenge right-aligned';
  if (h.sni !== null || h.sniRaw !== null || h.extensions.length !== 0 || h.alpn.length !== 0 || h.ech || h.paddingLength !== null) return 'extension facts on a hello that has no extensions';
  return null;
}

function handshakeBytesOf(input: Uint8Array): Uint8Array {
  return concat(
    splitRecords(input)
      .records.filter((r) => r.type === 22)
      .map((r) => r.payload),
  );
}

function checkServerHello(s: ServerHelloInfo, hs: Uint8Array): string | null {
  if (!isU(s.legacyVersion, 0xffff) || !isU(s.version, 0xffff) || !isU(s.cipherSuite, 0xffff)) return 'server hello numbers not u16';
  if (!(s.sessionId instanceof Uint8Array) || s.sessionId.length > 32) return `server session id of ${s.sessionId?.length} bytes`;
  if (s.sessionId.length > 0 && indexOf(hs, s.sessionId) < 0) return 'server session id not in the handshake bytes';
  for (const e of s.extensions) if (!isU(e.type, 0xffff) || !isU(e.length, hs.length)) return 'server extension not backed by bytes';
  if (s.alpn !== null && (typeof s.alpn !== 'string' || indexOf(hs, Buffer.from(s.alpn, 'latin1')) < 0)) return 'server alpn not in the bytes';
  return null;
}

function checkResult(target: TargetName, r: AnyResult, input: Uint8Array, limits: WireLimits | undefined, oneShot: boolean): Failure | null {
  if (r === null || typeof r !== 'object') return { category: 'bad-kind', detail: `result is ${String(r)}` };
  const kinds = target === 'clienthello' ? HELLO_KINDS : FLIGHT_KINDS;
  if (!kinds.has(r.kind)) return { category: 'bad-kind', detail: `kind ${String(r.kind)}` };
  if ('error' in r) {
    if (!r.error || typeof r.error.code !== 'string' || !CODES.has(r.error.code)) return { category: 'bad-code', detail: `code ${String(r.error?.code)} not in WIRE_ERROR_CODES` };
    if (typeof r.error.message !== 'string' || r.error.message.length === 0) return { category: 'bad-code', detail: `${r.error.code} without a message` };
  }
  let why: string | null = null;
  switch (r.kind) {
    case 'need-more':
      if (!isU(r.buffered, oneShot ? input.length : Number.MAX_SAFE_INTEGER)) why = `buffered ${r.buffered} of ${input.length}`;
      break;
    case 'not-tls':
      if ('hint' in r && !HINTS.has(r.hint)) why = `hint ${String(r.hint)}`;
      if (r.error.code !== 'wire/not-tls') why = `not-tls with ${r.error.code}`;
      break;
    case 'sslv2':
      if (!isU(r.version, 0xffff)) why = `sslv2 version ${r.version}`;
      break;
    case 'too-large': {
      const def = target === 'clienthello' ? 16384 : 65536;
      const want = limits?.maxHandshakeBytes ?? def;
      if (r.limit !== want) why = `too-large limit ${r.limit}, configured ${want}`;
      break;
    }
    case 'hello':
      for (const a of r.hello.anomalies) {
        if (!ANOMALY_CODES.has(a.code) || typeof a.detail !== 'string' || a.detail.length === 0) why = `anomaly ${String(a.code)} undocumented or without a detail`;
      }
      why ??= r.hello.anomalies.some((a) => a.code === 'wire/sslv2-compat') ? checkSslv2Hello(r.hello, input) : checkHello(r.hello, input);
      if (!why) {
        // Fingerprints are computed lazily from the same facts: they must not throw either.
        const j3 = ja3(r.hello);
        const j4 = ja4(r.hello);
        if (!/^[0-9a-f]{32}$/.test(j3.hash) || typeof j4.ja4 !== 'string' || j4.ja4.length === 0) why = `fingerprints ${j3.hash} ${j4.ja4}`;
      }
      break;
    case 'certificate': {
      const hs = handshakeBytesOf(input);
      why = checkServerHello(r.serverHello, hs);
      if (!why && (!Array.isArray(r.chain) || r.chain.length === 0)) why = 'certificate result with an empty chain';
      for (const c of r.chain ?? []) {
        if (why) break;
        if (!(c instanceof Uint8Array) || c.length === 0) why = 'chain entry is not bytes';
        else if (indexOf(hs, c) < 0) why = `chain entry of ${c.length} bytes is not in the handshake bytes`;
      }
      break;
    }
    case 'tls13':
    case 'hello-retry-request':
    case 'no-certificate':
      why = checkServerHello(r.serverHello, handshakeBytesOf(input));
      if (!why && (r.kind === 'hello-retry-request') !== r.serverHello.helloRetryRequest) why = 'helloRetryRequest flag disagrees with the kind';
      break;
    case 'alert':
      if (!isU(r.level, 255) || !isU(r.description, 255)) why = 'alert numbers';
      else if (!splitRecords(input).records.some((x) => x.type === 21 && x.payload[0] === r.level && x.payload[1] === r.description)) why = 'alert not in an alert record of the input';
      break;
    default:
      break;
  }
  return why ? { category: 'out-of-range', detail: `${r.kind}: ${why}` } : null;
}

function guard<T>(what: string, f: () => T): T | Failure {
  try {
    return f();
  } catch (e) {
    const err = e as Error;
    const at = (err?.stack ?? '').split('\n').slice(1, 3).map((l) => l.trim()).join(' | ');
    return { category: 'exception', detail: `${what}: ${err?.name}: ${err?.message} ${at}` };
  }
}

const isFailure = (v: unknown): v is Failure => typeof v === 'object' && v !== null && 'category' in v && 'detail' in v;

export interface Outcome {
  /** The one-shot answer's label (kind + code) when there was no exception. */
  readonly label: string;
  readonly canonical: string;
  readonly failures: Failure[];
}

/** Feeds `input` one-shot (twice) and as `splitEnds` TCP reads; checks everything. */
export function checkInput(target: TargetName, input: Uint8Array, splitEnds: readonly number[], limits?: WireLimits): Outcome {
  const failures: Failure[] = [];
  const oneShot = (): AnyResult => (target === 'clienthello' ? readClientHello(input, limits) : readServerFlight(input, limits));
  const newReader = (): Reader => (target === 'clienthello' ? new ClientHelloReader(limits) : new ServerFlightReader(limits));

  const first = guard('one-shot', () => {
    const r = oneShot();
    return { r, c: canonical(r) };
  });
  if (isFailure(first)) return { label: 'exception', canonical: '', failures: [first] };
  const bad = guard('check', () => checkResult(target, first.r, input, limits, true));
  if (bad) failures.push(bad);
  const lbl = label(first.r);

  const again = guard('one-shot again', () => canonical(oneShot()));
  if (isFailure(again)) failures.push(again);
  else if (again !== first.c) failures.push({ category: 'nondeterministic', detail: `${first.c.slice(0, 120)} then ${again.slice(0, 120)}` });

  // Split push: the same bytes as TCP reads. The final answer must equal the one-shot one:
  // a verdict that depends on segmentation is an evasion (DOMAIN.md §6).
  const split = guard('split-push', () => {
    const reader = newReader();
    let last: AnyResult = { kind: 'need-more', buffered: 0 };
    let terminal: string | null = null;
    for (const chunk of chunksOf(input, splitEnds)) {
      last = reader.push(chunk);
      const c = canonical(last);
      if (terminal !== null && c !== terminal) return { category: 'sticky', detail: `terminal ${terminal.slice(0, 80)} then ${c.slice(0, 80)}` } as Failure;
      if (last.kind !== 'need-more') terminal ??= c;
      const bad2 = checkResult(target, last, input, limits, false);
      if (bad2) return bad2;
    }
    const fin = canonical(last);
    let ended: AnyResult | null = null;
    if (last.kind === 'need-more' && typeof reader.end === 'function') ended = reader.end();
    return { fin, ended, last };
  });
  if (isFailure(split)) failures.push(split);
  else {
    // need-more's `buffered` is a diagnostic that legitimately depends on how bytes arrived.
    const sameNeedMore = first.r.kind === 'need-more' && split.last.kind === 'need-more';
    if (split.fin !== first.c && !sameNeedMore) failures.push({ category: 'split-divergence', detail: `one-shot ${first.c.slice(0, 100)} / split ${split.fin.slice(0, 100)}` });
    if (split.ended) {
      const e = split.ended;
      const okEnd = (e.kind === 'malformed' && e.error.code === 'wire/truncated') || (e.kind === 'not-tls' && input.length === 0);
      if (!okEnd) failures.push({ category: 'bad-kind', detail: `end() after need-more gave ${canonical(e).slice(0, 100)}` });
    }
  }
  return { label: lbl, canonical: first.c, failures };
}
