// The measuring itself: a warm-up through every target, then interleaved rounds, each run
// charged with the CPU seconds every process spent during it (read from /proc).
import { loadavg } from 'node:os';
import { connectionLoop, keepAlive, type LoadResult, type Target } from '../lib/loadgen.js';
import { processTree, sample, selfCpuS } from '../lib/procstat.js';
import type { Running } from '../lib/servers.js';
import { round } from '../lib/stats.js';
import { wrkKeepAlive } from '../lib/wrk.js';
import type { BenchOptions } from './options.js';
import { UNIT, type PathDef, type TargetName } from './paths.js';
import { fmt } from './report.js';
import { round3, type RunRecord } from './results.js';
import { BLOCKED_SNI, HOST, processOf, targetsFor, type Stack } from './stack.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(path: PathDef, target: TargetName, port: number, sniName: string, o: BenchOptions, durationS: number): Promise<LoadResult> {
  const t: Target = {
    host: HOST,
    port,
    servername: path.sni === 'allowed' ? sniName : path.sni === 'blocked' ? BLOCKED_SNI : null,
    ...(path.maxVersion ? { maxVersion: path.maxVersion } : {}),
  };
  if (path.loadgen === 'wrk') return wrkKeepAlive(port, { durationS, connections: o.connections });
  if (path.kind === 'keepalive') return keepAlive(t, { durationS, connections: o.connections });
  return connectionLoop(t, { durationS, concurrency: o.concurrency, expectRefusal: path.kind === 'blocked' });
}

/** JIT, TLS session machinery, and the TSID identity cache (path 3). */
export async function warmUp(selected: readonly PathDef[], stack: Stack, sniName: string, o: BenchOptions): Promise<void> {
  if (o.warmupS <= 0) return;
  for (const path of selected) {
    for (const target of targetsFor(path, stack)) {
      await measure(path, target, processOf(path, target, stack).port, sniName, o, o.warmupS);
    }
  }
}

/** Every selected path through every target, o.rounds times. Order within a round alternates
 * (ABBA) so slow drift of the machine's load does not favour whichever target always goes first. */
export async function runRounds(selected: readonly PathDef[], stack: Stack, sniName: string, o: BenchOptions, log: (s: string) => void): Promise<RunRecord[]> {
  const pidsOf = new Map<Running, number[]>();
  const pids = (r: Running): number[] => {
    let p = pidsOf.get(r);
    if (!p) {
      p = r.tree ? processTree(r.pid) : [r.pid];
      pidsOf.set(r, p);
    }
    return p;
  };
  const upPids = (): number[] => pids(stack.upstream);
  const runs: RunRecord[] = [];
  for (let rd = 1; rd <= o.rounds; rd++) {
    for (const path of selected) {
      const targets = targetsFor(path, stack);
      if (rd % 2 === 0) targets.reverse();
      for (const target of targets) {
        const mid = processOf(path, target, stack);
        const midPids = target === 'direct' ? [] : pids(mid);
        const m0 = sample(midPids);
        const before = { self: selfCpuS(), up: sample(upPids()).cpuS, mid: m0.cpuS };
        const r = await measure(path, target, mid.port, sniName, o, o.durationS);
        const m1 = sample(midPids);
        const after = { self: selfCpuS(), up: sample(upPids()).cpuS, mid: m1.cpuS };
        const midCpu = after.mid - before.mid;
        const rec: RunRecord = {
          round: rd,
          path: path.id,
          target,
          rate: round3(r.rate),
          ops: r.ops,
          errors: r.errors,
          durationS: round3(r.durationS),
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          ...(r.endings ? { endings: r.endings } : {}),
          cpuS: { loadgen: round3(after.self - before.self), upstream: round3(after.up - before.up), middlebox: round3(midCpu), middleboxUser: round3(m1.userS - m0.userS), middleboxSys: round3(m1.sysS - m0.sysS) },
          middleboxCpuUsPerOp: target === 'direct' || r.ops === 0 ? null : round((midCpu * 1e6) / r.ops, 1),
          loadavg1: round(loadavg()[0], 2) ?? 0,
        };
        runs.push(rec);
        log(`round ${rd} path ${path.id.padEnd(2)} ${target.padEnd(8)} ${fmt(rec.rate).padStart(9)} ${UNIT[path.kind]}  errors ${rec.errors}`);
        await sleep(o.settleMs);
      }
    }
  }
  return runs;
}
