// FMC objects (hosts, networks, ranges, FQDNs, network groups; protocol-port objects and port
// groups; URL objects and URL groups) looked up by id as rules and Security Intelligence name
// them, and written once each into the policy's `objects:` under a name the policy format
// reads as a name. Only what something references is written: an FMC domain's object list
// holds thousands nobody in this policy uses.
import { peekwallError, type PeekwallError } from '../../util/errors.js';
import type { FilePos } from '../../policy/index.js';
import type { Pos, YNode } from '../../schema/index.js';
import type { Bundle, FmcItem, FmcResource } from './bundle.js';
import { pathStep } from './json.js';
import { field, fieldText, list, map, scalar, seq } from './tree.js';

export class Issues {
  readonly errors: PeekwallError[] = [];
  readonly warnings: PeekwallError[] = [];
  error(code: string, message: string, at: Pos): void {
    this.errors.push(peekwallError(code, message, at as FilePos));
  }
  warn(code: string, message: string, at: Pos): void {
    this.warnings.push(peekwallError(code, message, at as FilePos));
  }
}

export type Kind = 'network' | 'port' | 'url';
const RESOURCES: Readonly<Record<Kind, readonly FmcResource[]>> = {
  network: ['hosts', 'networks', 'ranges', 'fqdns', 'networkgroups'],
  port: ['protocolportobjects', 'portobjectgroups'],
  url: ['urls', 'urlgroups'],
};
/** The policy format's section for each kind. */
export const SECTION: Readonly<Record<Kind, string>> = { network: 'networks', port: 'ports', url: 'urls' };

/** Reference types that are places, not addresses: no flow shows its country. */
export const GEO_TYPES: ReadonlySet<string> = new Set(['Country', 'Continent', 'Geolocation', 'GeoLocation']);
/** Port references that are ICMP, never a TCP port. */
const ICMP_TYPES: ReadonlySet<string> = new Set(['ICMPV4Object', 'ICMPV6Object', 'ICMPv4PortLiteral', 'ICMPv6PortLiteral']);

/** Where a reference stands, for messages: `accessrules 'NAME' $.items[3].sourceNetworks`. */
export interface Where {
  readonly what: string;
  readonly path: string;
}

/** A written object's name, or why the object cannot be part of a condition peekwall evaluates. */
export type Emitted = { readonly name: string } | { readonly unsupported: string } | { readonly notTcp: string };

/** IANA protocol numbers and the names FMC's protocol-port objects use. */
const PROTOCOLS: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, ICMP: 1, IPV6_ICMP: 58, 'IPV6-ICMP': 58, ICMPV6: 58, SCTP: 132, GRE: 47, ESP: 50, AH: 51 };

/** A protocol as a number: '6', 'TCP', 'tcp'; null when it is neither a number 0-255 nor a known name. */
export function protocolNumber(t: string): number | null {
  if (/^\d{1,3}$/.test(t) && Number(t) <= 255) return Number(t);
  return PROTOCOLS[t.toUpperCase()] ?? null;
}

/** A name the policy format reads as an object name of this kind, not as a literal value. */
function safeName(name: string, kind: Kind): string {
  let n = name.trim() || 'unnamed';
  if (kind === 'url') n = n.replace(/[./]/g, '_'); // a '.' or '/' makes a URL literal
  if (kind === 'network') n = n.replace(/:/g, '_'); // a ':' makes an IPv6 literal
  const c = n.charCodeAt(0);
  if ((c >= 48 && c <= 57) || n === 'any') n = `obj-${n}`; // a digit starts a literal address or port
  return n;
}

export class FmcObjects {
  private readonly byId = new Map<string, FmcItem>();
  private readonly byTypeName = new Map<string, FmcItem>();
  private readonly done = new Map<FmcItem, Emitted>();
  private readonly used: Record<Kind, Set<string>> = { network: new Set(), port: new Set(), url: new Set() };
  /** The `objects:` entries written so far, per kind, in the order first referenced. */
  readonly decls: Record<Kind, [string, YNode][]> = { network: [], port: [], url: [] };
  /** FMC name and id of each written object, for the YAML comments. */
  readonly origin = new Map<string, string>();

  constructor(
    bundle: Bundle,
    private readonly issues: Issues,
  ) {
    for (const items of bundle.resources.values()) {
      for (const it of items) {
        const id = fieldText(it.node, 'id');
        if (id !== undefined && !this.byId.has(id)) this.byId.set(id, it);
        const type = fieldText(it.node, 'type');
        const name = fieldText(it.node, 'name');
        if (type !== undefined && name !== undefined) this.byTypeName.set(`${type}\0${name}`, it);
      }
    }
  }

  /** The item a reference `{type, id, name}` names, or null after saying it is not in the bundle. */
  resolve(ref: YNode, where: Where, resources: readonly FmcResource[]): FmcItem | null {
    const id = fieldText(ref, 'id');
    const type = fieldText(ref, 'type') ?? 'object';
    const name = fieldText(ref, 'name');
    const hit = (id !== undefined ? this.byId.get(id) : undefined) ?? (name !== undefined ? this.byTypeName.get(`${type}\0${name}`) : undefined);
    if (hit && resources.includes(hit.resource)) return hit;
    const said = `${type}${name !== undefined ? ` '${name}'` : ''}${id !== undefined ? ` (id ${id})` : ''}`;
    const why = hit ? `is a ${hit.resource} item, not one of ${resources.join(', ')}` : `is not in the bundle (looked in ${resources.join(', ')})`;
    this.issues.error('fmc/unknown-object', `${where.what} ${where.path}: ${said} ${why}`, ref.at);
    return null;
  }

  /** An item by id (SI lists, URL categories), or undefined. */
  byIdOf(id: string | undefined): FmcItem | undefined {
    return id === undefined ? undefined : this.byId.get(id);
  }

  private declare(kind: Kind, item: FmcItem, values: YNode[]): Emitted {
    const fmcName = fieldText(item.node, 'name') ?? fieldText(item.node, 'id') ?? 'unnamed';
    let name = safeName(fmcName, kind);
    // Two FMC objects may share a name across resources (a host and a network): keep both.
    for (let k = 2; this.used[kind].has(name); k++) name = `${safeName(fmcName, kind)}-${k}`;
    this.used[kind].add(name);
    this.decls[kind].push([name, seq(values, item.node.at)]);
    this.origin.set(`${kind}\0${name}`, `${fieldText(item.node, 'type') ?? item.resource} '${fmcName}' ${fieldText(item.node, 'id') ?? ''}`.trim());
    return { name };
  }

  /** A network object (groups to any depth) written under `objects.networks`. */
  network(item: FmcItem, stack: readonly FmcItem[] = []): Emitted {
    const prior = this.done.get(item);
    if (prior) return prior;
    const out = this.networkUncached(item, stack);
    this.done.set(item, out);
    return out;
  }

  private networkUncached(item: FmcItem, stack: readonly FmcItem[]): Emitted {
    const name = fieldText(item.node, 'name') ?? '?';
    if (item.resource === 'fqdns') {
      return { unsupported: `FQDN object '${name}' (${fieldText(item.node, 'value') ?? '?'}): FTD matches the addresses it resolves, which peekwall cannot know` };
    }
    if (item.resource !== 'networkgroups') {
      const v = field(item.node, 'value');
      return this.declare('network', item, v ? [scalar(fieldText(item.node, 'value') ?? '', v.at)] : []);
    }
    if (stack.includes(item)) {
      this.issues.error('fmc/object-cycle', `networkgroups '${name}' (${item.path}) contains itself (${[...stack, item].map((s) => fieldText(s.node, 'name')).join(' -> ')})`, item.node.at);
      return { unsupported: `network group '${name}' contains itself` };
    }
    const members = this.networkList(field(item.node, 'objects'), field(item.node, 'literals'), { what: `networkgroups '${name}'`, path: item.path }, [...stack, item]);
    if (members.unsupported.length > 0) return { unsupported: members.unsupported[0] };
    if (members.items.length === 0) {
      this.issues.error('fmc/schema', `networkgroups '${name}' (${item.path}) has no objects and no literals`, item.node.at);
      return { unsupported: `network group '${name}' is empty` };
    }
    return this.declare('network', item, members.items);
  }

  /** A networks container `{objects, literals}` as list items (object names and literal values). */
  networkList(objects: YNode | undefined, literals: YNode | undefined, where: Where, stack: readonly FmcItem[] = []): { items: YNode[]; unsupported: string[] } {
    const items: YNode[] = [];
    const unsupported: string[] = [];
    list(objects).forEach((ref, i) => {
      const type = fieldText(ref, 'type') ?? '';
      if (GEO_TYPES.has(type)) {
        unsupported.push(`${type} '${fieldText(ref, 'name') ?? fieldText(ref, 'id') ?? '?'}': geolocation is not in a flow peekwall sees`);
        return;
      }
      const it = this.resolve(ref, { what: where.what, path: `${where.path}.objects${pathStep(i)}` }, RESOURCES.network);
      if (!it) return;
      const e = this.network(it, stack);
      if ('name' in e) items.push(scalar(e.name, ref.at));
      else if ('unsupported' in e) unsupported.push(e.unsupported);
    });
    for (const lit of list(literals)) {
      const type = fieldText(lit, 'type') ?? '';
      const v = field(lit, 'value');
      if (type === 'FQDN') unsupported.push(`FQDN literal '${fieldText(lit, 'value') ?? '?'}': FTD matches the addresses it resolves, which peekwall cannot know`);
      else if (v) items.push(scalar(fieldText(lit, 'value') ?? '', v.at));
      else this.issues.error('fmc/schema', `${where.what} ${where.path}.literals: a literal needs a 'value'`, lit.at);
    }
    return { items, unsupported };
  }

  /** A port object or group: its TCP ports, or why none (UDP, ICMP, another protocol). */
  port(item: FmcItem, stack: readonly FmcItem[] = []): Emitted {
    const prior = this.done.get(item);
    if (prior) return prior;
    const out = this.portUncached(item, stack);
    this.done.set(item, out);
    return out;
  }

  private portUncached(item: FmcItem, stack: readonly FmcItem[]): Emitted {
    const name = fieldText(item.node, 'name') ?? '?';
    if (item.resource === 'protocolportobjects') {
      const one = this.portValue(item.node, { what: `protocolportobjects '${name}'`, path: item.path });
      if (typeof one === 'string') return { notTcp: `port object '${name}' is ${one}` };
      return one ? this.declare('port', item, [one]) : { notTcp: `port object '${name}' has no usable port` };
    }
    if (stack.includes(item)) {
      this.issues.error('fmc/object-cycle', `portobjectgroups '${name}' (${item.path}) contains itself`, item.node.at);
      return { notTcp: `port group '${name}' contains itself` };
    }
    const members = this.portList(field(item.node, 'objects'), field(item.node, 'literals'), { what: `portobjectgroups '${name}'`, path: item.path }, [...stack, item]);
    if (members.items.length === 0) return { notTcp: `port group '${name}' holds no TCP port` };
    return this.declare('port', item, members.items);
  }

  /** One protocol-port object or literal: its TCP port text, the protocol it is instead, or null after an error. */
  private portValue(n: YNode, where: Where): YNode | string | null {
    const p = field(n, 'protocol');
    const pt = fieldText(n, 'protocol');
    if (pt === undefined) {
      this.issues.error('fmc/schema', `${where.what} ${where.path}: a port needs a 'protocol' (an IANA number such as "6")`, n.at);
      return null;
    }
    const proto = protocolNumber(pt);
    if (proto === null) {
      this.issues.error('fmc/bad-protocol', `${where.what} ${where.path}.protocol: '${pt}' is not an IANA protocol number (0-255) or name`, p!.at);
      return null;
    }
    if (proto !== 6) return `protocol ${pt}`;
    const port = field(n, 'port');
    const t = fieldText(n, 'port');
    // A TCP object without a port is every TCP port.
    if (t === undefined || t === '' || t.toLowerCase() === 'any') return scalar('1-65535', (port ?? n).at);
    // '443' as the number the policy format writes; a range stays text.
    return scalar(/^\d{1,5}$/.test(t) ? Number(t) : t, port!.at);
  }

  /** A ports container `{objects, literals}` as TCP port list items, and what was not TCP. */
  portList(objects: YNode | undefined, literals: YNode | undefined, where: Where, stack: readonly FmcItem[] = []): { items: YNode[]; notTcp: string[] } {
    const items: YNode[] = [];
    const notTcp: string[] = [];
    list(objects).forEach((ref, i) => {
      const type = fieldText(ref, 'type') ?? '';
      if (ICMP_TYPES.has(type)) {
        notTcp.push(`${type} '${fieldText(ref, 'name') ?? '?'}'`);
        return;
      }
      const it = this.resolve(ref, { what: where.what, path: `${where.path}.objects${pathStep(i)}` }, RESOURCES.port);
      if (!it) return;
      const e = this.port(it, stack);
      if ('name' in e) items.push(scalar(e.name, ref.at));
      else if ('notTcp' in e) notTcp.push(e.notTcp);
    });
    list(literals).forEach((lit, i) => {
      const type = fieldText(lit, 'type') ?? '';
      if (ICMP_TYPES.has(type)) {
        notTcp.push(`${type} literal`);
        return;
      }
      const v = this.portValue(lit, { what: where.what, path: `${where.path}.literals${pathStep(i)}` });
      if (typeof v === 'string') notTcp.push(`literal ${v}${fieldText(lit, 'port') ? ` port ${fieldText(lit, 'port')}` : ''}`);
      else if (v) items.push(v);
    });
    return { items, notTcp };
  }

  /** A URL object or group written under `objects.urls`. */
  url(item: FmcItem, stack: readonly FmcItem[] = []): Emitted {
    const prior = this.done.get(item);
    if (prior) return prior;
    const name = fieldText(item.node, 'name') ?? '?';
    let out: Emitted;
    if (item.resource === 'urls') {
      const u = field(item.node, 'url');
      out = this.declare('url', item, u ? [scalar(fieldText(item.node, 'url') ?? '', u.at)] : []);
    } else if (stack.includes(item)) {
      this.issues.error('fmc/object-cycle', `urlgroups '${name}' (${item.path}) contains itself`, item.node.at);
      out = { unsupported: `URL group '${name}' contains itself` };
    } else {
      const items = this.urlList(field(item.node, 'objects'), field(item.node, 'literals'), { what: `urlgroups '${name}'`, path: item.path }, [...stack, item]);
      out = this.declare('url', item, items);
    }
    this.done.set(item, out);
    return out;
  }

  /** A URL container's objects and literals as list items: object names, then literal URLs. */
  urlList(objects: YNode | undefined, literals: YNode | undefined, where: Where, stack: readonly FmcItem[] = []): YNode[] {
    const items: YNode[] = [];
    list(objects).forEach((ref, i) => {
      const it = this.resolve(ref, { what: where.what, path: `${where.path}.objects${pathStep(i)}` }, RESOURCES.url);
      if (!it) return;
      const e = this.url(it, stack);
      if ('name' in e) items.push(scalar(e.name, ref.at));
    });
    for (const lit of list(literals)) {
      const u = field(lit, 'url');
      if (u) items.push(scalar(fieldText(lit, 'url') ?? '', u.at));
      else this.issues.error('fmc/schema', `${where.what} ${where.path}.literals: a URL literal needs a 'url'`, lit.at);
    }
    return items;
  }

  /** Every value a network reference stands for (groups flattened): Security Intelligence lists hold values, not names. */
  flatten(kind: 'network' | 'url', ref: YNode, where: Where, out: YNode[], stack: FmcItem[] = []): string | null {
    const it = this.resolve(ref, where, RESOURCES[kind]);
    if (!it) return null;
    if (stack.includes(it)) return `${it.resource} '${it.label}' contains itself`;
    const name = it.label;
    if (it.resource === 'fqdns') return `FQDN object '${name}'`;
    const leaf = kind === 'network' ? 'value' : 'url';
    const v = field(it.node, leaf);
    if (v) {
      out.push(scalar(fieldText(it.node, leaf) ?? '', v.at));
      return null;
    }
    let why: string | null = null;
    list(field(it.node, 'objects')).forEach((r, i) => {
      if (GEO_TYPES.has(fieldText(r, 'type') ?? '')) why ??= `geolocation '${fieldText(r, 'name') ?? '?'}'`;
      else why ??= this.flatten(kind, r, { what: `${it.resource} '${name}'`, path: `${it.path}.objects${pathStep(i)}` }, out, [...stack, it]);
    });
    for (const lit of list(field(it.node, 'literals'))) {
      const lv = field(lit, leaf);
      if (lv) out.push(scalar(fieldText(lit, leaf) ?? '', lv.at));
    }
    return why;
  }

  /** The `objects:` section of the policy tree. */
  section(at: Pos, applications: YNode | undefined): YNode | undefined {
    const part = (k: Kind) => (this.decls[k].length > 0 ? map(at, this.decls[k]) : undefined);
    const out = map(at, [
      ['networks', part('network')],
      ['ports', part('port')],
      ['urls', part('url')],
      ['applications', applications],
    ]);
    return out.kind === 'map' && out.entries.length > 0 ? out : undefined;
  }
}
