// Candidate-rule index for the hot path (evaluate without trace). Rules are still matched in
// order and the first full match wins; the index only skips rules that cannot match because
// the source (or destination) address is outside their networks.
//
// For each dimension and family, the address space is cut into elementary segments at every
// rule network boundary; each segment lists (in rule order) the enabled rules whose networks
// cover it, rules with 'any' included. A lookup is one binary search per dimension; the
// evaluator then walks the shorter of the two lists.
import { cmp6, lastAtOrBelow, lastAtOrBelow6, type IpSet } from './ip.js';

interface RuleNets {
  readonly enabled: boolean;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
}

abstract class SegmentIndex {
  constructor(protected readonly lists: readonly Int32Array[]) {}
  get entries(): number {
    let n = 0;
    for (const l of this.lists) n += l.length;
    return n;
  }
}

/** Segments of the IPv4 space: starts[i] .. starts[i+1]-1 hold lists[i] (starts[0] is 0). */
class SegmentIndex4 extends SegmentIndex {
  constructor(
    private readonly starts: Float64Array,
    lists: readonly Int32Array[],
  ) {
    super(lists);
  }
  lookup(ip: number): Int32Array {
    return this.lists[this.lookupIndex(ip)];
  }
  lookupIndex(ip: number): number {
    return Math.max(0, lastAtOrBelow(this.starts, ip, 0, this.starts.length - 1));
  }
}

/** Same over IPv6: starts are 4-word keys packed in one Uint32Array. */
class SegmentIndex6 extends SegmentIndex {
  constructor(
    private readonly starts: Uint32Array,
    lists: readonly Int32Array[],
  ) {
    super(lists);
  }
  lookup(ip: Uint32Array): Int32Array {
    return this.lists[Math.max(0, lastAtOrBelow6(this.starts, 4, this.lists.length, ip))];
  }
}

/**
 * Most list entries one index (one dimension, one family) may hold. Entries grow as segments
 * times rules: every 'any' rule sits in every segment, so 10,000 rules on distinct /32s plus
 * 10,000 'any' rules make 2 * 10^8 entries (a 1 MB policy took 36 s and 2.6 GB to load).
 * Beyond the bound the index is one segment listing every rule: evaluation stays exact, it
 * only loses the shortcut for that dimension.
 */
export const MAX_INDEX_ENTRIES = 4_000_000;

/**
 * Lists per segment, in rule order; `spans` reports the segment ranges a set covers. Null
 * when the lists would hold more than MAX_INDEX_ENTRIES (counted before anything is built).
 */
function fill(rules: readonly RuleNets[], pick: (r: RuleNets) => IpSet | null, count: number, spans: (set: IpSet, visit: (from: number, to: number) => void) => void): Int32Array[] | null {
  let total = 0;
  const add = (from: number, to: number): void => {
    total += to - from + 1;
  };
  for (const r of rules) {
    if (!r.enabled) continue;
    const set = pick(r);
    if (!set) total += count;
    else spans(set, add);
    if (total > MAX_INDEX_ENTRIES) return null;
  }
  const lists: number[][] = Array.from({ length: count }, () => []);
  rules.forEach((r, i) => {
    if (!r.enabled) return;
    const set = pick(r);
    if (!set) for (const l of lists) l.push(i);
    else
      spans(set, (from, to) => {
        for (let k = from; k <= to; k++) lists[k].push(i);
      });
  });
  return lists.map((l) => Int32Array.from(l));
}

function enabledRules(rules: readonly RuleNets[]): Int32Array {
  const all: number[] = [];
  rules.forEach((r, i) => r.enabled && all.push(i));
  return Int32Array.from(all);
}

function build4(rules: readonly RuleNets[], pick: (r: RuleNets) => IpSet | null): SegmentIndex4 {
  const points = new Set<number>([0]);
  for (const r of rules) {
    const set = pick(r);
    if (!r.enabled || !set) continue;
    for (const iv of set.intervals4()) {
      points.add(iv.s);
      if (iv.e + 1 <= 0xffffffff) points.add(iv.e + 1);
    }
  }
  const starts = Float64Array.from([...points].sort((a, b) => a - b));
  const probe = new SegmentIndex4(starts, []);
  const lists = fill(rules, pick, starts.length, (set, visit) => {
    for (const iv of set.intervals4()) visit(probe.lookupIndex(iv.s), probe.lookupIndex(iv.e));
  });
  if (!lists) return new SegmentIndex4(Float64Array.of(0), [enabledRules(rules)]);
  return new SegmentIndex4(starts, lists);
}

function build6(rules: readonly RuleNets[], pick: (r: RuleNets) => IpSet | null): SegmentIndex6 {
  const keys: Uint32Array[] = [new Uint32Array(4)];
  for (const r of rules) {
    const set = pick(r);
    if (!r.enabled || !set) continue;
    for (const iv of set.intervals6()) {
      keys.push(iv.s);
      const next = Uint32Array.from(iv.e);
      let k = 3;
      while (k >= 0 && next[k] === 0xffffffff) next[k--] = 0;
      if (k >= 0) {
        next[k]++;
        keys.push(next);
      }
    }
  }
  keys.sort((a, b) => cmp6(a, 0, b, 0));
  const uniq = keys.filter((k, i) => i === 0 || cmp6(k, 0, keys[i - 1], 0) !== 0);
  const starts = new Uint32Array(uniq.length * 4);
  uniq.forEach((k, i) => starts.set(k, i * 4));
  const seg = (ip: Uint32Array): number => Math.max(0, lastAtOrBelow6(starts, 4, uniq.length, ip));
  const lists = fill(rules, pick, uniq.length, (set, visit) => {
    for (const iv of set.intervals6()) visit(seg(iv.s), seg(iv.e));
  });
  if (!lists) return new SegmentIndex6(new Uint32Array(4), [enabledRules(rules)]);
  return new SegmentIndex6(starts, lists);
}

export class RuleIndex {
  constructor(
    private readonly src4: SegmentIndex4,
    private readonly dst4: SegmentIndex4,
    private readonly src6: SegmentIndex6,
    private readonly dst6: SegmentIndex6,
    /** Every enabled rule, in order (flows whose families differ, or unparsable addresses). */
    readonly all: Int32Array,
  ) {}
  /** An index as a structured clone delivers it (see IpSet.revive). */
  static revive(o: RuleIndex): RuleIndex {
    Object.setPrototypeOf(o, RuleIndex.prototype);
    Object.setPrototypeOf(o.src4, SegmentIndex4.prototype);
    Object.setPrototypeOf(o.dst4, SegmentIndex4.prototype);
    Object.setPrototypeOf(o.src6, SegmentIndex6.prototype);
    Object.setPrototypeOf(o.dst6, SegmentIndex6.prototype);
    return o;
  }
  /** List entries held by the four indexes (each at most MAX_INDEX_ENTRIES). */
  get entries(): number {
    return this.src4.entries + this.dst4.entries + this.src6.entries + this.dst6.entries;
  }
  /** Candidate rule indices (ascending) for an IPv4 flow. */
  candidates4(src: number, dst: number): Int32Array {
    const a = this.src4.lookup(src);
    const b = this.dst4.lookup(dst);
    return a.length <= b.length ? a : b;
  }
  /** Candidate rule indices (ascending) for an IPv6 flow. */
  candidates6(src: Uint32Array, dst: Uint32Array): Int32Array {
    const a = this.src6.lookup(src);
    const b = this.dst6.lookup(dst);
    return a.length <= b.length ? a : b;
  }
}

export function buildRuleIndex(rules: readonly RuleNets[]): RuleIndex {
  return new RuleIndex(
    build4(rules, (r) => r.src),
    build4(rules, (r) => r.dst),
    build6(rules, (r) => r.src),
    build6(rules, (r) => r.dst),
    enabledRules(rules),
  );
}
