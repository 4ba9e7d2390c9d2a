// The proxy under the reliability load scripts (slow-clients, soak, reload-under-load), in its
// own process so its file descriptors, RSS and CPU are its own. IPC, one JSON message each:
//   parent -> child: {type:'stats'} | {type:'reload', yaml} | {type:'stall'} | {type:'close', drainMs?}
//   child -> parent: {type:'ready', port} | {type:'stats', ...} | {type:'reloaded', ok, error?}
//                    | {type:'stall', gapMs, eldMaxMs, cpuMs?, waitMs?, cpuGapMs?} | {type:'closed', ms}
// With `policyDir` the policy goes through a file, as `peekwall run` loads it (feeds named in
// it are read from disk): each reload writes the YAML to a file there and loads that file in
// the loader's worker thread as `peekwall run` does (loader 'worker'), or with loadPolicyFile
// on the event loop (loader 'inline', how run reloaded before the worker).
// A 1 ms heartbeat measures the event loop's longest stall ('stall' answers it and resets).
// Run with --expose-gc so 'stats' measures memory after a full collection.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parsePolicy, type Policy } from '../src/policy/index.js';
import { loadPolicyFile } from '../src/sources/index.js';
import { loadPolicyInWorker, startProxy } from '../src/proxy/index.js';

interface ChildConfig {
  policyYaml: string;
  upstream: { host: string; port: number };
  policyDir?: string;
  loader?: 'worker' | 'inline';
  /** Run the heartbeat (a 1 ms timer costs the other scripts' figures a little CPU). */
  stallMonitor?: boolean;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const send = (m: Record<string, unknown>) => process.send?.(m);

async function policyOf(yaml: string): Promise<Policy> {
  if (cfg.policyDir === undefined) {
    const r = parsePolicy(yaml, { file: 'load.yaml', baseDir: process.cwd() });
    if (!r.ok) throw new Error(r.error.map((e) => `${e.line}: ${e.message}`).join('; '));
    return r.value;
  }
  const file = join(cfg.policyDir, 'policy.yaml');
  writeFileSync(file, yaml);
  const r = cfg.loader === 'inline' ? await loadPolicyFile(file) : await loadPolicyInWorker(file);
  if (!r.ok) throw new Error(r.error.map((e) => `${e.file}:${e.line}: ${e.message}`).join('; '));
  return r.value;
}

/** Peak resident set (VmHWM), bytes. */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The main thread's CPU time and time spent runnable but waiting for a CPU (Linux), ms. */
function schedMs(): { cpu: number; wait: number } | null {
  try {
    const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpu: cpu / 1e6, wait: wait / 1e6 };
  } catch {
    return null;
  }
}

// The longest gap between 1 ms ticks is the longest time no callback could run: what every
// connection waited at worst. monitorEventLoopDelay says the same from libuv's side. On a
// shared machine a gap is also time the thread was not given a CPU, so the longest gap is
// split: on the CPU (this process's own work: a compile, a GC), waiting for a CPU, other.
let last = performance.now();
let lastSched = schedMs();
let gapMs = 0;
let gapSched: { cpu: number; wait: number } | null = null;
// The longest on-CPU stretch between two ticks, wherever it fell: this process's own work
// holding the loop, which preemption on a busy machine neither adds to nor hides.
let cpuGapMs = 0;
const beat = cfg.stallMonitor
  ? setInterval(() => {
      const now = performance.now();
      const sched = schedMs();
      const d = sched && lastSched ? { cpu: sched.cpu - lastSched.cpu, wait: sched.wait - lastSched.wait } : null;
      if (now - last > gapMs) {
        gapMs = now - last;
        gapSched = d;
      }
      if (d && d.cpu > cpuGapMs) cpuGapMs = d.cpu;
      last = now;
      lastSched = sched;
    }, 1)
  : null;
const eld = monitorEventLoopDelay({ resolution: 1 });
if (cfg.stallMonitor) eld.enable();

const closeReasons: Record<string, number> = {};
const actions: Record<string, number> = {};
const proxy = await startProxy({
  policy: await policyOf(cfg.policyYaml),
  listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: cfg.upstream }],
  onEvent: (e) => {
    const k = e.closeReason ?? '-';
    closeReasons[k] = (closeReasons[k] ?? 0) + 1;
    actions[e.action] = (actions[e.action] ?? 0) + 1;
  },
});

process.on('message', async (m: { type: string; yaml?: string; drainMs?: number }) => {
  if (m.type === 'stats') {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) {
      g();
      g();
    }
    const mem = process.memoryUsage();
    send({ type: 'stats', stats: proxy.stats(), rss: mem.rss, peakRss: peakRss(), heapUsed: mem.heapUsed, fds: readdirSync('/proc/self/fd').length, closeReasons, actions });
  } else if (m.type === 'stall') {
    const sched = gapSched ? { cpuMs: gapSched.cpu, waitMs: gapSched.wait, cpuGapMs } : {};
    send({ type: 'stall', gapMs, eldMaxMs: eld.max / 1e6, ...sched });
    gapMs = 0;
    gapSched = null;
    cpuGapMs = 0;
    eld.reset();
  } else if (m.type === 'reload' && m.yaml) {
    try {
      proxy.reload(await policyOf(m.yaml));
      send({ type: 'reloaded', ok: true });
    } catch (e) {
      send({ type: 'reloaded', ok: false, error: (e as Error).message });
    }
  } else if (m.type === 'close') {
    if (beat) clearInterval(beat);
    eld.disable();
    const t0 = performance.now();
    await proxy.close(m.drainMs !== undefined ? { drainMs: m.drainMs } : undefined);
    send({ type: 'closed', ms: performance.now() - t0 });
    process.disconnect?.();
    process.exit(0);
  }
});

send({ type: 'ready', port: proxy.listeners[0].port });
