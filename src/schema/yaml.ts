// The one YAML reader of every peekwall file format (policy, regression suite, run config, lab
// PKI config). The `yaml` package parses (YAML 1.2 core schema, no custom tags, no merge keys,
// unique keys); we copy the document into a small tree with a position on every node, so every
// problem, found here or by a schema or semantic check later, is `file:line:column`.
//   - Maps are arrays of entries: nothing user-controlled ever becomes an object key here, so
//     `__proto__` cannot reach a prototype (toPlain defines such keys as own properties).
//   - Aliases are expanded under a budget of expansions and one node budget for the whole
//     document, so an alias bomb ("billion laughs") stops with an error, not out of memory.
//   - Nesting depth is bounded (no stack overflow on `[[[[...`), and so is the text size.
// Pure: text in, tree or errors out.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
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
  // A 10,000-case suite (MAX_CASES) is ~250,000 nodes.
  maxNodes: 500_000,
  maxDepth: 64,
});

/** What can be wrong with a file before its format is even looked at. */
export type YamlProblem = 'too-large' | 'yaml' | 'empty' | 'too-many-nodes' | 'too-deep' | 'alias-limit' | 'yaml-tag' | 'forbidden-key' | 'bad-key';

/** How one file format reads: its words, its error codes (stable once shipped) and limits. */
export interface YamlFormat {
  /** What the file is called in messages. */
  readonly noun: string;
  readonly code: (p: YamlProblem) => string;
  /** Where a format differs from DEFAULT_YAML_LIMITS, and why, is said at its entry. */
  readonly limits?: Partial<YamlLimits>;
  /** 'refuse': `__proto__`, `constructor`, `prototype` keys are errors; 'keep': they are ordinary keys for the schema to judge. */
  readonly prototypeKeys: 'refuse' | 'keep';
  /** Appended to the size message: what to do instead. */
  readonly sizeHint?: string;
}

const ns = (space: string, renamed: Partial<Record<YamlProblem, string>> = {}) => (p: YamlProblem) => renamed[p] ?? `${space}/${p}`;

/** The four formats. Codes differ where a format shipped other codes first. */
export const YAML_FORMATS = Object.freeze({
  policy: { noun: 'policy file', code: ns('policy', { 'bad-key': 'policy/yaml' }), prototypeKeys: 'refuse', sizeHint: ' (put large lists in .txt feeds)' },
  // Suites repeat one expectation for many cases (`expect: *blocked`): their aliases are bounded
  // by the node budget alone, and prototype keys are unknown keys like any other.
  suite: { noun: 'suite', code: ns('suite'), limits: { maxAliases: Number.MAX_SAFE_INTEGER }, prototypeKeys: 'keep' },
  // A run config is a few dozen lines; anything this large is not one.
  config: {
    noun: 'run config',
    code: (p: YamlProblem) => (p === 'too-large' ? 'config/too-large' : p === 'empty' ? 'config/invalid' : 'config/yaml'),
    limits: { maxBytes: 1024 * 1024 },
    prototypeKeys: 'refuse',
  },
  // No aliases at all: a file this small never needs them, and they are how YAML bombs start.
  pki: { noun: 'lab PKI config', code: () => 'pki/bad-config', limits: { maxBytes: 256 * 1024, maxAliases: 0 }, prototypeKeys: 'refuse' },
} satisfies Record<string, YamlFormat>);

export type FormatName = keyof typeof YAML_FORMATS;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The limits a format reads with (its own where it has them, else the defaults). */
export function limitsOf(format: FormatName, override: Partial<YamlLimits> = {}): YamlLimits {
  const f: YamlFormat = YAML_FORMATS[format];
  return { ...DEFAULT_YAML_LIMITS, ...f.limits, ...override };
}

/**
 * Read YAML text into a located tree. `ok: false` when nothing usable came out; otherwise the
 * tree without the nodes that failed (forbidden keys, tags, past a budget) and their errors, so
 * a caller can go on checking the rest and report every problem of the file at once.
 */
export function readYaml(
  text: string,
  file: string,
  format: FormatName,
  override?: Partial<YamlLimits>,
): { ok: true; value: YNode; errors: PeekwallError[] } | { ok: false; error: PeekwallError[] } {
  const f: YamlFormat = YAML_FORMATS[format];
  const limits = limitsOf(format, override);
  const fail = (p: YamlProblem, message: string, at: Pos = { line: 1, column: 1 }) => peekwallError(f.code(p), message, { file, ...at });
  if (text.length > limits.maxBytes) {
    return { ok: false, error: [fail('too-large', `the ${f.noun} is ${text.length} bytes, over the ${limits.maxBytes}-byte limit${f.sizeHint ?? ''}`)] };
  }
  const lc = new LineCounter();
  const at = (offset: number | undefined): Pos => {
    const p = lc.linePos(offset ?? 0);
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  };
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lc, schema: 'core', merge: false, uniqueKeys: true, prettyErrors: false, strict: true, customTags: [], version: '1.2' });
  } catch (e) {
    // The parser is meant to return its errors, but hostile text must never escape as a throw.
    return { ok: false, error: [fail('yaml', `YAML could not be parsed: ${(e as Error).message}`)] };
  }
  const errors: PeekwallError[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) errors.push(fail('yaml', `YAML: ${e.message.split('\n')[0]}`, at(e.pos[0])));
  if (errors.length > 0) return { ok: false, error: errors };
  if (doc.contents === null) return { ok: false, error: [fail('empty', `the ${f.noun} is empty`)] };

  let aliases = 0;
  let nodes = 0;
  const convert = (n: unknown, depth: number): YNode | null => {
    if (++nodes > limits.maxNodes) {
      // Once: every node after the budget would say the same.
      if (nodes === limits.maxNodes + 1) errors.push(fail('too-many-nodes', `more than ${limits.maxNodes} YAML nodes (after expanding aliases)`));
      return null;
    }
    if (depth > limits.maxDepth) {
      errors.push(fail('too-deep', `nesting deeper than ${limits.maxDepth} levels`, at((n as Node).range?.[0])));
      return null;
    }
    if (isAlias(n)) {
      const p = at(n.range?.[0]);
      if (++aliases > limits.maxAliases) {
        // Once: every alias after the budget would say the same.
        if (aliases === limits.maxAliases + 1) errors.push(fail('alias-limit', limits.maxAliases === 0 ? `aliases (*name) are not allowed in the ${f.noun}` : `more than ${limits.maxAliases} alias expansions (alias bomb?)`, p));
        return null;
      }
      const target = n.resolve(doc);
      if (!target) {
        errors.push(fail('yaml', `unresolved alias *${n.source}`, p));
        return null;
      }
      return convert(target, depth + 1);
    }
    const node = n as Node;
    const p = at(node.range?.[0]);
    if (node.tag !== undefined && node.tag !== null) {
      errors.push(fail('yaml-tag', `YAML tags are not allowed (${node.tag})`, p));
      return null;
    }
    if (isMap(node)) {
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          errors.push(fail('bad-key', 'map keys must be plain strings', at((k as { range?: [number] } | null)?.range?.[0] ?? node.range?.[0])));
          continue;
        }
        const key = String(k.value);
        const keyAt = at(k.range?.[0]);
        if (f.prototypeKeys === 'refuse' && FORBIDDEN_KEYS.has(key)) {
          errors.push(fail('forbidden-key', `key '${key}' is not allowed`, keyAt));
          continue;
        }
        const v = pair.value === null || pair.value === undefined ? ({ kind: 'scalar', value: null, at: keyAt } as YNode) : convert(pair.value, depth + 1);
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
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { kind: 'scalar', value: v, at: p };
      errors.push(fail('yaml', 'unsupported scalar value', p));
      return null;
    }
    errors.push(fail('yaml', 'unsupported YAML node', p));
    return null;
  };
  const root = convert(doc.contents, 0);
  if (!root) return { ok: false, error: errors };
  return { ok: true, value: root, errors };
}

/** The plain JS value of a tree (for schema validation and pass-through blocks). */
export function toPlain(n: YNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(toPlain);
  const o: Record<string, unknown> = {};
  for (const e of n.entries) {
    // defineProperty: a key named __proto__ becomes an own data property, never the prototype.
    Object.defineProperty(o, e.key, { value: toPlain(e.value), enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** The entry of a map by key, if the node is a map that has it. */
export function entryOf(n: YNode | undefined, key: string): YEntry | undefined {
  return n?.kind === 'map' ? n.entries.find((e) => e.key === key) : undefined;
}

/**
 * Where a path (map keys and list indexes, as a schema validator names them) stands: the
 * node's position, and its key's when the last step is a map key. A path that leaves the tree
 * (a missing key) stops at its deepest existing node: a missing key is reported on its map.
 */
export function locate(root: YNode, path: readonly (string | number)[]): { at: Pos; keyAt?: Pos; found: boolean } {
  let n = root;
  let keyAt: Pos | undefined;
  for (const step of path) {
    if (n.kind === 'map') {
      const e = n.entries.find((x) => x.key === String(step));
      if (!e) return { at: n.at, found: false };
      keyAt = e.keyAt;
      n = e.value;
    } else if (n.kind === 'seq' && typeof step === 'number' && step < n.items.length) {
      keyAt = undefined;
      n = n.items[step];
    } else {
      return { at: n.at, found: false };
    }
  }
  return keyAt ? { at: n.at, keyAt, found: true } : { at: n.at, found: true };
}

/**
 * `text` with `values` merged into its top-level mapping at `key` (deeply, key by key), as
 * YAML text again; null when the text is no mapping (its own reader then says what is wrong).
 * Comments and layout of the rest stay as written.
 */
export function mergeIntoYaml(text: string, key: string, values: Readonly<Record<string, unknown>>): string | null {
  const doc = parseDocument(text, { uniqueKeys: true, merge: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return null;
  const put = (path: string[], value: unknown): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const current = doc.getIn(path);
      if (current === undefined || isMap(current)) {
        for (const [k, v] of Object.entries(value)) put([...path, k], v);
        return;
      }
    }
    doc.setIn(path, value);
  };
  put([key], values);
  return doc.toString();
}
