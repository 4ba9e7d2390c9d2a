// The headline bench's command line: options, their defaults (--quick: the ~1 s CI smoke) and
// the usage text. Bad input is a message, never a throw.
import { join } from 'node:path';
import { repoRoot } from '../lib/root.js';
import { PATHS } from './paths.js';

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
  /** peekwall records what it inspects as pcapng (--capture), to compare its cost. */
  capture: boolean;
  /** A/B in the same rounds: peekwall-b is this build with --capture on. */
  compareCapture: boolean;
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
  --capture            peekwall records what it inspects as pcapng (run capture, 64 MiB ring)
  --compare-capture    A/B: this build again as target peekwall-b, capturing, interleaved
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
    capture: false,
    compareCapture: false,
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
      case '--capture':
        o.capture = true;
        break;
      case '--compare-capture':
        o.compareCapture = true;
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
