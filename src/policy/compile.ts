// Policy text -> CompiledPolicy: read the YAML tree, then each section in turn (settings,
// objects, URL database, Security Intelligence, prefilter, rules, default action), then the
// rule index. Every error is collected with file:line:column and any error rejects the whole
// policy: a policy is applied whole or not at all. Pure: the feeds and the URL database come
// through the caller's reader (sources/ reads files).
import type { PeekwallError, Result } from '../util/errors.js';
import { CompiledPolicy } from './compiled.js';
import { readUrlDatabase, type AuxFiles } from './feeds.js';
import { MAX_EXPANSION, readObjects } from './objects.js';
import { readPrefilter } from './prefilter.js';
import { asMap, checkKeys, oneOf, Reader, str } from './reader.js';
import { buildRuleIndex } from './ruleindex.js';
import { readRules } from './rules.js';
import { readSettings } from './settings.js';
import { readSecurityIntelligence } from './silists.js';
import type { DefaultAction, Policy } from './types.js';
import { readYaml } from '../schema/index.js';

export const DEFAULT_ACTIONS: readonly DefaultAction[] = ['Block all traffic', 'Trust all traffic', 'Intrusion Prevention'];

const TOP_KEYS = ['name', 'description', 'settings', 'objects', 'urlDatabase', 'securityIntelligence', 'prefilter', 'rules', 'defaultAction'];

export interface ParseOptions extends AuxFiles {
  /** The policy's file name, as errors and the policy's `file` show it. */
  readonly file: string;
  /** Object-expansion budget (default MAX_EXPANSION). */
  readonly maxExpansion?: number;
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
  const r = new Reader(o.file);
  for (const e of y.errors) r.errors.push(e); // no push(...): 150,000 errors overflowed the stack
  const root = y.value;
  const entries = asMap(r, root, 'the policy');
  if (!entries) return { ok: false, error: r.errors };
  const top = checkKeys(r, entries, TOP_KEYS, 'the policy', root.at, ['rules']);
  const nameE = top.get('name');
  const name = (nameE && str(r, nameE.value, 'name')) || nameFromFile(o.file);
  const descE = top.get('description');
  if (descE && descE.value.kind !== 'scalar') r.error(descE.value.at, 'policy/schema', 'description must be a string');
  const settings = readSettings(r, top.get('settings')?.value);
  const objects = readObjects(r, top.get('objects')?.value, o.maxExpansion ?? MAX_EXPANSION);
  const urlDb = readUrlDatabase(r, o, top.get('urlDatabase')?.value);
  const si = readSecurityIntelligence(r, o, top.get('securityIntelligence')?.value);
  const prefilter = readPrefilter(r, objects, top.get('prefilter')?.value);
  const rules = readRules(r, objects, settings.urlMatching, top.get('rules')?.value);
  const daE = top.get('defaultAction');
  const defaultAction = (daE && oneOf(r, daE.value, 'defaultAction', DEFAULT_ACTIONS)) || 'Block all traffic';
  if (r.errors.length > 0) return { ok: false, error: r.errorsInOrder() };
  const policy = new CompiledPolicy(
    name, o.file, settings, defaultAction, rules, si.lists, prefilter, si.urls, si.dns, urlDb,
    objects.appNames, objects.apps, objects.info, buildRuleIndex(rules), false, r.uniqueWarnings(),
  );
  return { ok: true, value: policy };
}
