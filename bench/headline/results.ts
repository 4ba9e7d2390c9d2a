// The results file (bench/results/<date>.json): its shape, and the arithmetic over the runs —
// per-target medians and the per-round ratios (pairs measured minutes apart never mix).
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { median, round } from '../lib/stats.js';
import type { BenchOptions } from './options.js';
import { PATHS, RATIOS, type Kind, type RatioDef, type TargetName } from './paths.js';

export const RESULTS_SCHEMA = 'peekwall-bench/1';

export interface RunRecord {
  round: number;
  path: string;
  target: TargetName;
  /** ops/s: requests/s (keep-alive), connections with one request/s, or refusals/s. */
  rate: number;
  ops: number;
  errors: number;
  durationS: number;
  p50Ms: number | null;
  p99Ms: number | null;
  endings?: Record<string, number>;
  /** CPU seconds during this run, per process role. */
  cpuS: { loadgen: number; upstream: number; middlebox: number; middleboxUser: number; middleboxSys: number };
  /** Middlebox CPU microseconds per op (null for direct). */
  middleboxCpuUsPerOp: number | null;
  loadavg1: number;
}

export interface MedianRecord {
  path: string;
  target: TargetName;
  rounds: number;
  rate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  middleboxCpuUsPerOp: number | null;
  /** Share of the middlebox's CPU spent in the kernel (loopback TCP, syscalls). */
  middleboxSysShare: number | null;
  errors: number;
}

export interface RatioRecord {
  id: string;
  title: string;
  /** Median over rounds of the per-round ratio (pairs measured minutes apart never mix). */
  value: number | null;
  perRound: (number | null)[];
  /** The same ratio in CPU per op: den's µs/op over num's (> 1: num spends less CPU). */
  cpuEfficiency: number | null;
  goal: number | null;
  met: boolean | null;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  date: string;
  command: string;
  machine: { nproc: number; cpuModel: string; node: string; kernel: string; memGiB: number; tcpTwReuse: string; loadavgStart: number[]; loadavgEnd: number[] };
  options: Omit<BenchOptions, 'outDir' | 'cpuProfDir'> & { cpuProf: boolean };
  upstream: { kind: string; version: string; cert: string; keyType: string; bodyBytes: number };
  peers: Record<string, { version: string } | { skipped: string }>;
  proxyConfigs: Record<string, { tsid: string; siEntries: number; policyLoadMs: number | null }>;
  paths: { id: string; key: string; title: string; kind: Kind; unit: string; targets: TargetName[] }[];
  runs: RunRecord[];
  medians: MedianRecord[];
  ratios: RatioRecord[];
  peakRssMiB: Record<string, number>;
  cpuTotalS: Record<string, number>;
  proxyStats: Record<string, Record<string, number> | null>;
  notes: string[];
  wallS: number;
}

/** The medians over every round of one path through one target. */
export function medianOf(runs: readonly RunRecord[], path: string, target: TargetName): MedianRecord {
  const rs = runs.filter((r) => r.path === path && r.target === target);
  return {
    path,
    target,
    rounds: rs.length,
    rate: round(median(rs.map((r) => r.rate)), 1),
    p50Ms: round(median(rs.map((r) => r.p50Ms ?? Number.NaN))),
    p99Ms: round(median(rs.map((r) => r.p99Ms ?? Number.NaN))),
    middleboxCpuUsPerOp: round(median(rs.map((r) => r.middleboxCpuUsPerOp ?? Number.NaN)), 1),
    middleboxSysShare: round(median(rs.map((r) => (r.cpuS.middlebox > 0 ? r.cpuS.middleboxSys / r.cpuS.middlebox : Number.NaN))), 2),
    errors: rs.reduce((s, r) => s + r.errors, 0),
  };
}

export function computeRatios(runs: readonly RunRecord[], rounds: number): RatioRecord[] {
  const defs: RatioDef[] = [...RATIOS];
  // A/B runs (--compare-build): build B over build A on every path both ran.
  for (const p of PATHS) {
    if (runs.some((r) => r.path === p.id && r.target === 'peekwall-b')) {
      defs.push({ id: `b-vs-a-${p.key}`, title: `A/B path ${p.id}: peekwall-b / peekwall`, num: { path: p.id, target: 'peekwall-b' }, den: { path: p.id, target: 'peekwall' }, goal: null });
    }
  }
  const at = (rd: number, p: { path: string; target: TargetName }): RunRecord | undefined =>
    runs.find((r) => r.round === rd && r.path === p.path && r.target === p.target);
  const out: RatioRecord[] = [];
  for (const d of defs) {
    const perRound: (number | null)[] = [];
    const cpu: number[] = [];
    for (let rd = 1; rd <= rounds; rd++) {
      const a = at(rd, d.num);
      const b = at(rd, d.den);
      let v: number | null = a && b && b.rate > 0 ? a.rate / b.rate : null;
      if (v !== null && d.norm) {
        const na = at(rd, d.norm.num);
        const nb = at(rd, d.norm.den);
        v = na && nb && na.rate > 0 && nb.rate > 0 ? v / (na.rate / nb.rate) : null;
      }
      perRound.push(round(v));
      if (!d.norm && a?.middleboxCpuUsPerOp && b?.middleboxCpuUsPerOp) cpu.push(b.middleboxCpuUsPerOp / a.middleboxCpuUsPerOp);
    }
    if (perRound.every((v) => v === null)) continue;
    const value = round(median(perRound.map((v) => v ?? Number.NaN)));
    out.push({
      id: d.id,
      title: d.title,
      value,
      perRound,
      cpuEfficiency: round(median(cpu)),
      goal: d.goal,
      met: d.goal === null || value === null ? null : value >= d.goal,
    });
  }
  return out;
}

export function round3(x: number): number {
  return round(x, 3) ?? 0;
}

/** The machine the run measured on (the figures mean little without it). */
export function machine(): BenchResults['machine'] {
  let tw = 'unknown';
  try {
    tw = readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse', 'utf8').trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
    memGiB: round(totalmem() / 2 ** 30, 1) ?? 0,
    tcpTwReuse: tw,
    loadavgStart: loadavg().map((x) => round(x, 2) ?? 0),
    loadavgEnd: [],
  };
}
