// Domain-name matching with FMC's Security Intelligence URL syntax (DOMAIN.md §3), indexed so
// a lookup costs one hash probe per label of the host, whatever the number of entries:
//   example.com     matches example.com and every subdomain (label-aligned suffix), never
//                   example.co.uk nor example.com.evil.net;
//   example.com/    (trailing '/') matches exactly example.com;
//   *.example.com   '*' stands for one whole label (here: any subdomain, and names under it);
//   org             a single label matches every name under it;
//   example.com/p   a path entry: host as 'example.com', and the URL path starts with '/p'.
// The scheme is ignored ('https://example.com' is 'example.com'); names are case-insensitive.
//
// Plain entries live in one open-addressing hash table keyed by the full name (1,000,000
// entries cost one slot each, not one trie node per label), probed once per label of the
// host; only entries containing '*' go into a small reversed-label trie.

export interface DomainEntry {
  /** Lower-cased host part without scheme or trailing dot; may contain '*' labels. */
  readonly host: string;
  readonly exact: boolean;
  /** Path prefix ('/p...') for path entries, else null. */
  readonly path: string | null;
  readonly wildcard: boolean;
}

/** Normalise and validate one SI URL / URL object entry. Returns an error message string when invalid. */
export function parseDomainEntry(raw: string): DomainEntry | string {
  let s = raw.trim().toLowerCase();
  if (s.length === 0) return 'empty entry';
  const scheme = s.indexOf('://');
  if (scheme >= 0) s = s.slice(scheme + 3);
  let path: string | null = null;
  let exact = false;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const rest = s.slice(slash);
    s = s.slice(0, slash);
    if (rest === '/') exact = true;
    else path = rest;
  }
  if (s.endsWith('.')) s = s.slice(0, -1);
  // A port in a URL entry ('example.com:8443') says nothing about the host: drop it.
  const colon = s.lastIndexOf(':');
  if (colon >= 0 && s.indexOf(':') === colon) s = s.slice(0, colon);
  if (s.length === 0) return `'${raw}' has no host`;
  if (s.length > 253) return `'${raw}' is longer than 253 characters`;
  let wildcard = false;
  let labelStart = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0) return `'${raw}' has an empty label`;
      if (len > 63) return `'${raw}' has a label longer than 63 characters`;
      if (s.charCodeAt(labelStart) === 42 /* * */) {
        if (len !== 1) return `'${raw}': '*' must be a whole label`;
        wildcard = true;
      }
      labelStart = i + 1;
      continue;
    }
    const ok =
      (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 42;
    if (!ok) return `'${raw}' contains '${s[i]}', not allowed in a host name`;
    if (c === 42 && !(i === labelStart && (i + 1 === s.length || s.charCodeAt(i + 1) === 46)))
      return `'${raw}': '*' must be a whole label`;
  }
  if (wildcard && exact === false && path === null && s === '*') return `'${raw}' would match every name`;
  return { host: s, exact, path, wildcard };
}

/** A host is lower-cased only when needed (SNI already is; certificate names may not be). */
export function lowerHost(h: string): string {
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c >= 65 && c <= 90) return trimDot(h.toLowerCase());
  }
  return trimDot(h);
}

function trimDot(h: string): string {
  return h.length > 0 && h.charCodeAt(h.length - 1) === 46 ? h.slice(0, -1) : h;
}

interface WildNode {
  children: Map<string, WildNode>;
  star: WildNode | null;
  suffix: number[] | null;
  exact: number[] | null;
  paths: PathEntry[] | null;
  entry: string;
}

interface PathEntry {
  readonly path: string;
  readonly ids: number[];
  readonly entry: string;
}

function newNode(): WildNode {
  return { children: new Map(), star: null, suffix: null, exact: null, paths: null, entry: '' };
}

/** Visitor called for every matching entry: the list ids it belongs to, and the entry text. */
export type DomainVisitor = (ids: readonly number[], entry: string) => void;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

/** murmur3 finaliser: spreads FNV's low bits before masking. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** FNV-1a over the characters right to left: the hash a host scan has at a label boundary. */
export function suffixHash(k: string): number {
  let h = FNV_OFFSET;
  for (let i = k.length - 1; i >= 0; i--) h = Math.imul(h ^ k.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Open-addressing hash table of domain keys -> values, keyed by suffixHash. A matcher scans
 * the host once from the right, and at every label boundary already holds the hash of that
 * suffix: a probe needs no substring, no string hashing, and (hash and index side by side in
 * one typed array) usually one cache line. A JS Map of 1,000,000 strings costs several
 * cache misses per probe plus a slice per label; this is the hot path of every connection.
 *
 * Nothing here is a per-entry heap object: keys are ASCII bytes back to back in one buffer
 * (parseDomainEntry admits nothing else), values are indexes into a short list of distinct
 * values. With 1,000,000 entries as JS strings every major GC had 1,000,000 objects to mark
 * (full collection 43 ms against 4 ms without the policy, bench/policy.ts), and new
 * connections paid for it (bench path 7n); typed arrays are never traced.
 */
class SuffixTable<T> {
  // Small at first, doubling as entries come: every rule's URL condition and every domain
  // set has two tables, mostly of a few names, and at 32 KiB each 20,000 URL rules held
  // 1.3 GB (which a reload's worker then had to hand over too).
  // slots[2s] = hash, slots[2s+1] = entry index + 1 (0 = empty). Load factor <= 1/2.
  private slots = new Int32Array(2 * 8);
  private mask = 7;
  /** Key i is bytes[offs[i] .. offs[i + 1]). */
  private bytes: Buffer = Buffer.allocUnsafe(128);
  private offs = new Int32Array(8 + 1);
  /** Value of entry i is distinct[vals[i]]. */
  private vals = new Int32Array(8);
  private readonly distinct: T[] = [];
  private readonly distinctIndex = new Map<T, number>();
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** A table as a structured clone delivers it (see IpSet.revive). */
  static revive<T>(o: SuffixTable<T>): SuffixTable<T> {
    Object.setPrototypeOf(o, SuffixTable.prototype);
    const b: Uint8Array = o.bytes;
    o.bytes = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return o;
  }

  /** The distinct values (a handful), for a revived table's owner to fix up. */
  values(): readonly T[] {
    return this.distinct;
  }

  /** Entry index of host.slice(start) (whose suffixHash is h), or -1. */
  find(host: string, start: number, h: number): number {
    const slots = this.slots;
    const len = host.length - start;
    let s = fmix(h) & this.mask;
    for (;;) {
      const e = slots[2 * s + 1];
      if (e === 0) return -1;
      if (slots[2 * s] === h && this.keyEquals(e - 1, host, start, len)) return e - 1;
      s = (s + 1) & this.mask;
    }
  }

  private keyEquals(i: number, host: string, start: number, len: number): boolean {
    const a = this.offs[i];
    if (this.offs[i + 1] - a !== len) return false;
    const b = this.bytes;
    for (let j = 0; j < len; j++) if (b[a + j] !== host.charCodeAt(start + j)) return false;
    return true;
  }

  /** The key's text: built on a match only (the entry named in a verdict or trace). */
  key(i: number): string {
    return this.bytes.toString('latin1', this.offs[i], this.offs[i + 1]);
  }
  value(i: number): T {
    return this.distinct[this.vals[i]];
  }

  /** Every key with its value (policy analysis partitions names by a set's entries). */
  forEachKey(visit: (key: string, val: T) => void): void {
    for (let i = 0; i < this.n; i++) visit(this.key(i), this.value(i));
  }

  get(key: string): T | undefined {
    const i = this.find(key, 0, suffixHash(key));
    return i < 0 ? undefined : this.value(i);
  }

  set(key: string, val: T): void {
    const h = suffixHash(key);
    const i = this.find(key, 0, h);
    const v = this.valueIndex(val);
    if (i >= 0) {
      this.vals[i] = v;
      return;
    }
    if ((this.n + 1) * 2 > this.mask + 1) this.grow();
    const n = this.n;
    if (n + 1 >= this.vals.length) {
      this.vals = resized(this.vals, this.vals.length * 2);
      this.offs = resized(this.offs, this.vals.length + 1);
    }
    const at = this.offs[n];
    if (at + key.length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, at + key.length));
      this.bytes.copy(bigger, 0, 0, at);
      this.bytes = bigger;
    }
    this.bytes.write(key, at, 'latin1');
    this.offs[n + 1] = at + key.length;
    this.vals[n] = v;
    this.n = n + 1;
    this.place(h, n + 1);
  }

  private valueIndex(val: T): number {
    let v = this.distinctIndex.get(val);
    if (v === undefined) {
      v = this.distinct.length;
      this.distinct.push(val);
      this.distinctIndex.set(val, v);
    }
    return v;
  }

  private place(h: number, entryPlusOne: number): void {
    let s = fmix(h) & this.mask;
    while (this.slots[2 * s + 1] !== 0) s = (s + 1) & this.mask;
    this.slots[2 * s] = h;
    this.slots[2 * s + 1] = entryPlusOne;
  }

  private grow(): void {
    const old = this.slots;
    this.mask = this.mask * 2 + 1;
    this.slots = new Int32Array(2 * (this.mask + 1));
    for (let s = 0; s < old.length; s += 2) if (old[s + 1] !== 0) this.place(old[s], old[s + 1]);
  }
}

function resized(a: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(length);
  b.set(a);
  return b;
}

/**
 * A set of domain entries, each belonging to one or more "lists" (SI lists, applications,
 * one rule's URL condition). Id arrays are interned so a million entries of one list share
 * a single array.
 */
export class DomainSet {
  private readonly suffix = new SuffixTable<number[]>();
  private readonly exact = new SuffixTable<number[]>();
  private readonly paths = new Map<string, PathEntry[]>();
  private wild: WildNode | null = null;
  private readonly interned = new Map<string, number[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  private readonly singles: number[][] = [];

  /**
   * A set as a structured clone delivers it (postMessage from the policy loader's worker):
   * the same fields without prototypes, so the tables get theirs back; the wildcard trie,
   * path lists and id arrays are plain data and arrive as they were.
   */
  static revive(o: DomainSet): DomainSet {
    Object.setPrototypeOf(o, DomainSet.prototype);
    SuffixTable.revive(o.suffix);
    SuffixTable.revive(o.exact);
    return o;
  }

  private union(old: number[] | undefined | null, id: number): number[] {
    // The common case (a name in one list) must not build and join an array per entry.
    if (!old) return (this.singles[id] ??= this.intern([id]));
    if (old.includes(id)) return old;
    return this.intern([...old, id].sort((a, b) => a - b));
  }

  private intern(ids: number[]): number[] {
    const key = ids.join(',');
    let got = this.interned.get(key);
    if (!got) {
      got = ids;
      this.interned.set(key, got);
    }
    return got;
  }

  add(e: DomainEntry, id: number): void {
    this.count++;
    if (e.wildcard) {
      this.addWild(e, id);
      return;
    }
    if (e.path !== null) {
      const list = this.paths.get(e.host) ?? [];
      const found = list.find((p) => p.path === e.path);
      if (found) {
        if (!found.ids.includes(id)) list[list.indexOf(found)] = { ...found, ids: this.union(found.ids, id) };
      } else list.push({ path: e.path, ids: this.intern([id]), entry: `${e.host}${e.path}` });
      this.paths.set(e.host, list);
      return;
    }
    if (e.exact) this.exact.set(e.host, this.union(this.exact.get(e.host), id));
    else this.suffix.set(e.host, this.union(this.suffix.get(e.host), id));
  }

  /** Every entry with the ids it belongs to, for policy analysis (src/policy/analysis). */
  forEachEntry(visit: (e: DomainEntry, ids: readonly number[]) => void): void {
    const plain = (exact: boolean) => (host: string, ids: number[]) => visit({ host, exact, path: null, wildcard: false }, ids);
    this.suffix.forEachKey(plain(false));
    this.exact.forEachKey(plain(true));
    for (const [host, ps] of this.paths) for (const p of ps) visit({ host, exact: false, path: p.path, wildcard: false }, p.ids);
    const walk = (n: WildNode): void => {
      if (n.suffix) visit({ host: n.entry, exact: false, path: null, wildcard: true }, n.suffix);
      if (n.exact) visit({ host: n.entry, exact: true, path: null, wildcard: true }, n.exact);
      for (const p of n.paths ?? []) visit({ host: n.entry, exact: false, path: p.path, wildcard: true }, p.ids);
      for (const c of n.children.values()) walk(c);
      if (n.star) walk(n.star);
    };
    if (this.wild) walk(this.wild);
  }

  private addWild(e: DomainEntry, id: number): void {
    let node = (this.wild ??= newNode());
    const labels = e.host.split('.').reverse();
    for (const l of labels) {
      if (l === '*') node = node.star ??= newNode();
      else {
        let next = node.children.get(l);
        if (!next) node.children.set(l, (next = newNode()));
        node = next;
      }
    }
    node.entry = e.host;
    if (e.path !== null) {
      (node.paths ??= []).push({ path: e.path, ids: this.intern([id]), entry: `${e.host}${e.path}` });
    } else if (e.exact) node.exact = this.union(node.exact, id);
    else node.suffix = this.union(node.suffix, id);
  }

  /**
   * Visit every entry matching `host` (lower-case, no trailing dot). `path` is the URL path
   * for plain HTTP ('/x?y'), null for TLS flows (path entries then never match).
   * Suffix entries are visited shortest first.
   */
  forEach(host: string, path: string | null, visit: DomainVisitor): void {
    const ex = this.exact.size > 0 ? this.exact.get(host) : undefined;
    if (ex) visit(ex, `${host}/`);
    const hasPaths = this.paths.size > 0 && path !== null;
    const table = this.suffix;
    const probe = table.size > 0;
    let h = FNV_OFFSET;
    for (let i = host.length - 1; i >= 0; i--) {
      h = Math.imul(h ^ host.charCodeAt(i), FNV_PRIME);
      if (i !== 0 && host.charCodeAt(i - 1) !== 46) continue;
      if (probe) {
        const e = table.find(host, i, h);
        if (e >= 0) visit(table.value(e), table.key(e));
      }
      if (hasPaths) {
        const ps = this.paths.get(i === 0 ? host : host.slice(i));
        if (ps) for (const p of ps) if (path!.startsWith(p.path)) visit(p.ids, p.entry);
      }
    }
    if (this.wild) this.walkWild(this.wild, host, host.length, path, visit);
  }

  /** Some matching entry's text (a yes/no answer that can also be printed), or null. */
  first(host: string, path: string | null): string | null {
    if (this.exact.size > 0 && this.exact.get(host) !== undefined) return `${host}/`;
    const hasPaths = this.paths.size > 0 && path !== null;
    const table = this.suffix;
    if (table.size > 0 || hasPaths) {
      let h = FNV_OFFSET;
      for (let i = host.length - 1; i >= 0; i--) {
        h = Math.imul(h ^ host.charCodeAt(i), FNV_PRIME);
        if (i !== 0 && host.charCodeAt(i - 1) !== 46) continue;
        const e = table.find(host, i, h);
        if (e >= 0) return table.key(e);
        if (hasPaths) {
          const ps = this.paths.get(i === 0 ? host : host.slice(i));
          if (ps) for (const p of ps) if (path!.startsWith(p.path)) return p.entry;
        }
      }
    }
    if (this.wild) {
      let hit: string | null = null;
      this.walkWild(this.wild, host, host.length, path, (_ids, entry) => {
        hit ??= entry;
      });
      return hit;
    }
    return null;
  }

  // Walk reversed labels: `end` is the exclusive end of the not-yet-consumed host prefix.
  // A node's suffix entry matches once reached with labels still left (subdomain) or none
  // left (itself); exact/path entries only when every label was consumed.
  private walkWild(node: WildNode, host: string, end: number, path: string | null, visit: DomainVisitor): void {
    if (end <= 0) {
      if (node.suffix) visit(node.suffix, node.entry);
      if (node.exact) visit(node.exact, `${node.entry}/`);
      if (node.paths && path !== null) for (const p of node.paths) if (path.startsWith(p.path)) visit(p.ids, p.entry);
      return;
    }
    if (node.suffix && node !== this.wild) visit(node.suffix, node.entry);
    const dot = host.lastIndexOf('.', end - 1);
    const label = host.slice(dot + 1, end);
    const next = node.children.get(label);
    if (next) this.walkWild(next, host, dot, path, visit);
    if (node.star) this.walkWild(node.star, host, dot, path, visit);
  }
}

/** Reputation levels, as FMC labels them. */
export const REPUTATION_LABELS = ['Unknown', 'Untrusted', 'Questionable', 'Neutral', 'Favorable', 'Trusted'] as const;

export interface UrlDbRecord {
  readonly categories: readonly string[];
  readonly reputation: 0 | 1 | 2 | 3 | 4 | 5;
}

export const UNKNOWN_URL: UrlDbRecord = Object.freeze({ categories: Object.freeze(['Uncategorized']), reputation: 0 });

/**
 * The URL category and reputation database (a stand-in for Talos' cloud lookups): the most
 * specific entry wins, 'tools.cisco.com' before 'cisco.com'. Unknown names are
 * Uncategorized with reputation 0 Unknown.
 */
export class UrlDatabase {
  private readonly table = new SuffixTable<UrlDbRecord>();
  get size(): number {
    return this.table.size;
  }
  /** Equal records share one object: the table keeps one copy per distinct record. */
  private readonly records = new Map<string, UrlDbRecord>();
  /** A database as a structured clone delivers it (see DomainSet.revive); a clone is not frozen. */
  static revive(o: UrlDatabase): UrlDatabase {
    Object.setPrototypeOf(o, UrlDatabase.prototype);
    for (const r of SuffixTable.revive(o.table).values()) Object.freeze(r.categories);
    return o;
  }
  set(domain: string, rec: UrlDbRecord): void {
    const k = `${rec.reputation}|${rec.categories.join('\u0000')}`;
    let shared = this.records.get(k);
    if (!shared) this.records.set(k, (shared = rec));
    this.table.set(domain, shared);
  }
  /** Every domain the database names (policy analysis partitions names by them). */
  forEachDomain(visit: (domain: string) => void): void {
    this.table.forEachKey((k) => visit(k));
  }
  lookup(host: string): UrlDbRecord {
    const t = this.table;
    if (t.size === 0) return UNKNOWN_URL;
    // Right to left, so the last hit is the most specific entry.
    let best: UrlDbRecord = UNKNOWN_URL;
    let h = FNV_OFFSET;
    for (let i = host.length - 1; i >= 0; i--) {
      h = Math.imul(h ^ host.charCodeAt(i), FNV_PRIME);
      if (i !== 0 && host.charCodeAt(i - 1) !== 46) continue;
      const e = t.find(host, i, h);
      if (e >= 0) best = t.value(e);
    }
    return best;
  }
}
