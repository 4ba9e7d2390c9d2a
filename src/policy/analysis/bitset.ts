// Fixed-width bit sets over rule/list indexes, and an interner that gives equal sets one id.
// The analysis keeps one set per address segment, per port range and per name class; equal
// sets are the same class, so interning is what keeps the flow space small. Interning is
// exact: a hash finds the candidates, the words are compared.

export function wordsFor(bits: number): number {
  return (bits + 31) >>> 5;
}

export function setBit(b: Uint32Array, i: number): void {
  b[i >>> 5] |= 1 << (i & 31);
}

export function clearBit(b: Uint32Array, i: number): void {
  b[i >>> 5] &= ~(1 << (i & 31));
}

export function hasBit(b: Uint32Array, i: number): boolean {
  return ((b[i >>> 5] >>> (i & 31)) & 1) === 1;
}

/** Index of the first set bit in b[from*32 .. to*32) (word offsets), relative to `from`, or -1. */
export function firstBit(b: Uint32Array, from = 0, to = b.length): number {
  for (let w = from; w < to; w++) {
    const x = b[w];
    if (x !== 0) return (w - from) * 32 + (31 - Math.clz32(x & -x));
  }
  return -1;
}

/** The set bits' indexes, ascending. */
export function bitsOf(b: Uint32Array, from = 0, to = b.length): number[] {
  const out: number[] = [];
  for (let w = from; w < to; w++) {
    let x = b[w];
    while (x !== 0) {
      const low = x & -x;
      out.push((w - from) * 32 + (31 - Math.clz32(low)));
      x ^= low;
    }
  }
  return out;
}

export function isZero(b: Uint32Array, from = 0, to = b.length): boolean {
  for (let w = from; w < to; w++) if (b[w] !== 0) return false;
  return true;
}

/** The first bit at or after `from` set in both a and b, or -1. */
export function firstSetFrom(a: Uint32Array, b: Uint32Array, from: number): number {
  for (let w = from >>> 5; w < a.length; w++) {
    let x = a[w] & b[w];
    if (w === from >>> 5) x &= ~lowMask(w, from);
    if (x !== 0) return w * 32 + (31 - Math.clz32(x & -x));
  }
  return -1;
}

/** Bits of word w below bit index `below` (all of them when `below` is past the word). */
export function lowMask(w: number, below: number): number {
  const n = below - w * 32;
  if (n <= 0) return 0;
  if (n >= 32) return -1;
  return (1 << n) - 1;
}

function hashWords(b: Uint32Array, from: number, to: number, seed: number): number {
  let h = seed | 0;
  for (let w = from; w < to; w++) {
    h = Math.imul(h ^ b[w], 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h;
}

/**
 * Equal word vectors (of one width, plus an integer tag) get one id. Ids count from 0 in
 * order of first sight; the stored words are copies.
 */
export class Interner {
  private store: Uint32Array;
  private tags: Float64Array;
  private n = 0;
  private readonly byHash = new Map<number, number | number[]>();

  constructor(readonly width: number) {
    this.store = new Uint32Array(Math.max(1, width) * 64);
    this.tags = new Float64Array(64);
  }

  get size(): number {
    return this.n;
  }

  /** Id of b[from .. from+width) with `tag`, added when new. */
  intern(b: Uint32Array, from = 0, tag = 0): number {
    const w = this.width;
    const h = hashWords(b, from, from + w, tag * 0x85ebca6b);
    const got = this.byHash.get(h);
    if (got !== undefined) {
      if (typeof got === 'number') {
        if (this.equals(got, b, from, tag)) return got;
      } else {
        for (const id of got) if (this.equals(id, b, from, tag)) return id;
      }
    }
    const id = this.n++;
    if ((id + 1) * w > this.store.length || id >= this.tags.length) {
      const bigger = new Uint32Array(Math.max(this.store.length * 2, (id + 1) * w));
      bigger.set(this.store);
      this.store = bigger;
      const t = new Float64Array(this.tags.length * 2);
      t.set(this.tags);
      this.tags = t;
    }
    for (let k = 0; k < w; k++) this.store[id * w + k] = b[from + k];
    this.tags[id] = tag;
    if (got === undefined) this.byHash.set(h, id);
    else if (typeof got === 'number') this.byHash.set(h, [got, id]);
    else got.push(id);
    return id;
  }

  /** Id of equal words already interned, or -1. */
  find(b: Uint32Array, from = 0, tag = 0): number {
    const w = this.width;
    const got = this.byHash.get(hashWords(b, from, from + w, tag * 0x85ebca6b));
    if (got === undefined) return -1;
    for (const id of typeof got === 'number' ? [got] : got) if (this.equals(id, b, from, tag)) return id;
    return -1;
  }

  /** The words of id (a view: do not keep it across intern calls). */
  words(id: number): Uint32Array {
    return this.store.subarray(id * this.width, (id + 1) * this.width);
  }

  tag(id: number): number {
    return this.tags[id];
  }

  private equals(id: number, b: Uint32Array, from: number, tag: number): boolean {
    if (this.tags[id] !== tag) return false;
    const w = this.width;
    const o = id * w;
    for (let k = 0; k < w; k++) if (this.store[o + k] !== b[from + k]) return false;
    return true;
  }
}
