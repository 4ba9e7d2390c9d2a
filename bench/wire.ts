// Micro-benchmark of the ClientHello reader (the per-connection hot path).
//   node dist/bench/wire.js [--json-only] [--samples N] [--batch N]
// Each case is timed in batches (hrtime.bigint around `batch` parses) to keep the clock's
// own cost out of sub-microsecond figures; the figure is the median batch / batch size.
// Bounded: warm-up + `samples` batches per case, whatever the machine's speed.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { ClientHelloReader, ja3, ja4, readClientHello, type HelloReadResult } from '../src/wire/index.js';
import { fromRoot } from './lib/root.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SAMPLES = opt('--samples', 200);
const BATCH = opt('--batch', 500);
const WARMUP = 20_000;

const fixture = (name: string) => new Uint8Array(readFileSync(fromRoot('test', 'fixtures', 'shared', 'clienthello', `${name}.bin`)));

// Small: OpenSSL s_client's hello, 321 bytes, one record, one read.
const small = fixture('openssl-default-sni');

// Large: Chromium-size (~1.8 KB) — the OpenSSL hello grown by a 1,500-byte padding extension
// (Chromium's size comes from its ML-KEM key share, equally opaque to the reader), re-framed
// into 2 TLS records (1,200 + rest) and delivered in 2 TCP reads split at one MSS (1,448).
function buildLarge(): { chunks: Uint8Array[]; bytes: Uint8Array } {
  const hs = small.subarray(5); // one record in the fixture: its payload is the handshake
  const pad = 1500;
  const grown = new Uint8Array(hs.length + 4 + pad);
  grown.set(hs);
  grown.set([0x00, 0x15, pad >> 8, pad & 0xff], hs.length); // padding (21), zeros follow
  const bodyLen = grown.length - 4;
  grown[1] = bodyLen >> 16;
  grown[2] = (bodyLen >> 8) & 0xff;
  grown[3] = bodyLen & 0xff;
  // The extensions block is the last thing in the hello: its length sits right before it.
  // Locate it by walking the fixed fields (session id, ciphers, compression).
  let p = 4 + 34;
  p += 1 + grown[p];
  p += 2 + ((grown[p] << 8) | grown[p + 1]);
  p += 1 + grown[p];
  const extLen = ((grown[p] << 8) | grown[p + 1]) + 4 + pad;
  grown[p] = extLen >> 8;
  grown[p + 1] = extLen & 0xff;
  const cut = 1200;
  const rec = (part: Uint8Array) => [0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff, ...part];
  const bytes = Uint8Array.from([...rec(grown.subarray(0, cut)), ...rec(grown.subarray(cut))]);
  return { bytes, chunks: [bytes.subarray(0, 1448), bytes.subarray(1448)] };
}
const large = buildLarge();

let sink = 0;
function useResult(r: HelloReadResult): void {
  if (r.kind !== 'hello') throw new Error(`bench input did not parse: ${r.kind}`);
  sink += r.hello.sni?.length ?? 0;
}

interface Case {
  name: string;
  bytes: number;
  run: () => void;
}

const cases: Case[] = [
  { name: 'small one-shot (readClientHello)', bytes: small.length, run: () => useResult(readClientHello(small)) },
  { name: 'small via reader (1 push)', bytes: small.length, run: () => useResult(new ClientHelloReader().push(small)) },
  {
    name: 'large reader (2 reads, 2 records)',
    bytes: large.bytes.length,
    run: () => {
      const rd = new ClientHelloReader();
      rd.push(large.chunks[0]);
      useResult(rd.push(large.chunks[1]));
    },
  },
  { name: 'large one-shot (2 records)', bytes: large.bytes.length, run: () => useResult(readClientHello(large.bytes)) },
  {
    name: 'small + ja3 + ja4',
    bytes: small.length,
    run: () => {
      const r = readClientHello(small);
      if (r.kind !== 'hello') throw new Error('no hello');
      sink += ja3(r.hello).hash.length + ja4(r.hello).ja4.length;
    },
  },
  {
    name: 'large reader + ja3 + ja4',
    bytes: large.bytes.length,
    run: () => {
      const rd = new ClientHelloReader();
      rd.push(large.chunks[0]);
      const r = rd.push(large.chunks[1]);
      if (r.kind !== 'hello') throw new Error('no hello');
      sink += ja3(r.hello).hash.length + ja4(r.hello).ja4.length;
    },
  },
];

function measure(c: Case): { medianNs: number; p10Ns: number; p90Ns: number } {
  for (let i = 0; i < WARMUP; i++) c.run();
  const per: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) c.run();
    per.push(Number(process.hrtime.bigint() - t0) / BATCH);
  }
  per.sort((a, b) => a - b);
  const at = (q: number) => per[Math.min(per.length - 1, Math.floor(q * per.length))];
  return { medianNs: at(0.5), p10Ns: at(0.1), p90Ns: at(0.9) };
}

const TARGET_NS: Record<string, number> = {
  'small one-shot (readClientHello)': 2000,
  'small via reader (1 push)': 2000,
  'large reader (2 reads, 2 records)': 5000,
  'large one-shot (2 records)': 5000,
};

const results = cases.map((c) => ({ case: c.name, bytes: c.bytes, ...measure(c), targetNs: TARGET_NS[c.name] ?? null }));
const round = (n: number) => Math.round(n);
if (!args.includes('--json-only')) {
  const rows = results.map((r) => [
    r.case.padEnd(36),
    String(r.bytes).padStart(5),
    String(round(r.medianNs)).padStart(8),
    String(round(r.p10Ns)).padStart(7),
    String(round(r.p90Ns)).padStart(7),
    r.targetNs === null ? '' : r.medianNs <= r.targetNs ? `<= ${r.targetNs} ok` : `> ${r.targetNs} MISSED`,
  ].join('  '));
  console.log(`${'case'.padEnd(36)}  bytes  median ns  p10 ns  p90 ns  target`);
  for (const row of rows) console.log(row);
}
console.log(JSON.stringify({
  schema: 'peekwall-bench-wire/1',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  samples: SAMPLES,
  batch: BATCH,
  warmup: WARMUP,
  results: results.map((r) => ({ ...r, medianNs: round(r.medianNs), p10Ns: round(r.p10Ns), p90Ns: round(r.p90Ns) })),
  sink: sink > 0,
}));
