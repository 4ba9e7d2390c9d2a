// Building FMC bundles in tests in the shapes FMC's REST API returns (../shared/FMC-API.md):
// objects `{id, name, type, ...}`, references `{type, id, name}`, empty conditions `{}`,
// protocols as IANA number strings, rules with metadata.ruleIndex and section.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { evaluate, lintPolicy, type LintFinding, type Policy, type Verdict } from '../../../src/policy/index.js';
import { loadPolicyFile, type PolicySourceOptions } from '../../../src/sources/index.js';
import type { PeekwallError } from '../../../src/util/errors.js';

export type Json = Record<string, unknown>;
let next = 1;
export const id = (): string => `00505686-4D2B-0ed3-0000-${String(next++).padStart(12, '0')}`;

export const host = (name: string, value: string): Json => ({ id: id(), name, type: 'Host', value });
export const network = (name: string, value: string): Json => ({ id: id(), name, type: 'Network', value });
export const range = (name: string, value: string): Json => ({ id: id(), name, type: 'Range', value });
export const fqdn = (name: string, value: string): Json => ({ id: id(), name, type: 'FQDN', value });
export const netGroup = (name: string, objects: Json[], literals: Json[] = []): Json => ({ id: id(), name, type: 'NetworkGroup', objects: objects.map(ref), literals });
export const port = (name: string, protocol: string, p?: string): Json => ({ id: id(), name, type: 'ProtocolPortObject', protocol, ...(p !== undefined ? { port: p } : {}) });
export const portGroup = (name: string, objects: Json[]): Json => ({ id: id(), name, type: 'PortObjectGroup', objects: objects.map(ref) });
export const url = (name: string, u: string): Json => ({ id: id(), name, type: 'Url', url: u });
export const urlGroup = (name: string, objects: Json[], literals: string[] = []): Json => ({ id: id(), name, type: 'UrlGroup', objects: objects.map(ref), literals: literals.map((u) => ({ type: 'Url', url: u })) });
export const siList = (name: string, type: 'SINetworkList' | 'SIURLList'): Json => ({ id: id(), name, type });
export const ref = (o: Json): Json => ({ type: o.type, id: o.id, name: o.name });
export const cat = (name: string, reputation: string): Json => ({ type: 'UrlCategoryAndReputation', reputation, category: { name, id: id(), type: 'URLCategory' } });

export const ACP_ID = '00505686-4D2B-0ed3-0000-004294967320';

/** An expanded access rule; every condition FMC returns empty is `{}`. */
export function rule(name: string, action: string, o: Json = {}, index?: number, section = 'Default'): Json {
  return {
    metadata: { ruleIndex: index, section, category: '--Undefined--', accessPolicy: { id: ACP_ID, type: 'AccessPolicy', name: 'acp' } },
    id: id(),
    name,
    type: 'AccessRule',
    action,
    enabled: true,
    sourceZones: {},
    destinationZones: {},
    sourceNetworks: {},
    destinationNetworks: {},
    sourcePorts: {},
    destinationPorts: {},
    applications: {},
    urls: {},
    users: {},
    vlanTags: {},
    logBegin: false,
    logEnd: false,
    sendEventsToFMC: false,
    ...o,
  };
}

export function acp(defaultAction = 'BLOCK', extra: Json = {}): Json {
  return { id: ACP_ID, name: 'acp', type: 'AccessPolicy', defaultAction: { action: defaultAction, type: 'AccessPolicyDefaultAction', logBegin: false, logEnd: false }, ...extra };
}

/** FMC's paged answer for a list of items (one page). */
export function paged(items: Json[], count = items.length, offset = 0, limit = 25): Json {
  return { links: { self: 'https://fmc/api/fmc_config/v1/domain/x/object/x?expanded=true' }, items, paging: { offset, limit, count, pages: Math.max(1, Math.ceil(count / limit)) } };
}

/** A bundle's resources from objects: each object goes to the resource its type belongs to. */
export function bundleOf(rules: Json[], objects: Json[] = [], extra: Json = {}, policy: Json = acp()): Json {
  const by: Record<string, Json[]> = {};
  const resource: Record<string, string> = {
    Host: 'hosts', Network: 'networks', Range: 'ranges', FQDN: 'fqdns', NetworkGroup: 'networkgroups',
    ProtocolPortObject: 'protocolportobjects', PortObjectGroup: 'portobjectgroups', Url: 'urls', UrlGroup: 'urlgroups',
    SINetworkList: 'sinetworklists', SIURLList: 'siurllists', SecurityIntelligencePolicy: 'securityintelligencepolicies',
  };
  for (const o of objects) (by[resource[o.type as string]] ??= []).push(o);
  const out: Json = { accesspolicies: paged([policy]), accessrules: paged(rules) };
  for (const [k, v] of Object.entries(by)) out[k] = paged(v);
  return { ...out, ...extra };
}

/** A temporary folder removed when the test ends. */
export function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-fmc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write files (name -> JSON value or text) into a folder. */
export function writeFiles(dir: string, files: Record<string, unknown>): void {
  for (const [name, v] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, typeof v === 'string' ? v : `${JSON.stringify(v, null, 2)}\n`);
  }
}

/** Write a bundle as one JSON file (plus other files beside it) and load it. */
export async function load(t: Test, bundle: Json, o: PolicySourceOptions = {}, beside: Record<string, unknown> = {}): Promise<{ ok: true; value: Policy; file: string } | { ok: false; error: PeekwallError[]; file: string }> {
  const dir = tmp(t);
  writeFiles(dir, { 'bundle.json': bundle, ...beside });
  const file = join(dir, 'bundle.json');
  const r = await loadPolicyFile(file, o);
  return { ...r, file };
}

export async function mustLoad(t: Test, bundle: Json, o: PolicySourceOptions = {}, beside: Record<string, unknown> = {}): Promise<Policy> {
  const r = await load(t, bundle, o, beside);
  if (!r.ok) throw new Error(`bundle did not load:\n${r.error.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message} [${e.code}]`).join('\n')}`);
  return r.value;
}

/** The verdict for a TLS flow to `dst`:`dport` from `src`, named `name` by SNI. */
export function judge(p: Policy, src: string, dst: string, name: string | null = null, dport = 443): Verdict {
  return evaluate(p, { srcIp: src, srcPort: 40722, dstIp: dst, dstPort: dport, protocol: 'tcp', scheme: 'https', sni: name }, { name, source: name ? 'sni' : 'ip' });
}

/** The bundle reader's own warnings (fmc/...), as lint reports them. */
export function warns(p: Policy): LintFinding[] {
  return lintPolicy(p).filter((f) => f.code.startsWith('fmc/'));
}
