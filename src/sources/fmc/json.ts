// JSON read into the same located tree the YAML reader makes (maps as entry lists, a position
// on every node), so an FMC bundle's values keep their file:line:column all the way through the
// policy compiler. JSON.parse forgets where things were; a saved FMC answer is often one
// 20 MB line, so positions (and the JSON paths built from them) are what makes an error
// findable. Bounded: nesting depth and node count, so a hostile file cannot overflow the
// stack or exhaust memory. Pure: text in, tree or one error out.
import { peekwallError, type PeekwallError, type Result } from '../../util/errors.js';
import type { FilePos } from '../../policy/index.js';
import type { YEntry, YNode } from '../../schema/index.js';

export interface JsonLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
}

/** FMC answers nest about six levels; a 5,000-rule, 50,000-object bundle is about 1,000,000 nodes. */
export const JSON_LIMITS: JsonLimits = Object.freeze({ maxDepth: 64, maxNodes: 5_000_000 });

class JsonError extends Error {
  constructor(
    message: string,
    readonly at: FilePos,
  ) {
    super(message);
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parse JSON text into a located tree; the one error says where the text stopped being JSON. */
export function parseLocatedJson(text: string, file: string, limits: JsonLimits = JSON_LIMITS): Result<YNode, PeekwallError> {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let nodes = 0;
  const n = text.length;
  const pos = (): FilePos => ({ file, line, column: i - lineStart + 1 });
  const fail = (message: string): never => {
    throw new JsonError(message, pos());
  };
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        line++;
        lineStart = ++i;
      } else if (c === 32 || c === 9 || c === 13) i++;
      else break;
    }
  };
  const what = (): string => (i >= n ? 'the end of the file' : `'${text[i]}'`);
  const str = (): string => {
    // at the opening quote
    i++;
    let out = '';
    let from = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c < 32) fail('control character in a string (JSON needs \\n, \\t ...)');
      if (c !== 92) {
        i++;
        continue;
      }
      out += text.slice(from, i);
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        i += 2;
      } else fail(`bad escape '\\${e ?? ''}'`);
      from = i;
    }
    out += text.slice(from, i);
    i++;
    return out;
  };
  const num = (): number => {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const hit = m.exec(text);
    if (!hit) fail(`unexpected ${what()}`);
    i += hit![0].length;
    return Number(hit![0]);
  };
  const word = (w: string, v: boolean | null): boolean | null => {
    if (text.startsWith(w, i)) {
      i += w.length;
      return v;
    }
    return fail(`unexpected ${what()}`);
  };
  const value = (depth: number): YNode => {
    if (depth > limits.maxDepth) fail(`nested deeper than ${limits.maxDepth} levels`);
    if (++nodes > limits.maxNodes) fail(`more than ${limits.maxNodes} values`);
    ws();
    const at = pos();
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      i++;
      const entries: YEntry[] = [];
      ws();
      if (text.charCodeAt(i) === 125) {
        i++;
        return { kind: 'map', entries, at };
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 34) fail(`expected a key in quotes, found ${what()}`);
        const keyAt = pos();
        const key = str();
        ws();
        if (text.charCodeAt(i) !== 58) fail(`expected ':' after key "${key}", found ${what()}`);
        i++;
        entries.push({ key, keyAt, value: value(depth + 1) });
        ws();
        const d = text.charCodeAt(i);
        if (d === 44) {
          i++;
          continue;
        }
        if (d === 125) {
          i++;
          return { kind: 'map', entries, at };
        }
        fail(`expected ',' or '}', found ${what()}`);
      }
    }
    if (c === 91 /* [ */) {
      i++;
      const items: YNode[] = [];
      ws();
      if (text.charCodeAt(i) === 93) {
        i++;
        return { kind: 'seq', items, at };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i);
        if (d === 44) {
          i++;
          continue;
        }
        if (d === 93) {
          i++;
          return { kind: 'seq', items, at };
        }
        fail(`expected ',' or ']', found ${what()}`);
      }
    }
    if (c === 34) return { kind: 'scalar', value: str(), at };
    if (c === 116) return { kind: 'scalar', value: word('true', true), at };
    if (c === 102) return { kind: 'scalar', value: word('false', false), at };
    if (c === 110) return { kind: 'scalar', value: word('null', null), at };
    return { kind: 'scalar', value: num(), at };
  };
  try {
    // A byte-order mark is how some Windows tools save JSON; it is not part of the value.
    if (text.charCodeAt(0) === 0xfeff) lineStart = i = 1;
    ws();
    if (i >= n) fail('the file is empty');
    const root = value(0);
    ws();
    if (i < n) fail(`unexpected ${what()} after the JSON value`);
    return { ok: true, value: root };
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    return { ok: false, error: peekwallError('fmc/not-json', `not JSON: ${e.message}`, e.at) };
  }
}

/** Where a node stands, as `file:line:column` parts. */
export function whereOf(at: FilePos, fallbackFile: string): { file: string; line: number; column: number } {
  return { file: at.file ?? fallbackFile, line: at.line, column: at.column };
}

/** A JSON path step: `.key` for plain keys, `["odd key"]` otherwise; `[i]` for list items. */
export function pathStep(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * The JSON path of every node of a tree, by position: errors found later (by the policy
 * compiler, which only knows line and column) get their path back from here. Built only when
 * there is an error to explain.
 */
export function pathIndex(root: YNode, prefix = '$'): Map<string, string> {
  const out = new Map<string, string>();
  const stack: [YNode, string][] = [[root, prefix]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    const k = `${node.at.line}:${node.at.column}`;
    if (!out.has(k)) out.set(k, path);
    if (node.kind === 'map') {
      for (const e of node.entries) {
        const p = path + pathStep(e.key);
        out.set(`${e.keyAt.line}:${e.keyAt.column}`, p);
        stack.push([e.value, p]);
      }
    } else if (node.kind === 'seq') node.items.forEach((it, j) => stack.push([it, path + pathStep(j)]));
  }
  return out;
}
