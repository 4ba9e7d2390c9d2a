// Regions of the flow space as products a person can read: sources x destinations x ports.
// A region is a set of states; a state is a set of (sd class, port class) cells; an sd class is
// a set of (source atom, destination atom) pairs. Each sd class is factored into products
// once, and a region's products are its classes' products, joined where they share a side —
// so a region costs what its classes' products cost, not what its address pairs do.
import type { Analysis, FamilyPart } from './engine.js';
import { rangeText } from './format.js';

export interface Product {
  readonly f: number;
  readonly s: readonly number[];
  readonly d: readonly number[];
  readonly q: readonly number[];
}

/** Atom lists are interned: products are grouped by their sides, and ids make cheap keys. */
interface PairProduct {
  readonly f: number;
  readonly s: number;
  readonly d: number;
}

class Lists {
  readonly lists: (readonly number[])[] = [];
  private readonly ids = new Map<string, number>();
  /** Id of a sorted list. */
  id(xs: readonly number[]): number {
    const k = xs.join(',');
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.lists.push(xs) - 1;
      this.ids.set(k, id);
    }
    return id;
  }
  union(ids: Iterable<number>): number {
    const all = new Set<number>();
    for (const i of ids) for (const x of this.lists[i]) all.add(x);
    return this.id([...all].sort((a, b) => a - b));
  }
}

function groupBy<T>(items: Iterable<T>, key: (x: T) => number): T[][] {
  const m = new Map<number, T[]>();
  for (const x of items) {
    const k = key(x);
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return [...m.values()];
}

export class Regions {
  private readonly classProducts = new Map<number, PairProduct[]>();
  private readonly lists = new Lists();

  constructor(private readonly a: Analysis) {}

  /** Join products that share their sources (destinations unite), then those that share destinations. */
  private join(ps: readonly PairProduct[]): PairProduct[] {
    const L = this.lists;
    const key = (f: number, id: number) => id * 2 + f;
    const bySrc = groupBy(ps, (p) => key(p.f, p.s)).map((g) => ({ f: g[0].f, s: g[0].s, d: g.length === 1 ? g[0].d : L.union(g.map((p) => p.d)) }));
    return groupBy(bySrc, (p) => key(p.f, p.d)).map((g) => ({ f: g[0].f, s: g.length === 1 ? g[0].s : L.union(g.map((p) => p.s)), d: g[0].d }));
  }

  /** An sd class's pairs as products (computed once per class). */
  private ofClass(c: number): PairProduct[] {
    const got = this.classProducts.get(c);
    if (got) return got;
    const t = this.a.pairsOf(c);
    const dsts = new Map<number, { f: number; s: number; d: number[] }>();
    for (let o = 0; o < t.length; o += 3) {
      const k = t[o + 1] * 2 + t[o];
      const e = dsts.get(k);
      if (e) e.d.push(t[o + 2]);
      else dsts.set(k, { f: t[o], s: t[o + 1], d: [t[o + 2]] });
    }
    const L = this.lists;
    const withIds = [...dsts.values()].map((e) => ({ f: e.f, s: e.s, d: L.id(e.d) }));
    const out = groupBy(withIds, (e) => e.d * 2 + e.f).map((g) => ({ f: g[0].f, s: L.id(g.map((e) => e.s).sort((a, b) => a - b)), d: g[0].d }));
    this.classProducts.set(c, out);
    return out;
  }

  /** Per state: its sd classes grouped by the port classes they have in it (ids of port lists). */
  private readonly stateGroups = new Map<number, Map<number, number[]>>();

  /** Read the cells of the states a diff reports, once. */
  addStates(cells: Map<number, [number, number][]>): void {
    for (const [st, list] of cells) {
      const portsOf = new Map<number, number[]>();
      for (const [c, q] of list) {
        const l = portsOf.get(c);
        if (l) l.push(q);
        else portsOf.set(c, [q]);
      }
      const groups = new Map<number, number[]>();
      for (const [c, qs] of portsOf) {
        const qid = this.lists.id(qs.sort((x, y) => x - y));
        const l = groups.get(qid);
        if (l) l.push(c);
        else groups.set(qid, [c]);
      }
      this.stateGroups.set(st, groups);
    }
  }

  /** A region given by its states (added with addStates), as products. */
  products(states: readonly number[]): Product[] {
    const L = this.lists;
    const byPorts = new Map<number, number[]>();
    for (const st of states) {
      for (const [qid, cs] of this.stateGroups.get(st) ?? []) {
        const l = byPorts.get(qid);
        if (l) for (const c of cs) l.push(c);
        else byPorts.set(qid, [...cs]);
      }
    }
    // A class may sit in several of the region's states with other ports: products with the
    // same sources and destinations then unite their ports.
    const bySides = new Map<string, { f: number; s: number; d: number; q: number[] }>();
    for (const [qid, cs] of byPorts) {
      for (const p of this.join(cs.flatMap((c) => this.ofClass(c)))) {
        const k = `${p.f}|${p.s}|${p.d}`;
        const e = bySides.get(k);
        if (e) e.q.push(qid);
        else bySides.set(k, { ...p, q: [qid] });
      }
    }
    return [...bySides.values()].map((e) => ({ f: e.f, s: L.lists[e.s], d: L.lists[e.d], q: e.q.length === 1 ? L.lists[e.q[0]] : L.lists[L.union(e.q)] }));
  }
}

const SUMMARY_ITEMS = 4;

/** Texts of atom sets, cached: many products share a side. */
export class AtomTexts {
  private readonly cache = new Map<string, { list: string[]; summary: string }>();

  constructor(private readonly cap: number) {}

  private describe(fam: FamilyPart, side: 'src' | 'dst', atoms: readonly number[]): { list: string[]; summary: string } {
    const k = `${fam.family}|${side}|${atoms.join(',')}`;
    const got = this.cache.get(k);
    if (got) return got;
    const set = fam[side];
    const d = set.describeSet(atoms, this.cap);
    const texts = (pairs: readonly [number, number][], max: number) => pairs.slice(0, max).flatMap(([i, j]) => rangeText(fam.family, ...set.range(i, j)));
    const list = texts(d.runs, this.cap);
    if (d.runCount > d.runs.length) list.push(`... (${d.runCount - d.runs.length} more ranges)`);
    const short = (pairs: readonly [number, number][], count: number): string => {
      const t = texts(pairs, SUMMARY_ITEMS + 1);
      return count <= SUMMARY_ITEMS && t.length <= SUMMARY_ITEMS ? t.join(', ') : `${t.slice(0, SUMMARY_ITEMS).join(', ')}, ... (${count} ranges)`;
    };
    // 'any IPv4 except ...' when the complement is the shorter text.
    const any = fam.family === 4 ? 'any IPv4' : 'any IPv6';
    const summary = d.gapCount === 0 ? any : d.gapCount < d.runCount ? `${any} except ${short(d.gaps, d.gapCount)}` : short(d.runs, d.runCount);
    const out = { list, summary };
    this.cache.set(k, out);
    return out;
  }

  /** The set's ranges as CIDRs or 'a-b', at most `cap` ranges written out. */
  list(fam: FamilyPart, side: 'src' | 'dst', atoms: readonly number[]): string[] {
    return this.describe(fam, side, atoms).list;
  }

  /** 'any IPv4', a few ranges, or 'any IPv4 except ...' when the complement is shorter. */
  summary(fam: FamilyPart, side: 'src' | 'dst', atoms: readonly number[]): string {
    return this.describe(fam, side, atoms).summary;
  }
}
