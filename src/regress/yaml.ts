// A hostile-input-safe view of a YAML document with a position on every node, so every suite
// error can say file:line:column. We walk the AST ourselves instead of doc.toJS() because:
//   - keys become Map entries, never object properties (`__proto__`, `constructor` are just
//     unknown keys, rejected by the schema check, never assigned to a prototype);
//   - aliases are expanded under one node budget for the whole document, so an alias bomb
//     (a billion laughs) stops at the budget with an error instead of exhausting memory;
//   - nesting depth is bounded (no stack overflow on `[[[[...`).
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { Located } from './types.js';

export interface YamlLimits {
  /** Text size bound in bytes (UTF-16 code units, close enough). */
  readonly maxBytes: number;
  /** Nodes visited, aliases expanded each time they are used. */
  readonly maxNodes: number;
  readonly maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = { maxBytes: 4 * 1024 * 1024, maxNodes: 200_000, maxDepth: 32 };

export type YNode =
  | { readonly kind: 'map'; readonly at: Located; readonly entries: ReadonlyMap<string, { readonly keyAt: Located; readonly value: YNode }> }
  | { readonly kind: 'seq'; readonly at: Located; readonly items: readonly YNode[] }
  | { readonly kind: 'scalar'; readonly at: Located; readonly value: string | number | boolean | null };

/** Parse YAML text into a located tree, or errors with positions. Pure. */
export function readYaml(
  text: string,
  file: string,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): { ok: true; value: YNode } | { ok: false; error: PeekwallError[] } {
  if (text.length > limits.maxBytes) {
    return {
      ok: false,
      error: [peekwallError('suite/too-large', `suite is ${text.length} bytes, more than the ${limits.maxBytes} allowed`, { file, line: 1, column: 1 })],
    };
  }
  const lc = new LineCounter();
  let doc: Document.Parsed;
  try {
    // uniqueKeys: a duplicated key is an error (a silently ignored expectation is a lie).
    // merge: off, so `<<` is an ordinary (unknown) key.
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, merge: false });
  } catch (e) {
    return { ok: false, error: [peekwallError('suite/yaml', `YAML parser failed: ${(e as Error).message}`, { file, line: 1, column: 1 })] };
  }
  const at = (offset: number | undefined): Located => {
    const p = lc.linePos(offset ?? 0);
    return { file, line: p.line, column: p.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      error: doc.errors.map((e) => peekwallError('suite/yaml', e.message.split('\n')[0], at(e.pos[0]))),
    };
  }
  if (doc.contents === null) {
    return { ok: false, error: [peekwallError('suite/empty', 'the suite is empty', at(0))] };
  }

  let budget = limits.maxNodes;
  const errors: PeekwallError[] = [];
  const walk = (node: unknown, depth: number, seen: ReadonlySet<unknown>): YNode | null => {
    if (--budget < 0) {
      if (budget === -1) {
        errors.push(peekwallError('suite/too-many-nodes', `more than ${limits.maxNodes} YAML nodes (after expanding aliases)`, at(0)));
      }
      return null;
    }
    if (depth > limits.maxDepth) {
      errors.push(peekwallError('suite/too-deep', `nesting deeper than ${limits.maxDepth} levels`, at((node as Node).range?.[0])));
      return null;
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) {
        errors.push(peekwallError('suite/yaml', `unknown alias *${node.source}`, at(node.range?.[0])));
        return null;
      }
      if (seen.has(target)) {
        errors.push(peekwallError('suite/yaml', `alias *${node.source} refers to itself`, at(node.range?.[0])));
        return null;
      }
      const inner = new Set(seen);
      inner.add(target);
      return walk(target, depth + 1, inner);
    }
    if (isMap(node)) {
      const entries = new Map<string, { keyAt: Located; value: YNode }>();
      for (const pair of node.items) {
        const k = pair.key;
        const keyAt = at((k as Node | null)?.range?.[0] ?? node.range?.[0]);
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          errors.push(peekwallError('suite/bad-key', 'keys must be plain strings', keyAt));
          continue;
        }
        const v = pair.value === null ? null : walk(pair.value, depth + 1, seen);
        const value: YNode = v ?? { kind: 'scalar', at: keyAt, value: null };
        if (pair.value !== null && v === null) continue;
        entries.set(String(k.value), { keyAt, value });
      }
      return { kind: 'map', at: at(node.range?.[0]), entries };
    }
    if (isSeq(node)) {
      const items: YNode[] = [];
      for (const item of node.items) {
        const v = walk(item, depth + 1, seen);
        if (v) items.push(v);
      }
      return { kind: 'seq', at: at(node.range?.[0]), items };
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return { kind: 'scalar', at: at(node.range?.[0]), value: v };
      }
      // bigint, Date (yaml 1.1 timestamps), binary: not part of the suite format.
      return { kind: 'scalar', at: at(node.range?.[0]), value: String(v) };
    }
    errors.push(peekwallError('suite/yaml', 'unsupported YAML node', at((node as Node | null)?.range?.[0])));
    return null;
  };
  const root = walk(doc.contents, 0, new Set());
  if (errors.length > 0 || !root) return { ok: false, error: errors.length > 0 ? errors : [peekwallError('suite/yaml', 'unreadable YAML', at(0))] };
  return { ok: true, value: root };
}

/** A plain JS value (for pass-through blocks such as `settings`), built with null-prototype-free safety. */
export function toPlain(n: YNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(toPlain);
  const o: Record<string, unknown> = {};
  for (const [k, v] of n.entries) {
    // defineProperty: a key named __proto__ becomes an own data property, never the prototype.
    Object.defineProperty(o, k, { value: toPlain(v.value), enumerable: true, writable: true, configurable: true });
  }
  return o;
}
