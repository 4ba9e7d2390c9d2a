// The name dimension cut into classes. Every way a policy looks at a server name is a pattern
// on its labels read right to left: a domain entry matches the name or names under it
// (label-aligned), 'x.com/' only the name itself, '*' stands for one whole label, and a URL
// substring entry ending in '/' ('ample.com/') matches names that END with its text, so its
// leftmost label is only known by its end. A walk over the reversed labels of every pattern
// at once enumerates the classes: at each step the next label is one of the labels some
// pattern names, or ends with some pattern's partial text, or is any other label; a name
// stops, or goes on. Two names that take the same walk match the same entries of every set,
// so every lookup a policy makes (SI lists, applications, URL objects, the URL database)
// answers alike for them. Each class comes with a concrete witness name in it.
//
// Names are DNS names: no label is empty. An SNI with an empty label never reaches policy (the
// wire reader flags it); a certificate name like '.example.org' does, and there the matchers
// disagree about it (the wildcard walk drops the empty label, the suffix table keeps it), so
// such names are left out of the model.

export interface NamePattern {
  /** Labels right to left: the text of a label, or '*' for any one label. */
  readonly labels: readonly string[];
  /** The leftmost label given by its end only ('ample.com/' -> labels [com], end 'ample'). */
  readonly partialEnd: string | null;
  /** Only the name itself, not names under it. */
  readonly exact: boolean;
}

/** One class: a name in it, how to read it, and a rough measure of its breadth (0..1]. */
export interface NameClass {
  readonly witness: string;
  readonly description: string;
  readonly weight: number;
  /** The class is one name (each label named, nothing under it). */
  readonly single: boolean;
}

interface Node {
  readonly children: Map<string, Node>;
  exactEnd: boolean;
}

const newNode = (): Node => ({ children: new Map(), exactEnd: false });

/** A pattern from a domain entry's host ('*.example.com' -> labels [com, example, *]). */
export function domainPattern(host: string, exact: boolean): NamePattern {
  return { labels: host.split('.').reverse(), partialEnd: null, exact };
}

/** A pattern from a substring entry 'X/': names ending with X. Null when X is empty (every name). */
export function endingPattern(x: string): NamePattern | null {
  if (x.length === 0) return null;
  const parts = x.split('.');
  const partialEnd = parts[0];
  return { labels: parts.slice(1).reverse(), partialEnd, exact: false };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz0123456789-';
const OTHER_TOP = ['invalid', 'example', 'test', 'zz'];
const OTHER_DEEP = ['www', 'host', 'a', 'b', 'c'];

interface Label {
  readonly text: string;
  /** A label some pattern names (one label, not a family of them). */
  readonly named?: boolean;
  /** How the class reads it: the label, '*' (any other label) or '*end' (a label ending so). */
  readonly shown: string;
  readonly weight: number;
}

/** Wildcard / partial patterns still in play: pattern index and how many labels it consumed. */
type Alive = readonly (readonly [number, number])[];

export interface NamePartition {
  readonly classes: number;
  /** Labels for which no witness label was found within the search bound (0 in practice). */
  readonly unwitnessed: number;
}

/**
 * Walk every class of names the patterns tell apart, calling `visit` once per class. The walk
 * is depth-first over the patterns' shared labels: its cost follows the number of distinct
 * label paths (about one class per trie node), not the number of names.
 */
export function partitionNames(patterns: readonly NamePattern[], visit: (c: NameClass) => void): NamePartition {
  const root = newNode();
  const wild: NamePattern[] = [];
  for (const p of patterns) {
    if (p.partialEnd !== null || p.labels.includes('*')) {
      wild.push(p);
      continue;
    }
    let n = root;
    for (const l of p.labels) {
      let next = n.children.get(l);
      if (!next) n.children.set(l, (next = newNode()));
      n = next;
    }
    if (p.exact) n.exactEnd = true;
  }
  const tokenCount = (p: NamePattern) => p.labels.length + (p.partialEnd !== null ? 1 : 0);
  let classes = 0;
  let unwitnessed = 0;
  const prefix: Label[] = [];
  const nameOf = (extra: string[] = []): string => [...extra, ...prefix.map((l) => l.text).reverse()].join('.');
  const shownOf = (): string => prefix.map((l) => l.shown).reverse().join('.');
  const weightOf = (): number => prefix.reduce((w, l) => w * l.weight, 1);
  const emit = (witness: string, description: string, weight: number, exactly = false) => {
    classes++;
    visit({ witness, description, weight, single: exactly && prefix.every((l) => l.named === true) });
  };

  const walk = (node: Node | null, alive: Alive): void => {
    const depth = prefix.length;
    let exactHere = node?.exactEnd ?? false;
    const going: [number, number][] = [];
    for (const [i, k] of alive) {
      const p = wild[i];
      if (k === tokenCount(p)) {
        if (p.exact) exactHere = true;
      } else going.push([i, k]);
    }
    const exactLabels = new Set<string>(node ? node.children.keys() : []);
    const partials = new Set<string>();
    let star = false;
    for (const [i, k] of going) {
      const p = wild[i];
      if (k < p.labels.length) {
        if (p.labels[k] === '*') star = true;
        else exactLabels.add(p.labels[k]);
      } else partials.add(p.partialEnd as string);
    }
    const advance = (label: string): [number, number][] => {
      const out: [number, number][] = [];
      for (const [i, k] of going) {
        const p = wild[i];
        const ok = k < p.labels.length ? p.labels[k] === '*' || p.labels[k] === label : label.endsWith(p.partialEnd as string);
        if (ok) out.push([i, k + 1]);
      }
      return out;
    };
    const down = (label: Label, next: Node | null, nextAlive: Alive) => {
      prefix.push(label);
      walk(next, nextAlive);
      prefix.pop();
    };
    for (const e of exactLabels) down({ text: e, shown: e, weight: 1 / 256, named: true }, node?.children.get(e) ?? null, advance(e));
    for (const end of partials) {
      const label = partialLabel(end, exactLabels, partials);
      if (label === null) {
        unwitnessed++;
        continue;
      }
      down({ text: label, shown: `*${end}`, weight: 1 / 16 }, null, advance(label));
    }
    const other = otherLabel(depth === 0 ? OTHER_TOP : OTHER_DEEP, exactLabels, partials);
    if (other === null) {
      if (!partials.has('')) unwitnessed++;
      if (depth > 0) emit(nameOf(), `${shownOf()} (exactly)`, weightOf() / 16, true);
      return;
    }
    const otherAlive = star ? advance(other) : [];
    if (otherAlive.length > 0) {
      if (depth > 0) emit(nameOf(), `${shownOf()} (exactly)`, weightOf() / 16, true);
      down({ text: other, shown: '*', weight: 1 }, null, otherAlive);
      return;
    }
    // Any other label ends every pattern: the rest of the name changes nothing. With no exact
    // entry here, the name itself belongs to the same class as the names under it.
    if (depth === 0) emit(`www.example.${other}`, 'any other name', 1);
    else if (exactHere) {
      emit(nameOf(), `${shownOf()} (exactly)`, weightOf() / 16, true);
      emit(nameOf([other]), `*.${shownOf()}`, weightOf());
    } else emit(nameOf(), `${shownOf()} and names under it`, weightOf());
  };
  walk(root, wild.map((_, i) => [i, 0] as const));
  return { classes, unwitnessed };
}

function otherLabel(candidates: readonly string[], exact: ReadonlySet<string>, partials: ReadonlySet<string>): string | null {
  if (partials.has('')) return null; // every label ends with '': no label is "other"
  const ok = (l: string) => !exact.has(l) && ![...partials].some((p) => l.endsWith(p));
  for (const c of candidates) if (ok(c)) return c;
  for (let i = 0; i < 10_000; i++) if (ok(`x${i}`)) return `x${i}`;
  return null;
}

/** A label ending with `end` that is no named label and ends with no longer partial text. */
function partialLabel(end: string, exact: ReadonlySet<string>, partials: ReadonlySet<string>): string | null {
  const ok = (l: string) => !exact.has(l) && ![...partials].some((p) => p.length > end.length && l.endsWith(p));
  if (end.length > 0 && ok(end)) return end;
  for (const c of LETTERS) if (ok(c + end)) return c + end;
  for (const c of LETTERS) for (const d of LETTERS) if (ok(c + d + end)) return c + d + end;
  return null;
}
