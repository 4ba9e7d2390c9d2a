// `peekwall replay` throughput and memory on a large synthetic capture, run as a user runs it.
//   node dist/bench/replay.js [--mb 200] [--concurrent 1000] [--tsid off|on] [--keep FILE] [--json-only]
// Writes a pcap of --mb megabytes to a temp dir (removed after): TLS flows of ~5 KB each, as in
// the target (1 GB holding 200,000 TLS flows), `--concurrent` of them interleaved at a
// time — real ClientHellos (SNI, no SNI) and server flights (a TLS 1.2 chain, TLS 1.3) from the
// ground-truth fixtures, then application data both ways and FIN/ACK. Then runs the CLI's
// `replay FILE --policy policies/smart-licensing.yaml --json` in a child process (stdout to a
// temp file) and reports MB/s (file size / the child's wall time, start-up included) and the
// child's peak RSS. Targets (issue 17): >= 100 MB/s and <= 300 MB RSS.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromRoot } from './lib/root.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};

// ---- the child: one replay run, its own clock and peak RSS ------------------------------

if (args[0] === '--child') {
  const [, file, out, tsid, mode] = args;
  const { main } = await import('../src/cli/main.js');
  const { createWriteStream } = await import('node:fs');
  const { PassThrough, Readable } = await import('node:stream');
  const sink = createWriteStream(out);
  const err = new PassThrough();
  let stderr = '';
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const code = await main(['replay', file, '--policy', fromRoot('policies', 'smart-licensing.yaml'), '--tsid', tsid, ...(mode === 'json' ? ['--json'] : [])], {
    stdout: sink,
    stderr: err,
    stdin: Readable.from([]),
    cwd: process.cwd(),
    env: process.env,
  });
  await new Promise<void>((ok) => sink.end(ok));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(`${JSON.stringify({ code, ms, cpuMs, maxRssKb: process.resourceUsage().maxRSS, stderr: stderr.slice(0, 500) })}\n`);
  process.exit(0);
}

// ---- the capture ------------------------------------------------------------------------

const MB = Number(opt('--mb', '200'));
const CONCURRENT = Number(opt('--concurrent', '1000'));
const TSID = opt('--tsid', 'off');
const KEEP = opt('--keep', '');
const JSON_ONLY = args.includes('--json-only');

const fixture = (sub: string, name: string) => readFileSync(fromRoot('test', 'fixtures', 'shared', sub, name));
const HELLO_SNI = fixture('clienthello', 'openssl-default-sni.bin');
const HELLO_NOSNI = fixture('clienthello', 'openssl-noservername.bin');
const FLIGHT_12 = fixture('serverflight', 'first-san-differs-from-cn-cisco-like.tls12.bin');
const FLIGHT_13 = fixture('serverflight', 'cn-only-tls13-encrypted.tls13.bin');

interface Pkt {
  fromClient: boolean;
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
}

/** One flow's packets (SYN .. last ACK): a template, patched per flow with its addresses. */
function flowTemplate(hello: Buffer, flight: Buffer): Pkt[] {
  const c0 = 1000;
  const s0 = 5000;
  let c = c0 + 1;
  let s = s0 + 1;
  const p: Pkt[] = [
    { fromClient: true, seq: c0, ack: 0, flags: 0x02, payload: Buffer.alloc(0) },
    { fromClient: false, seq: s0, ack: c, flags: 0x12, payload: Buffer.alloc(0) },
    { fromClient: true, seq: c, ack: s, flags: 0x10, payload: Buffer.alloc(0) },
  ];
  const send = (fromClient: boolean, payload: Buffer) => {
    if (fromClient) {
      p.push({ fromClient, seq: c, ack: s, flags: 0x18, payload });
      c += payload.length;
    } else {
      p.push({ fromClient, seq: s, ack: c, flags: 0x18, payload });
      s += payload.length;
    }
  };
  send(true, hello);
  for (let o = 0; o < flight.length; o += 1448) send(false, flight.subarray(o, o + 1448));
  // Application data (TLS records of junk), so a flow weighs ~5 KB as in the target.
  const app = Buffer.alloc(1200, 0x5a);
  app.writeUInt8(23, 0);
  app.writeUInt16BE(0x0303, 1);
  app.writeUInt16BE(app.length - 5, 3);
  send(true, app);
  send(false, app);
  send(false, app);
  p.push({ fromClient: true, seq: c, ack: s, flags: 0x11, payload: Buffer.alloc(0) });
  p.push({ fromClient: false, seq: s, ack: c + 1, flags: 0x11, payload: Buffer.alloc(0) });
  p.push({ fromClient: true, seq: c + 1, ack: s + 1, flags: 0x10, payload: Buffer.alloc(0) });
  return p;
}

/** A pcap record (Ethernet, IPv4, TCP) for one packet; addresses patched in by `frame`. */
function frame(t: Pkt, client: number, cport: number, timeUs: number): Buffer {
  const ipLen = 20 + 20 + t.payload.length;
  const b = Buffer.alloc(16 + 14 + ipLen);
  b.writeUInt32LE(Math.floor(timeUs / 1e6), 0);
  b.writeUInt32LE(timeUs % 1e6, 4);
  b.writeUInt32LE(14 + ipLen, 8);
  b.writeUInt32LE(14 + ipLen, 12);
  b.writeUInt16BE(0x0800, 16 + 12);
  const ip = 16 + 14;
  b[ip] = 0x45;
  b.writeUInt16BE(ipLen, ip + 2);
  b[ip + 8] = 64;
  b[ip + 9] = 6;
  const server = 0x48a30426; // 72.163.4.38
  b.writeUInt32BE(t.fromClient ? client : server, ip + 12);
  b.writeUInt32BE(t.fromClient ? server : client, ip + 16);
  const tcp = ip + 20;
  b.writeUInt16BE(t.fromClient ? cport : 443, tcp);
  b.writeUInt16BE(t.fromClient ? 443 : cport, tcp + 2);
  b.writeUInt32BE(t.seq >>> 0, tcp + 4);
  b.writeUInt32BE(t.ack >>> 0, tcp + 8);
  b[tcp + 12] = 5 << 4;
  b[tcp + 13] = t.flags;
  b.writeUInt16BE(65535, tcp + 14);
  t.payload.copy(b, tcp + 20);
  return b;
}

function writeCapture(file: string, bytes: number): { flows: number; packets: number } {
  // Half the flows name their server (SNI, TLS 1.2 chain), a quarter are the field case's
  // no-SNI TLS 1.2, a quarter negotiate TLS 1.3 (no certificate in clear).
  const kinds = [flowTemplate(HELLO_SNI, FLIGHT_12), flowTemplate(HELLO_NOSNI, FLIGHT_12), flowTemplate(HELLO_SNI, FLIGHT_12), flowTemplate(HELLO_SNI, FLIGHT_13)];
  const fd = openSync(file, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  let written = header.length;
  let flows = 0;
  let packets = 0;
  let timeUs = 1_767_225_600_000_000; // 2026-01-01
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = () => {
    writeSync(fd, Buffer.concat(pending, pendingBytes));
    pending.length = 0;
    pendingBytes = 0;
  };
  while (written < bytes) {
    // A batch of CONCURRENT flows, their packets interleaved round-robin.
    const batch: { t: Pkt[]; client: number; cport: number }[] = [];
    for (let i = 0; i < CONCURRENT; i++, flows++) {
      batch.push({ t: kinds[flows % kinds.length], client: 0x0a000000 + (flows >>> 14), cport: 20000 + (flows & 0x3fff) });
    }
    const longest = Math.max(...kinds.map((k) => k.length));
    // Whole batches: every flow written ends (the size bound is checked between batches).
    for (let p = 0; p < longest; p++) {
      for (const f of batch) {
        if (p >= f.t.length) continue;
        const b = frame(f.t[p], f.client, f.cport, timeUs++);
        pending.push(b);
        pendingBytes += b.length;
        written += b.length;
        packets++;
        if (pendingBytes > 1 << 22) flush();
      }
    }
  }
  flush();
  closeSync(fd);
  return { flows, packets };
}

interface ChildResult {
  code: number;
  ms: number;
  cpuMs: number;
  maxRssKb: number;
  stderr: string;
}

function runChild(file: string, out: string, mode: 'table' | 'json'): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const self = fileURLToPath(import.meta.url);
    const c = spawn(process.execPath, [self, '--child', file, out, TSID, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    c.stdout.on('data', (d: Buffer) => (text += d.toString()));
    c.on('error', reject);
    c.on('exit', () => {
      try {
        resolve(JSON.parse(text.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`no result from the replay child: ${text.slice(-300)}`));
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'peekwall-bench-replay-'));
try {
  const file = KEEP || join(dir, 'synthetic.pcap');
  const g0 = Date.now();
  const made = writeCapture(file, MB * 1024 * 1024);
  const size = statSync(file).size;
  const genMs = Date.now() - g0;
  const mb = size / 1024 / 1024;
  const runs: Record<string, unknown>[] = [];
  let summary: Record<string, unknown> = {};
  // The table (what `peekwall replay` prints by default) and --json (events with JA3/JA4).
  for (const mode of ['table', 'json'] as const) {
    const out = join(dir, `replay.${mode}`);
    const r = await runChild(file, out, mode);
    if (mode === 'json') {
      // The work was real: the output's summary counts every flow, evaluated or named.
      const tail = readFileSync(out, 'utf8').slice(-2000);
      summary = JSON.parse(tail.slice(tail.lastIndexOf('"summary":') + 10, tail.lastIndexOf(',"problems":'))) as Record<string, unknown>;
    } else {
      summary = { tableLines: readFileSync(out, 'utf8').split('\n').length };
    }
    rmSync(out, { force: true });
    runs.push({
      mode,
      exitCode: r.code,
      replayMs: Math.round(r.ms),
      mbPerSec: Math.round((mb / (r.ms / 1000)) * 10) / 10,
      // CPU time of the process (user + system, GC threads included).
      cpuMs: Math.round(r.cpuMs),
      // Less sensitive to other processes on a shared machine than the wall-clock figure.
      mbPerCpuSec: Math.round((mb / (r.cpuMs / 1000)) * 10) / 10,
      maxRssMb: Math.round(r.maxRssKb / 1024),
      loadAverage: Math.round(loadavg()[0] * 100) / 100,
      summary,
    });
  }
  const result = {
    schema: 'peekwall-bench-replay/1',
    command: `node dist/bench/replay.js --mb ${MB} --concurrent ${CONCURRENT} --tsid ${TSID}`,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    node: process.version,
    captureBytes: size,
    flowsWritten: made.flows,
    packets: made.packets,
    generateMs: genMs,
    runs,
  };
  if (!JSON_ONLY) {
    process.stdout.write(`replay: ${mb.toFixed(0)} MB, ${made.flows} flows (${CONCURRENT} interleaved), ${made.packets} packets, TSID ${TSID}; targets >= 100 MB/s, <= 300 MB\n`);
    for (const r of runs) {
      process.stdout.write(`  ${String(r.mode).padEnd(6)} ${r.mbPerSec} MB/s (${r.replayMs} ms wall; ${r.mbPerCpuSec} MB per CPU-second), peak RSS ${r.maxRssMb} MB, exit ${r.exitCode}, load average ${r.loadAverage}\n`);
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
