// Shared pieces of the reliability load scripts: the proxy child, a TLS echo origin with the
// lab certificate, a TLS client round trip with its latency, percentiles. Loopback only,
// everything bounded and closed.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromRoot } from './lib/root.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface ChildStats {
  stats: Record<string, number>;
  rss: number;
  /** Peak resident set of the proxy process so far (VmHWM). */
  peakRss: number;
  heapUsed: number;
  fds: number;
  closeReasons: Record<string, number>;
  actions: Record<string, number>;
}

export interface ProxyChild {
  port: number;
  proc: ChildProcess;
  stats(): Promise<ChildStats>;
  reload(yaml: string): Promise<{ ok: boolean; error?: string }>;
  /** The longest event-loop stall since the last call (needs `stallMonitor`), then reset. */
  stall(): Promise<Stall>;
  close(drainMs?: number): Promise<number>;
}

/** The longest event-loop stall, and (Linux) how much of it the thread was on a CPU or waiting for one. */
export interface Stall {
  gapMs: number;
  eldMaxMs: number;
  cpuMs?: number;
  waitMs?: number;
  /** The most CPU the thread spent between two ticks anywhere in the window: its own work. */
  cpuGapMs?: number;
}

export interface ProxyChildOptions {
  /** Load the policy from a file in this folder, as `peekwall run` does (feeds are read from disk). */
  policyDir?: string;
  /** With policyDir: load in the loader's worker thread (as `peekwall run`) or on the event loop. */
  loader?: 'worker' | 'inline';
  /** Measure event-loop stalls with a 1 ms heartbeat. */
  stallMonitor?: boolean;
  /** How long a start or a reload may take (a policy with a large feed takes seconds). */
  loadTimeoutMs?: number;
}

export async function startProxyChild(policyYaml: string, upstream: { host: string; port: number }, opts: ProxyChildOptions = {}): Promise<ProxyChild> {
  const { loadTimeoutMs = 30_000, ...childOpts } = opts;
  const proc = fork(join(here, 'rel-proxy-child.js'), [JSON.stringify({ policyYaml, upstream, ...childOpts })], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waitFor = <T>(type: string, ms = 30_000): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy child: no '${type}' within ${ms} ms`)), ms);
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        clearTimeout(timer);
        proc.off('message', on);
        resolve(m as T);
      };
      proc.on('message', on);
    });
  const ready = await waitFor<{ port: number }>('ready', loadTimeoutMs);
  return {
    port: ready.port,
    proc,
    async stats() {
      const p = waitFor<ChildStats>('stats');
      proc.send({ type: 'stats' });
      return p;
    },
    async reload(yaml) {
      const p = waitFor<{ ok: boolean; error?: string }>('reloaded', loadTimeoutMs);
      proc.send({ type: 'reload', yaml });
      return p;
    },
    async stall() {
      const p = waitFor<Stall>('stall');
      proc.send({ type: 'stall' });
      return p;
    },
    async close(drainMs) {
      const p = waitFor<{ ms: number }>('closed', 60_000);
      proc.send({ type: 'close', ...(drainMs !== undefined ? { drainMs } : {}) });
      const r = await p;
      return r.ms;
    },
  };
}

export interface Origin {
  port: number;
  close(): Promise<void>;
}

/** TLS 1.2/1.3 echo origin with the lab's ECDSA smart-licensing certificate (lab-only key). */
export async function startEchoOrigin(o: { delayMs?: number } = {}): Promise<Origin> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: readFileSync(fromRoot('certs', 'smart-licensing-ecdsa.crt.pem')), key: readFileSync(fromRoot('certs', 'smart-licensing-ecdsa.key.pem')) },
    (s) => {
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        if (o.delayMs) setTimeout(() => s.writable && s.write(d), o.delayMs);
        else s.write(d);
      });
    },
  );
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export type RoundTrip = { ok: true; ms: number } | { ok: false; ms: number; why: string };

/** Connect through the proxy, handshake, send 16 bytes, read them back, close. Bounded. */
/** One TLS round trip through the proxy; `onSecure` is told when the handshake completed. */
export function roundTrip(port: number, servername: string | null, timeoutMs = 10_000, onSecure?: () => void): Promise<RoundTrip> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: RoundTrip) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const payload = 'ping-0123456789\n';
    const s = tls.connect({ host: '127.0.0.1', port, servername: servername ?? '', rejectUnauthorized: false }, () => {
      onSecure?.();
      s.write(payload);
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= payload.length) finish({ ok: true, ms: performance.now() - t0 });
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, ms: performance.now() - t0, why: e.code ?? e.message }));
    s.on('close', () => finish({ ok: false, ms: performance.now() - t0, why: 'closed' }));
    const timer = setTimeout(() => finish({ ok: false, ms: performance.now() - t0, why: 'timeout' }), timeoutMs);
  });
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function fmt(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** --name value arguments, numbers only, with defaults. */
export function numArgs<T extends Record<string, number>>(defaults: T): T {
  const out = { ...defaults } as Record<string, number>;
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i].replace(/^--/, '');
    if (k in out && a[i + 1] !== undefined) out[k] = Number(a[++i]);
    else if (a[i] === '--help') {
      process.stdout.write(`options: ${Object.entries(defaults).map(([n, v]) => `--${n} ${v}`).join(' ')}\n`);
      process.exit(0);
    }
  }
  return out as T;
}
