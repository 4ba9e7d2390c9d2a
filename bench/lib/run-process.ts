// The real `peekwall run` process for attack scripts and the tests that run them small: start
// it from a config, learn its ports from stderr, scrape /metrics, send connections that each
// make exactly one event, read an events file back, stop it and time the exit. Loopback only;
// every wait is bounded.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fromRoot } from './root.js';

const here = dirname(fileURLToPath(import.meta.url));
const mainJs = pathToFileURL(join(here, '..', '..', 'src', 'cli', 'main.js')).href;

/** Blocks every connection after the peek: one event each, no upstream needed. */
export const BLOCK_ALL_POLICY = 'name: block-all\nsettings:\n  tsid: { enabled: false }\nrules:\n  - name: BLOCK_ALL\n    action: Block with reset\n';

export interface RunningPeekwall {
  readonly child: ChildProcess;
  readonly port: number;
  /** 0 without an admin block. */
  readonly adminPort: number;
  stderr(): string;
  /** VmRSS in KiB (NaN once gone or without /proc). */
  rssKb(): number;
  metrics(): Promise<Record<string, number>>;
  /** Sends `sig` and resolves when stderr grew past what it was (bounded); false if it did not. */
  signal(sig: NodeJS.Signals, answer: RegExp, ms?: number): Promise<boolean>;
  /** SIGTERM, then the ms until exit; 'hung' when it outlives `boundMs` (then SIGKILL). */
  term(boundMs: number): Promise<{ ms: number; code: number | null } | 'hung'>;
  /** SIGKILL if still running (for teardown). */
  kill(): void;
}

/**
 * Writes policy.yaml and run.yaml (one transparent listener on 127.0.0.1, `admin` on a free
 * port, `events` as given) into `dir` and starts `peekwall run --config run.yaml`.
 */
export async function startPeekwallRun(o: {
  dir: string;
  events: string;
  drainMs: number;
  stdout: 'ignore' | 'pipe';
  policyYaml?: string;
  /** More run-config lines (e.g. `eventsFormat: ftd-syslog`). */
  configYaml?: string;
}): Promise<RunningPeekwall> {
  writeFileSync(join(o.dir, 'policy.yaml'), o.policyYaml ?? BLOCK_ALL_POLICY);
  writeFileSync(
    join(o.dir, 'run.yaml'),
    `policy: policy.yaml\nevents: ${JSON.stringify(o.events)}\nwatch: false\ndrainMs: ${o.drainMs}\nadmin: { host: 127.0.0.1, port: 0 }\nlisteners:\n  - mode: transparent\n    host: 127.0.0.1\n    port: 0\n    upstream: { host: 127.0.0.1, port: 9 }\n${o.configYaml ?? ''}`,
  );
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(mainJs)}); process.exitCode = await m.main(['run', '--config', ${JSON.stringify(join(o.dir, 'run.yaml'))}]);`], {
    stdio: ['ignore', o.stdout, 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let port = 0;
  let adminPort = 0;
  await until(() => {
    port = Number(/transparent listener on 127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
    adminPort = Number(/admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
    return (port !== 0 && adminPort !== 0) || child.exitCode !== null;
  }, 15_000);
  if (port === 0 || adminPort === 0) {
    child.kill('SIGKILL');
    throw new Error(`peekwall run did not start: ${err}`);
  }
  return {
    child,
    port,
    adminPort,
    stderr: () => err,
    rssKb: () => {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN);
      } catch {
        return NaN;
      }
    },
    metrics: () => scrapeMetrics(adminPort),
    async signal(sig, answer, ms = 5000) {
      const from = err.length;
      child.kill(sig);
      return until(() => answer.test(err.slice(from)) || child.exitCode !== null, ms).then(() => answer.test(err.slice(from)));
    },
    async term(boundMs) {
      const t0 = performance.now();
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([exited, new Promise<'hung'>((res) => (timer = setTimeout(() => res('hung'), boundMs)))]);
      clearTimeout(timer);
      if (r === 'hung') {
        child.kill('SIGKILL');
        await exited;
        return 'hung';
      }
      return { ms: Math.round(performance.now() - t0), code: r };
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The peekwall_* samples from /metrics (summed over labels); {} when it cannot be read. */
export function scrapeMetrics(port: number): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        const out: Record<string, number> = {};
        for (const m of body.matchAll(/^(peekwall_\w+)(?:\{[^}]*\})? (\S+)$/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
        resolve(out);
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({}));
  });
}

const hello = readFileSync(fromRoot('test', 'fixtures', 'shared', 'clienthello', 'curl-http11-sni.bin'));

/** `n` connections, `concurrency` at a time: each sends a recorded ClientHello and waits for the close. */
export async function sendHellos(port: number, n: number, concurrency = 32): Promise<number> {
  let next = 0;
  let closed = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(hello));
      const timer = setTimeout(() => s.destroy(), 10_000);
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        closed++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        await one();
      }
    }),
  );
  return closed;
}

/** An events file's lines: whole JSON lines, and cut ones (unparseable, or no final newline). */
export function jsonLines(file: string): { whole: number; cut: number } {
  if (!existsSync(file)) return { whole: 0, cut: 0 };
  const parts = readFileSync(file, 'utf8').split('\n');
  let whole = 0;
  let cut = 0;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '' && i === parts.length - 1) continue;
    let parses = true;
    try {
      JSON.parse(parts[i]);
    } catch {
      parses = false;
    }
    if (parses && i < parts.length - 1) whole++;
    else cut++;
  }
  return { whole, cut };
}

/** Polls `ok` every 50 ms until it holds or `ms` passed; its last answer. */
export async function until(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ok();
}

/** Waits (bounded) until the proxy counted `n` connections on /metrics: every event emitted. */
export async function settled(r: RunningPeekwall, n: number, ms = 10_000): Promise<Record<string, number>> {
  let m: Record<string, number> = {};
  await until(async () => {
    m = await r.metrics();
    return (m.peekwall_connections_total ?? 0) >= n;
  }, ms);
  return m;
}

/** Every event the sink was given is written or dropped (bounded wait); the last scrape. */
export async function accounted(r: RunningPeekwall, n: number, ms = 10_000): Promise<Record<string, number>> {
  let m: Record<string, number> = {};
  await until(async () => {
    m = await r.metrics();
    return (m.peekwall_events_written_total ?? 0) + (m.peekwall_events_dropped_total ?? 0) >= n;
  }, ms);
  return m;
}

/**
 * Mounts a tmpfs of `kb` KiB on `dir` (a full disk on demand); null when done, else why not
 * (mount needs root on Linux). Unmount with unmountTmpfs.
 */
export function mountTmpfs(dir: string, kb: number): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `cannot mount a tmpfs (needs root on Linux): ${(e as Error).message.split('\n')[0]}`;
  }
}

export function growTmpfs(dir: string, kb: number): void {
  execFileSync('mount', ['-o', `remount,size=${kb}k`, dir], { stdio: 'pipe' });
}

/** Lazy: a process that just ended may still hold a file there for a moment. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
}
