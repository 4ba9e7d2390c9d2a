// The processes a headline run measures: the origin, one peekwall child per policy the selected
// paths need (and the A/B build's, with --compare-build), and the peers (--peers). Each runs in
// its own process so its CPU seconds can be read from /proc; every one started is recorded in
// `started` so the caller stops them all, also when a later start fails.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchCert } from '../lib/certs.js';
import { writePolicies, type ProxyConfigName } from '../lib/policies.js';
import { benchDir, repoRoot } from '../lib/root.js';
import {
  nginxStreamAvailable,
  peerVersion,
  startHaproxy,
  startNginxOrigin,
  startNginxStream,
  startNodeChild,
  type Running,
} from '../lib/servers.js';
import type { BenchOptions } from './options.js';
import type { PathDef, TargetName } from './paths.js';
import type { BenchResults } from './results.js';

export const HOST = '127.0.0.1';
export const BLOCKED_SNI = 'blocked.bench.test';
/** Start bound for the peekwall child holding the big SI policy (load + compile). */
export const BIG_POLICY_START_MS = 600_000;

export interface Stack {
  upstream: Running;
  proxies: Map<ProxyConfigName, Running>;
  proxiesB: Map<ProxyConfigName, Running>;
  peers: Map<TargetName, Running>;
}

/** What the results file says about the stack beside the measurements. */
export interface StackFacts {
  upstream: BenchResults['upstream'];
  proxyConfigs: BenchResults['proxyConfigs'];
  peers: BenchResults['peers'];
  sniName: string;
}

export async function startStack(
  o: BenchOptions,
  selected: readonly PathDef[],
  work: string,
  started: Running[],
  notes: string[],
  log: (s: string) => void,
): Promise<{ stack: Stack; facts: StackFacts }> {
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
  const upstream =
    upstreamKind === 'nginx'
      ? await startNginxOrigin({ dir: work, host: HOST, certFile, keyFile, bodyBytes })
      : await startNodeChild('upstream', join(benchDir, 'upstream-child.js'), { certFile, keyFile, host: HOST, bodyBytes });
  started.push(upstream);
  const stack: Stack = { upstream, proxies: new Map(), proxiesB: new Map(), peers: new Map() };
  log(`origin: ${upstreamKind} https on ${HOST}:${upstream.port} (${cert.source})`);

  const proxyConfigs = await startProxies(o, selected, stack, work, started, notes, log);
  const peers = o.peers ? await startPeers(o, stack, work, started, log) : {};
  if (!o.peers) notes.push('peers not measured (run with --peers)');
  return {
    stack,
    facts: {
      upstream: { kind: upstreamKind, version: upstream.version, cert: cert.source, keyType: cert.keyType, bodyBytes },
      proxyConfigs,
      peers,
      sniName: cert.sniName,
    },
  };
}

/** The peekwall configurations the selected paths need, from this build and the A/B build. */
async function startProxies(
  o: BenchOptions,
  selected: readonly PathDef[],
  stack: Stack,
  work: string,
  started: Running[],
  notes: string[],
  log: (s: string) => void,
): Promise<BenchResults['proxyConfigs']> {
  const needed = [...new Set(selected.map((p) => p.proxy))];
  const policies = writePolicies(work, needed, { blockedSni: BLOCKED_SNI, siEntries: o.siEntries });
  const proxyConfigs: BenchResults['proxyConfigs'] = {};
  // Started side by side: loading the 1M-entry policy dominates, the others are quick.
  const builds: { label: 'peekwall' | 'peekwall-b'; dir: string; args: string[]; into: Map<ProxyConfigName, Running>; capture: boolean }[] = [
    { label: 'peekwall', dir: benchDir, args: o.proxyNodeArgs, into: stack.proxies, capture: o.capture },
  ];
  if (o.compareBuild) builds.push({ label: 'peekwall-b', dir: join(o.compareBuild, 'bench'), args: o.compareNodeArgs, into: stack.proxiesB, capture: o.capture });
  else if (o.compareCapture) builds.push({ label: 'peekwall-b', dir: benchDir, args: o.proxyNodeArgs, into: stack.proxiesB, capture: true });
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
        ...(b.capture ? { captureFile: join(work, `capture-${b.label}-${name}.pcapng`) } : {}),
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
  return proxyConfigs;
}

/** HAProxy and nginx stream when installed (else a reason), and the plain Node splice. */
async function startPeers(o: BenchOptions, stack: Stack, work: string, started: Running[], log: (s: string) => void): Promise<BenchResults['peers']> {
  const peers: BenchResults['peers'] = {};
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
    const r = await startNodeChild('node-splice', join(benchDir, 'splice-child.js'), { host: HOST, upstream: { host: HOST, port: stack.upstream.port }, mode: o.spliceMode });
    started.push(r);
    stack.peers.set('node-splice', r);
    peers['node-splice'] = { version: `plain net splice (${o.spliceMode}), node ${process.version}` };
  } catch (e) {
    peers['node-splice'] = { skipped: `did not start: ${e instanceof Error ? e.message : String(e)}` };
  }
  for (const [k, v] of Object.entries(peers)) log(`peer ${k}: ${'skipped' in v ? `SKIPPED: ${v.skipped}` : v.version}`);
  return peers;
}

/** The targets a path is measured through, given what started. */
export function targetsFor(path: PathDef, stack: Stack): TargetName[] {
  const ts: TargetName[] = [];
  if (path.direct) ts.push('direct');
  if (stack.proxies.has(path.proxy)) ts.push('peekwall');
  if (stack.proxiesB.has(path.proxy)) ts.push('peekwall-b');
  if (path.peers) for (const p of ['haproxy', 'nginx'] as const) if (stack.peers.has(p)) ts.push(p);
  // The plain splice cannot refuse anything: it only has a place on the allowed paths.
  if (path.peers && path.kind !== 'blocked' && stack.peers.has('node-splice')) ts.push('node-splice');
  return ts;
}

/** The process a target's traffic goes to on a path. */
export function processOf(path: PathDef, target: TargetName, stack: Stack): Running {
  if (target === 'direct') return stack.upstream;
  if (target === 'peekwall') return stack.proxies.get(path.proxy) as Running;
  if (target === 'peekwall-b') return stack.proxiesB.get(path.proxy) as Running;
  return stack.peers.get(target) as Running;
}
