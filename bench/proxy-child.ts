// peekwall under test, in its own process so its CPU and memory are charged to it alone
// (`node --cpu-prof dist-*/bench/proxy-child.js` works the same way). Speaks a tiny IPC
// protocol with bench/run.ts: {type:'ready', port} | {type:'error', message}; accepts
// {type:'close'}. With workers > 1 it becomes a cluster primary whose workers share the port
// and accept directly (SCHED_NONE), the standard multi-core remedy for a Node proxy.
// The product is imported relative to this file, so an A/B build's copy (--compare-build)
// measures that build's src/, not this one's.
import cluster from 'node:cluster';
import { createEventLog, type EventLog } from '../src/events/index.js';
import { CaptureFile, startProxy, type RunningProxy } from '../src/proxy/index.js';
import { loadPolicyFile } from '../src/sources/index.js';

interface ProxyChildConfig {
  policyFile: string;
  host: string;
  upstream: { host: string; port: number };
  /** Optional JSON-lines event log file (off by default: the hot path measured bare). */
  eventLogFile?: string;
  /** Optional pcapng capture (a 64 MiB ring, written at close) to measure what recording costs. */
  captureFile?: string;
  workers?: number;
  port?: number;
}

function send(m: Record<string, unknown>): void {
  if (process.send) process.send(m);
}

async function startOne(cfg: ProxyChildConfig, port: number): Promise<{ proxy: RunningProxy; closeLog: () => Promise<void> }> {
  const loaded = await loadPolicyFile(cfg.policyFile);
  if (!loaded.ok) throw new Error(`policy: ${loaded.error.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  const eventLog: EventLog | undefined = cfg.eventLogFile ? createEventLog({ destination: cfg.eventLogFile }) : undefined;
  const capture = cfg.captureFile ? new CaptureFile(cfg.captureFile, 64 * 1024 * 1024) : undefined;
  const proxy = await startProxy({
    policy: loaded.value,
    listeners: [{ mode: 'transparent', host: cfg.host, port, upstream: cfg.upstream }],
    ...(eventLog ? { eventLog } : {}),
    ...(capture ? { capture } : {}),
  });
  return {
    proxy,
    closeLog: async () => {
      if (eventLog) await eventLog.close();
      capture?.flush();
    },
  };
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ProxyChildConfig;
  const workers = Math.max(1, Math.min(16, cfg.workers ?? 1));
  if (workers > 1 && cluster.isPrimary) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    // Workers cannot share an ephemeral port without the primary distributing connections,
    // so the primary picks a free port first and hands it to every worker.
    const net = await import('node:net');
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, cfg.host, () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      const w = cluster.fork({ PEEKWALL_BENCH_PORT: String(port) });
      w.on('message', (m: { type?: string; message?: string }) => {
        if (m.type === 'ready' && ++ready === workers) send({ type: 'ready', port, workers });
        if (m.type === 'error') send(m);
      });
    }
    const stop = (): void => {
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'close' });
      setTimeout(() => process.exit(0), 1500).unref();
      cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0); });
    };
    process.on('message', (m: { type?: string }) => { if (m?.type === 'close') stop(); });
    process.on('disconnect', stop);
    return;
  }
  const port = cluster.isWorker ? Number(process.env.PEEKWALL_BENCH_PORT) : (cfg.port ?? 0);
  const { proxy, closeLog } = await startOne(cfg, port);
  const bound = proxy.listeners[0]?.port ?? 0;
  send({ type: 'ready', port: bound });
  const stop = async (): Promise<void> => {
    setTimeout(() => process.exit(0), 1500).unref();
    await proxy.close().catch(() => undefined);
    await closeLog().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'close') void stop();
    if (m?.type === 'stats') send({ type: 'stats', stats: proxy.stats() });
  });
  process.on('disconnect', () => void stop());
}

main().catch((e: unknown) => {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  setTimeout(() => process.exit(1), 100).unref();
});
