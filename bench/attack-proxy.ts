// Issue 20's attacks on the proxy, replayed against the real `peekwall run --config FILE` process
// (as a user runs it: explicit and transparent listeners, an admin port, events to a file), over
// real sockets on 127.0.0.1. The five explicit-listener attacks share one process, in this order
// (the self-loop last: a build that runs away is killed after it); the others get one each:
//   admin         GET http://127.0.0.1:ADMIN/metrics and CONNECT ADMIN + GET /metrics through it
//   fronting      GET http://ORIGIN/ with `Host: blocked-vhost.example` (a name the policy blocks)
//   parser        requests Node's parser refuses: Content-Length + chunked, two Content-Lengths, obs-fold
//   loop-connect  --requests clients, each writing --depth pipelined CONNECTs to the listener itself
//   loop-get      --requests plain GETs to the listener's own address (curl http://127.0.0.1:3128/)
//   passive-fin   TSID off, no SNI, an origin that reads the hello and sends FIN before any byte
//   flood         limits.maxConnections held by idle clients, then --connections more arrive
//   tsid          a server showing the TSID probe good.test and clients blocked.test (TLS 1.2),
//                 sessionCheck log (the default); then POST /tsid/cache/clear and one more client
//   tsid-redecide the same server with settings.tsid.sessionCheck: redecide
// Each attack prints one line of figures — what was sent, status codes, the events the process
// wrote and their closeReason counts, its open fds (/proc/PID/fd) and RSS before/after, `active`
// from /healthz, and how long until every connection had ended — then one `ok:`/`FAIL:` line per
// expected behaviour (the fixed behaviour: a build from before the fixes prints FAIL lines).
// Exits 1 if any failed. Bounded by counts and by --seconds per attack: a proxy that loops is
// sampled for --loopMs, then killed (its fds are capped by `ulimit -n --ulimit`, or the hard
// limit if lower). --connections is for passive-fin and flood, --clients for the TSID attacks.
//   node dist/bench/attack-proxy.js [--connections 200] [--requests 20] [--depth 30] [--clients 10]
//        [--maxConnections 10] [--concurrency 50] [--seconds 5] [--loopMs 2000] [--ulimit 4096]
//        [--only admin,fronting,parser,loop-connect,loop-get,passive-fin,flood,tsid,tsid-redecide]
//        [--peekwall PATH]   (a bin/peekwall.js of another checkout; default: this build's CLI)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fromRoot } from './lib/root.js';
import { makeCert, startHttpOrigin, startOrigin, startTcp } from '../test/proxy/lib/net.js';
import { numArgs } from './rel-lib.js';
import { until } from './lib/run-process.js';
import { twoFaced } from './lib/two-faced.js';

const ALL = ['admin', 'fronting', 'parser', 'loop-connect', 'loop-get', 'passive-fin', 'flood', 'tsid', 'tsid-redecide'];
const o = numArgs({ connections: 200, requests: 20, depth: 30, clients: 10, maxConnections: 10, concurrency: 50, seconds: 5, loopMs: 2000, ulimit: 4096 });
const strArg = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const only = new Set((strArg('only') ?? ALL.join(',')).split(','));
const here = dirname(fileURLToPath(import.meta.url));
const peekwall = resolve(strArg('peekwall') ?? join(here, '..', 'src', 'cli', 'main.js'));
const boundMs = o.seconds * 1000;
/** fds above the baseline that a self-loop still holds once its clients are gone: a runaway. */
const RUNAWAY_FDS = 100;

// ---------------------------------------------------------------------------------------------
// The peekwall process

interface Peekwall {
  readonly child: ChildProcess;
  readonly ports: Record<string, number>;
  readonly events: string;
  stderr(): string;
  exited(): boolean;
  fds(): number;
  /** The soft limit on open files in force for it (NaN without /proc). */
  fdLimit(): number;
  rssMiB(): number;
  /** /healthz's `active`, or null when the admin port does not answer (in time). */
  active(): Promise<number | null>;
  eventLines(): Record<string, unknown>[];
  /** SIGTERM, SIGKILL after a bound; or SIGKILL at once. */
  stop(kill?: boolean): Promise<void>;
}

const running = new Set<Peekwall>();

/**
 * Writes policy.yaml and run.yaml and starts `peekwall run --config run.yaml` under
 * `ulimit -n`; the listeners' and admin's ports come from its stderr. A process that does not
 * start (a config this build refuses) is returned as its stderr.
 */
async function startPeekwall(dir: string, policyYaml: string, listeners: string, extra = ''): Promise<Peekwall | { refused: string }> {
  const events = join(dir, 'events.jsonl');
  writeFileSync(join(dir, 'policy.yaml'), policyYaml);
  const config = join(dir, 'run.yaml');
  writeFileSync(
    config,
    `policy: policy.yaml\nevents: ${JSON.stringify(events)}\nwatch: false\ndrainMs: 1000\nadmin: { host: 127.0.0.1, port: 0 }\n${extra}listeners:\n${listeners}`,
  );
  // A compiled main.js is imported (as bench/lib/run-process.ts does); a bin/peekwall.js is run.
  const entry =
    basename(peekwall) === 'main.js'
      ? ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(peekwall).href)}); process.exitCode = await m.main(['run', '--config', ${JSON.stringify(config)}]);`]
      : [peekwall, 'run', '--config', config];
  // exec: the pid is node's own, so /proc/PID/fd is the proxy's.
  // A hard limit below --ulimit leaves the inherited one (the figures say which is in force).
  const child = spawn('bash', ['-c', `ulimit -n ${o.ulimit} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...entry], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<void>((r) => child.on('exit', () => r()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ports: Record<string, number> = {};
  const want = listeners.split('mode:').length - 1;
  await until(() => {
    for (const m of err.matchAll(/(explicit|transparent|sni-route) listener on 127\.0\.0\.1:(\d+)/g)) ports[m[1]] = Number(m[2]);
    const admin = /admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
    if (admin) ports.admin = Number(admin[1]);
    return Object.keys(ports).length === want + 1 || exited();
  }, 15_000);
  if (Object.keys(ports).length !== want + 1) {
    if (!exited()) child.kill('SIGKILL');
    await exit;
    return { refused: err.trim().split('\n').slice(0, 3).join(' | ') || '(no output)' };
  }
  const p: Peekwall = {
    child,
    ports,
    events,
    stderr: () => err,
    exited,
    fds: () => {
      try {
        return readdirSync(`/proc/${child.pid}/fd`).length;
      } catch {
        return NaN;
      }
    },
    fdLimit: () => {
      try {
        return Number(/Max open files\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/limits`, 'utf8'))?.[1] ?? NaN);
      } catch {
        return NaN;
      }
    },
    rssMiB: () => {
      try {
        return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 102.4) / 10;
      } catch {
        return NaN;
      }
    },
    active: () =>
      new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: ports.admin, path: '/healthz', timeout: 1000, agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            try {
              resolve(Number((JSON.parse(body) as { active?: number }).active ?? NaN));
            } catch {
              resolve(null);
            }
          });
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(null));
      }),
    eventLines: () => {
      let text = '';
      try {
        text = readFileSync(events, 'utf8');
      } catch {
        return [];
      }
      const out: Record<string, unknown>[] = [];
      for (const line of text.split('\n')) {
        try {
          if (line !== '') out.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // A line being written: counted on the next read.
        }
      }
      return out;
    },
    async stop(kill = false) {
      running.delete(p);
      if (exited()) return;
      child.kill(kill ? 'SIGKILL' : 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([exit.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 5000)))]);
      clearTimeout(timer);
      if (late) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
  running.add(p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Clients (each bounded by a destroy timer)

interface Exchange {
  readonly data: string;
  readonly error: string | null;
}

/** Exactly these bytes out, everything back until the proxy closes, `stop` holds, or `ms` passed. */
function exchange(port: number, bytes: string | Buffer, ms: number, stop?: (got: string) => boolean): Promise<Exchange> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    let error: string | null = null;
    const timer = setTimeout(() => {
      error ??= 'bound';
      s.destroy();
    }, ms);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (stop?.(got)) s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: got, error });
    });
    s.on('connect', () => s.write(bytes));
  });
}

/** `jobs` run `concurrency` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

/** A TLS 1.2 client without SNI: handshake, 'hello', the origin's echo. Bounded. */
function tlsClient(port: number, ms: number): Promise<'ok' | string> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const s = tls.connect({ host: '127.0.0.1', port, servername: '', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => s.write('hello'));
    const timer = setTimeout(() => finish('bound'), ms);
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.startsWith('echo:hello')) finish('ok');
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'error'));
    s.on('close', () => finish('closed'));
  });
}

/**
 * peekwall_connections_total from /metrics, on a connection of its own (agent: false: a
 * kept-alive one would sit in the proxy's fds and read as a leak); undefined if unanswered.
 */
function connectionsCounted(p: Peekwall): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: p.ports.admin, path: '/metrics', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        // Summed over labels, as bench/lib/run-process.ts reads it.
        const samples = [...body.matchAll(/^peekwall_connections_total(?:\{[^}]*\})? (\S+)$/gm)];
        // A labelled counter has no sample before its first connection: that is 0.
        if (samples.length > 0) resolve(samples.reduce((n, m) => n + Number(m[1]), 0));
        else resolve(body.includes('# TYPE peekwall_connections_total') ? 0 : undefined);
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

function post(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body.trim().slice(0, 40)}`));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Figures and verdicts

const tally = (xs: Iterable<string>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
};
const show = (r: Record<string, number>): string => JSON.stringify(r);
/** A figure that could not be read (the admin port did not answer) shows as '?'. */
const n = (x: number): string => (Number.isNaN(x) ? '?' : String(x));
/** Every status line in an answer (pipelined CONNECTs get one each); 'none' when there is none. */
const statuses = (x: Exchange): string[] => {
  const s = [...x.data.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => m[1]);
  return s.length > 0 ? s : [`none(${x.error ?? 'closed'})`];
};
const reasons = (events: Record<string, unknown>[]): Record<string, number> => tally(events.map((e) => String(e.closeReason ?? '(none)')));

let failures = 0;
const verdict = (name: string, ok: boolean, what: string) => {
  if (!ok) failures++;
  console.log(`  ${ok ? 'ok' : 'FAIL'}: ${name}: ${what}`);
};

interface Settled {
  readonly events: Record<string, unknown>[];
  readonly active: number | null;
  /** ms from the call until /healthz first said nothing is active; null: not within the bound. */
  readonly endedMs: number | null;
  /** quietFds after the wait. */
  readonly fds: number;
  readonly boundMs: number;
  /** When nothing was active any more (performance.now()), or the end of the wait. */
  readonly at: number;
}

/**
 * Waits (bounded) until /healthz says nothing is active and at least `expect` events were written
 * since `b` (a build that writes fewer makes this wait the whole bound).
 */
async function settle(p: Peekwall, b: Before, expect: number, ms: number): Promise<Settled> {
  const t0 = performance.now();
  let active: number | null = null;
  let endedMs: number | null = null;
  let at = Number.NaN;
  await until(async () => {
    active = await p.active();
    if (active === 0 && endedMs === null) {
      at = performance.now();
      endedMs = Math.round(at - t0);
    }
    return active === 0 && since(p, b).length >= expect;
  }, ms);
  return { events: since(p, b), active, endedMs, fds: await quietFds(p), boundMs: ms, at };
}

/**
 * The child's open fds once this script's last /healthz connection is gone from its side too
 * (the server closes it a moment after the answer): the least of a few reads 30 ms apart, so a
 * socket still closing is not taken for a leak while a leaked one shows in every read.
 */
async function quietFds(p: Peekwall): Promise<number> {
  let least = p.fds();
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 30));
    least = Math.min(least, p.fds());
  }
  return least;
}

/** The process before an attack (several attacks may share one process, one after another). */
interface Before {
  readonly fds: number;
  readonly rss: number;
  /** Events in the file, and connections the proxy counted, before the attack. */
  readonly events0: number;
  readonly connections0: number;
  /** When the attack began (performance.now()). */
  readonly t0: number;
}
const before = async (p: Peekwall): Promise<Before> => {
  await p.active(); // the admin server's first answer allocates what it keeps
  const connections0 = (await connectionsCounted(p)) ?? NaN;
  const fds = await quietFds(p);
  return { fds, rss: p.rssMiB(), events0: p.eventLines().length, connections0, t0: performance.now() };
};
/** The events this attack made. */
const since = (p: Peekwall, b: Before): Record<string, unknown>[] => p.eventLines().slice(b.events0);
const procFigures = (p: Peekwall, b: Before, s: Settled, maxFds?: number): string =>
  `fds ${b.fds} -> ${s.fds}${maxFds !== undefined ? ` (peak ${maxFds}, limit ${p.fdLimit()})` : ''}, rss ${b.rss} -> ${p.rssMiB()} MiB, ${
    s.endedMs !== null
      ? `active 0 ${s.endedMs} ms after the last client (${Math.round(s.at - b.t0)} ms from the first)`
      : `active ${s.active ?? '?'} still ${s.boundMs} ms after the last client`
  }${p.exited() ? `; peekwall exited (${p.child.exitCode ?? p.child.signalCode})` : ''}`;
const fdsBack = (name: string, b: Before, s: Settled) => verdict(name, s.fds <= b.fds, `fds back to the baseline (${b.fds} -> ${s.fds})`);

/** TCP sockets in /proc/net/tcp{,6} (this network namespace) in `state` whose local or remote port is `port`. */
function socketsOn(port: number, end: 'local' | 'remote', state: string): number {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[3] === state && parseInt(cols[end === 'local' ? 1 : 2].split(':')[1] ?? '', 16) === port) n++;
    }
  }
  return n;
}
const ESTABLISHED = '01';
const CLOSE_WAIT = '08';

/**
 * Samples every 50 ms until stopped: the child's fds, and the connections accepted on its
 * listener `port` (ours, and any it made to itself). The peaks are what a runaway reached.
 */
function sampler(p: Peekwall, port: number): { stop(): { fds: number; accepted: number } } {
  const peak = { fds: p.fds(), accepted: socketsOn(port, 'local', ESTABLISHED) };
  const take = () => {
    peak.fds = Math.max(peak.fds, p.fds() || 0);
    peak.accepted = Math.max(peak.accepted, socketsOn(port, 'local', ESTABLISHED));
  };
  const timer = setInterval(take, 50);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Policies and listeners

const EXPLICIT_POLICY = `name: attack-explicit
settings:
  tsid: { enabled: false }
  failMode: open
  timeouts: { peekMs: 2000, connectMs: 1000, idleMs: 10000 }
rules:
  - name: BLOCK_FRONTED
    action: Block
    urls: { literals: [blocked-vhost.example] }
  - name: ALLOW_ALL
    action: Allow
`;
const PASSIVE_POLICY = `name: attack-passive
settings:
  tsid: { enabled: false }
  failMode: closed
  timeouts: { peekMs: 3000, connectMs: 1000, idleMs: 60000 }
rules:
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;
const FLOOD_POLICY = `name: attack-flood
settings:
  tsid: { enabled: false }
  timeouts: { peekMs: 60000, connectMs: 1000, idleMs: 60000 }
rules:
  - name: ALLOW_ALL
    action: Allow
`;
const tsidPolicy = (sessionCheck?: string) => `name: attack-tsid
settings:
  tsid: { enabled: true${sessionCheck ? `, sessionCheck: ${sessionCheck}` : ''} }
  timeouts: { peekMs: 3000, probeMs: 3000, connectMs: 2000, idleMs: 10000 }
rules:
  - name: BLOCK_BLOCKED
    action: Block with reset
    urls: { literals: [blocked.test] }
  - name: ALLOW_ALL
    action: Allow
defaultAction: Block all traffic
`;
const EXPLICIT = '  - mode: explicit\n    host: 127.0.0.1\n    port: 0\n';
const transparentTo = (port: number) => `  - mode: transparent\n    host: 127.0.0.1\n    port: 0\n    upstream: { host: 127.0.0.1, port: ${port} }\n`;

const noSniHello = readFileSync(fromRoot('test', 'fixtures', 'shared', 'clienthello', 'openssl-noservername.bin'));
const sniHello = readFileSync(fromRoot('test', 'fixtures', 'shared', 'clienthello', 'curl-http11-sni.bin'));

// ---------------------------------------------------------------------------------------------
// The attacks

/** What an attack needs besides the proxy: an origin (port 0: none), the Host headers it saw. */
interface Backend {
  readonly port: number;
  readonly seen: string[];
  close(): Promise<void>;
}
const NONE: Backend = { port: 0, seen: [], close: async () => undefined };

interface Attack {
  readonly name: string;
  /**
   * Attacks of one group share a process (same policy and listeners), one after another: each
   * starting process costs most of a second. A build that runs away is killed after its attack,
   * so the self-loop goes last in its group.
   */
  readonly group?: string;
  readonly policy: string;
  /** Run-config lines before `listeners:` (limits). */
  readonly extra?: string;
  readonly backend?: () => Promise<Backend>;
  listeners(b: Backend): string;
  run(p: Peekwall, b: Backend): Promise<void>;
}

/** A plain-HTTP origin that records the Host header of every request it serves. */
async function httpOrigin(): Promise<Backend> {
  const seen: string[] = [];
  const origin = await startHttpOrigin((req) => {
    seen.push(req.headers.host ?? '');
    return 'origin';
  });
  return { port: origin.port, seen, close: () => origin.close() };
}

async function tcpOrigin(onConn: (s: net.Socket) => void): Promise<Backend> {
  const origin = await startTcp((s) => {
    s.on('error', () => undefined);
    onConn(s);
  });
  return { port: origin.port, seen: [], close: () => origin.close() };
}

/** Two TLS 1.2 origins (good.test, blocked.test) behind a front that shows the probe the first. */
async function twoFacedBackend(): Promise<Backend> {
  const good = await startOrigin(await makeCert({ cn: 'good.test', sans: ['good.test'] }), { maxVersion: 'TLSv1.2' });
  const bad = await startOrigin(await makeCert({ cn: 'blocked.test', sans: ['blocked.test'] }), { maxVersion: 'TLSv1.2' });
  const front = await twoFaced(good.port, bad.port);
  return {
    port: front.port,
    seen: [],
    close: async () => {
      await front.close();
      await good.close();
      await bad.close();
    },
  };
}

const attacks: Attack[] = [
  {
    name: 'admin',
    group: 'explicit',
    policy: EXPLICIT_POLICY,
    listeners: () => EXPLICIT,
    async run(p) {
      const port = p.ports.explicit;
      const admin = p.ports.admin;
      const b = await before(p);
      const get = `GET http://127.0.0.1:${admin}/metrics HTTP/1.1\r\nHost: 127.0.0.1:${admin}\r\nConnection: close\r\n\r\n`;
      const connect = `CONNECT 127.0.0.1:${admin} HTTP/1.1\r\nHost: 127.0.0.1:${admin}\r\n\r\nGET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${admin}\r\nConnection: close\r\n\r\n`;
      const gets = await Promise.all(Array.from({ length: o.requests }, () => exchange(port, get, boundMs)));
      const connects = await Promise.all(Array.from({ length: o.requests }, () => exchange(port, connect, boundMs)));
      const s = await settle(p, b, 2 * o.requests, boundMs);
      const leaked = [...gets, ...connects].filter((a) => a.data.includes('peekwall_')).length;
      console.log(
        `admin: ${o.requests} GET /metrics + ${o.requests} CONNECT+GET /metrics to the admin port through the proxy; status GET ${show(tally(gets.map((a) => statuses(a)[0])))} CONNECT ${show(
          tally(connects.flatMap(statuses)),
        )}; metrics leaked to ${leaked}; events ${s.events.length} ${show(reasons(s.events))}; ${procFigures(p, b, s)}`,
      );
      verdict('admin', leaked === 0, `no metrics through the proxy (${leaked} leaked)`);
      verdict('admin', [...gets, ...connects].every((a) => statuses(a)[0] === '403'), 'every request answered 403');
      verdict('admin', reasons(s.events)['proxy/self-target'] === 2 * o.requests, `${2 * o.requests} refused proxy/self-target`);
      verdict('admin', s.endedMs !== null, 'every connection ended');
      fdsBack('admin', b, s);
    },
  },
  {
    name: 'fronting',
    group: 'explicit',
    policy: EXPLICIT_POLICY,
    backend: httpOrigin,
    listeners: () => EXPLICIT,
    async run(p, origin) {
      const b = await before(p);
      const target = `127.0.0.1:${origin.port}`;
      const req = `GET http://${target}/secret HTTP/1.1\r\nHost: blocked-vhost.example\r\nConnection: close\r\n\r\n`;
      const answers = await Promise.all(Array.from({ length: o.requests }, () => exchange(p.ports.explicit, req, boundMs)));
      const s = await settle(p, b, o.requests, boundMs);
      const fronted = origin.seen.filter((h) => h === 'blocked-vhost.example').length;
      console.log(
        `fronting: ${o.requests} GET http://127.0.0.1:ORIGIN/ with Host: blocked-vhost.example (blocked by policy); status ${show(tally(answers.map((a) => statuses(a)[0])))}; origin reached ${
          origin.seen.length
        } (${fronted} as blocked-vhost.example); events ${s.events.length} ${show(reasons(s.events))}; ${procFigures(p, b, s)}`,
      );
      verdict('fronting', origin.seen.length === 0, `nothing reached the origin (${origin.seen.length})`);
      verdict('fronting', answers.every((a) => statuses(a)[0] === '400'), 'every request answered 400');
      verdict('fronting', reasons(s.events)['proxy/host-mismatch'] === o.requests, `${o.requests} refused proxy/host-mismatch`);
      fdsBack('fronting', b, s);
    },
  },
  {
    name: 'parser',
    group: 'explicit',
    policy: EXPLICIT_POLICY,
    backend: httpOrigin,
    listeners: () => EXPLICIT,
    async run(p, origin) {
      const b = await before(p);
      const t = `127.0.0.1:${origin.port}`;
      const kinds: [string, string, string][] = [
        ['CL+TE', `POST http://${t}/ HTTP/1.1\r\nHost: ${t}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'http/length-and-chunked'],
        ['2xCL', `POST http://${t}/ HTTP/1.1\r\nHost: ${t}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 'http/bad-content-length'],
        ['obs-fold', `GET http://${t}/ HTTP/1.1\r\nHost: ${t}\r\nX-A: 1\r\n  folded\r\n\r\n`, 'http/bad-header'],
      ];
      const answers: Record<string, Exchange[]> = {};
      for (const [name, req] of kinds) answers[name] = await Promise.all(Array.from({ length: o.requests }, () => exchange(p.ports.explicit, req, boundMs)));
      const s = await settle(p, b, 3 * o.requests, boundMs);
      const r = reasons(s.events);
      console.log(
        `parser: ${o.requests} each of ${kinds.map((k) => k[0]).join(', ')}; status ${kinds.map(([n]) => `${n} ${show(tally(answers[n].map((a) => statuses(a)[0])))}`).join(' ')}; origin reached ${
          origin.seen.length
        }; events ${s.events.length} ${show(r)}; ${procFigures(p, b, s)}`,
      );
      verdict('parser', origin.seen.length === 0, `nothing reached the origin (${origin.seen.length})`);
      verdict('parser', Object.values(answers).every((xs) => xs.every((a) => statuses(a)[0] === '400')), 'every request answered 400');
      for (const [name, , code] of kinds) verdict('parser', r[code] === o.requests, `${name}: ${o.requests} events ${code} (${r[code] ?? 0})`);
      fdsBack('parser', b, s);
    },
  },
  {
    name: 'loop-connect',
    group: 'explicit',
    policy: EXPLICIT_POLICY,
    listeners: () => EXPLICIT,
    async run(p) {
      const port = p.ports.explicit;
      const b = await before(p);
      const watch = sampler(p, port);
      const one = `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
      // Each client stays while the tunnels nest (every hop answers 200 back through the chain),
      // until refused, or all `depth` answers came, or the bound.
      const done = (got: string) => /HTTP\/1\.1 [45]\d\d/.test(got) || (got.match(/200 Connection Established/g)?.length ?? 0) >= o.depth;
      const answers = await Promise.all(Array.from({ length: o.requests }, () => exchange(port, one.repeat(o.depth), o.loopMs, done)));
      const s = await settle(p, b, o.requests, boundMs);
      const counted = ((await connectionsCounted(p)) ?? NaN) - b.connections0;
      const peak = watch.stop();
      const own = Math.max(0, peak.accepted - o.requests);
      const tunnels = answers.reduce((n, a) => n + (a.data.match(/200 Connection Established/g)?.length ?? 0), 0);
      console.log(
        `loop-connect: ${o.requests} clients x ${o.depth} pipelined CONNECT to the listener itself; status ${show(tally(answers.flatMap(statuses)))}; ${tunnels} tunnels opened; peak ${
          peak.accepted
        } connections accepted on the listener (${own} beyond the clients'); proxy counted ${n(counted)} connections (${n(counted - o.requests)} nested hops); events ${s.events.length} ${show(
          reasons(s.events),
        )}; ${procFigures(p, b, s, peak.fds)}`,
      );
      verdict('loop-connect', tunnels === 0 && answers.every((a) => statuses(a)[0] === '403'), 'each client refused 403, no tunnel opened');
      verdict('loop-connect', counted === o.requests && own === 0, `no nested hops (${n(counted)} connections counted, ${own} of its own accepted, for ${o.requests} clients)`);
      verdict('loop-connect', reasons(s.events)['proxy/self-target'] === o.requests, `${o.requests} refused proxy/self-target`);
      verdict('loop-connect', s.endedMs !== null, 'every connection ended');
      fdsBack('loop-connect', b, s);
    },
  },
  {
    name: 'loop-get',
    group: 'explicit',
    policy: EXPLICIT_POLICY,
    listeners: () => EXPLICIT,
    async run(p) {
      const port = p.ports.explicit;
      const b = await before(p);
      const watch = sampler(p, port);
      // curl http://127.0.0.1:PORT/ — origin form, the Host header names the proxy itself.
      const req = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
      const answers = await Promise.all(Array.from({ length: o.requests }, () => exchange(port, req, o.loopMs)));
      const s = await settle(p, b, o.requests, o.loopMs);
      // The proxy counts a plain-HTTP request when it ends: a request still looping is not in it.
      const counted = ((await connectionsCounted(p)) ?? NaN) - b.connections0;
      const peak = watch.stop();
      const own = Math.max(0, peak.accepted - o.requests);
      // /healthz's `active` counts TLS connections, not plain-HTTP requests of the explicit
      // listener: a loop of requests shows as fds the proxy keeps holding after its clients left.
      const runaway = s.endedMs === null || !(s.fds <= b.fds + RUNAWAY_FDS);
      console.log(
        `loop-get: ${o.requests} GET / to the listener itself; status ${show(tally(answers.map((a) => statuses(a)[0])))}; peak ${
          peak.accepted
        } connections accepted on the listener (${own} beyond the clients': forwarded to itself); proxy counted ${n(counted)} ended; events ${s.events.length} ${show(
          reasons(s.events),
        )}; ${procFigures(p, b, s, peak.fds)}${runaway ? `; still holding ${s.fds} fds ${o.loopMs} ms after the requests: killed` : ''}`,
      );
      if (runaway) await p.stop(true);
      verdict('loop-get', answers.every((a) => statuses(a)[0] === '403'), 'every request answered 403');
      verdict('loop-get', own === 0 && counted === o.requests, `0 forwarded to itself (${own} of its own connections accepted; ${n(counted)} counted for ${o.requests} requests)`);
      verdict('loop-get', s.events.length === o.requests && reasons(s.events)['proxy/self-target'] === o.requests, `${o.requests} refused proxy/self-target`);
      verdict('loop-get', !runaway, 'every connection ended, nothing kept looping');
      fdsBack('loop-get', b, s);
    },
  },
  {
    name: 'passive-fin',
    policy: PASSIVE_POLICY,
    // Reads the hello, then ends its side without a byte: a server that hung up.
    backend: () => tcpOrigin((s) => s.once('data', () => s.end())),
    listeners: (origin) => transparentTo(origin.port),
    async run(p, origin) {
      const b = await before(p);
      const port = p.ports.transparent;
      const clients = await pool(
        Array.from({ length: o.connections }, () => () => exchange(port, noSniHello, boundMs)),
        o.concurrency,
      );
      const closed = clients.filter((c) => c.error !== 'bound').length;
      const s = await settle(p, b, o.connections, boundMs);
      const closeWait = socketsOn(origin.port, 'remote', CLOSE_WAIT);
      console.log(
        `passive-fin: ${o.connections} no-SNI hellos (TSID off), the origin FINs first; clients closed by the proxy ${closed}/${o.connections}; events ${s.events.length} ${show(
          reasons(s.events),
        )}; CLOSE-WAIT to the origin ${closeWait}; ${procFigures(p, b, s)}`,
      );
      verdict('passive-fin', s.active === 0 && s.endedMs !== null, `${o.connections}/${o.connections} ended (active ${s.active ?? '?'})`);
      verdict('passive-fin', s.events.length === o.connections, `${o.connections} events (${s.events.length})`);
      verdict('passive-fin', closeWait === 0, `no socket left in CLOSE-WAIT (${closeWait})`);
      fdsBack('passive-fin', b, s);
    },
  },
  {
    name: 'flood',
    policy: FLOOD_POLICY,
    extra: `limits: { maxConnections: ${o.maxConnections} }\n`,
    backend: () => tcpOrigin((s) => s.resume()),
    listeners: (origin) => transparentTo(origin.port),
    async run(p) {
      const b = await before(p);
      const port = p.ports.transparent;
      // Idle clients take every slot (they send nothing: each waits at the peek).
      const holders = Array.from({ length: o.maxConnections }, () => {
        const h = net.connect({ host: '127.0.0.1', port });
        h.on('error', () => undefined);
        return h;
      });
      const held = await until(async () => (await p.active()) === o.maxConnections, boundMs);
      const clients = await pool(
        Array.from({ length: o.connections }, () => () => exchange(port, sniHello, boundMs)),
        o.concurrency,
      );
      const refused = clients.filter((c) => c.data === '' && c.error !== 'bound').length;
      await until(() => since(p, b).length >= o.connections, boundMs);
      const during = reasons(since(p, b));
      for (const h of holders) h.destroy();
      const s = await settle(p, b, o.connections + o.maxConnections, boundMs);
      console.log(
        `flood: maxConnections ${o.maxConnections} held${held ? '' : ' (NOT reached)'}, then ${o.connections} connections; refused at once ${refused}/${o.connections}; events while held ${show(
          during,
        )}; after the holders left ${s.events.length} ${show(reasons(s.events))}; ${procFigures(p, b, s)}`,
      );
      verdict('flood', refused === o.connections, `every connection over the limit refused (${refused})`);
      verdict('flood', during['proxy/connection-limit'] === o.connections, `${o.connections} events proxy/connection-limit (${during['proxy/connection-limit'] ?? 0})`);
      verdict('flood', s.endedMs !== null, 'every connection ended');
      fdsBack('flood', b, s);
    },
  },
  ...(['tsid', 'tsid-redecide'] as const).map(
    (mode): Attack => ({
      name: mode,
      policy: tsidPolicy(mode === 'tsid-redecide' ? 'redecide' : undefined),
      backend: twoFacedBackend,
      listeners: (front) => transparentTo(front.port),
      async run(p) {
        const b = await before(p);
        const port = p.ports.transparent;
        // The first client alone: its probe is the front's first connection (good.test), cached.
        const first = await tlsClient(port, boundMs);
        const rest = await pool(
          Array.from({ length: o.clients - 1 }, () => () => tlsClient(port, boundMs)),
          8,
        );
        const through = [first, ...rest].filter((r) => r === 'ok').length;
        await until(() => since(p, b).length >= o.clients, boundMs);
        const ev = since(p, b);
        const judged = tally(ev.map((e) => `${String(e.action)} ${String(e.url)}`));
        const checks = tally(ev.map((e) => String((e.tsid as { sessionCheck?: string } | undefined)?.sessionCheck ?? '-')));
        let clearFigures = '';
        let after: Record<string, unknown> | undefined;
        let cleared = '';
        if (mode === 'tsid') {
          cleared = await post(p.ports.admin, '/tsid/cache/clear');
          const next = await tlsClient(port, boundMs);
          await until(() => since(p, b).length >= o.clients + 1, boundMs);
          after = since(p, b)[o.clients];
          clearFigures = `; POST /tsid/cache/clear: ${cleared}; the next client: ${next}, ${String(after?.action)} ${String(after?.url)}`;
        }
        const s = await settle(p, b, o.clients + (mode === 'tsid' ? 1 : 0), boundMs);
        console.log(
          `${mode}: a server showing the probe good.test and clients blocked.test; ${o.clients} TLS 1.2 clients, through ${through}/${o.clients}; events ${ev.length} ${show(
            judged,
          )} tsid.sessionCheck ${show(checks)}${clearFigures}; ${procFigures(p, b, s)}`,
        );
        verdict(mode, checks['tsid/cert-mismatch'] === o.clients, `${o.clients} events tsid.sessionCheck tsid/cert-mismatch (${checks['tsid/cert-mismatch'] ?? 0})`);
        if (mode === 'tsid') {
          verdict(mode, cleared.startsWith('200'), `POST /tsid/cache/clear answered ${cleared}`);
          verdict(mode, after?.url === 'https://blocked.test', `after the clear a fresh probe judged ${String(after?.url)}`);
        } else {
          verdict(mode, through === 0, `no client through (${through}/${o.clients})`);
          verdict(mode, judged['Block with reset https://blocked.test'] === o.clients, `${o.clients} judged again and blocked as https://blocked.test`);
        }
        verdict(mode, s.endedMs !== null, 'every connection ended');
        fdsBack(mode, b, s);
      },
    }),
  ),
];

// `node attack-proxy.js | head`: keep going to the end, which stops every process it started.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});
console.log(`peekwall: ${peekwall}; node ${process.version}; ulimit -n ${o.ulimit} asked for each proxy`);
const root = mkdtempSync(join(tmpdir(), 'peekwall-attack-'));
const backends: Backend[] = [];
try {
  // Every process starts at once; the attacks then run one after another, each group against
  // its own process, which is stopped when the group is done.
  const chosen = attacks.filter((a) => only.has(a.name));
  const groups = new Map<string, Attack[]>();
  for (const a of chosen) groups.set(a.group ?? a.name, [...(groups.get(a.group ?? a.name) ?? []), a]);
  const ready = await Promise.all(
    [...groups].map(async ([group, members]) => {
      const owned = await Promise.all(members.map((a) => (a.backend ? a.backend() : Promise.resolve(NONE))));
      backends.push(...owned);
      const dir = join(root, group);
      mkdirSync(dir);
      const head = members[0];
      return { group, members, owned, proxy: startPeekwall(dir, head.policy, head.listeners(owned[0]), head.extra ?? '') };
    }),
  );
  for (const { group, members, owned, proxy } of ready) {
    const p = await proxy;
    if ('refused' in p) {
      for (const a of members) {
        console.log(`${a.name}: peekwall did not start: ${p.refused}`);
        verdict(a.name, false, 'peekwall did not start with this config');
      }
      continue;
    }
    try {
      for (const [i, a] of members.entries()) {
        if (p.exited()) {
          console.log(`${a.name}: not run: the ${group} process is gone (${p.child.exitCode ?? p.child.signalCode})`);
          verdict(a.name, false, 'not run');
          continue;
        }
        await a.run(p, owned[i]);
      }
    } finally {
      await p.stop();
      for (const b of owned) await b.close();
    }
  }
} finally {
  for (const p of running) await p.stop(true);
  for (const b of backends) await b.close();
  rmSync(root, { recursive: true, force: true });
}
console.log(failures === 0 ? 'attack-proxy: every expected behaviour held' : `attack-proxy: ${failures} expected behaviour(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;

