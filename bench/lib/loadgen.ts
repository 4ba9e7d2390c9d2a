// Load generators. Keep-alive HTTPS goes through autocannon's programmatic API. For "a new
// TLS connection per request" autocannon is not usable: its `reconnectRate` option resets the
// connection *instead of* recording the response (autocannon 9 httpClient.js returns before
// emitting 'response'), so a reconnect rate of 1 reports zero requests. So new-connection and
// blocked paths use a small bounded client loop here: N concurrent workers, each connect →
// TLS handshake (full: no session reuse) → one request → close, until the deadline.
import autocannon from 'autocannon';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

export interface Target {
  readonly host: string;
  readonly port: number;
  /** SNI to send, or null to send none (clients connecting by IP address send none). */
  readonly servername: string | null;
  readonly maxVersion?: SecureVersion;
}

export interface LoadResult {
  /** Successful operations (2xx responses, completed handshakes+requests, or refusals). */
  readonly ops: number;
  readonly durationS: number;
  /** ops per second. */
  readonly rate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Failures that do not count as ops (connection errors, timeouts, non-2xx, unexpected outcomes). */
  readonly errors: number;
  /** How connections ended, for the blocked path: reset (RST) vs fin (orderly close) vs other. */
  readonly endings?: Record<string, number>;
}

const MAX_SAMPLES = 200_000;

export async function keepAlive(t: Target, o: { durationS: number; connections: number }): Promise<LoadResult> {
  const opts: autocannon.Options = {
    url: `https://${t.host}:${t.port}/`,
    connections: o.connections,
    pipelining: 1,
    duration: o.durationS,
    timeout: 10,
    ...(t.servername ? { servername: t.servername } : {}),
    ...(t.maxVersion ? { tlsOptions: { maxVersion: t.maxVersion } } : {}),
  };
  // autocannon's own histogram keeps whole milliseconds (loopback latencies are mostly < 1 ms),
  // so latencies are taken from its 'response' events instead, reservoir-sampled (bounded).
  const res = new Reservoir(MAX_SAMPLES);
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(opts, (e: Error | null, out: autocannon.Result) => (e ? reject(e) : resolve(out)));
    inst.on('response', (_c: unknown, status: number, _b: number, ms: number) => {
      if (status >= 200 && status < 300) res.add(ms);
    });
  });
  const ok = r['2xx'];
  const durationS = r.duration > 0 ? r.duration : o.durationS;
  const sorted = res.sorted();
  return {
    ops: ok,
    durationS,
    rate: ok / durationS,
    p50Ms: sorted.length ? round3(percentile(sorted, 50)) : null,
    p99Ms: sorted.length ? round3(percentile(sorted, 99)) : null,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

/** Uniform sample of at most `cap` values (Vitter's algorithm R): memory stays bounded. */
class Reservoir {
  private readonly values: number[] = [];
  private seen = 0;
  constructor(private readonly cap: number) {}
  add(v: number): void {
    this.seen++;
    if (this.values.length < this.cap) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.cap) this.values[j] = v;
    }
  }
  sorted(): number[] {
    return this.values.slice().sort((a, b) => a - b);
  }
}

interface OneOutcome {
  ok: boolean;
  ending: string;
  ms: number;
}

/**
 * One fresh TCP + TLS connection, one request with `Connection: close`. With `expectRefusal`
 * success means the far side ended the connection before the TLS handshake completed, and the
 * ending says whether it was an RST (`reset`) or an orderly FIN (`fin`).
 */
function oneConnection(t: Target, expectRefusal: boolean, request: Buffer, timeoutMs: number): Promise<OneOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let done = false;
    let secure = false;
    let status200 = false;
    let ending = '';
    const finish = (ok: boolean, how: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ok, ending: how, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    const s = tlsConnect({
      host: t.host,
      port: t.port,
      rejectUnauthorized: false,
      ...(t.servername ? { servername: t.servername } : {}),
      ...(t.maxVersion ? { maxVersion: t.maxVersion } : {}),
    });
    s.setNoDelay(true);
    s.on('secureConnect', () => {
      secure = true;
      if (expectRefusal) return finish(false, 'handshake-completed');
      s.write(request);
    });
    s.on('data', (chunk: Buffer) => {
      if (!status200 && chunk.length >= 12 && chunk.toString('latin1', 0, 12) === 'HTTP/1.1 200') status200 = true;
    });
    s.on('end', () => {
      // Before the handshake completed this is the far side refusing; after, the response end.
      if (!secure) finish(expectRefusal, ending || 'fin');
      else finish(!expectRefusal && status200, status200 ? 'ok' : 'eof-no-200');
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      // An RST surfaces as a read error ECONNRESET; a FIN before the handshake as Node's
      // "socket disconnected before secure TLS connection was established" (also ECONNRESET).
      if (!ending) {
        if (e.code === 'ECONNRESET' && e.syscall === 'read') ending = 'reset';
        else if (e.code === 'ECONNRESET') ending = 'fin';
        else ending = `error:${e.code ?? 'unknown'}`;
      }
      setImmediate(() => finish(expectRefusal && !secure, ending));
    });
    s.on('close', () => setImmediate(() => finish(expectRefusal ? !secure : status200, ending || (status200 ? 'ok' : 'closed'))));
  });
}

export async function connectionLoop(
  t: Target,
  o: { durationS: number; concurrency: number; expectRefusal: boolean; timeoutMs?: number },
): Promise<LoadResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${t.servername ?? t.host}\r\nConnection: close\r\n\r\n`, 'latin1');
  const deadline = performance.now() + o.durationS * 1000;
  const samples = new Reservoir(MAX_SAMPLES);
  const endings: Record<string, number> = {};
  let ops = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    // Bounded by the deadline; each connection is bounded by its own timeout.
    while (performance.now() < deadline) {
      const r = await oneConnection(t, o.expectRefusal, request, o.timeoutMs ?? 10_000);
      endings[r.ending] = (endings[r.ending] ?? 0) + 1;
      if (r.ok) {
        ops++;
        samples.add(r.ms);
      } else errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const durationS = (performance.now() - t0) / 1000;
  const sorted = samples.sorted();
  return {
    ops,
    durationS,
    rate: ops / durationS,
    p50Ms: sorted.length ? round3(percentile(sorted, 50)) : null,
    p99Ms: sorted.length ? round3(percentile(sorted, 99)) : null,
    errors,
    endings,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
