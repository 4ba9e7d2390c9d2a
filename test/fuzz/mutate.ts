// The mutation engine: pure and seeded. Given a known-good fixture and a Prng it builds one
// hostile input and says what it did, so any failure can be rebuilt from (seed, iteration)
// and read by a human. Structural mutations aim at the places real peekers get wrong
// (DOMAIN.md §6): length fields, record boundaries, GREASE, duplicates, trailing records,
// segmentation; byte-level mutations cover the rest.
import type { Prng } from './prng.js';
import {
  CT_ALERT,
  CT_APPDATA,
  CT_CCS,
  CT_HANDSHAKE,
  concat,
  type Flight,
  fromFlight,
  handshake,
  lengthFields,
  parseHelloBody,
  recordHeader,
  serializeHelloBody,
  splitHandshakes,
  toFlight,
  writeN,
} from './tlsmodel.js';

export type TargetName = 'clienthello' | 'serverflight';

export interface Seed {
  readonly name: string;
  readonly target: TargetName;
  readonly bytes: Uint8Array;
  readonly flight: Flight;
}

/** What the mutations promise about the result, for metamorphic checks. */
export type Expectation =
  /** Meaning unchanged: the reader must answer exactly as for the original (same kind, same facts). */
  | { readonly kind: 'same' }
  /** Same, but the ClientHello gained `extraExtensions` GREASE extensions. */
  | { readonly kind: 'same-plus-grease'; readonly extraExtensions: number }
  /** A duplicated extension type: must not be answered as a usable hello. */
  | { readonly kind: 'not-hello'; readonly why: string }
  | { readonly kind: 'too-large' }
  /** An odd but well-framed server_name: decoded, `sni` null, flagged with this anomaly. */
  | { readonly kind: 'flagged'; readonly code: string }
  | { readonly kind: 'none' };

export interface Mutant {
  readonly bytes: Uint8Array;
  readonly ops: readonly string[];
  readonly expect: Expectation;
}

export function makeSeed(name: string, target: TargetName, bytes: Uint8Array): Seed {
  const flight = toFlight(bytes);
  if (!flight) throw new Error(`fixture ${name} does not start with a handshake record`);
  return { name, target, bytes, flight };
}

const GREASE = [0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa];
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x14, 0x15, 0x16, 0x17, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const RECORD_VERSIONS = [0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x0200, 0xffff, 0x0000];
const enc = new TextEncoder();
const NOT_TLS_PREFIXES = [
  'GET / HTTP/1.1\r\nHost: tools.cisco.com\r\n\r\n',
  'CONNECT tools.cisco.com:443 HTTP/1.1\r\n\r\n',
  'SSH-2.0-OpenSSH_9.2\r\n',
  '220 mail.example ESMTP\r\n',
  'EHLO x\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  '\r\n',
  '',
].map((s) => enc.encode(s));

/** Records carry at most 2^14 bytes (RFC 8446 §5.1): reframing stays legal. */
const MAX_RECORD = 16384;
/** The readers' documented default bound on records per message (WireLimits.maxRecords). */
export const DEFAULT_MAX_RECORDS = 1024;

function randomSizes(prng: Prng, total: number): number[] {
  const sizes = randomSizesUncapped(prng, total);
  const out: number[] = [];
  for (const s of sizes) for (let left = s; left > 0; left -= MAX_RECORD) out.push(Math.min(MAX_RECORD, left));
  return out.length ? out : [total];
}

function randomSizesUncapped(prng: Prng, total: number): number[] {
  if (total <= 1) return [Math.max(total, 1)];
  const style = prng.int(4);
  if (style === 0) return [total];
  if (style === 1) {
    // Tiny records: the evasion trick that defeats first-record-only peekers.
    const size = prng.range(1, 8);
    return Array.from({ length: Math.ceil(total / size) }, () => size);
  }
  const k = prng.range(2, Math.min(8, total));
  const cuts = new Set<number>();
  while (cuts.size < k - 1) cuts.add(prng.range(1, total - 1));
  const sorted = [0, ...[...cuts].sort((a, b) => a - b), total];
  const sizes: number[] = [];
  for (let i = 1; i < sorted.length; i++) sizes.push(sorted[i] - sorted[i - 1]);
  return sizes;
}

/** Work state: the flight's handshake stream and framing, edited structurally, then serialized. */
interface Work {
  hs: Uint8Array;
  sizes: number[];
  version: number;
  tail: Uint8Array;
  ops: string[];
  preserving: boolean;
  greaseAdded: number;
  notHello: string | null;
  tooLarge: boolean;
  /** The anomaly the last odd-sni edit must produce, or that edit smuggled two host_names. */
  flagged: string | null;
  smuggled: boolean;
}

function editHello(w: Work, seed: Seed, edit: (exts: { type: number; data: Uint8Array }[], prng: Prng) => string | null, prng: Prng): boolean {
  const msgs = splitHandshakes(w.hs);
  const idx = msgs.findIndex((m) => m.type === (seed.target === 'clienthello' ? 1 : 2));
  if (idx < 0) return false;
  const m = msgs[idx];
  const body = parseHelloBody(m.body, m.type === 1);
  if (!body) return false;
  const exts = [...body.exts];
  const label = edit(exts, prng);
  if (label === null) return false;
  const newMsg = handshake(m.type, serializeHelloBody({ ...body, exts }));
  w.hs = concat([w.hs.subarray(0, m.offset), newMsg, w.hs.subarray(m.offset + 4 + m.body.length)]);
  w.sizes = randomSizesLike(w.sizes, w.hs.length);
  w.ops.push(label);
  return true;
}

/** Keeps the original framing shape after the stream changed length (last record absorbs it). */
function randomSizesLike(sizes: readonly number[], total: number): number[] {
  const out: number[] = [];
  let left = total;
  for (let i = 0; i < sizes.length - 1 && left > 0; i++) {
    const n = Math.min(sizes[i], left);
    out.push(n);
    left -= n;
  }
  if (left > 0 || out.length === 0) out.push(left);
  // Keep every record legal (<= 2^14) after the stream grew.
  return out.flatMap((n) => (n <= MAX_RECORD ? [n] : Array.from({ length: Math.ceil(n / MAX_RECORD) }, (_, i) => Math.min(MAX_RECORD, n - i * MAX_RECORD))));
}

const structural: Array<{ name: string; preserving: boolean; run: (w: Work, seed: Seed, prng: Prng, all: readonly Seed[]) => boolean }> = [
  {
    name: 'reframe',
    preserving: true,
    run: (w, seed, prng) => {
      w.sizes = randomSizes(prng, w.hs.length);
      // Record version 0x0300/0x0301 on a ClientHello is legal and must be accepted.
      if (seed.target === 'clienthello' && prng.chance(0.3)) w.version = prng.pick([0x0300, 0x0301, 0x0303]);
      w.ops.push(`reframe(${w.sizes.length} records, v=${w.version.toString(16)})`);
      return true;
    },
  },
  {
    name: 'insert-grease',
    preserving: true,
    run: (w, seed, prng) => {
      if (seed.target !== 'clienthello') return false;
      const ok = editHello(
        w,
        seed,
        (exts, p) => {
          const present = new Set(exts.map((e) => e.type));
          const free = GREASE.filter((g) => !present.has(g));
          if (free.length === 0) return null;
          const type = p.pick(free);
          const at = p.int(exts.length + 1);
          exts.splice(at, 0, { type, data: p.bytes(p.int(5)) });
          return `insert-grease(0x${type.toString(16)} at ${at})`;
        },
        prng,
      );
      if (ok) w.greaseAdded++;
      return ok;
    },
  },
  {
    name: 'duplicate-extension',
    preserving: false,
    run: (w, seed, prng) => {
      let dupType = -1;
      const ok = editHello(
        w,
        seed,
        (exts, p) => {
          if (exts.length === 0) return null;
          const src = p.pick(exts);
          dupType = src.type;
          const at = p.int(exts.length + 1);
          exts.splice(at, 0, src);
          return `duplicate-extension(0x${src.type.toString(16)} at ${at})`;
        },
        prng,
      );
      if (ok && seed.target === 'clienthello') w.notHello = `extension 0x${dupType.toString(16)} twice`;
      return ok;
    },
  },
  {
    name: 'remove-extension',
    preserving: false,
    run: (w, seed, prng) =>
      editHello(
        w,
        seed,
        (exts, p) => {
          if (exts.length === 0) return null;
          const at = p.int(exts.length);
          const [gone] = exts.splice(at, 1);
          return `remove-extension(0x${gone.type.toString(16)})`;
        },
        prng,
      ),
  },
  {
    name: 'inflate-padding',
    preserving: false,
    run: (w, seed, prng) => {
      let size = 0;
      const ok = editHello(
        w,
        seed,
        (exts, p) => {
          size = p.pick([1000, 8000, 15000, 16000, 17000, 30000, 65000]) + p.int(400);
          exts.push({ type: 0x0015, data: new Uint8Array(Math.min(size, 0xffff - 1000)) });
          return `inflate-padding(${size})`;
        },
        prng,
      );
      if (!ok) return false;
      // Records carry at most 2^14 bytes each; frame legally so only the hello's size is at issue.
      const sizes: number[] = [];
      for (let left = w.hs.length; left > 0; left -= 16384) sizes.push(Math.min(16384, left));
      w.sizes = sizes;
      if (seed.target === 'clienthello' && w.hs.length > 16384 + 64) w.tooLarge = true;
      return true;
    },
  },
  {
    // A server_name read leniently (decoded and flagged) or strictly (two host_names: refused).
    name: 'odd-sni',
    preserving: false,
    run: (w, seed, prng) => {
      if (seed.target !== 'clienthello') return false;
      const kind = prng.pick(['not-ascii', 'too-long', 'bad-syntax', 'no-host-name', 'two-host-names'] as const);
      const entry = (type: number, name: Uint8Array) => [type, name.length >> 8, name.length & 0xff, ...name];
      let entries: number[];
      if (kind === 'not-ascii') entries = entry(0, enc.encode(prng.pick(['bücher.example', 'тест.example', 'a.ex\u00e4mple'])));
      else if (kind === 'too-long') entries = entry(0, enc.encode(`${'a'.repeat(62)}.`.repeat(4) + 'b'.repeat(prng.range(2, 60))));
      else if (kind === 'bad-syntax') entries = entry(0, enc.encode(prng.pick(['a..b', 'a b.example', '*.example', `${'x'.repeat(64)}.example`, 'example.com..', '.'])));
      else if (kind === 'no-host-name') entries = entry(prng.range(1, 255), enc.encode('a.example'));
      else entries = [...entry(0, enc.encode('good.example')), ...entry(0, enc.encode('evil.example'))];
      const data = Uint8Array.from([entries.length >> 8, entries.length & 0xff, ...entries]);
      const ok = editHello(
        w,
        seed,
        (exts, p) => {
          const at = exts.findIndex((e) => e.type === 0);
          if (at >= 0) exts[at] = { type: 0, data };
          else exts.splice(p.int(exts.length + 1), 0, { type: 0, data });
          return `odd-sni(${kind})`;
        },
        prng,
      );
      if (ok) {
        // Each edit replaces the previous one's server_name: only the last one counts.
        w.smuggled = kind === 'two-host-names';
        w.flagged = w.smuggled ? null : `wire/sni-${kind}`;
      }
      return ok;
    },
  },
  {
    name: 'length-edit',
    preserving: false,
    run: (w, seed, prng) => {
      const fields = lengthFields(w.hs);
      if (fields.length === 0) return false;
      const f = prng.pick(fields);
      const max = 2 ** (8 * f.size) - 1;
      const v = f.value;
      const choice = prng.pick([0, 1, v - 1, v + 1, v + 2, v - 2, v + 4, v - 4, max, max - 1, Math.floor(v / 2), v * 2, prng.int(max + 1)]);
      const nv = Math.max(0, Math.min(max, choice));
      if (nv === v) return false;
      w.hs = w.hs.slice();
      writeN(w.hs, f.offset, f.size, nv);
      w.ops.push(`length-edit(${f.name}@${f.offset}: ${v} -> ${nv})`);
      return true;
    },
  },
  {
    name: 'trailing',
    preserving: true,
    run: (w, seed, prng, all) => {
      const kind = prng.int(5);
      let extra: Uint8Array;
      let label: string;
      if (kind === 0) {
        extra = concat([recordHeader(CT_CCS, 0x0303, 1), Uint8Array.of(1)]);
        label = 'ccs';
      } else if (kind === 1) {
        const n = prng.range(1, 64);
        extra = concat([recordHeader(CT_APPDATA, 0x0303, n), prng.bytes(n)]);
        label = 'appdata';
      } else if (kind === 2) {
        extra = concat([recordHeader(CT_ALERT, 0x0303, 2), Uint8Array.of(2, 40)]);
        label = 'alert';
      } else if (kind === 3) {
        extra = prng.pick(all).bytes;
        label = 'another-flight';
      } else {
        extra = prng.bytes(prng.range(1, 32));
        label = 'garbage';
      }
      w.tail = concat([w.tail, extra]);
      w.ops.push(`trailing(${label})`);
      return true;
    },
  },
  {
    name: 'insert-handshake',
    preserving: false,
    run: (w, seed, prng) => {
      const msgs = splitHandshakes(w.hs);
      const at = prng.pick([0, ...msgs.map((m) => m.offset + 4 + m.body.length)]);
      const type = prng.pick([0, 1, 2, 4, 11, 12, 13, 14, 20, 24, 254, 255]);
      const extra = handshake(type, prng.bytes(prng.int(40)));
      w.hs = concat([w.hs.subarray(0, at), extra, w.hs.subarray(at)]);
      w.sizes = randomSizesLike(w.sizes, w.hs.length);
      w.ops.push(`insert-handshake(type ${type} at ${at})`);
      return true;
    },
  },
  {
    name: 'record-version',
    preserving: false,
    run: (w, seed, prng) => {
      w.version = prng.pick(RECORD_VERSIONS);
      w.ops.push(`record-version(0x${w.version.toString(16)})`);
      return true;
    },
  },
];

const byteLevel: Array<{ name: string; run: (b: Uint8Array, prng: Prng, ops: string[], all: readonly Seed[]) => Uint8Array }> = [
  {
    name: 'bit-flip',
    run: (b, prng, ops) => {
      if (b.length === 0) return b;
      const out = b.slice();
      const n = prng.range(1, 8);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const pos = prng.int(out.length);
        out[pos] ^= 1 << prng.int(8);
        at.push(pos);
      }
      ops.push(`bit-flip(${at.join(',')})`);
      return out;
    },
  },
  {
    name: 'interesting-byte',
    run: (b, prng, ops) => {
      if (b.length === 0) return b;
      const out = b.slice();
      const pos = prng.int(Math.min(out.length, prng.chance(0.5) ? 64 : out.length));
      out[pos] = prng.pick(INTERESTING_BYTES);
      ops.push(`byte(${pos}=0x${out[pos].toString(16)})`);
      return out;
    },
  },
  {
    name: 'truncate',
    run: (b, prng, ops) => {
      const n = prng.chance(0.3) ? prng.int(Math.min(b.length, 12) + 1) : prng.int(b.length + 1);
      ops.push(`truncate(${n}/${b.length})`);
      return b.subarray(0, n);
    },
  },
  {
    name: 'insert-bytes',
    run: (b, prng, ops) => {
      const pos = prng.int(b.length + 1);
      const extra = prng.bytes(prng.range(1, 16));
      ops.push(`insert-bytes(${extra.length} at ${pos})`);
      return concat([b.subarray(0, pos), extra, b.subarray(pos)]);
    },
  },
  {
    name: 'delete-bytes',
    run: (b, prng, ops) => {
      if (b.length === 0) return b;
      const pos = prng.int(b.length);
      const n = prng.range(1, Math.min(16, b.length - pos));
      ops.push(`delete-bytes(${n} at ${pos})`);
      return concat([b.subarray(0, pos), b.subarray(pos + n)]);
    },
  },
  {
    name: 'splice-other',
    run: (b, prng, ops, all) => {
      const other = prng.pick(all).bytes;
      const cutA = prng.int(b.length + 1);
      const cutB = prng.int(other.length + 1);
      ops.push(`splice(${cutA}|${cutB})`);
      return concat([b.subarray(0, cutA), other.subarray(cutB)]);
    },
  },
  {
    name: 'not-tls-prefix',
    run: (b, prng, ops) => {
      const p = prng.pick(NOT_TLS_PREFIXES);
      ops.push(`prefix(${JSON.stringify(new TextDecoder().decode(p.subarray(0, 8)))})`);
      return prng.chance(0.5) ? p : concat([p, b]);
    },
  },
  {
    name: 'sslv2-header',
    run: (b, prng, ops) => {
      // SSLv2-format CLIENT-HELLO: 2-byte header with the high bit set, msg type 1, version:
      // SSL 2.0 itself (refused, wire/sslv2) or SSL 3.0/TLS (decoded, wire/sslv2-compat).
      const version = prng.pick([0x0002, 0x0300, 0x0301, 0x0303]);
      const body = concat([Uint8Array.of(1, version >> 8, version & 0xff), Uint8Array.of(0, 3, 0, 0, 0, 16), Uint8Array.of(0, 0, 0x2f), prng.bytes(16)]);
      const len = prng.chance(0.8) ? body.length : prng.int(0x7fff);
      ops.push(`sslv2(len ${len})`);
      return concat([Uint8Array.of(0x80 | (len >> 8), len & 0xff), body]);
    },
  },
  {
    name: 'record-type',
    run: (b, prng, ops) => {
      if (b.length === 0) return b;
      const out = b.slice();
      out[0] = prng.pick([0, CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, 24, 0x80, 0xff]);
      ops.push(`record-type(${out[0]})`);
      return out;
    },
  },
];

/** Builds one mutant of `seed`. Deterministic in (seed, prng state). */
export function mutate(seed: Seed, prng: Prng, all: readonly Seed[]): Mutant {
  const w: Work = {
    hs: seed.flight.hs,
    sizes: [...seed.flight.recordSizes],
    version: seed.flight.recordVersion,
    tail: seed.flight.tail,
    ops: [],
    preserving: true,
    greaseAdded: 0,
    notHello: null,
    tooLarge: false,
    flagged: null,
    smuggled: false,
  };
  const onlyPreserving = prng.chance(0.2);
  const nStruct = onlyPreserving ? prng.range(1, 3) : prng.int(3);
  for (let i = 0; i < nStruct; i++) {
    const pool = onlyPreserving ? structural.filter((s) => s.preserving) : structural;
    const s = prng.pick(pool);
    if (s.run(w, seed, prng, all) && !s.preserving) w.preserving = false;
  }
  let bytes = fromFlight(seed.flight, w.hs, w.sizes, w.version);
  bytes = concat([bytes.subarray(0, bytes.length - seed.flight.tail.length), w.tail]);
  const ops = w.ops;
  let byteMutated = false;
  if (!onlyPreserving) {
    const nBytes = nStruct === 0 ? prng.range(1, 3) : prng.int(3);
    for (let i = 0; i < nBytes; i++) {
      bytes = prng.pick(byteLevel).run(bytes, prng, ops, all);
      byteMutated = true;
    }
  }
  if (ops.length === 0) ops.push('identity');
  let expect: Expectation = { kind: 'none' };
  if (!byteMutated && w.preserving) {
    expect = w.greaseAdded > 0 ? { kind: 'same-plus-grease', extraExtensions: w.greaseAdded } : { kind: 'same' };
  } else if (!byteMutated && (w.notHello !== null || w.smuggled) && onlyStructural(ops)) {
    expect = { kind: 'not-hello', why: w.notHello ?? 'two host_name entries' };
  } else if (!byteMutated && w.flagged !== null && ops.every((o) => /^(odd-sni|reframe|trailing|insert-grease)/.test(o))) {
    // The last odd-sni edit is the one the hello carries.
    expect = { kind: 'flagged', code: w.flagged };
  } else if (!byteMutated && w.tooLarge && ops.every((o) => /^(inflate-padding|reframe|trailing|insert-grease)/.test(o))) {
    expect = { kind: 'too-large' };
  }
  // More records than the readers' documented bound: a legal stream, refused as too large.
  if (expect.kind === 'same' || expect.kind === 'same-plus-grease') {
    // (A server flight may end before its last record, so only the hello's count is exact.)
    if (w.sizes.length > DEFAULT_MAX_RECORDS) expect = seed.target === 'clienthello' ? { kind: 'too-large' } : { kind: 'none' };
  }
  return { bytes, ops, expect };
}

function onlyStructural(ops: readonly string[]): boolean {
  // A duplicate is only a certain "not a hello" when nothing else (a length edit, a removed
  // duplicate) could have changed what the reader sees first.
  return ops.every((o) => o.startsWith('duplicate-extension') || o.startsWith('odd-sni') || o.startsWith('reframe') || o.startsWith('trailing') || o.startsWith('insert-grease'));
}

/**
 * Chunk boundaries for split-push: how the bytes arrive as TCP reads. Returns the chunks'
 * end offsets (the last is bytes.length). Sometimes one byte per read, the slowest client.
 */
export function randomSplits(prng: Prng, length: number): number[] {
  if (length === 0) return [0];
  if (length <= 4096 && prng.chance(0.03)) return Array.from({ length }, (_, i) => i + 1);
  const k = prng.range(1, Math.min(12, length));
  const cuts = new Set<number>([length]);
  while (cuts.size < k) cuts.add(prng.range(1, length));
  return [...cuts].sort((a, b) => a - b);
}

export function chunksOf(bytes: Uint8Array, ends: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const e of ends) {
    out.push(bytes.subarray(start, e));
    start = e;
  }
  return out;
}
