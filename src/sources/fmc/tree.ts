// Small helpers over the located tree: reading an FMC JSON node (fields, strings, lists), and
// building the peekwall policy tree from it with every new node placed where its FMC value
// stands, so the compiler's file:line:column errors point into the bundle.
import type { Pos, YEntry, YNode } from '../../schema/index.js';

export type Scalar = string | number | boolean | null;

/** The value of `key` in a map node (the last one, as JSON.parse would keep), or undefined. */
export function field(n: YNode | undefined, key: string): YNode | undefined {
  if (n?.kind !== 'map') return undefined;
  for (let i = n.entries.length - 1; i >= 0; i--) if (n.entries[i].key === key) return n.entries[i].value;
  return undefined;
}

/** The entry of `key` (for its key position), or undefined. */
export function entry(n: YNode | undefined, key: string): YEntry | undefined {
  if (n?.kind !== 'map') return undefined;
  for (let i = n.entries.length - 1; i >= 0; i--) if (n.entries[i].key === key) return n.entries[i];
  return undefined;
}

/** A string scalar's text (numbers as their text: FMC writes ports and protocols either way). */
export function text(n: YNode | undefined): string | undefined {
  if (n?.kind !== 'scalar') return undefined;
  if (typeof n.value === 'string') return n.value;
  if (typeof n.value === 'number') return String(n.value);
  return undefined;
}

export function fieldText(n: YNode | undefined, key: string): string | undefined {
  return text(field(n, key));
}

export function fieldBool(n: YNode | undefined, key: string): boolean | undefined {
  const v = field(n, key);
  return v?.kind === 'scalar' && typeof v.value === 'boolean' ? v.value : undefined;
}

/** A list node's items; a missing value, null or `{}` read as empty. */
export function list(n: YNode | undefined): readonly YNode[] {
  return n?.kind === 'seq' ? n.items : [];
}

/** True when a condition holds something: FMC writes an empty condition as `{}`. */
export function nonEmpty(n: YNode | undefined): boolean {
  if (!n) return false;
  if (n.kind === 'seq') return n.items.length > 0;
  if (n.kind === 'map') return n.entries.some((e) => nonEmpty(e.value));
  return n.value !== null && n.value !== '' && n.value !== false;
}

// Building the policy tree.
export const scalar = (value: Scalar, at: Pos): YNode => ({ kind: 'scalar', value, at });
export const seq = (items: readonly YNode[], at: Pos): YNode => ({ kind: 'seq', items, at });
export function map(at: Pos, entries: readonly (readonly [string, YNode | undefined])[]): YNode {
  const out: YEntry[] = [];
  for (const [key, value] of entries) if (value !== undefined) out.push({ key, keyAt: value.at, value });
  return { kind: 'map', entries: out, at };
}

/** Plain data (a CLI option, a suite's settings) as a tree placed at `at`. */
export function fromPlain(v: unknown, at: Pos): YNode {
  if (Array.isArray(v)) return seq(v.map((x) => fromPlain(x, at)), at);
  if (v !== null && typeof v === 'object') return map(at, Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromPlain(x, at)] as const));
  return scalar(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null, at);
}

/** `over` laid onto `base` map by map, key by key (a suite's settings onto the bundle's). */
export function overlay(base: YNode | undefined, over: YNode): YNode {
  if (!base || base.kind !== 'map' || over.kind !== 'map') return over;
  const entries = [...base.entries];
  for (const e of over.entries) {
    const i = entries.findIndex((x) => x.key === e.key);
    if (i < 0) entries.push(e);
    else entries[i] = { ...entries[i], value: overlay(entries[i].value, e.value) };
  }
  return { kind: 'map', entries, at: base.at };
}
