// Named objects (`objects:` — networks, ports, URLs, applications) and their expansion: a
// rule condition lists literals and object names, groups name other objects, and expansion
// follows the names down to the literals, under one budget for the whole policy.
import { DomainSet, parseDomainEntry } from './domains.js';
import { cmp6, IpSet, parseNetwork, type Interval } from './ip.js';
import type { ObjectInfo } from './compiled.js';
import { entries, scalarList, type Located, type Reader } from './reader.js';
import type { Pos, YNode } from '../schema/index.js';

/** Leaves plus group visits when expanding object references, for the whole policy. */
export const MAX_EXPANSION = 1_000_000;

interface ObjectDecl {
  readonly name: string;
  readonly at: Pos;
  readonly values: readonly Located[];
}

type ObjectTable = ReadonlyMap<string, ObjectDecl>;

/** A literal reached by expansion: `via` is the object that held it, `ref` where the condition named it. */
interface Leaf extends Located {
  readonly via: string | null;
  readonly ref: Pos;
}

type Kind = 'network' | 'port' | 'URL';

function isNetworkLiteral(t: string): boolean {
  // Object names never start with a digit or contain ':' in practice; a text that looks
  // like an address but fails to parse is reported as an invalid network, not an unknown
  // object, so the message says what is wrong.
  const c = t.charCodeAt(0);
  return (c >= 48 && c <= 57) || t.includes(':') || t === 'any';
}

function isPortLiteral(t: string): boolean {
  const c = t.charCodeAt(0);
  return (c >= 48 && c <= 57) || t === 'any';
}

function isUrlLiteral(t: string): boolean {
  return t.includes('.') || t.includes('/');
}

const LITERAL: Readonly<Record<Kind, (t: string) => boolean>> = { network: isNetworkLiteral, port: isPortLiteral, URL: isUrlLiteral };

function parsePortText(t: string): [number, number] | string {
  const dash = t.indexOf('-');
  const a = dash >= 0 ? t.slice(0, dash).trim() : t;
  const b = dash >= 0 ? t.slice(dash + 1).trim() : t;
  const pa = /^\d{1,5}$/.test(a) ? Number(a) : NaN;
  const pb = /^\d{1,5}$/.test(b) ? Number(b) : NaN;
  if (!(pa >= 1 && pa <= 65535 && pb >= 1 && pb <= 65535)) return `'${t}' is not a port (1-65535) or port range`;
  if (pa > pb) return `'${t}' is an empty port range`;
  return [pa, pb];
}

function intervalsOverlap(a: Interval, b: Interval): boolean {
  if (a.family === 4 && b.family === 4) return a.start <= b.end && b.start <= a.end;
  if (a.family === 6 && b.family === 6) return cmp6(a.start, 0, b.end, 0) <= 0 && cmp6(b.start, 0, a.end, 0) <= 0;
  return false;
}

function readDecls(n: YNode | undefined): Map<string, ObjectDecl> {
  const out = new Map<string, ObjectDecl>();
  for (const e of entries(n)?.values() ?? []) out.set(e.key, { name: e.key, at: e.keyAt, values: scalarList(e.value) });
  return out;
}

/** The declared objects and everything that expands references to them. */
export class Objects {
  /** Spent from maxExpansion by expand(). */
  private spent = 0;
  /** The object table as declared, for lint. */
  readonly info: ObjectInfo[] = [];
  /** Application object names; an application's id is its index here. */
  readonly appNames: string[] = [];
  /** Every application's host patterns, valued by application id. */
  readonly apps = new DomainSet();

  constructor(
    private readonly r: Reader,
    private readonly maxExpansion: number,
    private readonly tables: Readonly<Record<Kind, ObjectTable>>,
  ) {}

  /**
   * Expand a list of literals / object names into leaf values, following groups, into `out`.
   * Every object reached is added to `refs`.
   */
  private expand(items: readonly Located[], kind: Kind, refs: string[], out: Leaf[], stack: string[] = [], refAt?: Pos): Leaf[] {
    const literal = LITERAL[kind];
    const table = this.tables[kind];
    for (const it of items) {
      // Every leaf and every group visit spends from one budget per policy: groups that name
      // another group twice (A: [B, B], B: [C, C], ...) double at each level, so a few lines
      // would otherwise expand to billions of entries (and hang, or overflow the stack).
      if (++this.spent > this.maxExpansion) {
        if (this.spent === this.maxExpansion + 1) {
          this.r.error(refAt ?? it.at, 'policy/expansion-limit', `object groups expand to more than ${this.maxExpansion} entries (a group naming another group several times multiplies it; put large lists in feeds)`);
        }
        return out;
      }
      if (literal(it.text)) {
        out.push({ ...it, via: stack[stack.length - 1] ?? null, ref: refAt ?? it.at });
        continue;
      }
      const obj = table.get(it.text);
      if (!obj) {
        this.r.error(it.at, 'policy/unknown-object', `unknown ${kind} object '${it.text}' (neither a valid ${kind} nor a declared object)`);
        continue;
      }
      if (stack.includes(obj.name)) {
        this.r.error(it.at, 'policy/object-cycle', `${kind} group '${obj.name}' contains itself (${[...stack, obj.name].join(' -> ')})`);
        continue;
      }
      refs.push(obj.name);
      // Into the same array: no spread (a 150,000-entry object overflowed push(...)), no copies per level.
      this.expand(obj.values, kind, refs, out, [...stack, obj.name], refAt ?? it.at);
    }
    return out;
  }

  /** A network condition; null = any. `what` names the condition in overlap warnings. */
  networkSet(items: readonly Located[], refs: string[], what = 'networks'): IpSet | null {
    if (items.length === 0) return null;
    const leaves = this.expand(items, 'network', refs, []);
    const entries: { interval: Interval; label: string; via: string | null; ref: Pos }[] = [];
    for (const l of leaves) {
      if (l.text === 'any') return null;
      const iv = parseNetwork(l.text);
      if (typeof iv === 'string') {
        this.r.error(l.at, 'policy/invalid-network', l.via ? `${iv} (in object '${l.via}')` : iv);
        continue;
      }
      entries.push({ interval: iv, label: l.text, via: l.via, ref: l.ref });
    }
    // FMC rule analysis "object overlap": two entries of one condition share addresses, so
    // one of them is (partly) useless. Lists are short; pairwise is fine.
    if (entries.length <= 256) {
      const name = (e: (typeof entries)[number]) => (e.via ? `${e.label} (object '${e.via}')` : e.label);
      for (let i = 0; i < entries.length; i++)
        for (let j = i + 1; j < entries.length; j++)
          if (intervalsOverlap(entries[i].interval, entries[j].interval)) {
            this.r.warn(entries[j].ref, 'lint/object-overlap', `${what}: ${name(entries[j])} overlaps ${name(entries[i])}`);
          }
    }
    return new IpSet(entries);
  }

  /** Inclusive port ranges as sorted pairs; null = any. */
  portRanges(items: readonly Located[], refs: string[]): Int32Array | null {
    if (items.length === 0) return null;
    const pairs: [number, number][] = [];
    for (const l of this.expand(items, 'port', refs, [])) {
      if (l.text === 'any') return null;
      const p = parsePortText(l.text);
      if (typeof p === 'string') this.r.error(l.at, 'policy/invalid-port', p);
      else pairs.push(p);
    }
    pairs.sort((x, y) => x[0] - y[0]);
    return Int32Array.from(pairs.flat());
  }

  /** The URL texts the named URL objects hold, appended to `out`. */
  urlObjectTexts(names: readonly Located[], refs: string[], out: Located[]): void {
    for (const it of names) {
      if (!this.tables.URL.has(it.text)) this.r.error(it.at, 'policy/unknown-object', `unknown URL object '${it.text}'`);
      else this.expand([it], 'URL', refs, out as Leaf[]);
    }
  }

  /** Application ids; null = any. */
  applicationIds(items: readonly Located[], refs: string[]): Set<number> | null {
    if (items.length === 0) return null;
    const ids = new Set<number>();
    for (const a of items) {
      if (a.text === 'any') return null;
      const id = this.appNames.indexOf(a.text);
      if (id < 0) this.r.error(a.at, 'policy/unknown-object', `unknown application '${a.text}' (declare it under objects.applications)`);
      else {
        ids.add(id);
        refs.push(a.text);
      }
    }
    return ids;
  }

  /** Validate every object once, even unused ones ("invalid entries" are errors wherever they are). */
  validate(applications: ObjectTable): void {
    const file = (d: ObjectDecl) => this.r.fileAt(d.at);
    const values = (d: ObjectDecl) => d.values.map((v) => v.text);
    for (const d of this.tables.network.values()) {
      const ips = this.networkSet(d.values, [], `network object '${d.name}'`);
      this.info.push({ kind: 'network', name: d.name, at: d.at, file: file(d), values: values(d), ...(ips ? { ips } : {}) });
    }
    for (const d of this.tables.port.values()) {
      this.portRanges(d.values, []);
      this.info.push({ kind: 'port', name: d.name, at: d.at, file: file(d), values: values(d) });
    }
    for (const d of this.tables.URL.values()) {
      for (const l of this.expand(d.values, 'URL', [], [])) {
        if (l.text.includes('/')) continue;
        const pe = parseDomainEntry(l.text);
        if (typeof pe === 'string') this.r.error(l.at, 'policy/invalid-url', pe);
      }
      this.info.push({ kind: 'url', name: d.name, at: d.at, file: file(d), values: values(d) });
    }
    for (const d of applications.values()) {
      const id = this.appNames.length;
      this.appNames.push(d.name);
      for (const v of d.values) {
        const pe = parseDomainEntry(v.text);
        if (typeof pe === 'string') this.r.error(v.at, 'policy/invalid-url', `application '${d.name}': ${pe}`);
        else this.apps.add(pe, id);
      }
      this.info.push({ kind: 'application', name: d.name, at: d.at, file: file(d), values: values(d) });
    }
  }
}

/** The `objects:` section, read and validated. */
export function readObjects(r: Reader, n: YNode | undefined, maxExpansion: number): Objects {
  const section = entries(n);
  const decls = (key: string) => readDecls(section?.get(key)?.value);
  const network = decls('networks');
  const port = decls('ports');
  const URL = decls('urls');
  const applications = decls('applications');
  const objects = new Objects(r, maxExpansion, { network, port, URL });
  objects.validate(applications);
  return objects;
}
