// Access-control rules (`rules:`), in order: each rule's conditions (networks, ports,
// applications, URLs with categories and reputation) compiled into matchers, its logging,
// and its lab-only TSID override.
import type { TsidSetting } from '../identity/index.js';
import type { CategoryCondition, CompiledRule, UrlCondition } from './compiled.js';
import { DomainSet, parseDomainEntry, REPUTATION_LABELS } from './domains.js';
import type { Objects } from './objects.js';
import { RULE_ENABLED } from './defaults.js';
import { bool, entries, forEachItem, listOf, str, word, type Located, type Reader } from './reader.js';
import type { RuleAction, UrlMatchingMode } from './types.js';
import type { Pos, YEntry, YNode } from '../schema/index.js';

export { RULE_ACTIONS } from './schema.js';

export function isBlockAction(a: RuleAction): boolean {
  return a === 'Block' || a === 'Block with reset' || a === 'Interactive Block' || a === 'Interactive Block with reset';
}

export function readRules(r: Reader, objects: Objects, mode: UrlMatchingMode, n: YNode | undefined): CompiledRule[] {
  const rules: CompiledRule[] = [];
  // A Set, not rules.some(): 100,000 rules made the check quadratic (minutes on reload).
  const names = new Set<string>();
  forEachItem(n, (rule, at) => {
    rules.push(readRule(r, objects, mode, rule, at, rules.length, names));
  });
  return rules;
}

function readRule(r: Reader, objects: Objects, mode: UrlMatchingMode, rule: Map<string, YEntry>, at: Pos, index: number, names: Set<string>): CompiledRule {
  const nameE = rule.get('name');
  const name = str(nameE?.value);
  if (name && names.has(name)) r.error(nameE!.value.at, 'policy/duplicate-name', `duplicate rule name '${name}'`);
  if (name) names.add(name);
  const action = word<RuleAction>(rule.get('action')?.value);
  const enabled = bool(rule.get('enabled')?.value) ?? RULE_ENABLED;
  const refs: string[] = [];
  const srcItems = listOf(rule, 'sourceNetworks');
  const dstItems = listOf(rule, 'destinationNetworks');
  const portItems = listOf(rule, 'destinationPorts');
  const appItems = listOf(rule, 'applications');
  const src = objects.networkSet(srcItems, refs, `rule '${name}' source networks`);
  const dst = objects.networkSet(dstItems, refs, `rule '${name}' destination networks`);
  const ports = objects.portRanges(portItems, refs);
  const apps = objects.applicationIds(appItems, refs);
  const url = readUrlCondition(r, objects, mode, action ?? 'Allow', rule.get('urls')?.value, refs);
  const log = readLogging(rule.get('logging')?.value);
  const tsid = readRuleTsid(rule.get('tsid')?.value);
  const listText = (xs: readonly Located[]) => (xs.length === 0 ? 'any' : xs.map((x) => x.text).join(', '));
  return {
    index,
    name: name ?? `#${index + 1}`,
    action: action ?? 'Block',
    enabled,
    file: r.fileAt(at),
    line: at.line,
    column: at.column,
    src,
    dst,
    srcText: listText(srcItems),
    dstText: listText(dstItems),
    ports,
    portsText: listText(portItems),
    apps,
    appsText: listText(appItems),
    url,
    log,
    tsid,
    refs,
    selfList: Object.freeze([name ?? `#${index + 1}`]),
  };
}

/** `urls:` — URL objects and literals as host patterns or substrings, plus category conditions. */
function readUrlCondition(r: Reader, objects: Objects, mode: UrlMatchingMode, action: RuleAction, n: YNode | undefined, refs: string[]): UrlCondition | null {
  const section = entries(n);
  if (!section) return null;
  const texts: Located[] = [];
  objects.urlObjectTexts(listOf(section, 'objects'), refs, texts);
  for (const l of listOf(section, 'literals')) texts.push(l); // no push(...): a 150,000-literal rule overflowed the stack
  let hosts: DomainSet | null = null;
  const hostEntries: string[] = [];
  const substrings: string[] = [];
  for (const t of texts) {
    const lower = t.text.toLowerCase();
    const noScheme = lower.includes('://') ? lower.slice(lower.indexOf('://') + 3) : lower;
    if (mode === 'legacy-substring' || noScheme.includes('/')) {
      if (noScheme.length === 0 || /\s/.test(noScheme)) r.error(t.at, 'policy/invalid-url', `'${t.text}' is not a URL`);
      else substrings.push(noScheme);
      continue;
    }
    const pe = parseDomainEntry(noScheme);
    if (typeof pe === 'string') r.error(t.at, 'policy/invalid-url', pe);
    else {
      (hosts ??= new DomainSet()).add(pe, 0);
      hostEntries.push(pe.host);
    }
  }
  const categories = readCategories(action, section.get('categories')?.value);
  const textParts = [...texts.map((t) => t.text), ...categories.map((x) => x.text)];
  return textParts.length > 0 ? { hosts, hostEntries, substrings, categories, text: textParts.join(', ') } : null;
}

function readCategories(action: RuleAction, n: YNode | undefined): CategoryCondition[] {
  const out: CategoryCondition[] = [];
  forEachItem(n, (cond) => {
    const category = str(cond.get('category')?.value);
    const includeUnknown = bool(cond.get('includeUnknown')?.value) ?? false;
    const levels = reputationLevels(cond.get('reputation')?.value, action, includeUnknown);
    if (category && levels !== null) out.push({ category, levels, text: `${category} (reputation ${levelsText(levels)})` });
  });
  return out;
}

/** Reputation as a level set (null when it is none: the schema has said so). See evaluate.ts for the FMC wording this implements. */
function reputationLevels(n: YNode | undefined, action: RuleAction, includeUnknown: boolean): number | null {
  const ALL = 0b111111;
  if (!n) return ALL;
  let level: number | null = null;
  if (n.kind === 'scalar' && typeof n.value === 'number' && Number.isInteger(n.value) && n.value >= 1 && n.value <= 5) level = n.value;
  else if (n.kind === 'scalar' && typeof n.value === 'string') {
    const v = n.value.trim();
    if (v === 'Any') return ALL;
    if (v === 'Unknown') return 1;
    const i = (REPUTATION_LABELS as readonly string[]).indexOf(v);
    if (i >= 1) level = i;
  }
  if (level === null) return null;
  let mask = 0;
  // FMC: block rules include the chosen level and every MORE severe one (lower number);
  // allow/trust/monitor rules the chosen level and every LESS severe one (higher number).
  if (isBlockAction(action)) for (let l = 1; l <= level; l++) mask |= 1 << l;
  else for (let l = level; l <= 5; l++) mask |= 1 << l;
  if (includeUnknown) mask |= 1;
  return mask;
}

function levelsText(mask: number): string {
  if (mask === 0b111111) return 'Any';
  const names: string[] = [];
  for (let l = 0; l <= 5; l++) if (mask & (1 << l)) names.push(`${l} ${REPUTATION_LABELS[l]}`);
  return names.join(', ');
}

function readLogging(n: YNode | undefined): CompiledRule['log'] {
  const section = entries(n);
  return { beginning: bool(section?.get('beginning')?.value) ?? false, end: bool(section?.get('end')?.value) ?? false };
}

/** A rule's own TSID setting: a lab convenience (FMC has TSID per policy, not per rule). */
function readRuleTsid(n: YNode | undefined): Partial<TsidSetting> | null {
  const section = n ? entries(n) : null;
  if (!section) return null;
  const enabled = bool(section.get('enabled')?.value);
  const profile = word<TsidSetting['profile']>(section.get('profile')?.value);
  return { ...(enabled !== null ? { enabled } : {}), ...(profile ? { profile } : {}) };
}
