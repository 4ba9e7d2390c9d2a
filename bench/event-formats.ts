// What a connection event costs the proxy by format and destination, in one run: the real
// `peekwall run` process with `events:` a JSON-lines file, then FTD syslog to a UDP collector on
// loopback (a child process counting datagrams, so it takes no CPU from the client here),
// alternating per round so drift hits
// both alike. Each connection sends a recorded ClientHello that a logged Block rule resets: one
// event each. Measured: the peekwall process's CPU time (utime+stime from /proc) from the first
// connection until /metrics says every event was written, per connection; medians over rounds.
//   node dist/bench/event-formats.js [--connections 5000] [--rounds 5] [--concurrency 32]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numArgs } from './rel-lib.js';
import { accounted, sendHellos, startPeekwallRun } from './lib/run-process.js';

const POLICY = 'name: logged-block\nsettings:\n  tsid: { enabled: false }\nrules:\n  - name: BLOCK_ALL\n    action: Block with reset\n    logging: { beginning: true }\n';

function cpuMs(pid: number): number {
  // /proc/PID/stat fields 14 and 15 (utime, stime) in clock ticks (100 per second on Linux).
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const a = numArgs({ connections: 5000, rounds: 5, concurrency: 32 });
  const collector = spawn(
    process.execPath,
    ['-e', "const s=require('node:dgram').createSocket('udp4');let n=0;s.on('message',()=>n++);s.bind(0,'127.0.0.1',()=>console.log(s.address().port));process.stdin.on('end',()=>{console.log(n);process.exit(0)});process.stdin.resume();"],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  collector.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
  const udpPort = Number(out.trim());
  const modes = [
    { name: 'jsonl to a file', events: (dir: string) => join(dir, 'events.jsonl'), config: '' },
    { name: 'ftd-syslog to udp', events: () => `udp://127.0.0.1:${udpPort}`, config: 'eventsFormat: ftd-syslog\n' },
  ];
  const results: Record<string, { cpuUsPerConn: number[]; wallMs: number[]; dropped: number }> = {};
  for (const m of modes) results[m.name] = { cpuUsPerConn: [], wallMs: [], dropped: 0 };
  for (let round = 0; round < a.rounds; round++) {
    const order = round % 2 === 0 ? modes : [...modes].reverse();
    for (const m of order) {
      const dir = mkdtempSync(join(tmpdir(), 'pw-bench-fmt-'));
      const pw = await startPeekwallRun({ dir, events: m.events(dir), drainMs: 2000, stdout: 'ignore', policyYaml: POLICY, configYaml: m.config });
      try {
        // Warm-up: JIT and first-open costs are not per-connection costs.
        await sendHellos(pw.port, 200, a.concurrency);
        await accounted(pw, 200);
        const c0 = cpuMs(pw.child.pid!);
        const t0 = performance.now();
        await sendHellos(pw.port, a.connections, a.concurrency);
        const mtr = await accounted(pw, 200 + a.connections, 30_000);
        const wall = performance.now() - t0;
        const cpu = cpuMs(pw.child.pid!) - c0;
        results[m.name].cpuUsPerConn.push((cpu * 1000) / a.connections);
        results[m.name].wallMs.push(wall);
        results[m.name].dropped += mtr.peekwall_events_dropped_total ?? 0;
      } finally {
        await pw.term(5000);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const counted = new Promise<void>((r) => collector.once('exit', () => r()));
  collector.stdin!.end();
  await counted;
  const datagrams = Number(out.trim().split('\n')[1]);
  console.log(`event formats: ${a.connections} connections x ${a.rounds} rounds, concurrency ${a.concurrency}; peekwall process CPU per connection (median), wall per round (median)`);
  for (const m of modes) {
    const r = results[m.name];
    console.log(`  ${m.name.padEnd(20)} cpu ${median(r.cpuUsPerConn).toFixed(0).padStart(5)} us/conn  wall ${median(r.wallMs).toFixed(0).padStart(6)} ms  dropped ${r.dropped}  (rounds: ${r.cpuUsPerConn.map((x) => x.toFixed(0)).join(', ')} us)`);
  }
  console.log(`  udp datagrams received by the collector: ${datagrams}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
