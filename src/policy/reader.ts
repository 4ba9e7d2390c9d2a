// Reading the policy's YAML tree against its schema. Every problem is recorded with
// file:line:column and reading goes on, so one load reports every mistake in the file; the
// policy is applied whole or not at all, so any error rejects it.
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { Pos, YEntry, YNode } from '../schema/index.js';

/** A scalar as written in the policy: its text and where it stands. */
export interface Located {
  readonly text: string;
  readonly at: Pos;
}

/** Collects the errors and warnings of one policy load. */
export class Reader {
  readonly errors: PeekwallError[] = [];
  readonly warnings: PeekwallError[] = [];
  constructor(readonly file: string) {}

  /** `file` names a feed or URL database when the problem is in one of those. */
  error(at: Pos, code: string, message: string, file = this.file): void {
    this.errors.push(peekwallError(code, message, { file, line: at.line, column: at.column }));
  }

  warn(at: Pos, code: string, message: string): void {
    this.warnings.push(peekwallError(code, message, { file: this.file, line: at.line, column: at.column }));
  }

  /**
   * The errors once each, in file order. An invalid object is reported where it is declared,
   * once, not at every use.
   */
  errorsInOrder(): PeekwallError[] {
    const seen = new Set<string>();
    const unique = this.errors.filter((e) => {
      const k = `${e.file}:${e.line}:${e.column}:${e.code}:${e.message}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
    return unique.sort((a, b) =>
      a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) : (a.file ?? '') < (b.file ?? '') ? -1 : 1,
    );
  }

  /** The warnings once each, in the order they were found. */
  uniqueWarnings(): PeekwallError[] {
    const seen = new Set<string>();
    return this.warnings.filter((w) => {
      const k = `${w.line}:${w.column}:${w.message}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
  }
}

export function describe(n: YNode): string {
  if (n.kind === 'scalar') return n.value === null ? 'empty' : typeof n.value;
  return n.kind === 'map' ? 'a map' : 'a list';
}

/** A map's entries; an empty value reads as an empty map. */
export function asMap(r: Reader, n: YNode, what: string): readonly YEntry[] | null {
  if (n.kind === 'map') return n.entries;
  if (n.kind === 'scalar' && n.value === null) return [];
  r.error(n.at, 'policy/schema', `${what} must be a map, not ${describe(n)}`);
  return null;
}

/** The entries by key; unknown keys and missing required ones are errors. */
export function checkKeys(
  r: Reader,
  entries: readonly YEntry[],
  allowed: readonly string[],
  what: string,
  at: Pos,
  required: readonly string[] = [],
): Map<string, YEntry> {
  const m = new Map<string, YEntry>();
  for (const e of entries) {
    if (!allowed.includes(e.key)) {
      r.error(e.keyAt, 'policy/unknown-key', `unknown key '${e.key}' in ${what} (allowed: ${allowed.join(', ')})`);
      continue;
    }
    m.set(e.key, e);
  }
  for (const k of required) if (!m.has(k)) r.error(at, 'policy/missing-key', `${what} needs '${k}'`);
  return m;
}

/** A map read as its known keys, or null when absent or not a map. */
export function readSection(
  r: Reader,
  n: YNode | undefined,
  allowed: readonly string[],
  what: string,
  required: readonly string[] = [],
): Map<string, YEntry> | null {
  if (!n) return null;
  const entries = asMap(r, n, what);
  return entries ? checkKeys(r, entries, allowed, what, n.at, required) : null;
}

/** How the maps of a list are read: `map` names one in "must be a map", `what` in key errors. */
export interface ItemShape {
  readonly map: string;
  readonly what: string;
  readonly keys: readonly string[];
  readonly required?: readonly string[];
}

/** Each map of a list, read as its known keys; `n` absent is an empty list. */
export function forEachItem(
  r: Reader,
  n: YNode | undefined,
  notAList: (n: YNode) => string,
  shape: ItemShape,
  visit: (item: Map<string, YEntry>, at: Pos) => void,
): void {
  if (!n) return;
  if (n.kind !== 'seq') {
    r.error(n.at, 'policy/schema', notAList(n));
    return;
  }
  for (const it of n.items) {
    const entries = asMap(r, it, shape.map);
    if (entries) visit(checkKeys(r, entries, shape.keys, shape.what, it.at, shape.required), it.at);
  }
}

export function str(r: Reader, n: YNode, what: string): string | null {
  if (n.kind === 'scalar' && typeof n.value === 'string' && n.value.trim().length > 0) return n.value.trim();
  if (n.kind === 'scalar' && typeof n.value === 'number') return String(n.value);
  r.error(n.at, 'policy/schema', `${what} must be a non-empty string, not ${describe(n)}`);
  return null;
}

export function bool(r: Reader, n: YNode, what: string): boolean | null {
  if (n.kind === 'scalar' && typeof n.value === 'boolean') return n.value;
  r.error(n.at, 'policy/schema', `${what} must be true or false, not ${describe(n)}`);
  return null;
}

export function int(r: Reader, n: YNode, what: string, [min, max]: readonly [number, number]): number | null {
  if (n.kind === 'scalar' && typeof n.value === 'number' && Number.isInteger(n.value) && n.value >= min && n.value <= max) return n.value;
  r.error(n.at, 'policy/schema', `${what} must be an integer from ${min} to ${max}`);
  return null;
}

export function oneOf<T extends string>(r: Reader, n: YNode, what: string, values: readonly T[]): T | null {
  if (n.kind === 'scalar' && typeof n.value === 'string' && (values as readonly string[]).includes(n.value)) return n.value as T;
  const got = n.kind === 'scalar' ? `'${String(n.value)}'` : describe(n);
  r.error(n.at, 'policy/schema', `${what} must be one of ${values.map((v) => `'${v}'`).join(', ')}, not ${got}`);
  return null;
}

/** A scalar or a list of scalars. */
export function scalarList(r: Reader, n: YNode, what: string): Located[] {
  const items = n.kind === 'seq' ? n.items : n.kind === 'scalar' && n.value === null ? [] : [n];
  const out: Located[] = [];
  for (const it of items) {
    if (it.kind !== 'scalar' || it.value === null || typeof it.value === 'boolean') {
      r.error(it.at, 'policy/schema', `${what} entries must be strings or numbers, not ${describe(it)}`);
      continue;
    }
    out.push({ text: String(it.value).trim(), at: it.at });
  }
  return out;
}

/** The scalar list under `key` of a section, [] when the key is absent. */
export function listOf(r: Reader, section: Map<string, YEntry>, key: string, what = key): Located[] {
  const e = section.get(key);
  return e ? scalarList(r, e.value, what) : [];
}
