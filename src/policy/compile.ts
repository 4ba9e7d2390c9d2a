// Policy text -> CompiledPolicy: read the YAML tree, check its shape against the policy's
// schema (schema.ts), then compile each section in turn (settings, objects, URL database,
// Security Intelligence, prefilter, rules, default action), then the rule index. Every error is collected with file:line:column and any error rejects the whole
// policy: a policy is applied whole or not at all. Pure: the feeds and the URL database come
// through the caller's reader (sources/ reads files).
import type { PeekwallError, Result } from '../util/errors.js';
import { CompiledPolicy } from './compiled.js';
import { readUrlDatabase, type AuxFiles } from './feeds.js';
import { MAX_EXPANSION, readObjects } from './objects.js';
import { readPrefilter } from './prefilter.js';
import { DEFAULT_ACTION, readSettings } from './defaults.js';
import { entries, Reader, str, word } from './reader.js';
import { buildRuleIndex } from './ruleindex.js';
import { readRules } from './rules.js';
import { checkShape } from './schema.js';
import { readSecurityIntelligence } from './silists.js';
import type { DefaultAction, Policy } from './types.js';
import { readYaml, type YNode } from '../schema/index.js';

export { DEFAULT_ACTIONS } from './schema.js';

export interface ParseOptions extends AuxFiles {
  /** The policy's file name, as errors and the policy's `file` show it. */
  readonly file: string;
  /** Object-expansion budget (default MAX_EXPANSION). */
  readonly maxExpansion?: number;
  /** Warnings found before the tree was built (a source's own, e.g. an FMC bundle's): kept with the policy's. */
  readonly warnings?: readonly PeekwallError[];
}

/** The policy's name when it does not say one: its file name without .yaml / .yml. */
function nameFromFile(file: string): string {
  const trimmed = file.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1).replace(/\.ya?ml$/, '');
}

/** Parse, validate and compile a policy. Pure except for `o.readFile`. */
export function parsePolicy(text: string, o: ParseOptions): Result<Policy, PeekwallError[]> {
  const y = readYaml(text, o.file, 'policy');
  if (!y.ok) return y;
  return compilePolicyTree(y.value, o, y.errors);
}

/**
 * Compile a policy from its located tree: the YAML reader's, or one another source built in
 * the same shape with positions pointing into its own files (an FMC bundle's JSON), so every
 * source goes through the same steps and its errors still say file:line:column.
 */
export function compilePolicyTree(root: YNode, o: ParseOptions, readErrors: readonly PeekwallError[] = []): Result<Policy, PeekwallError[]> {
  const r = new Reader(o.file);
  for (const e of readErrors) r.errors.push(e); // no push(...): 150,000 errors overflowed the stack
  for (const w of o.warnings ?? []) r.warnings.push(w);
  const data = checkShape(r, root);
  const top = entries(root);
  if (!top) return { ok: false, error: r.errorsInOrder() };
  const name = str(top.get('name')?.value) || nameFromFile(o.file);
  const settings = readSettings((data as { settings?: unknown }).settings);
  const objects = readObjects(r, top.get('objects')?.value, o.maxExpansion ?? MAX_EXPANSION);
  const urlDb = readUrlDatabase(r, o, top.get('urlDatabase')?.value);
  const si = readSecurityIntelligence(r, o, top.get('securityIntelligence')?.value);
  const prefilter = readPrefilter(r, objects, top.get('prefilter')?.value);
  const rules = readRules(r, objects, settings.urlMatching, top.get('rules')?.value);
  const defaultAction = word<DefaultAction>(top.get('defaultAction')?.value) ?? DEFAULT_ACTION;
  if (r.errors.length > 0) return { ok: false, error: r.errorsInOrder() };
  const policy = new CompiledPolicy(
    name, o.file, settings, defaultAction, rules, si.lists, prefilter, si.urls, si.dns, urlDb,
    objects.appNames, objects.apps, objects.info, buildRuleIndex(rules), false, r.uniqueWarnings(),
  );
  return { ok: true, value: policy };
}
