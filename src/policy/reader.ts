// Reading the policy's YAML tree once its shape is checked (policy.schema.json, see schema.ts):
// the accessors here take what is there and pass over what is not, without a word, since the
// schema has already said what is wrong. Every problem the compile steps find is recorded with
// file:line:column and reading goes on, so one load reports every mistake in the file; the
// policy is applied whole or not at all, so any error rejects it.
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { Pos, YEntry, YNode } from '../schema/index.js';

/** A scalar as written in the policy: its text and where it stands. */
export interface Located {
  readonly text: string;
  readonly at: Pos;
}

/**
 * A position that names its own file: a policy built from several files (an FMC bundle
 * folder: one JSON file per resource) keeps each node's file beside its line and column.
 */
export interface FilePos extends Pos {
  readonly file?: string;
}

/** Collects the errors and warnings of one policy load. */
export class Reader {
  readonly errors: PeekwallError[] = [];
  readonly warnings: PeekwallError[] = [];
  constructor(readonly file: string) {}

  /** The file a position is in: its own when it names one, else the policy's. */
  fileAt(at: Pos): string {
    return (at as FilePos).file ?? this.file;
  }

  /** `file` names a feed or URL database when the problem is in one of those. */
  error(at: Pos, code: string, message: string, file = this.fileAt(at)): void {
    this.errors.push(peekwallError(code, message, { file, line: at.line, column: at.column }));
  }

  warn(at: Pos, code: string, message: string): void {
    this.warnings.push(peekwallError(code, message, { file: this.fileAt(at), line: at.line, column: at.column }));
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

/** A map's entries by key; an empty value reads as an empty map, anything else as null. */
export function entries(n: YNode | undefined): Map<string, YEntry> | null {
  if (n?.kind === 'map') return new Map(n.entries.map((e) => [e.key, e]));
  return n?.kind === 'scalar' && n.value === null ? new Map() : null;
}

/** Each map of a list, as its entries by key, with its position; `n` absent is an empty list. */
export function forEachItem(n: YNode | undefined, visit: (item: Map<string, YEntry>, at: Pos) => void): void {
  if (n?.kind !== 'seq') return;
  for (const it of n.items) {
    const m = entries(it);
    if (m) visit(m, it.at);
  }
}

/** A name: a non-empty string (trimmed) or a number. */
export function str(n: YNode | undefined): string | null {
  if (n?.kind === 'scalar' && typeof n.value === 'string' && n.value.trim().length > 0) return n.value.trim();
  return n?.kind === 'scalar' && typeof n.value === 'number' ? String(n.value) : null;
}

export function bool(n: YNode | undefined): boolean | null {
  return n?.kind === 'scalar' && typeof n.value === 'boolean' ? n.value : null;
}

/** One of a closed list of words; the list is the schema's, which has checked it. */
export function word<T extends string>(n: YNode | undefined): T | null {
  return n?.kind === 'scalar' && typeof n.value === 'string' ? (n.value as T) : null;
}

/** A scalar or a list of scalars. */
export function scalarList(n: YNode): Located[] {
  const items = n.kind === 'seq' ? n.items : [n];
  const out: Located[] = [];
  for (const it of items) {
    if (it.kind === 'scalar' && (typeof it.value === 'string' || typeof it.value === 'number')) out.push({ text: String(it.value).trim(), at: it.at });
  }
  return out;
}

/** The scalar list under `key` of a map, [] when the key is absent. */
export function listOf(section: Map<string, YEntry> | null, key: string): Located[] {
  const e = section?.get(key);
  return e ? scalarList(e.value) : [];
}
