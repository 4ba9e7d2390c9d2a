// `npm run bench`: peekwall vs direct (vs HAProxy / nginx with --peers), every path in
// interleaved rounds, medians and ratios in ONE run — the machine is shared and noisy, so
// absolute numbers move between runs; ratios measured side by side are the figure of merit.
//
// Processes: this one is the load generator (autocannon + a bounded TLS connection loop);
// the origin, each peekwall configuration and each peer run in their own processes so the
// CPU seconds of each can be read from /proc. Everything listens on 127.0.0.1, ephemeral
// ports, and is stopped before exit (also on SIGINT and on the global watchdog).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, availableParallelism, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCert } from './lib/certs.js';
import { connectionLoop, keepAlive, type LoadResult, type Target } from './lib/loadgen.js';
import { writePolicies, type ProxyConfigName } from './lib/policies.js';
import { processTree, sample, selfCpuS } from './lib/procstat.js';
import {
  nginxStreamAvailable,
  peerVersion,
  startHaproxy,
  startNginxOrigin,
  startNginxStream,
  startNodeChild,
  type Running,
} from './lib/servers.js';
import { median, round } from './lib/stats.js';
import { WRK_HOST, wrkKeepAlive, wrkVersion } from './lib/wrk.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: where package.json and bench/ live (this file runs from <outDir>/bench/). */
function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    dir = dirname(dir);
  }
  return join(start, '..', '..');
}
const repoRoot = findRoot(here);

export const RESULTS_SCHEMA = 'peekwall-bench/1';
const HOST = '127.0.0.1';
const BLOCKED_SNI = 'blocked.bench.test';
/** Start bound for the peekwall child holding the big SI policy (load + compile). */
const BIG_POLICY_START_MS = 600_000;

// ---------------------------------------------------------------------------------------------
// Options

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  rounds: number;
  connections: number;
  concurrency: number;
  peers: boolean;
  quick: boolean;
  outDir: string;
  readme: boolean;
  upstream: 'node' | 'nginx';
  siEntries: number;
  paths: string[] | null;
  cpuProfDir: string | null;
  workers: number;
  eventLog: boolean;
  settleMs: number;
  /** Extra node flags for the peekwall children (e.g. --max-semi-space-size=32). */
  proxyNodeArgs: string[];
  /**
   * A/B: a second build (e.g. a patched copy of dist/) measured as target 'peekwall-b',
   * interleaved with 'peekwall' in the same rounds; its node flags are separate.
   */
  compareBuild: string | null;
  compareNodeArgs: string[];
  /** The reference splice: pipe() both ways, or upstream read with onread into a reused buffer. */
  spliceMode: 'pipe' | 'onread';
  /** Also path 1w: path 1 with wrk as the load generator (a second opinion), when installed. */
  wrk: boolean;
}

const USAGE = `usage: node dist/bench/run.js [options]
  --quick              a ~1 s smoke version (CI): 1 round, short runs, 10k SI entries
  --duration S         seconds per measured run (default 5; --quick 0.2)
  --rounds N           interleaved rounds (default 3; --quick 1)
  --warmup S           warm-up seconds per target before round 1 (default 1)
  --connections N      autocannon keep-alive connections (default 16)
  --concurrency N      concurrent new-connection clients (default 16)
  --peers              also HAProxy and nginx stream (when installed)
  --paths 1,2,6        only these paths (ids: 1 2 3 4 5 6 7 7n 1w)
  --wrk                also path 1w: path 1 driven by wrk instead of autocannon (a second
                       opinion on the load generator; skipped when wrk is not installed)
  --si-entries N       SI URL entries for path 7 (default 1000000; --quick 10000)
  --upstream node|nginx  the HTTPS origin (default node)
  --splice-mode pipe|onread  the reference Node splice's read path (default pipe)
  --workers N          peekwall cluster workers (default 1)
  --event-log          peekwall writes its JSON event log (to a temp file)
  --cpu-prof DIR       run peekwall children with --cpu-prof, profiles in DIR
  --proxy-node-args S  node flags for the peekwall children, e.g. "--max-semi-space-size=32"
  --compare-build DIR  A/B: also run peekwall from another build dir (DIR/bench/proxy-child.js)
                       as target peekwall-b, interleaved; --compare-node-args S for its flags
  --out DIR            results directory (default bench/results)
  --readme             update the results table in bench/README.md`;

export function parseArgs(argv: string[]): BenchOptions | string {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    durationS: quick ? 0.2 : 5,
    warmupS: quick ? 0.05 : 1,
    rounds: quick ? 1 : 3,
    connections: quick ? 4 : 16,
    concurrency: quick ? 4 : 16,
    peers: false,
    quick,
    outDir: join(repoRoot, 'bench', 'results'),
    readme: false,
    upstream: 'node',
    siEntries: quick ? 10_000 : 1_000_000,
    paths: null,
    cpuProfDir: null,
    workers: 1,
    eventLog: false,
    settleMs: quick ? 20 : 300,
    proxyNodeArgs: [],
    compareBuild: null,
    compareNodeArgs: [],
    spliceMode: 'pipe',
    wrk: false,
  };
  const num = (v: string | undefined, name: string, min: number, max: number): number | string => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) return `${name} needs a number in [${min}, ${max}]`;
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string | undefined => argv[++i];
    let r: number | string;
    switch (a) {
      case '--quick':
        break;
      case '--peers':
        o.peers = true;
        break;
      case '--readme':
        o.readme = true;
        break;
      case '--event-log':
        o.eventLog = true;
        break;
      case '--wrk':
        o.wrk = true;
        break;
      case '--duration':
        if (typeof (r = num(next(), a, 0.05, 600)) === 'string') return r;
        o.durationS = r;
        break;
      case '--warmup':
        if (typeof (r = num(next(), a, 0, 60)) === 'string') return r;
        o.warmupS = r;
        break;
      case '--rounds':
        if (typeof (r = num(next(), a, 1, 50)) === 'string') return r;
        o.rounds = Math.floor(r);
        break;
      case '--connections':
        if (typeof (r = num(next(), a, 1, 1000)) === 'string') return r;
        o.connections = Math.floor(r);
        break;
      case '--concurrency':
        if (typeof (r = num(next(), a, 1, 1000)) === 'string') return r;
        o.concurrency = Math.floor(r);
        break;
      case '--si-entries':
        if (typeof (r = num(next(), a, 1, 10_000_000)) === 'string') return r;
        o.siEntries = Math.floor(r);
        break;
      case '--workers':
        if (typeof (r = num(next(), a, 1, 16)) === 'string') return r;
        o.workers = Math.floor(r);
        break;
      case '--splice-mode': {
        const v = next();
        if (v !== 'pipe' && v !== 'onread') return '--splice-mode is pipe or onread';
        o.spliceMode = v;
        break;
      }
      case '--upstream': {
        const v = next();
        if (v !== 'node' && v !== 'nginx') return '--upstream is node or nginx';
        o.upstream = v;
        break;
      }
      case '--paths': {
        const v = next();
        if (!v) return '--paths needs a list such as 1,2,6';
        const ids = v.split(',').map((s) => s.trim());
        const bad = ids.filter((id) => !PATHS.some((p) => p.id === id));
        if (bad.length) return `--paths: unknown path ${bad.join(', ')} (known: ${PATHS.map((p) => p.id).join(' ')})`;
        o.paths = ids;
        break;
      }
      case '--proxy-node-args': {
        const v = next();
        if (v === undefined) return '--proxy-node-args needs a string of node flags';
        o.proxyNodeArgs = v.split(' ').filter((x) => x.length > 0);
        break;
      }
      case '--compare-build': {
        const v = next();
        if (!v) return '--compare-build needs a build directory (the one holding bench/ and src/)';
        o.compareBuild = v;
        break;
      }
      case '--compare-node-args': {
        const v = next();
        if (v === undefined) return '--compare-node-args needs a string of node flags';
        o.compareNodeArgs = v.split(' ').filter((x) => x.length > 0);
        break;
      }
      case '--cpu-prof': {
        const v = next();
        if (!v) return '--cpu-prof needs a directory';
        o.cpuProfDir = v;
        break;
      }
      case '--out': {
        const v = next();
        if (!v) return '--out needs a directory';
        o.outDir = v;
        break;
      }
      case '--help':
      case '-h':
        return USAGE;
      default:
        return `unknown option ${a}\n${USAGE}`;
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Paths and targets

type TargetName = 'direct' | 'peekwall' | 'peekwall-b' | 'haproxy' | 'nginx' | 'node-splice';
type Kind = 'keepalive' | 'newconn' | 'blocked';

interface PathDef {
  readonly id: string;
  readonly key: string;
  readonly title: string;
  readonly kind: Kind;
  /** 'allowed' | 'blocked' | null (no SNI: the client connects by IP address). */
  readonly sni: 'allowed' | 'blocked' | null;
  readonly maxVersion?: 'TLSv1.2';
  readonly proxy: ProxyConfigName;
  /** Measured through HAProxy/nginx too (only the SNI paths: peers have no TSID). */
  readonly peers: boolean;
  /** A direct run makes no sense for a refusal. */
  readonly direct: boolean;
  /** The load generator when not the default (autocannon / the connection loop). */
  readonly loadgen?: 'wrk';
  /** Only when asked for (--paths or its flag), never in the default set. */
  readonly optional?: boolean;
}

export const PATHS: readonly PathDef[] = [
  { id: '1', key: 'sni-keepalive', title: 'SNI allowed, keep-alive', kind: 'keepalive', sni: 'allowed', proxy: 'small', peers: true, direct: true },
  { id: '2', key: 'sni-newconn', title: 'SNI allowed, new TLS conn/request', kind: 'newconn', sni: 'allowed', proxy: 'small', peers: true, direct: true },
  { id: '3', key: 'tsid-warm', title: 'no SNI, TSID on, cache warm', kind: 'newconn', sni: null, proxy: 'tsid', peers: false, direct: true },
  { id: '4', key: 'tsid-nocache', title: 'no SNI, TSID on, cache off', kind: 'newconn', sni: null, proxy: 'tsid-nocache', peers: false, direct: true },
  { id: '5', key: 'passive-tls12', title: 'no SNI, TSID off, passive TLS1.2', kind: 'newconn', sni: null, maxVersion: 'TLSv1.2', proxy: 'small', peers: false, direct: true },
  { id: '6', key: 'blocked-sni', title: 'blocked by SNI (refusals)', kind: 'blocked', sni: 'blocked', proxy: 'small', peers: true, direct: false },
  { id: '7', key: 'si-1m-keepalive', title: 'big SI policy, keep-alive', kind: 'keepalive', sni: 'allowed', proxy: 'big', peers: false, direct: true },
  { id: '7n', key: 'si-1m-newconn', title: 'big SI policy, new conn/request', kind: 'newconn', sni: 'allowed', proxy: 'big', peers: false, direct: true },
  { id: '1w', key: 'sni-keepalive-wrk', title: 'SNI allowed, keep-alive, wrk', kind: 'keepalive', sni: 'allowed', proxy: 'small', peers: true, direct: true, loadgen: 'wrk', optional: true },
];

interface RatioDef {
  readonly id: string;
  readonly title: string;
  readonly num: { path: string; target: TargetName };
  readonly den: { path: string; target: TargetName };
  /** Divide by (norm.num / norm.den) measured in the same round: removes a handshake-cost difference. */
  readonly norm?: { num: { path: string; target: TargetName }; den: { path: string; target: TargetName } };
  readonly goal: number | null;
}

export const RATIOS: readonly RatioDef[] = [
  { id: 'keepalive-vs-haproxy', title: 'keep-alive: peekwall / HAProxy', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'haproxy' }, goal: 0.9 },
  { id: 'newconn-vs-haproxy', title: 'new conn: peekwall / HAProxy', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'haproxy' }, goal: 1.0 },
  { id: 'blocked-vs-haproxy', title: 'blocked: peekwall / HAProxy', num: { path: '6', target: 'peekwall' }, den: { path: '6', target: 'haproxy' }, goal: 1.0 },
  { id: 'tsid-warm-vs-sni', title: 'TSID warm / SNI path (new conn)', num: { path: '3', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: 0.95 },
  {
    id: 'passive-vs-sni',
    title: 'passive TLS1.2 / SNI path, per direct',
    num: { path: '5', target: 'peekwall' },
    den: { path: '5', target: 'direct' },
    norm: { num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'direct' } },
    goal: 0.9,
  },
  { id: 'si-1m-vs-small', title: '1M SI / small policy (keep-alive)', num: { path: '7', target: 'peekwall' }, den: { path: '1', target: 'peekwall' }, goal: 0.98 },
  { id: 'si-1m-vs-small-newconn', title: '1M SI / small policy (new conn)', num: { path: '7n', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: 0.98 },
  // Informational: each middlebox against going direct, and the other peer.
  { id: 'keepalive-peekwall-vs-direct', title: 'keep-alive: peekwall / direct', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'direct' }, goal: null },
  { id: 'keepalive-haproxy-vs-direct', title: 'keep-alive: HAProxy / direct', num: { path: '1', target: 'haproxy' }, den: { path: '1', target: 'direct' }, goal: null },
  { id: 'keepalive-vs-nginx', title: 'keep-alive: peekwall / nginx', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'nginx' }, goal: null },
  { id: 'newconn-peekwall-vs-direct', title: 'new conn: peekwall / direct', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'direct' }, goal: null },
  { id: 'newconn-haproxy-vs-direct', title: 'new conn: HAProxy / direct', num: { path: '2', target: 'haproxy' }, den: { path: '2', target: 'direct' }, goal: null },
  { id: 'newconn-vs-nginx', title: 'new conn: peekwall / nginx', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'nginx' }, goal: null },
  { id: 'blocked-vs-nginx', title: 'blocked: peekwall / nginx', num: { path: '6', target: 'peekwall' }, den: { path: '6', target: 'nginx' }, goal: null },
  { id: 'keepalive-vs-splice', title: 'keep-alive: peekwall / plain Node splice', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'node-splice' }, goal: null },
  { id: 'newconn-vs-splice', title: 'new conn: peekwall / plain Node splice', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'node-splice' }, goal: null },
  { id: 'tsid-nocache-vs-sni', title: 'TSID no cache / SNI path (new conn)', num: { path: '4', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: null },
  // The second opinion (--wrk): the keep-alive ratios again with wrk driving the load.
  { id: 'wrk-keepalive-vs-haproxy', title: 'wrk keep-alive: peekwall / HAProxy', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'haproxy' }, goal: null },
  { id: 'wrk-keepalive-vs-nginx', title: 'wrk keep-alive: peekwall / nginx', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'nginx' }, goal: null },
  { id: 'wrk-keepalive-vs-splice', title: 'wrk keep-alive: peekwall / plain Node splice', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'node-splice' }, goal: null },
  { id: 'wrk-keepalive-peekwall-vs-direct', title: 'wrk keep-alive: peekwall / direct', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'direct' }, goal: null },
  { id: 'wrk-keepalive-haproxy-vs-direct', title: 'wrk keep-alive: HAProxy / direct', num: { path: '1w', target: 'haproxy' }, den: { path: '1w', target: 'direct' }, goal: null },
];

// ---------------------------------------------------------------------------------------------
// Results shape (bench/results/<date>.json)

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

const UNIT: Record<Kind, string> = { keepalive: 'req/s', newconn: 'conn/s', blocked: 'refusals/s' };

// ---------------------------------------------------------------------------------------------
// The run

interface Stack {
  upstream: Running;
  proxies: Map<ProxyConfigName, Running>;
  proxiesB: Map<ProxyConfigName, Running>;
  peers: Map<TargetName, Running>;
}

async function measure(path: PathDef, target: TargetName, port: number, sniName: string, o: BenchOptions, durationS: number): Promise<LoadResult> {
  const t: Target = {
    host: HOST,
    port,
    servername: path.sni === 'allowed' ? sniName : path.sni === 'blocked' ? BLOCKED_SNI : null,
    ...(path.maxVersion ? { maxVersion: path.maxVersion } : {}),
  };
  if (path.loadgen === 'wrk') return wrkKeepAlive(port, { durationS, connections: o.connections });
  if (path.kind === 'keepalive') return keepAlive(t, { durationS, connections: o.connections });
  return connectionLoop(t, { durationS, concurrency: o.concurrency, expectRefusal: path.kind === 'blocked' });
}

function targetsFor(path: PathDef, stack: Stack): TargetName[] {
  const ts: TargetName[] = [];
  if (path.direct) ts.push('direct');
  if (stack.proxies.has(path.proxy)) ts.push('peekwall');
  if (stack.proxiesB.has(path.proxy)) ts.push('peekwall-b');
  if (path.peers) for (const p of ['haproxy', 'nginx'] as const) if (stack.peers.has(p)) ts.push(p);
  // The plain splice cannot refuse anything: it only has a place on the allowed paths.
  if (path.peers && path.kind !== 'blocked' && stack.peers.has('node-splice')) ts.push('node-splice');
  return ts;
}

function portOf(path: PathDef, target: TargetName, stack: Stack): Running {
  if (target === 'direct') return stack.upstream;
  if (target === 'peekwall') return stack.proxies.get(path.proxy) as Running;
  if (target === 'peekwall-b') return stack.proxiesB.get(path.proxy) as Running;
  return stack.peers.get(target) as Running;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function queryStats(r: Running): Promise<Record<string, number> | null> {
  return r.query ? r.query() : Promise.resolve(null);
}

export async function runBench(o: BenchOptions, argv: string[], log: (s: string) => void): Promise<{ results: BenchResults; file: string }> {
  const t0 = Date.now();
  const loadavgStart = loadavg().map((x) => round(x, 2) ?? 0);
  const notes: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'peekwall-bench-'));
  const stack: Stack = { upstream: null as unknown as Running, proxies: new Map(), proxiesB: new Map(), peers: new Map() };
  const started: Running[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).reverse().map((r) => r.stop().catch(() => undefined)));
  };
  const onSignal = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let selected = PATHS.filter((p) => (o.paths ? o.paths.includes(p.id) : !p.optional) || (o.wrk && p.loadgen === 'wrk'));
  if (selected.some((p) => p.loadgen === 'wrk')) {
    const wv = wrkVersion();
    if (wv === null) {
      notes.push('path 1w skipped: wrk is not installed (Debian: apt-get install wrk)');
      selected = selected.filter((p) => p.loadgen !== 'wrk');
    } else notes.push(`path 1w load generator: ${wv}, 1 thread, SNI "${WRK_HOST}"`);
  }
  // Watchdog: every run is bounded, but a wedged child must not hold the machine forever.
  const plannedS = selected.length * 5 * (o.rounds * o.durationS + o.warmupS) + 120 + BIG_POLICY_START_MS / 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: watchdog: over ${Math.round(plannedS * 2)} s, stopping everything\n`);
    void stopAll().finally(() => process.exit(3));
  }, plannedS * 2000);
  watchdog.unref();

  try {
    // --- origin
    const cert = await benchCert(repoRoot);
    const certFile = join(work, 'origin.crt.pem');
    const keyFile = join(work, 'origin.key.pem');
    writeFileSync(certFile, cert.certPem);
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
    const bodyBytes = 64;
    let upstreamKind: string = o.upstream;
    if (o.upstream === 'nginx' && peerVersion('nginx') === null) {
      notes.push('--upstream nginx asked but nginx is not installed: used the Node https origin');
      upstreamKind = 'node';
    }
    stack.upstream =
      upstreamKind === 'nginx'
        ? await startNginxOrigin({ dir: work, host: HOST, certFile, keyFile, bodyBytes })
        : await startNodeChild('upstream', join(here, 'upstream-child.js'), { certFile, keyFile, host: HOST, bodyBytes });
    started.push(stack.upstream);
    log(`origin: ${upstreamKind} https on ${HOST}:${stack.upstream.port} (${cert.source})`);

    // --- peekwall configurations needed by the selected paths
    const needed = [...new Set(selected.map((p) => p.proxy))];
    const policies = writePolicies(work, needed, { blockedSni: BLOCKED_SNI, siEntries: o.siEntries });
    const proxyConfigs: BenchResults['proxyConfigs'] = {};
    // Started side by side: loading the 1M-entry policy dominates, the others are quick.
    const builds: { label: 'peekwall' | 'peekwall-b'; dir: string; args: string[]; into: Map<ProxyConfigName, Running> }[] = [
      { label: 'peekwall', dir: here, args: o.proxyNodeArgs, into: stack.proxies },
    ];
    if (o.compareBuild) builds.push({ label: 'peekwall-b', dir: join(o.compareBuild, 'bench'), args: o.compareNodeArgs, into: stack.proxiesB });
    await Promise.all(
      builds.flatMap((b) => needed.map((name) => ({ b, name }))).map(async ({ b, name }) => {
        const execArgv = [
          ...b.args,
          ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir, '--cpu-prof-name', `${b.label}-${name}-${process.pid}.cpuprofile`] : []),
        ];
        const cfg = {
          policyFile: policies[name].file,
          host: HOST,
          upstream: { host: HOST, port: stack.upstream.port },
          workers: o.workers,
          ...(o.eventLog ? { eventLogFile: join(work, `events-${name}.jsonl`) } : {}),
        };
        const ts = Date.now();
        // A big SI feed may take long to compile: its start is bounded separately (and reported).
        const timeoutMs = name === 'big' ? BIG_POLICY_START_MS : 15_000;
        try {
          const r = await startNodeChild(`${b.label}-${name}`, join(b.dir, 'proxy-child.js'), cfg, execArgv, o.workers > 1, timeoutMs);
          started.push(r);
          b.into.set(name, r);
          if (b.label === 'peekwall') proxyConfigs[name] = { tsid: policies[name].tsid, siEntries: policies[name].siEntries, policyLoadMs: Date.now() - ts };
          log(`${b.label}[${name}]: ${HOST}:${r.port} (TSID ${policies[name].tsid}, ${policies[name].siEntries} SI entries, ready in ${Date.now() - ts} ms)`);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          notes.push(`${b.label}[${name}] did not start: ${msg}`);
          log(`${b.label}[${name}]: NOT STARTED: ${msg}`);
          if (b.label === 'peekwall') proxyConfigs[name] = { tsid: policies[name].tsid, siEntries: policies[name].siEntries, policyLoadMs: null };
        }
      }),
    );

    // --- peers
    const peers: BenchResults['peers'] = {};
    if (o.peers) {
      const po = { dir: work, host: HOST, upstream: { host: HOST, port: stack.upstream.port }, blockedSni: BLOCKED_SNI };
      const hv = peerVersion('haproxy');
      if (hv === null) peers.haproxy = { skipped: 'haproxy is not installed (Debian: apt-get install haproxy)' };
      else {
        try {
          const r = await startHaproxy(po);
          started.push(r);
          stack.peers.set('haproxy', r);
          peers.haproxy = { version: hv };
        } catch (e) {
          peers.haproxy = { skipped: `haproxy did not start: ${e instanceof Error ? e.message : String(e)}` };
        }
      }
      if (!nginxStreamAvailable()) peers.nginx = { skipped: 'nginx with the stream module is not installed (Debian: apt-get install nginx libnginx-mod-stream)' };
      else {
        try {
          const r = await startNginxStream(po);
          started.push(r);
          stack.peers.set('nginx', r);
          peers.nginx = { version: peerVersion('nginx') ?? 'nginx' };
        } catch (e) {
          peers.nginx = { skipped: `nginx did not start: ${e instanceof Error ? e.message : String(e)}` };
        }
      }
      try {
        const r = await startNodeChild('node-splice', join(here, 'splice-child.js'), { host: HOST, upstream: { host: HOST, port: stack.upstream.port }, mode: o.spliceMode });
        started.push(r);
        stack.peers.set('node-splice', r);
        peers['node-splice'] = { version: `plain net splice (${o.spliceMode}), node ${process.version}` };
      } catch (e) {
        peers['node-splice'] = { skipped: `did not start: ${e instanceof Error ? e.message : String(e)}` };
      }
      for (const [k, v] of Object.entries(peers)) log(`peer ${k}: ${'skipped' in v ? `SKIPPED: ${v.skipped}` : v.version}`);
    } else {
      notes.push('peers not measured (run with --peers)');
    }

    const pidsOf = new Map<Running, number[]>();
    const pids = (r: Running): number[] => {
      let p = pidsOf.get(r);
      if (!p) {
        p = r.tree ? processTree(r.pid) : [r.pid];
        pidsOf.set(r, p);
      }
      return p;
    };
    const upPids = (): number[] => pids(stack.upstream);

    // --- warm-up: JIT, TLS session machinery, and the TSID identity cache (path 3).
    if (o.warmupS > 0) {
      for (const path of selected) {
        for (const target of targetsFor(path, stack)) {
          await measure(path, target, portOf(path, target, stack).port, cert.sniName, o, o.warmupS);
        }
      }
    }

    // --- rounds. Order within a round alternates (ABBA) so slow drift of the machine's load
    // does not favour whichever target always goes first.
    const runs: RunRecord[] = [];
    for (let rd = 1; rd <= o.rounds; rd++) {
      for (const path of selected) {
        const targets = targetsFor(path, stack);
        if (rd % 2 === 0) targets.reverse();
        for (const target of targets) {
          const mid = portOf(path, target, stack);
          const midPids = target === 'direct' ? [] : pids(mid);
          const m0 = sample(midPids);
          const before = { self: selfCpuS(), up: sample(upPids()).cpuS, mid: m0.cpuS };
          const r = await measure(path, target, mid.port, cert.sniName, o, o.durationS);
          const m1 = sample(midPids);
          const after = { self: selfCpuS(), up: sample(upPids()).cpuS, mid: m1.cpuS };
          const midCpu = after.mid - before.mid;
          const rec: RunRecord = {
            round: rd,
            path: path.id,
            target,
            rate: round3(r.rate),
            ops: r.ops,
            errors: r.errors,
            durationS: round3(r.durationS),
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            ...(r.endings ? { endings: r.endings } : {}),
            cpuS: { loadgen: round3(after.self - before.self), upstream: round3(after.up - before.up), middlebox: round3(midCpu), middleboxUser: round3(m1.userS - m0.userS), middleboxSys: round3(m1.sysS - m0.sysS) },
            middleboxCpuUsPerOp: target === 'direct' || r.ops === 0 ? null : round((midCpu * 1e6) / r.ops, 1),
            loadavg1: round(loadavg()[0], 2) ?? 0,
          };
          runs.push(rec);
          log(`round ${rd} path ${path.id.padEnd(2)} ${target.padEnd(8)} ${fmt(rec.rate).padStart(9)} ${UNIT[path.kind]}  errors ${rec.errors}`);
          await sleep(o.settleMs);
        }
      }
    }

    // --- medians, ratios, memory
    const medians: MedianRecord[] = [];
    for (const path of selected) {
      for (const target of targetsFor(path, stack)) {
        const rs = runs.filter((r) => r.path === path.id && r.target === target);
        medians.push({
          path: path.id,
          target,
          rounds: rs.length,
          rate: round(median(rs.map((r) => r.rate)), 1),
          p50Ms: round(median(rs.map((r) => r.p50Ms ?? Number.NaN))),
          p99Ms: round(median(rs.map((r) => r.p99Ms ?? Number.NaN))),
          middleboxCpuUsPerOp: round(median(rs.map((r) => r.middleboxCpuUsPerOp ?? Number.NaN)), 1),
          middleboxSysShare: round(median(rs.map((r) => (r.cpuS.middlebox > 0 ? r.cpuS.middleboxSys / r.cpuS.middlebox : Number.NaN))), 2),
          errors: rs.reduce((s, r) => s + r.errors, 0),
        });
      }
    }
    const ratios = computeRatios(runs, o.rounds);

    const peakRssMiB: Record<string, number> = {};
    const cpuTotalS: Record<string, number> = {};
    const proxyStats: Record<string, Record<string, number> | null> = {};
    const roles: [string, Running][] = [['upstream', stack.upstream], ...[...stack.proxies].map(([k, v]): [string, Running] => [`peekwall-${k}`, v]), ...[...stack.proxiesB].map(([k, v]): [string, Running] => [`peekwall-b-${k}`, v]), ...[...stack.peers]];
    for (const [role, r] of roles) {
      const s = sample(r.tree ? processTree(r.pid) : [r.pid]);
      peakRssMiB[role] = s.peakRssMiB;
      cpuTotalS[role] = round3(s.cpuS);
      if (role.startsWith('peekwall')) proxyStats[role] = await queryStats(r).catch(() => null);
    }
    peakRssMiB.loadgen = round(process.resourceUsage().maxRSS / 1024, 1) ?? 0;
    cpuTotalS.loadgen = round3(selfCpuS());

    for (const m of medians) {
      if (m.rate === 0 || m.rate === null) notes.push(`path ${m.path} via ${m.target}: no successful operations (errors ${m.errors})`);
    }
    notes.push('absolute rates are noisy (shared 2-core machine, load generator on the same cores); compare ratios');

    const results: BenchResults = {
      schema: RESULTS_SCHEMA,
      date: new Date().toISOString(),
      command: `node ${relative(repoRoot, join(here, 'run.js'))} ${argv.join(' ')}`.trim(),
      machine: { ...machine(), loadavgStart },
      options: { ...strip(o), cpuProf: o.cpuProfDir !== null },
      upstream: { kind: upstreamKind, version: stack.upstream.version, cert: cert.source, keyType: cert.keyType, bodyBytes },
      peers,
      proxyConfigs,
      paths: selected.map((p) => ({ id: p.id, key: p.key, title: p.title, kind: p.kind, unit: UNIT[p.kind], targets: targetsFor(p, stack) })),
      runs,
      medians,
      ratios,
      peakRssMiB,
      cpuTotalS,
      proxyStats,
      notes,
      wallS: 0,
    };
    await stopAll();
    results.wallS = round((Date.now() - t0) / 1000, 1) ?? 0;
    results.machine.loadavgEnd = loadavg().map((x) => round(x, 2) ?? 0);
    mkdirSync(o.outDir, { recursive: true });
    const file = join(o.outDir, `${results.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    return { results, file };
  } finally {
    clearTimeout(watchdog);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}

function strip(o: BenchOptions): Omit<BenchOptions, 'outDir' | 'cpuProfDir'> {
  const { outDir: _a, cpuProfDir: _b, ...rest } = o;
  return rest;
}

function round3(x: number): number {
  return round(x, 3) ?? 0;
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

function machine(): BenchResults['machine'] {
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

function fmt(x: number | null): string {
  if (x === null) return '-';
  return x >= 100 ? String(Math.round(x)) : x.toFixed(2);
}

// ---------------------------------------------------------------------------------------------
// Rendering

export function renderTable(r: BenchResults): string {
  const lines: string[] = [];
  lines.push(`| path | target | rate (median) | p50 ms | p99 ms | middlebox CPU µs/op | kernel share | errors |`);
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|`);
  for (const m of r.medians) {
    const p = r.paths.find((x) => x.id === m.path);
    lines.push(
      `| ${m.path} ${p?.title ?? ''} | ${m.target} | ${fmt(m.rate)} ${p?.unit ?? ''} | ${m.p50Ms ?? '-'} | ${m.p99Ms ?? '-'} | ${m.middleboxCpuUsPerOp ?? '-'} | ${m.middleboxSysShare ?? '-'} | ${m.errors} |`,
    );
  }
  lines.push('');
  lines.push(`| ratio (median of per-round ratios) | value | per round | CPU efficiency | goal | met |`);
  lines.push(`|---|---:|---|---:|---:|---|`);
  for (const x of r.ratios) {
    lines.push(
      `| ${x.title} | ${x.value ?? '-'} | ${x.perRound.map((v) => v ?? '-').join(' / ')} | ${x.cpuEfficiency ?? '-'} | ${x.goal === null ? '' : `≥ ${x.goal}`} | ${x.met === null ? '' : x.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

const README_BEGIN = '<!-- bench-results:begin (written by `node dist/bench/run.js --readme`) -->';
const README_END = '<!-- bench-results:end -->';

export function updateReadme(readmePath: string, r: BenchResults, file: string): void {
  const m = r.machine;
  const block = [
    README_BEGIN,
    `Latest run: ${r.date} — \`${r.command}\``,
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}; load average ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd.join(' ')} at end.`,
    `Origin: ${r.upstream.kind} (${r.upstream.cert}, ${r.upstream.keyType}). Peers: ${Object.entries(r.peers).map(([k, v]) => `${k} ${'skipped' in v ? '(skipped)' : v.version}`).join('; ') || 'not measured'}.`,
    `Rounds: ${r.options.rounds} × ${r.options.durationS} s per target, interleaved. Raw data: \`${relative(repoRoot, file)}\`.`,
    '',
    renderTable(r),
    '',
    `Peak RSS (MiB): ${Object.entries(r.peakRssMiB).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    README_END,
  ].join('\n');
  let text = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(README_BEGIN);
  const b = text.indexOf(README_END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + README_END.length);
  else text = `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  writeFileSync(readmePath, text);
}

async function cli(): Promise<number> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    const help = argv.includes('--help') || argv.includes('-h');
    (help ? process.stdout : process.stderr).write(o + '\n');
    return help ? 0 : 2;
  }
  const { results, file } = await runBench(o, argv, (s) => process.stderr.write(s + '\n'));
  process.stdout.write(renderTable(results) + '\n');
  for (const n of results.notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`results: ${file}\n`);
  if (o.readme) updateReadme(join(repoRoot, 'bench', 'README.md'), results, file);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
