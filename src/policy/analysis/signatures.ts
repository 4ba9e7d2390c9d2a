// Name classes merged by signature: the partition's classes (one per label path, often
// hundreds of thousands with big feeds) fall into far fewer groups that every policy of the
// analysis treats alike. A group keeps a few of its classes as samples to show and witness.
import { lowerHost, UNKNOWN_URL, type UrlDbRecord } from '../domains.js';
import { Interner } from './bitset.js';
import type { PolicyView } from './model.js';
import type { NameClass } from './names.js';

export interface SigInfo {
  /** Sample classes (the broadest first), for the witness and the description. */
  readonly samples: NameClass[];
  /** Number of partition classes in the group. */
  classes: number;
  /** Sum of the classes' measures. */
  weight: number;
  /** The URL database record each policy gives the group's names. */
  readonly recs: readonly UrlDbRecord[];
  /** Whether a name the search restricts to (--name) is in the group. */
  readonly inPattern: boolean;
  /** The group holds two names at least (TSID: two names of one group can differ). */
  multi: boolean;
}

const SAMPLES = 4;

export class Signatures {
  readonly interner: Interner;
  readonly info: SigInfo[] = [];
  private readonly buf: Uint32Array;

  /** Records a name the URL database does not list may have (lint), or none. */
  private readonly assumed: readonly UrlDbRecord[];
  /** Name facts already expanded into the assumed records' groups. */
  private readonly facts: Interner | null;
  private readonly factBuf: Uint32Array;

  constructor(
    private readonly views: readonly PolicyView[],
    /** A --name restriction: true when the name is in it (null: no restriction). */
    private readonly pattern: ((host: string) => boolean) | null,
    /** Let names the URL database does not list have any category and reputation (one policy). */
    unlistedAnyCategory = false,
  ) {
    const width = views.reduce((n, v) => n + v.sigWidth, 0) + 1;
    this.interner = new Interner(width);
    this.buf = new Uint32Array(width);
    const cats = unlistedAnyCategory && views.length === 1 ? [...views[0].ruleCategories(), 'Uncategorized'] : [];
    this.assumed = cats.flatMap((c) => [0, 1, 2, 3, 4, 5].map((reputation) => ({ categories: [c], reputation }) as UrlDbRecord));
    this.factBuf = new Uint32Array(this.assumed.length > 0 ? 2 + views[0].rW : 0);
    this.facts = this.assumed.length > 0 ? new Interner(this.factBuf.length) : null;
  }

  get count(): number {
    return this.interner.size;
  }

  private compute(name: string, assumed?: UrlDbRecord): UrlDbRecord[] {
    const recs: UrlDbRecord[] = [];
    this.buf.fill(0);
    let o = 0;
    for (const v of this.views) {
      recs.push(v.signature(name, this.buf, o, assumed));
      o += v.sigWidth;
    }
    this.buf[o] = this.pattern === null || this.pattern(lowerHost(name)) ? 1 : 0;
    return recs;
  }

  /**
   * The groups of a partition class (created when new): its own, and when names the URL
   * database does not list may have any category, one per category and reputation they may have.
   */
  add(c: NameClass): number[] {
    const recs = this.compute(c.witness);
    const id = this.group(c, recs);
    if (this.facts === null || recs[0] !== UNKNOWN_URL) return [id];
    // Names with equal facts have equal groups under every assumed record: expand once.
    this.views[0].nameFacts(c.witness, this.factBuf, 0);
    const known = this.facts.size;
    if (this.facts.intern(this.factBuf) < known) return [id];
    return [id, ...this.assumed.map((rec) => this.group(c, this.compute(c.witness, rec)))];
  }

  private group(c: NameClass, recs: UrlDbRecord[]): number {
    const id = this.interner.intern(this.buf);
    if (id === this.info.length) this.info.push({ samples: [], classes: 0, weight: 0, recs, inPattern: this.buf[this.buf.length - 1] === 1, multi: false });
    const s = this.info[id];
    s.classes++;
    s.multi ||= s.classes > 1 || !c.single;
    s.weight += c.weight;
    if (s.samples.length < SAMPLES || c.weight > s.samples[s.samples.length - 1].weight) {
      s.samples.push(c);
      s.samples.sort((a, b) => b.weight - a.weight);
      if (s.samples.length > SAMPLES) s.samples.pop();
    }
    return id;
  }

  /** The group a concrete name falls in, or -1 when no partition class has its signature. */
  classify(name: string): number {
    this.compute(name);
    return this.interner.find(this.buf);
  }

  /** The group of a destination address used as the name (created when new, without samples). */
  addressGroup(text: string): number {
    const recs = this.compute(text);
    const id = this.interner.intern(this.buf);
    if (id === this.info.length) this.info.push({ samples: [], classes: 0, weight: 0, recs, inPattern: this.buf[this.buf.length - 1] === 1, multi: false });
    return id;
  }

  /** The words of policy i's part of a group's signature. */
  part(sig: number, i: number): Uint32Array {
    let o = 0;
    for (let k = 0; k < i; k++) o += this.views[k].sigWidth;
    return this.interner.words(sig).subarray(o, o + this.views[i].sigWidth);
  }
}
