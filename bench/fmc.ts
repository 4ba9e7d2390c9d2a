// FMC bundle benchmark (issue 13): generate a bundle of N rules and M objects in FMC's
// ?expanded=true shapes, load it as every command does (read, JSON, map, compile), write it as
// YAML with import fmc's writer and load that, then time evaluation against both.
//
//   node dist/bench/fmc.js [--rules N] [--objects M] [--evals N] [--json]
//
// Targets: a 5,000-rule, 50,000-object bundle loads in <= 5 s; evaluation per flow within 1.2x
// of the equivalent YAML. Bounded: fixed counts; the temp dir is removed at the end.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { evaluate, type Flow, type Policy } from '../src/policy/index.js';
import { loadPolicyFile, policyYaml, readFmcPolicy } from '../src/sources/index.js';

interface Options {
  rules: number;
  objects: number;
  evals: number;
  json: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = { rules: 5_000, objects: 50_000, evals: 100_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const n = Number(argv[i + 1]);
    if (a === '--json') o.json = true;
    else if (a === '--rules') (o.rules = n), i++;
    else if (a === '--objects') (o.objects = n), i++;
    else if (a === '--evals') (o.evals = n), i++;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const id = (kind: number, n: number) => `00505686-4D2B-0ed3-${String(kind).padStart(4, '0')}-${String(n).padStart(12, '0')}`;
const ip = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

/** A bundle in FMC's shapes: hosts, networks, network groups, port objects, URL objects; rules naming them. */
function generate(o: Options): Record<string, unknown> {
  const r = rng(13);
  const hosts = [];
  const networks = [];
  const groups = [];
  const ports = [];
  const urls = [];
  const nHosts = Math.floor(o.objects * 0.6);
  const nNets = Math.floor(o.objects * 0.2);
  const nGroups = Math.floor(o.objects * 0.1);
  const nPorts = Math.floor(o.objects * 0.04);
  const nUrls = o.objects - nHosts - nNets - nGroups - nPorts;
  const meta = { readOnly: { state: false }, domain: { name: 'Global', id: 'e276abec-e0f2-11e3-8169-6d9ed49b625f', type: 'Domain' } };
  for (let i = 0; i < nHosts; i++) hosts.push({ id: id(1, i), name: `H_${i}`, type: 'Host', value: ip(i + 1), overridable: false, description: ' ', metadata: meta, links: { self: `https://fmc/api/fmc_config/v1/domain/x/object/hosts/${id(1, i)}` } });
  for (let i = 0; i < nNets; i++) networks.push({ id: id(2, i), name: `N_${i}`, type: 'Network', value: `172.${16 + ((i >> 12) & 15)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`, overridable: false, description: ' ', metadata: meta });
  for (let i = 0; i < nGroups; i++) {
    const objs = [0, 1, 2].map(() => { const h = Math.floor(r() * nHosts); return { type: 'Host', id: id(1, h), name: `H_${h}` }; });
    if (i > 0 && r() < 0.3) { const g = Math.floor(r() * i); objs.push({ type: 'NetworkGroup', id: id(3, g), name: `G_${g}` }); }
    groups.push({ id: id(3, i), name: `G_${i}`, type: 'NetworkGroup', objects: objs, literals: [{ type: 'Network', value: `192.168.${i & 255}.0/24` }], overridable: false, description: ' ', metadata: meta });
  }
  for (let i = 0; i < nPorts; i++) ports.push({ id: id(4, i), name: `P_${i}`, type: 'ProtocolPortObject', protocol: i % 5 === 0 ? 'UDP' : 'TCP', port: String(1024 + i), overridable: false, description: ' ', metadata: meta });
  for (let i = 0; i < nUrls; i++) urls.push({ id: id(5, i), name: `U_${i}`, type: 'Url', url: `site${i}.example.com`, overridable: false, description: ' ', metadata: meta });
  const rules = [];
  for (let i = 0; i < o.rules; i++) {
    const g = Math.floor(r() * nGroups);
    const h = Math.floor(r() * nHosts);
    const p = Math.floor(r() * nPorts);
    const u = Math.floor(r() * nUrls);
    rules.push({
      metadata: { ruleIndex: i + 1, section: i < 50 ? 'Mandatory' : 'Default', category: '--Undefined--', accessPolicy: { id: 'acp', type: 'AccessPolicy', name: 'bench' } },
      links: { self: `https://fmc/api/fmc_config/v1/domain/x/policy/accesspolicies/acp/accessrules/${id(9, i)}` },
      id: id(9, i), name: `RULE_${i}`, type: 'AccessRule', enabled: true,
      action: ['ALLOW', 'BLOCK', 'TRUST', 'BLOCK_RESET'][i % 4],
      sourceZones: {}, destinationZones: {}, sourcePorts: {}, users: {}, vlanTags: {}, applications: {},
      sourceNetworks: { objects: [{ type: 'NetworkGroup', id: id(3, g), name: `G_${g}` }] },
      destinationNetworks: { objects: [{ type: 'Host', id: id(1, h), name: `H_${h}` }], literals: [{ type: 'Network', value: `198.51.${i & 255}.0/24` }] },
      destinationPorts: { objects: [{ type: 'ProtocolPortObject', id: id(4, p), name: `P_${p}` }], literals: [{ type: 'PortLiteral', protocol: '6', port: '443' }] },
      urls: i % 3 === 0 ? { objects: [{ type: 'Url', id: id(5, u), name: `U_${u}` }] } : {},
      variableSet: { name: 'Default-Set', id: '76fa83ea-c972-11e2-8be8-8e45bb1343c0', type: 'VariableSet' },
      logBegin: false, logEnd: true, sendEventsToFMC: true, enableSyslog: false, logFiles: false,
    });
  }
  const page = (items: unknown[]) => ({ links: { self: 'https://fmc/x?expanded=true' }, items, paging: { offset: 0, limit: items.length, count: items.length, pages: 1 } });
  return {
    accesspolicies: page([{ id: 'acp', name: 'bench', type: 'AccessPolicy', defaultAction: { action: 'BLOCK', type: 'AccessPolicyDefaultAction' } }]),
    accessrules: page(rules), hosts: page(hosts), networks: page(networks), networkgroups: page(groups), protocolportobjects: page(ports), urls: page(urls),
    'x-peekwall': { settings: { tsid: { enabled: false } } },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall and CPU (user + system) milliseconds: on a shared machine the CPU figure is the steady one. */
async function timed<T>(f: () => Promise<T>): Promise<[T, number, number]> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const v = await f();
  const c = process.cpuUsage(c0);
  return [v, performance.now() - t0, (c.user + c.system) / 1000];
}

function evalCost(p: Policy, flows: Flow[], n: number): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const f = flows[i % flows.length];
    sink += evaluate(p, f, { name: f.sni, source: 'sni' }, { trace: false }).rule.length;
  }
  const ns = ((performance.now() - t0) * 1e6) / n;
  if (sink < 0) throw new Error('unreachable');
  return ns;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-bench-fmc-'));
  try {
    const file = join(dir, 'bundle.json');
    writeFileSync(file, JSON.stringify(generate(o)));
    const bytes = statSync(file).size;
    const loads: number[] = [];
    const cpus: number[] = [];
    let policy: Policy | null = null;
    for (let k = 0; k < 3; k++) {
      const [r, ms, cpu] = await timed(() => loadPolicyFile(file));
      if (!r.ok) throw new Error(JSON.stringify(r.error.slice(0, 3)));
      policy = r.value;
      loads.push(ms);
      cpus.push(cpu);
    }
    const [, readMapMs, readMapCpu] = await timed(async () => readFmcPolicy(file));
    const m = readFmcPolicy(file);
    if (!m.ok) throw new Error('map');
    const yamlFile = join(dir, 'bundle.yaml');
    writeFileSync(yamlFile, policyYaml(m.value.mapped, { source: file, rebase: (x) => x }));
    const [y, yamlMs, yamlCpu] = await timed(() => loadPolicyFile(yamlFile));
    if (!y.ok) throw new Error(JSON.stringify(y.error.slice(0, 3)));
    const r = rng(7);
    const flows: Flow[] = Array.from({ length: 4096 }, () => ({
      srcIp: r() < 0.5 ? ip(Math.floor(r() * 60_000) + 1) : `192.168.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`,
      srcPort: 40000, dstIp: r() < 0.5 ? `198.51.${Math.floor(r() * 256)}.9` : ip(Math.floor(r() * 60_000) + 1), dstPort: r() < 0.7 ? 443 : 1024 + Math.floor(r() * 2000),
      protocol: 'tcp', scheme: 'https', sni: r() < 0.5 ? `site${Math.floor(r() * 20_000)}.example.com` : null,
    }));
    // Interleaved rounds so drift on a shared machine hits both alike.
    const fmcNs: number[] = [];
    const yamlNs: number[] = [];
    evalCost(policy!, flows, o.evals / 10);
    evalCost(y.value, flows, o.evals / 10);
    for (let k = 0; k < 5; k++) {
      fmcNs.push(evalCost(policy!, flows, o.evals));
      yamlNs.push(evalCost(y.value, flows, o.evals));
    }
    const out = {
      rules: o.rules, objects: o.objects, bundleBytes: bytes,
      loadMs: Math.round(median(loads)), loadRunsMs: loads.map(Math.round), loadCpuMs: Math.round(median(cpus)),
      readAndMapMs: Math.round(readMapMs), readAndMapCpuMs: Math.round(readMapCpu), yamlLoadMs: Math.round(yamlMs), yamlLoadCpuMs: Math.round(yamlCpu),
      evalNsBundle: Math.round(median(fmcNs)), evalNsYaml: Math.round(median(yamlNs)), ratio: Number((median(fmcNs) / median(yamlNs)).toFixed(3)),
      loadavg: loadavg().map((x) => Number(x.toFixed(2))),
    };
    if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      process.stdout.write(`bundle: ${o.rules} rules, ${o.objects} objects, ${(bytes / 1e6).toFixed(1)} MB\n`);
      process.stdout.write(`load (read, JSON, map, compile): median ${out.loadMs} ms wall (${out.loadRunsMs.join(', ')}), ${out.loadCpuMs} ms CPU; of which read + JSON + map ${out.readAndMapMs} ms wall, ${out.readAndMapCpuMs} ms CPU\n`);
      process.stdout.write(`the same policy as YAML (import fmc's output): ${out.yamlLoadMs} ms wall, ${out.yamlLoadCpuMs} ms CPU\n`);
      process.stdout.write(`evaluation per flow (trace off, median of 5 x ${o.evals}): bundle ${out.evalNsBundle} ns, YAML ${out.evalNsYaml} ns, ratio ${out.ratio}\n`);
      process.stdout.write(`load average ${out.loadavg.join(' ')}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
