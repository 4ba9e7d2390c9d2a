// Safe YAML reading: the `yaml` package parses (core schema, no custom tags, no merge keys),
// then we copy the document into a small position-carrying tree. Nothing user-controlled
// ever becomes an object key (maps are arrays of entries), so `__proto__` cannot pollute a
// prototype; we still reject such keys outright because they are never meaningful here.
// Aliases are expanded with a budget, which defuses "billion laughs" alias bombs.
import { Alias, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { peekwallError, type PeekwallError } from '../util/errors.js';

export interface Pos {
  readonly line: number;
  readonly column: number;
}

export type YNode =
  | { readonly kind: 'map'; readonly entries: readonly YEntry[]; readonly at: Pos }
  | { readonly kind: 'seq'; readonly items: readonly YNode[]; readonly at: Pos }
  | { readonly kind: 'scalar'; readonly value: string | number | boolean | null; readonly at: Pos };

export interface YEntry {
  readonly key: string;
  readonly keyAt: Pos;
  readonly value: YNode;
}

export interface YamlLimits {
  /** Upper bound on the text size in bytes (UTF-16 code units). */
  readonly maxBytes: number;
  /** Upper bound on alias expansions in one document. */
  readonly maxAliases: number;
  /** Upper bound on nodes produced (after alias expansion). */
  readonly maxNodes: number;
  /** Upper bound on nesting depth. */
  readonly maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxAliases: 100,
  maxNodes: 500_000,
  maxDepth: 64,
});

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function readYaml(
  text: string,
  file: string,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): { ok: true; value: YNode; errors: PeekwallError[] } | { ok: false; error: PeekwallError[] } {
  if (text.length > limits.maxBytes) {
    return {
      ok: false,
      error: [peekwallError('policy/too-large', `file is ${text.length} bytes, over the ${limits.maxBytes}-byte limit for a policy file (put large lists in .txt feeds)`, { file, line: 1, column: 1 })],
    };
  }
  const lc = new LineCounter();
  const at = (offset: number | undefined): Pos => {
    const p = lc.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      lineCounter: lc,
      schema: 'core',
      merge: false,
      uniqueKeys: true,
      prettyErrors: false,
      strict: true,
      customTags: [],
      version: '1.2',
    });
  } catch (e) {
    return { ok: false, error: [peekwallError('policy/yaml', `YAML could not be parsed: ${(e as Error).message}`, { file, line: 1, column: 1 })] };
  }
  const errors: PeekwallError[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const p = at(e.pos[0]);
    errors.push(peekwallError('policy/yaml', `YAML: ${e.message.split('\n')[0]}`, { file, ...p }));
  }
  if (errors.length > 0) return { ok: false, error: errors };
  if (doc.contents === null) {
    return { ok: false, error: [peekwallError('policy/empty', 'the policy file is empty', { file, line: 1, column: 1 })] };
  }
  let aliases = 0;
  let nodes = 0;
  const convert = (n: unknown, depth: number): YNode | null => {
    if (++nodes > limits.maxNodes) {
      errors.push(peekwallError('policy/too-many-nodes', `more than ${limits.maxNodes} YAML nodes`, { file, line: 1, column: 1 }));
      return null;
    }
    if (depth > limits.maxDepth) {
      const node = n as { range?: [number, number, number] };
      errors.push(peekwallError('policy/too-deep', `nesting deeper than ${limits.maxDepth} levels`, { file, ...at(node.range?.[0]) }));
      return null;
    }
    if (isAlias(n)) {
      const a = n as Alias;
      const p = at(a.range?.[0]);
      if (++aliases > limits.maxAliases) {
        errors.push(peekwallError('policy/alias-limit', `more than ${limits.maxAliases} alias expansions (alias bomb?)`, { file, ...p }));
        return null;
      }
      const target = a.resolve(doc);
      if (!target) {
        errors.push(peekwallError('policy/yaml', `unresolved alias *${a.source}`, { file, ...p }));
        return null;
      }
      return convert(target, depth + 1);
    }
    const node = n as Node;
    const p = at(node.range?.[0]);
    if (node.tag !== undefined && node.tag !== null) {
      errors.push(peekwallError('policy/yaml-tag', `YAML tags are not allowed (${node.tag})`, { file, ...p }));
      return null;
    }
    if (isMap(node)) {
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          const kp = at((k as { range?: [number] } | null)?.range?.[0] ?? node.range?.[0]);
          errors.push(peekwallError('policy/yaml', 'map keys must be plain strings', { file, ...kp }));
          continue;
        }
        const key = String(k.value);
        const keyAt = at(k.range?.[0]);
        if (FORBIDDEN_KEYS.has(key)) {
          errors.push(peekwallError('policy/forbidden-key', `key '${key}' is not allowed`, { file, ...keyAt }));
          continue;
        }
        const v = pair.value === null || pair.value === undefined
          ? ({ kind: 'scalar', value: null, at: keyAt } as YNode)
          : convert(pair.value, depth + 1);
        if (v) entries.push({ key, keyAt, value: v });
      }
      return { kind: 'map', entries, at: p };
    }
    if (isSeq(node)) {
      const items: YNode[] = [];
      for (const it of node.items) {
        const v = it === null || it === undefined ? ({ kind: 'scalar', value: null, at: p } as YNode) : convert(it, depth + 1);
        if (v) items.push(v);
      }
      return { kind: 'seq', items, at: p };
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return { kind: 'scalar', value: v, at: p };
      }
      errors.push(peekwallError('policy/yaml', `unsupported scalar value`, { file, ...p }));
      return null;
    }
    errors.push(peekwallError('policy/yaml', 'unsupported YAML node', { file, ...p }));
    return null;
  };
  // Nodes that failed (forbidden keys, tags, alias budget) are dropped and reported; the
  // caller still validates the rest so one run reports every problem of the file.
  const root = convert(doc.contents, 0);
  if (!root) return { ok: false, error: errors };
  return { ok: true, value: root, errors };
}
