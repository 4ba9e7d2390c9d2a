// The proxy under the reliability load scripts (slow-clients, soak, reload-under-load), in its
// own process so its file descriptors, RSS and CPU are its own. IPC, one JSON message each:
//   parent -> child: {type:'stats'} | {type:'reload', yaml} | {type:'close', drainMs?}
//   child -> parent: {type:'ready', port} | {type:'stats', ...} | {type:'reloaded', ok, error?} | {type:'closed', ms}
// Run with --expose-gc so 'stats' measures memory after a full collection.
import { readdirSync } from 'node:fs';
import { parsePolicy } from '../src/policy/index.js';
import { startProxy } from '../src/proxy/index.js';

interface ChildConfig {
  policyYaml: string;
  upstream: { host: string; port: number };
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const send = (m: Record<string, unknown>) => process.send?.(m);

function policyOf(yaml: string) {
  const r = parsePolicy(yaml, { file: 'load.yaml', baseDir: process.cwd() });
  if (!r.ok) throw new Error(r.error.map((e) => `${e.line}: ${e.message}`).join('; '));
  return r.value;
}

const closeReasons: Record<string, number> = {};
const actions: Record<string, number> = {};
const proxy = await startProxy({
  policy: policyOf(cfg.policyYaml),
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
    send({ type: 'stats', stats: proxy.stats(), rss: mem.rss, heapUsed: mem.heapUsed, fds: readdirSync('/proc/self/fd').length, closeReasons, actions });
  } else if (m.type === 'reload' && m.yaml) {
    try {
      proxy.reload(policyOf(m.yaml));
      send({ type: 'reloaded', ok: true });
    } catch (e) {
      send({ type: 'reloaded', ok: false, error: (e as Error).message });
    }
  } else if (m.type === 'close') {
    const t0 = performance.now();
    await proxy.close(m.drainMs !== undefined ? { drainMs: m.drainMs } : undefined);
    send({ type: 'closed', ms: performance.now() - t0 });
    process.disconnect?.();
    process.exit(0);
  }
});

send({ type: 'ready', port: proxy.listeners[0].port });
