// The address dimension (source or destination, one family at a time) cut into classes: every
// boundary of every network set the policies use (rules, prefilter, Security Intelligence
// lists) splits the space into segments; segments inside exactly the same sets are one class
// (an "atom", a union of segments). Any two addresses of one atom are inside the same sets, so
// no policy can tell them apart by this dimension.
//
// IPv4 positions are plain numbers (exact below 2^53); IPv6 positions are bigints. IPv4-mapped
// IPv6 addresses (::ffff:0:0/96) are IPv4 flows to the evaluator, so that block is cut out of
// the IPv6 space.
import type { IpSet } from '../ip.js';
import { parseAddress, type ParsedAddress } from '../ip.js';
import { Interner, setBit, clearBit } from './bitset.js';

/** One set to cut the space by: its bit in each atom's member set; null = the whole space. */
export interface AddressTrack {
  readonly set: IpSet | null;
  readonly bit: number;
}

/** Tag of a segment that is no flow of this family (the IPv4-mapped block of IPv6). */
const OUTSIDE = -1;

const V4_MAX = 0xffffffff;
const V6_MAX = (1n << 128n) - 1n;
const MAPPED_LO = 0xffffn << 32n;
const MAPPED_HI = 1n << 48n;

const NICE: Record<4 | 6, readonly string[]> = {
  4: ['192.0.2.1', '198.51.100.1', '203.0.113.1', '10.0.0.1', '172.16.0.1', '192.168.0.1', '100.64.0.1', '8.8.8.8'],
  6: ['2001:db8::1', '2001:db8:1::1', 'fd00::1', '2606:4700::1', '2001:db8:ffff::1'],
};

export function v6ToBig(w: Uint32Array, o = 0): bigint {
  return (BigInt(w[o]) << 96n) | (BigInt(w[o + 1]) << 64n) | (BigInt(w[o + 2]) << 32n) | BigInt(w[o + 3]);
}

export function addressText(family: 4 | 6, a: bigint): string {
  if (family === 4) {
    const n = Number(a);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const g: number[] = [];
  for (let k = 7; k >= 0; k--) g.push(Number((a >> BigInt(16 * k)) & 0xffffn));
  // RFC 5952: the longest run (>= 2) of zero groups becomes '::', the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function toBig(a: ParsedAddress): bigint {
  return a.family === 4 ? BigInt(a.v4) : v6ToBig(a.v6);
}

/** The classes of one address dimension of one family. */
export class AddressAtoms {
  /** Segment i is [starts[i], starts[i+1]) ; its atom is atomOf[i] (-1: outside the space). */
  private readonly starts: bigint[];
  private readonly startsNum: Float64Array | null;
  private readonly atomOf: Int32Array;
  private segsOf: Int32Array[] | null = null;
  private readonly witnesses = new Map<number, bigint>();

  constructor(
    readonly family: 4 | 6,
    readonly atoms: Interner,
    starts: bigint[],
    atomOf: Int32Array,
  ) {
    this.starts = starts;
    this.atomOf = atomOf;
    this.startsNum = family === 4 ? Float64Array.from(starts, (s) => Number(s)) : null;
  }

  get count(): number {
    return this.atoms.size;
  }

  /** Whether the atom holds flows of this family (the IPv4-mapped block does not). */
  inSpace(atom: number): boolean {
    return this.atoms.tag(atom) !== OUTSIDE;
  }

  /** Member bits of an atom (a view). */
  bits(atom: number): Uint32Array {
    return this.atoms.words(atom);
  }

  /** The atom of an address of this family. */
  locate(a: bigint): number {
    let lo = 0;
    let hi = this.atomOf.length - 1;
    const sn = this.startsNum;
    const x = sn ? Number(a) : 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (sn ? sn[mid] <= x : this.starts[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    return this.atomOf[lo];
  }

  private max(): bigint {
    return this.family === 4 ? BigInt(V4_MAX) : V6_MAX;
  }

  private readonly segCache = new Map<number, [bigint, bigint][]>();
  private sizes: Float64Array | null = null;

  /** The global segment indexes of an atom, ascending. */
  private segmentIndexes(atom: number): Int32Array {
    if (this.segsOf === null) {
      const counts = new Int32Array(this.count);
      for (let i = 0; i < this.atomOf.length; i++) if (this.atomOf[i] >= 0) counts[this.atomOf[i]]++;
      const lists = Array.from(counts, (c) => new Int32Array(c));
      counts.fill(0);
      for (let i = 0; i < this.atomOf.length; i++) {
        const a = this.atomOf[i];
        if (a >= 0) lists[a][counts[a]++] = i;
      }
      this.segsOf = lists;
    }
    return this.segsOf[atom];
  }

  /**
   * A set of atoms as runs of consecutive segments, [first, last] segment index pairs: the
   * first `max` runs in address order and how many there are, and the same of the gaps
   * between them (the complement, leaving out segments outside the space). Numbers only and
   * no sort: an atom's segments are in order already, and a set of atoms carved by a big SI
   * feed has tens of thousands of them.
   */
  describeSet(atoms: readonly number[], max: number): { runs: [number, number][]; runCount: number; gaps: [number, number][]; gapCount: number } {
    const inSet = new Uint8Array(this.count);
    for (const a of atoms) inSet[a] = 1;
    const isIn = (seg: number) => seg >= 0 && seg < this.atomOf.length && this.atomOf[seg] >= 0 && inSet[this.atomOf[seg]] === 1;
    const isGap = (seg: number) => seg >= 0 && seg < this.atomOf.length && !isIn(seg) && this.inSpace(this.atomOf[seg]);
    let runCount = 0;
    for (const a of atoms) for (const seg of this.segmentIndexes(a)) if (!isIn(seg - 1)) runCount++;
    // The first runs in order: step through each atom's sorted segments at once.
    const lists = atoms.map((a) => this.segmentIndexes(a));
    const at = new Int32Array(lists.length);
    const runs: [number, number][] = [];
    let from = 0;
    while (runs.length < max) {
      let start = -1;
      for (let k = 0; k < lists.length; k++) {
        const l = lists[k];
        while (at[k] < l.length && l[at[k]] < from) at[k]++;
        if (at[k] < l.length && (start < 0 || l[at[k]] < start)) start = l[at[k]];
      }
      if (start < 0) break;
      let end = start;
      while (isIn(end + 1)) end++;
      runs.push([start, end]);
      from = end + 1;
    }
    // Gaps: segments neither in the set nor outside the space, between and around the runs.
    this.outsideSegs ??= Array.from(this.atomOf.keys()).filter((i) => !this.inSpace(this.atomOf[i]));
    let gapCount = runCount === 0 ? 0 : runCount - 1;
    if (runCount > 0 && !isIn(0)) gapCount++;
    if (runCount > 0 && !isIn(this.atomOf.length - 1)) gapCount++;
    if (runCount === 0) gapCount = 1;
    // Each block of outside segments splits the gap it sits in, or ends one that is only it.
    for (let k = 0; k < this.outsideSegs.length; k++) {
      const x = this.outsideSegs[k];
      if (k > 0 && this.outsideSegs[k - 1] === x - 1) continue;
      let y = x;
      while (k + 1 < this.outsideSegs.length && this.outsideSegs[k + 1] === y + 1) y = this.outsideSegs[++k];
      const left = isGap(x - 1);
      const right = isGap(y + 1);
      if (left && right) gapCount++;
      else if (!left && !right) gapCount--;
    }
    const gaps: [number, number][] = [];
    const push = (lo: number, hi: number) => {
      for (let seg = lo; seg <= hi && gaps.length < max; ) {
        if (!isGap(seg)) {
          seg++;
          continue;
        }
        let end = seg;
        while (end + 1 <= hi && isGap(end + 1)) end++;
        gaps.push([seg, end]);
        seg = end + 1;
      }
    };
    let next = 0;
    for (const [lo, hi] of runs) {
      if (gaps.length >= max) break;
      if (lo > next) push(next, lo - 1);
      next = hi + 1;
    }
    if (gaps.length < max && runs.length < max) push(next, this.atomOf.length - 1);
    return { runs, runCount, gaps, gapCount };
  }

  private outsideSegs: number[] | null = null;

  /** The addresses [lo, hi] from the start of segment i to the end of segment j. */
  range(i: number, j: number): [bigint, bigint] {
    return [this.starts[i], j + 1 < this.starts.length ? this.starts[j + 1] - 1n : this.max()];
  }

  /** The segments [lo, hi] of an atom, ascending (do not change the array). */
  segments(atom: number): [bigint, bigint][] {
    const got = this.segCache.get(atom);
    if (got) return got;
    const segs = Array.from(this.segmentIndexes(atom), (i) => [this.starts[i], i + 1 < this.starts.length ? this.starts[i + 1] - 1n : this.max()] as [bigint, bigint]);
    this.segCache.set(atom, segs);
    return segs;
  }

  /** Number of addresses in an atom (a float for IPv6). */
  size(atom: number): number {
    if (this.sizes === null) {
      const sizes = new Float64Array(this.count);
      for (let i = 0; i < this.atomOf.length; i++) {
        const a = this.atomOf[i];
        if (a < 0) continue;
        const hi = i + 1 < this.starts.length ? this.starts[i + 1] : this.max() + 1n;
        sizes[a] += Number(hi - this.starts[i]);
      }
      this.sizes = sizes;
    }
    return this.sizes[atom];
  }

  /** The atom's share of its family's space, 0..1. */
  share(atom: number): number {
    return this.size(atom) / (this.family === 4 ? 2 ** 32 : 2 ** 128);
  }

  /** A concrete address of the atom: a documentation address when one is inside, else near its start. */
  witness(atom: number): bigint {
    const got = this.witnesses.get(atom);
    if (got !== undefined) return got;
    let w: bigint | null = null;
    for (const t of NICE[this.family]) {
      const p = parseAddress(t);
      if (p && p.family === this.family && this.locate(toBig(p)) === atom) {
        w = toBig(p);
        break;
      }
    }
    if (w === null) {
      const segs = this.segments(atom);
      let [lo, hi] = segs[0];
      for (const s of segs) if (s[1] - s[0] > hi - lo) [lo, hi] = s;
      w = hi - lo >= 2n ? lo + 1n : lo;
    }
    this.witnesses.set(atom, w);
    return w;
  }

  witnessText(atom: number): string {
    return addressText(this.family, this.witness(atom));
  }
}

/**
 * Cut one family's space by the tracks' sets. `singles` are addresses that must be classes of
 * their own (a name entry that equals the address's text: the destination address is the
 * name when no other is known).
 */
export function partitionAddresses(family: 4 | 6, width: number, tracks: readonly AddressTrack[], singles: readonly bigint[] = []): AddressAtoms {
  const base = new Uint32Array(width);
  // IPv4 positions stay numbers through the sort (bigint comparisons cost ~10x).
  const pos: (number | bigint)[] = [];
  const code: number[] = [];
  const v4 = family === 4;
  for (const t of tracks) {
    if (t.set === null) {
      setBit(base, t.bit);
      continue;
    }
    if (v4) {
      for (const iv of t.set.intervals4()) {
        pos.push(iv.s);
        code.push(t.bit + 1);
        if (iv.e < V4_MAX) {
          pos.push(iv.e + 1);
          code.push(-(t.bit + 1));
        }
      }
    } else {
      for (const iv of t.set.intervals6()) {
        const e = v6ToBig(iv.e);
        pos.push(v6ToBig(iv.s));
        code.push(t.bit + 1);
        if (e < V6_MAX) {
          pos.push(e + 1n);
          code.push(-(t.bit + 1));
        }
      }
    }
  }
  const single = new Set<bigint>(singles);
  const cut = (p: bigint) => {
    pos.push(v4 ? Number(p) : p);
    code.push(0);
  };
  const top = v4 ? BigInt(V4_MAX) : V6_MAX;
  for (const a of single) {
    cut(a);
    if (a < top) cut(a + 1n);
  }
  if (!v4) {
    cut(MAPPED_LO);
    cut(MAPPED_HI);
  }
  // Ends before starts at one position (codes < 0 first); a set's own intervals never touch.
  const order = Int32Array.from(pos.keys()).sort((a, b) => (pos[a] < pos[b] ? -1 : pos[a] > pos[b] ? 1 : code[a] - code[b]));
  const atoms = new Interner(width);
  const starts: bigint[] = [];
  const atomOf: number[] = [];
  const cur = base.slice();
  const emit = (lo: bigint, hi: bigint) => {
    let tag = 0;
    if (!v4 && lo >= MAPPED_LO && hi < MAPPED_HI) tag = OUTSIDE;
    else if (lo === hi && single.has(lo)) tag = Number(lo % 2n ** 52n) + 1;
    const id = atoms.intern(cur, 0, tag);
    if (atomOf.length > 0 && atomOf[atomOf.length - 1] === id) return;
    starts.push(lo);
    atomOf.push(id);
  };
  let segStart: number | bigint = v4 ? 0 : 0n;
  let i = 0;
  while (i < order.length) {
    const p = pos[order[i]];
    if (p > segStart) {
      emit(BigInt(segStart), BigInt(p) - 1n);
      segStart = p;
    }
    while (i < order.length && pos[order[i]] === p) {
      const c = code[order[i]];
      if (c > 0) setBit(cur, c - 1);
      else if (c < 0) clearBit(cur, -c - 1);
      i++;
    }
  }
  emit(BigInt(segStart), top);
  return new AddressAtoms(family, atoms, starts, Int32Array.from(atomOf));
}
