// The policy's shape is policies/schemas/policy.schema.json: types, keys, required keys, closed
// lists of values, bounds and every setting's default are written there once, and checked
// here by the schema validator. This file only words the validator's findings the way the
// policy has always said them ("rule action must be one of …, not 'Alow'", "unknown key
// 'colour' in a rule (allowed: …)"), from the schema's own facts: `title` (what a value is
// called), `errorMessage` (what a valid one looks like) and `errorCode`. What a schema cannot
// say (object references, addresses, ports, URLs, feeds, duplicate names) is the compile
// steps' work.
import { factsOf, formatSchema, issuesOf, toPlain, valueAt, type Path, type SchemaIssue, type YNode } from '../schema/index.js';
import type { Reader } from './reader.js';
import type { DefaultAction, RuleAction } from './types.js';

export const POLICY_SCHEMA = formatSchema('policy');

type Closed = { readonly enum: readonly string[] };
const DOC = POLICY_SCHEMA.schema() as unknown as {
  readonly properties: { readonly defaultAction: Closed };
  readonly definitions: { readonly rule: { readonly properties: { readonly action: Closed } } };
};

/** The rule actions, as the schema lists them. */
export const RULE_ACTIONS = DOC.definitions.rule.properties.action.enum as readonly RuleAction[];
/** The default actions, as the schema lists them. */
export const DEFAULT_ACTIONS = DOC.properties.defaultAction.enum as readonly DefaultAction[];

/** A plain value as the policy's messages name its kind. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : typeof v;
}

/** What a name inside a list item is called: 'rule name', not 'name'. */
const ITEM_NOUN: Readonly<Record<string, string>> = { rules: 'rule', prefilter: 'prefilter rule', securityIntelligence: 'list' };

/**
 * What the value at `path` is called: an item of a list of maps by its schema's title ('a
 * rule'), a value inside one by its keys from that item down ('logging.beginning'), anything
 * else by its whole path ('settings.timeouts.peekMs'). Security Intelligence lists keep their
 * kind in the name ('securityIntelligence.url.entries'): the kind is what tells them apart.
 */
function whatOf(path: Path, title: string | undefined): string {
  const last = path[path.length - 1];
  const si = path[0] === 'securityIntelligence';
  if (typeof last === 'number') {
    if (si && path.length === 3) return `a securityIntelligence.${String(path[1])} list`;
    // An item of a list of scalars is named by its list: "sourceNetworks entries must be …".
    return title ? `a ${title}` : whatOf(path.slice(0, -1), undefined);
  }
  if (path.length === 0) return 'the policy';
  if (title) return title;
  let from = 0;
  for (let i = 0; i < path.length; i++) if (typeof path[i] === 'number') from = i + 1;
  if (last === 'name' && from > 0) return `${ITEM_NOUN[String(path[0])] ?? 'item'} name`;
  const keys = si ? path.filter((p) => typeof p === 'string') : path.slice(from);
  return keys.join('.');
}

/** One schema finding in the policy's words, with its code. */
function words(i: SchemaIssue, data: unknown): { code: string; message: string } {
  const f = factsOf(i);
  const quote = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');
  if (i.keyword === 'additionalProperties') {
    const map = whatOf(i.path.slice(0, -1), i.parent?.title as string | undefined);
    return { code: 'policy/unknown-key', message: `unknown key '${i.key}' in ${map} (allowed: ${f.allowed.join(', ')})` };
  }
  if (i.keyword === 'required') {
    const mapPath = i.path.slice(0, -1);
    const parent = i.parent ?? {};
    // A branch of "one of these keys" says what it needs itself; the list is named by its name.
    if (typeof parent.errorMessage === 'string' && parent.properties === undefined) {
      const name = (valueAt(data, mapPath) as { name?: unknown } | undefined)?.name;
      return { code: 'policy/missing-key', message: `Security Intelligence list '${typeof name === 'string' || typeof name === 'number' ? String(name) : '?'}' ${parent.errorMessage}` };
    }
    return { code: f.code ?? 'policy/missing-key', message: `${whatOf(mapPath, parent.title as string | undefined)} needs '${i.key}'` };
  }
  const what = whatOf(i.path, f.title);
  const code = f.code ?? 'policy/schema';
  if (i.keyword === 'enum') {
    const got = i.value !== null && typeof i.value !== 'object' ? `'${String(i.value)}'` : describe(i.value);
    return { code, message: `${what} must be one of ${quote(f.allowed)}, not ${got}` };
  }
  if (!f.expected) return { code, message: `${what}: ${i.ajvMessage}` };
  // A bounded value says its bounds; any other says what it got instead.
  const got = (i.keyword === 'type' || i.keyword === 'pattern') && i.schema.minimum === undefined ? `, not ${describe(i.value)}` : '';
  return { code, message: `${what} ${f.expected}${got}` };
}

/**
 * Check a policy's tree against the schema; every finding goes to `r` at its node (a tree
 * built from several files keeps each node's file). Returns the tree's plain value.
 */
export function checkShape(r: Reader, root: YNode): unknown {
  const data = toPlain(root);
  const schema = POLICY_SCHEMA.schema();
  for (const issue of issuesOf(schema, POLICY_SCHEMA.validate(data), data, root)) {
    const w = words(issue, data);
    r.error(issue.at, w.code, w.message);
  }
  return data;
}
