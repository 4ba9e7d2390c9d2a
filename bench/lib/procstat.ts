// CPU time and peak memory of other processes, read from /proc (Linux). The bench runs the
// proxy, the upstream and the peers in their own processes so that each one's CPU can be
// charged to it; /proc works the same for a Node child, HAProxy and nginx's worker tree.
import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat. 100 on every Linux we target. */
const CLOCK_TICKS = 100;

export interface ProcSample {
  /** User + system CPU seconds consumed so far (the whole process tree when asked). */
  readonly cpuS: number;
  /** The user / kernel split of cpuS: loopback TCP work is kernel time, JS is user time. */
  readonly userS: number;
  readonly sysS: number;
  /** Peak resident set (VmHWM), in MiB, summed over the tree. */
  readonly peakRssMiB: number;
  readonly pids: readonly number[];
}

function readStat(pid: number): { ppid: number; ticks: number; utime: number; stime: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: the fields we want follow the LAST ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] = state (field 3), so field N is rest[N - 3].
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { ppid, ticks: utime + stime, utime, stime };
}

function readHwmKiB(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const at = text.indexOf('VmHWM:');
    if (at < 0) return 0;
    return Number.parseInt(text.slice(at + 6).trim(), 10) || 0;
  } catch {
    return 0;
  }
}

/** pid plus all its descendants (nginx master + worker). Bounded by /proc's size. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pid];
  }
  for (const e of entries) {
    const n = Number(e);
    if (!Number.isInteger(n) || n <= 0) continue;
    const st = readStat(n);
    if (st) parentOf.set(n, st.ppid);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length && i < 10_000; i++) {
    for (const [child, parent] of parentOf) if (parent === tree[i] && !tree.includes(child)) tree.push(child);
  }
  return tree;
}

/** CPU seconds and peak RSS of `pids` (pass processTree(pid) for multi-process servers). */
export function sample(pids: readonly number[]): ProcSample {
  let user = 0;
  let sys = 0;
  let hwm = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (st) {
      user += st.utime;
      sys += st.stime;
    }
    hwm += readHwmKiB(pid);
  }
  return { cpuS: (user + sys) / CLOCK_TICKS, userS: user / CLOCK_TICKS, sysS: sys / CLOCK_TICKS, peakRssMiB: Math.round((hwm / 1024) * 10) / 10, pids };
}

/** This process: process.cpuUsage is finer-grained than /proc's 10 ms ticks. */
export function selfCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
