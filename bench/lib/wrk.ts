// wrk (https://github.com/wg/wrk) as a second opinion on the keep-alive path: a C load
// generator on epoll with OpenSSL, so a ratio that holds under both autocannon (Node) and wrk
// is not an artefact of the load generator's own overhead. Optional: used only when the
// binary is installed (Debian: apt-get install wrk).
//
// wrk takes the TLS server name from the URL host and has no option to change it, so it
// connects to "localhost" (resolved by /etc/hosts; wrk tries each address until one
// connects) and sends SNI "localhost" — an allowed name in every bench policy.
import { spawn, spawnSync } from 'node:child_process';
import type { LoadResult } from './loadgen.js';

export const WRK_HOST = 'localhost';

/** `wrk` version line, or null when it is not installed. */
export function wrkVersion(): string | null {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return null;
  const line = `${r.stdout}${r.stderr}`.split('\n').find((l) => l.startsWith('wrk '));
  return line ? line.replace(/\s+Copyright.*$/, '').trim() : null;
}

/** "635.91us" / "1.23ms" / "2.01s" -> milliseconds. */
export function wrkTimeMs(s: string): number | null {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Parse wrk's text report (run with --latency). Null fields when a line is missing. */
export function parseWrk(out: string, fallbackDurationS: number): LoadResult | string {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  if (!done) return `wrk printed no "N requests in T" line:\n${out.slice(0, 500)}`;
  const requests = Number(done[1]);
  const durationS = (wrkTimeMs(`${done[2]}${done[3]}`) ?? fallbackDurationS * 1000) / 1000;
  const pct = (p: string): number | null => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? wrkTimeMs(m[1]) : null;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1, 5).reduce((s, x) => s + Number(x), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const ok = Math.max(0, requests - non2xx);
  return {
    ops: ok,
    durationS,
    rate: durationS > 0 ? ok / durationS : 0,
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    errors: socketErrors + non2xx,
  };
}

/**
 * One keep-alive run: 1 thread (as autocannon: one core's worth of load generator),
 * `connections` connections, whole seconds (wrk's -d takes no fractions). Bounded: killed
 * 15 s after its own deadline.
 */
export function wrkKeepAlive(port: number, o: { durationS: number; connections: number }): Promise<LoadResult> {
  const seconds = Math.max(1, Math.round(o.durationS));
  const args = ['-t1', `-c${o.connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', `https://${WRK_HOST}:${port}/`];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      const r = parseWrk(out, seconds);
      if (typeof r === 'string') reject(new Error(`wrk ${args.join(' ')} exited ${code}: ${r}`));
      else resolve(r);
    });
  });
}
