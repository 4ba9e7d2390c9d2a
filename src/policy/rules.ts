// Access-control rules (`rules:`), in order: each rule's conditions (networks, ports,
// applications, URLs with categories and reputation) compiled into matchers, its logging,
// and its lab-only TSID override.
import { TSID_PROFILES, type TsidSetting } from '../identity/index.js';
import type { CategoryCondition, CompiledRule, UrlCondition } from './compiled.js';
import { DomainSet, parseDomainEntry, REPUTATION_LABELS } from './domains.js';
import type { Objects } from './objects.js';
import { asMap, bool, checkKeys, describe, forEachItem, listOf, oneOf, readSection, str, type ItemShape, type Located, type Reader } from './reader.js';
import type { RuleAction, UrlMatchingMode } from './types.js';
import type { Pos, YEntry, YNode } from '../schema/index.js';

export const RULE_ACTIONS: readonly RuleAction[] = [
  'Allow',
  'Trust',
  'Monitor',
  'Block',
  'Block with reset',
  'Interactive Block',
  'Interactive Block with reset',
];

const RULE: ItemShape = {
  map: 'a rule',
  what: 'a rule',
  keys: ['name', 'enabled', 'action', 'sourceNetworks', 'destinationNetworks', 'destinationPorts', 'applications', 'urls', 'logging', 'tsid', 'comment'],
  required: ['name', 'action'],
};
const CATEGORY: ItemShape = {
  map: 'a URL category condition',
  what: 'a URL category condition',
  keys: ['category', 'reputation', 'includeUnknown'],
  required: ['category'],
};

export function isBlockAction(a: RuleAction): boolean {
  return a === 'Block' || a === 'Block with reset' || a === 'Interactive Block' || a === 'Interactive Block with reset';
}

export function readRules(r: Reader, objects: Objects, mode: UrlMatchingMode, n: YNode | undefined): CompiledRule[] {
  const rules: CompiledRule[] = [];
  // A Set, not rules.some(): 100,000 rules made the check quadratic (minutes on reload).
  const names = new Set<string>();
  forEachItem(r, n, (n) => `rules must be a list, not ${describe(n)}`, RULE, (rule, at) => {
    rules.push(readRule(r, objects, mode, rule, at, rules.length, names));
  });
  return rules;
}

function readRule(r: Reader, objects: Objects, mode: UrlMatchingMode, rule: Map<string, YEntry>, at: Pos, index: number, names: Set<string>): CompiledRule {
  const nameE = rule.get('name');
  const name = nameE ? str(r, nameE.value, 'rule name') : null;
  if (name && names.has(name)) r.error(nameE!.value.at, 'policy/duplicate-name', `duplicate rule name '${name}'`);
  if (name) names.add(name);
  const actionE = rule.get('action');
  const action = actionE ? oneOf(r, actionE.value, 'rule action', RULE_ACTIONS) : null;
  const enabledE = rule.get('enabled');
  const enabled = enabledE ? bool(r, enabledE.value, 'enabled') ?? true : true;
  const refs: string[] = [];
  const srcItems = listOf(r, rule, 'sourceNetworks');
  const dstItems = listOf(r, rule, 'destinationNetworks');
  const portItems = listOf(r, rule, 'destinationPorts');
  const appItems = listOf(r, rule, 'applications');
  const src = objects.networkSet(srcItems, refs, `rule '${name}' source networks`);
  const dst = objects.networkSet(dstItems, refs, `rule '${name}' destination networks`);
  const ports = objects.portRanges(portItems, refs);
  const apps = objects.applicationIds(appItems, refs);
  const url = readUrlCondition(r, objects, mode, action ?? 'Allow', rule.get('urls')?.value, refs);
  const log = readLogging(r, rule.get('logging')?.value);
  const tsid = readRuleTsid(r, rule.get('tsid')?.value);
  const listText = (xs: readonly Located[]) => (xs.length === 0 ? 'any' : xs.map((x) => x.text).join(', '));
  return {
    index,
    name: name ?? `#${index + 1}`,
    action: action ?? 'Block',
    enabled,
    file: r.file,
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
  const section = readSection(r, n, ['objects', 'literals', 'categories'], 'urls');
  if (!section) return null;
  const texts: Located[] = [];
  objects.urlObjectTexts(listOf(r, section, 'objects', 'urls.objects'), refs, texts);
  for (const l of listOf(r, section, 'literals', 'urls.literals')) texts.push(l); // no push(...): a 150,000-literal rule overflowed the stack
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
  const categories = readCategories(r, action, section.get('categories')?.value);
  const textParts = [...texts.map((t) => t.text), ...categories.map((x) => x.text)];
  return textParts.length > 0 ? { hosts, hostEntries, substrings, categories, text: textParts.join(', ') } : null;
}

function readCategories(r: Reader, action: RuleAction, n: YNode | undefined): CategoryCondition[] {
  const out: CategoryCondition[] = [];
  forEachItem(r, n, () => 'urls.categories must be a list', CATEGORY, (cond) => {
    const catE = cond.get('category');
    const unknownE = cond.get('includeUnknown');
    const category = catE ? str(r, catE.value, 'category') : null;
    const includeUnknown = unknownE ? bool(r, unknownE.value, 'includeUnknown') ?? false : false;
    const levels = reputationLevels(r, cond.get('reputation')?.value, action, includeUnknown);
    if (category && levels !== null) out.push({ category, levels, text: `${category} (reputation ${levelsText(levels)})` });
  });
  return out;
}

/** Reputation as a level set. See evaluate.ts for the FMC wording this implements. */
function reputationLevels(r: Reader, n: YNode | undefined, action: RuleAction, includeUnknown: boolean): number | null {
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
  if (level === null) {
    r.error(n.at, 'policy/schema', `reputation must be 'Any', 'Unknown', 1-5 or one of ${REPUTATION_LABELS.slice(1).join(', ')}`);
    return null;
  }
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

function readLogging(r: Reader, n: YNode | undefined): CompiledRule['log'] {
  const section = readSection(r, n, ['beginning', 'end'], 'logging');
  if (!section) return { beginning: false, end: false };
  const flag = (k: 'beginning' | 'end'): boolean => {
    const e = section.get(k);
    return e ? bool(r, e.value, `logging.${k}`) ?? false : false;
  };
  return { beginning: flag('beginning'), end: flag('end') };
}

/** A rule's own TSID setting: a lab convenience (FMC has TSID per policy, not per rule). */
function readRuleTsid(r: Reader, n: YNode | undefined): Partial<TsidSetting> | null {
  const entries = n ? asMap(r, n, 'rule tsid') : null;
  if (!n || !entries) return null;
  const section = checkKeys(r, entries, ['enabled', 'profile'], 'rule tsid (lab convenience)', n.at);
  const enabledE = section.get('enabled');
  const profileE = section.get('profile');
  const enabled = enabledE ? bool(r, enabledE.value, 'tsid.enabled') : null;
  const profile = profileE ? oneOf(r, profileE.value, 'tsid.profile', TSID_PROFILES) : null;
  return { ...(enabled !== null ? { enabled } : {}), ...(profile ? { profile } : {}) };
}
