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

  /** The segments [lo, hi] of an atom, ascending. */
  segments(atom: number): [bigint, bigint][] {
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
    return Array.from(this.segsOf[atom], (i) => [this.starts[i], i + 1 < this.starts.length ? this.starts[i + 1] - 1n : this.max()] as [bigint, bigint]);
  }

  /** Number of addresses in an atom (a float for IPv6). */
  size(atom: number): number {
    let n = 0;
    for (const [lo, hi] of this.segments(atom)) n += Number(hi - lo + 1n);
    return n;
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
