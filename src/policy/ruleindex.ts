// Candidate-rule index for the hot path (evaluate without trace). Rules are still matched in
// order and the first full match wins; the index only skips rules that cannot match because
// the IPv4 source (or destination) address is outside their networks.
//
// For each dimension, the IPv4 space is cut into elementary segments at every rule network
// boundary; each segment lists (in rule order) the enabled rules whose networks cover it,
// rules with 'any' included. A lookup is one binary search per dimension; we then walk the
// shorter of the two lists. IPv6 flows walk every enabled rule (policies with many IPv6 rules
// would want the same structure over 128-bit keys).
import type { IpSet } from './ip.js';

interface RuleNets {
  readonly enabled: boolean;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
}

class SegmentIndex {
  constructor(
    private readonly starts: Float64Array,
    private readonly lists: readonly Int32Array[],
  ) {}
  lookup(ip: number): Int32Array {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    let at = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] <= ip) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return this.lists[at];
  }
}

function build(rules: readonly RuleNets[], pick: (r: RuleNets) => IpSet | null): SegmentIndex {
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
  const lists: number[][] = Array.from({ length: starts.length }, () => []);
  const seg = (ip: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    let at = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= ip) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at;
  };
  rules.forEach((r, i) => {
    if (!r.enabled) return;
    const set = pick(r);
    if (!set) {
      for (const l of lists) l.push(i);
      return;
    }
    for (const iv of set.intervals4()) {
      const a = seg(iv.s);
      const b = seg(iv.e);
      for (let k = a; k <= b; k++) lists[k].push(i);
    }
  });
  return new SegmentIndex(starts, lists.map((l) => Int32Array.from(l)));
}

export class RuleIndex {
  constructor(
    private readonly bySrc: SegmentIndex,
    private readonly byDst: SegmentIndex,
    /** Every enabled rule, in order (IPv6 flows). */
    readonly all: Int32Array,
  ) {}
  /** Candidate rule indices (ascending) for an IPv4 flow. */
  candidates4(src: number, dst: number): Int32Array {
    const a = this.bySrc.lookup(src);
    const b = this.byDst.lookup(dst);
    return a.length <= b.length ? a : b;
  }
}

export function buildRuleIndex(rules: readonly RuleNets[]): RuleIndex {
  const all: number[] = [];
  rules.forEach((r, i) => r.enabled && all.push(i));
  return new RuleIndex(build(rules, (r) => r.src), build(rules, (r) => r.dst), Int32Array.from(all));
}
