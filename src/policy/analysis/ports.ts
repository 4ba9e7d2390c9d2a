// The destination-port dimension cut into classes: every range any rule or prefilter rule of
// the policies names splits 1..65535 (a TCP flow has no port 0); ports inside exactly the same
// ranges are one class, a union of ranges.
import { Interner, setBit, clearBit } from './bitset.js';

/** Inclusive ranges as pairs (CompiledRule.ports); null = every port. */
export interface PortTrack {
  readonly ranges: Int32Array | null;
  readonly bit: number;
}

export const MIN_PORT = 1;
export const MAX_PORT = 65535;
const NICE_PORTS = [443, 80, 8443, 8080];

export class PortAtoms {
  private readonly segs: [number, number][][];

  constructor(
    readonly atoms: Interner,
    private readonly starts: Int32Array,
    private readonly atomOf: Int32Array,
  ) {
    this.segs = Array.from({ length: atoms.size }, () => []);
    for (let i = 0; i < starts.length; i++) {
      const hi = i + 1 < starts.length ? starts[i + 1] - 1 : MAX_PORT;
      this.segs[atomOf[i]].push([starts[i], hi]);
    }
  }

  get count(): number {
    return this.atoms.size;
  }

  bits(atom: number): Uint32Array {
    return this.atoms.words(atom);
  }

  locate(port: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid] <= port) lo = mid;
      else hi = mid - 1;
    }
    return this.atomOf[lo];
  }

  segments(atom: number): readonly [number, number][] {
    return this.segs[atom];
  }

  size(atom: number): number {
    let n = 0;
    for (const [lo, hi] of this.segs[atom]) n += hi - lo + 1;
    return n;
  }

  /** A port of the atom: 443 or 80 when inside, else its first. */
  witness(atom: number): number {
    for (const p of NICE_PORTS) if (this.locate(p) === atom) return p;
    return this.segs[atom][0][0];
  }
}

export function partitionPorts(width: number, tracks: readonly PortTrack[]): PortAtoms {
  const base = new Uint32Array(width);
  const events: number[] = []; // position * 2^21 + (code + 2^20): sorts by position, ends first
  const OFF = 2 ** 20;
  for (const t of tracks) {
    if (t.ranges === null) {
      setBit(base, t.bit);
      continue;
    }
    // A rule's ranges may overlap (443 and 400-500): count coverage per track.
    for (let i = 0; i < t.ranges.length; i += 2) {
      const lo = Math.max(MIN_PORT, t.ranges[i]);
      const hi = Math.min(MAX_PORT, t.ranges[i + 1]);
      if (lo > hi) continue;
      events.push(lo * 2 ** 21 + OFF + t.bit + 1);
      if (hi < MAX_PORT) events.push((hi + 1) * 2 ** 21 + OFF - (t.bit + 1));
    }
  }
  events.sort((a, b) => a - b);
  const depth = new Map<number, number>();
  const cur = base.slice();
  const atoms = new Interner(width);
  const starts: number[] = [];
  const atomOf: number[] = [];
  const emit = (lo: number) => {
    const id = atoms.intern(cur);
    if (atomOf.length > 0 && atomOf[atomOf.length - 1] === id) return;
    starts.push(lo);
    atomOf.push(id);
  };
  let segStart = MIN_PORT;
  let i = 0;
  while (i < events.length) {
    const p = Math.floor(events[i] / 2 ** 21);
    if (p > segStart) {
      emit(segStart);
      segStart = p;
    }
    while (i < events.length && Math.floor(events[i] / 2 ** 21) === p) {
      const c = (events[i] % 2 ** 21) - OFF;
      const bit = Math.abs(c) - 1;
      const d = (depth.get(bit) ?? 0) + (c > 0 ? 1 : -1);
      depth.set(bit, d);
      if (d > 0) setBit(cur, bit);
      else clearBit(cur, bit);
      i++;
    }
  }
  emit(segStart);
  return new PortAtoms(atoms, Int32Array.from(starts), Int32Array.from(atomOf));
}
