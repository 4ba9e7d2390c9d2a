// Policy loading: YAML -> schema validation -> compiled matchers. Every error is collected
// with file:line:column and the whole policy is rejected on any error: a policy is applied
// whole or not at all. The only file access is through `readFile` (feeds, URL database),
// which loadPolicyFile supplies; parsePolicy itself is pure.
import { basename, isAbsolute, resolve as resolvePath } from 'node:path';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import type { TsidProfile, TsidSetting } from '../identity/types.js';
import { DEFAULT_SETTINGS, MAX_FEED_BYTES, SETTING_BOUNDS } from './defaults.js';
import { DomainSet, parseDomainEntry, REPUTATION_LABELS, UrlDatabase, type DomainEntry } from './domains.js';
import { cmp6, IpSet, parseNetwork, type Interval } from './ip.js';
import type {
  DefaultAction,
  FailMode,
  Policy,
  PolicyRuleInfo,
  PolicySettings,
  RuleAction,
  SiAction,
  SiKind,
  SiListInfo,
  UrlMatchingMode,
  OddHelloAction,
  OddHelloSettings,
  TsidSessionCheck,
} from './types.js';
import { DEFAULT_YAML_LIMITS, readYaml, type Pos, type YEntry, type YNode } from './yamltree.js';
import { buildRuleIndex, type RuleIndex } from './ruleindex.js';

export const RULE_ACTIONS: readonly RuleAction[] = [
  'Allow',
  'Trust',
  'Monitor',
  'Block',
  'Block with reset',
  'Interactive Block',
  'Interactive Block with reset',
];
export const DEFAULT_ACTIONS: readonly DefaultAction[] = ['Block all traffic', 'Trust all traffic', 'Intrusion Prevention'];
const TSID_PROFILES: readonly TsidProfile[] = ['snort3-legacy', 'snort3', 'technote'];
const SI_ACTIONS: readonly SiAction[] = ['block', 'do-not-block', 'monitor'];
const PREFILTER_ACTIONS = ['Fastpath', 'Block', 'Analyze'] as const;
export type PrefilterAction = (typeof PREFILTER_ACTIONS)[number];

export function isBlockAction(a: RuleAction): boolean {
  return a === 'Block' || a === 'Block with reset' || a === 'Interactive Block' || a === 'Interactive Block with reset';
}

/** One URL category condition, reputation as a set of levels 0..5 (bit i = level i). */
export interface CategoryCondition {
  readonly category: string; // 'Any' matches every category
  readonly levels: number; // bitmask
  readonly text: string;
}

export interface UrlCondition {
  /** Entries without '/' (current mode): label-aligned host match. */
  readonly hosts: DomainSet | null;
  /** The same entries as parsed host patterns (lower-case, no scheme/port/trailing dot), for lint. */
  readonly hostEntries: readonly string[];
  /** Entries with '/' (current mode), or every entry (legacy mode): substrings of host+path. */
  readonly substrings: readonly string[];
  readonly categories: readonly CategoryCondition[];
  readonly text: string;
}

export interface CompiledRule extends PolicyRuleInfo {
  readonly index: number;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
  readonly srcText: string;
  readonly dstText: string;
  /** Inclusive port ranges as pairs; null = any. */
  readonly ports: Int32Array | null;
  readonly portsText: string;
  /** Application ids; null = any. */
  readonly apps: ReadonlySet<number> | null;
  readonly appsText: string;
  readonly url: UrlCondition | null;
  readonly log: { readonly beginning: boolean; readonly end: boolean };
  readonly tsid: Partial<TsidSetting> | null;
  /** Object names referenced (for lint). */
  readonly refs: readonly string[];
  /** [name], frozen: Verdict.rulesMatched when this rule decides alone (no allocation). */
  readonly selfList: readonly string[];
}

export interface CompiledPrefilterRule {
  readonly name: string;
  readonly action: PrefilterAction;
  readonly src: IpSet | null;
  readonly dst: IpSet | null;
  readonly ports: Int32Array | null;
  readonly refs: readonly string[];
}

export interface CompiledSiList extends SiListInfo {
  readonly index: number;
  readonly ips: IpSet | null;
}

/** The object table as declared (for lint: unused and overlapping objects). */
export interface ObjectInfo {
  readonly kind: 'network' | 'port' | 'url' | 'application';
  readonly name: string;
  readonly at: Pos;
  readonly file: string;
  readonly values: readonly string[];
  readonly ips?: IpSet;
}

export class CompiledPolicy implements Policy {
  constructor(
    readonly name: string,
    readonly file: string,
    readonly settings: PolicySettings,
    readonly defaultAction: DefaultAction,
    readonly rules: readonly CompiledRule[],
    readonly siLists: readonly CompiledSiList[],
    readonly prefilter: readonly CompiledPrefilterRule[],
    readonly siUrl: DomainSet,
    readonly siDns: DomainSet,
    readonly urlDb: UrlDatabase,
    readonly appNames: readonly string[],
    readonly apps: DomainSet,
    readonly objects: readonly ObjectInfo[],
    readonly index: RuleIndex,
    /** Set by overrideTsid (CLI --tsid): wins over rule-level lab overrides. */
    readonly tsidForced: boolean,
    readonly warnings: readonly PeekwallError[],
  ) {}

  with(o: { settings?: PolicySettings; tsidForced?: boolean }): CompiledPolicy {
    return new CompiledPolicy(
      this.name, this.file, o.settings ?? this.settings, this.defaultAction, this.rules, this.siLists,
      this.prefilter, this.siUrl, this.siDns, this.urlDb, this.appNames, this.apps, this.objects,
      this.index, o.tsidForced ?? this.tsidForced, this.warnings,
    );
  }
}

export interface ParseOptions {
  readonly file: string;
  readonly baseDir: string;
  /** Reads feed and URL database files (path already resolved). Without it feeds are errors. */
  readonly readFile?: (path: string) => string;
  /** Object-expansion budget (default MAX_EXPANSION). */
  readonly maxExpansion?: number;
}

// ---------------------------------------------------------------------------------------
// Validation helpers: every problem is recorded, parsing continues to find the rest.

/** Leaves plus group visits when expanding object references, for the whole policy. */
export const MAX_EXPANSION = 1_000_000;

class Ctx {
  /** Spent from MAX_EXPANSION by expand(). */
  expansion = 0;
  readonly errors: PeekwallError[] = [];
  readonly warnings: PeekwallError[] = [];
  constructor(
    readonly file: string,
    readonly maxExpansion: number = MAX_EXPANSION,
  ) {}
  error(at: Pos, code: string, message: string, file = this.file): void {
    this.errors.push(peekwallError(code, message, { file, line: at.line, column: at.column }));
  }
  warn(at: Pos, code: string, message: string): void {
    this.warnings.push(peekwallError(code, message, { file: this.file, line: at.line, column: at.column }));
  }
}

function describe(n: YNode): string {
  if (n.kind === 'scalar') return n.value === null ? 'empty' : typeof n.value;
  return n.kind === 'map' ? 'a map' : 'a list';
}

function asMap(c: Ctx, n: YNode, what: string): readonly YEntry[] | null {
  if (n.kind === 'map') return n.entries;
  if (n.kind === 'scalar' && n.value === null) return [];
  c.error(n.at, 'policy/schema', `${what} must be a map, not ${describe(n)}`);
  return null;
}

function checkKeys(c: Ctx, entries: readonly YEntry[], allowed: readonly string[], what: string, at: Pos, required: readonly string[] = []): Map<string, YEntry> {
  const m = new Map<string, YEntry>();
  for (const e of entries) {
    if (!allowed.includes(e.key)) {
      c.error(e.keyAt, 'policy/unknown-key', `unknown key '${e.key}' in ${what} (allowed: ${allowed.join(', ')})`);
      continue;
    }
    m.set(e.key, e);
  }
  for (const r of required) if (!m.has(r)) c.error(at, 'policy/missing-key', `${what} needs '${r}'`);
  return m;
}

function str(c: Ctx, n: YNode, what: string): string | null {
  if (n.kind === 'scalar' && typeof n.value === 'string' && n.value.trim().length > 0) return n.value.trim();
  if (n.kind === 'scalar' && typeof n.value === 'number') return String(n.value);
  c.error(n.at, 'policy/schema', `${what} must be a non-empty string, not ${describe(n)}`);
  return null;
}

function bool(c: Ctx, n: YNode, what: string): boolean | null {
  if (n.kind === 'scalar' && typeof n.value === 'boolean') return n.value;
  c.error(n.at, 'policy/schema', `${what} must be true or false, not ${describe(n)}`);
  return null;
}

function int(c: Ctx, n: YNode, what: string, [min, max]: readonly [number, number]): number | null {
  if (n.kind === 'scalar' && typeof n.value === 'number' && Number.isInteger(n.value) && n.value >= min && n.value <= max) return n.value;
  c.error(n.at, 'policy/schema', `${what} must be an integer from ${min} to ${max}`);
  return null;
}

function oneOf<T extends string>(c: Ctx, n: YNode, what: string, values: readonly T[]): T | null {
  if (n.kind === 'scalar' && typeof n.value === 'string' && (values as readonly string[]).includes(n.value)) return n.value as T;
  const got = n.kind === 'scalar' ? `'${String(n.value)}'` : describe(n);
  c.error(n.at, 'policy/schema', `${what} must be one of ${values.map((v) => `'${v}'`).join(', ')}, not ${got}`);
  return null;
}

/** A scalar or a list of scalars, as (text, position) pairs. */
function scalarList(c: Ctx, n: YNode, what: string): { text: string; at: Pos }[] {
  const items = n.kind === 'seq' ? n.items : n.kind === 'scalar' && n.value === null ? [] : [n];
  const out: { text: string; at: Pos }[] = [];
  for (const it of items) {
    if (it.kind !== 'scalar' || it.value === null || typeof it.value === 'boolean') {
      c.error(it.at, 'policy/schema', `${what} entries must be strings or numbers, not ${describe(it)}`);
      continue;
    }
    out.push({ text: String(it.value).trim(), at: it.at });
  }
  return out;
}

// ---------------------------------------------------------------------------------------

interface ObjDecl {
  readonly name: string;
  readonly at: Pos;
  readonly values: readonly { text: string; at: Pos }[];
}

function readObjects(c: Ctx, n: YNode | undefined, what: string): Map<string, ObjDecl> {
  const out = new Map<string, ObjDecl>();
  if (!n) return out;
  const entries = asMap(c, n, what);
  if (!entries) return out;
  for (const e of entries) {
    out.set(e.key, { name: e.key, at: e.keyAt, values: scalarList(c, e.value, `${what}.${e.key}`) });
  }
  return out;
}

/**
 * Expand a list of literals / object names into leaf values, following groups. `literal`
 * says whether a text is a literal of this kind (else it names an object).
 */
function expand(
  c: Ctx,
  items: readonly { text: string; at: Pos }[],
  table: Map<string, ObjDecl>,
  kind: string,
  literal: (t: string) => boolean,
  refs: string[],
  stack: string[] = [],
  refAt?: Pos,
  out: { text: string; at: Pos; via: string | null; ref: Pos }[] = [],
): { text: string; at: Pos; via: string | null; ref: Pos }[] {
  for (const it of items) {
    // Every leaf and every group visit spends from one budget per policy: groups that name
    // another group twice (A: [B, B], B: [C, C], ...) double at each level, so a few lines
    // would otherwise expand to billions of entries (and hang, or overflow the stack).
    if (++c.expansion > c.maxExpansion) {
      if (c.expansion === c.maxExpansion + 1) {
        c.error(refAt ?? it.at, 'policy/expansion-limit', `object groups expand to more than ${c.maxExpansion} entries (a group naming another group several times multiplies it; put large lists in feeds)`);
      }
      return out;
    }
    if (literal(it.text)) {
      out.push({ ...it, via: stack[stack.length - 1] ?? null, ref: refAt ?? it.at });
      continue;
    }
    const obj = table.get(it.text);
    if (!obj) {
      c.error(it.at, 'policy/unknown-object', `unknown ${kind} object '${it.text}' (neither a valid ${kind} nor a declared object)`);
      continue;
    }
    if (stack.includes(obj.name)) {
      c.error(it.at, 'policy/object-cycle', `${kind} group '${obj.name}' contains itself (${[...stack, obj.name].join(' -> ')})`);
      continue;
    }
    refs.push(obj.name);
    // Into the same array: no spread (a 150,000-entry object overflowed push(...)), no copies per level.
    expand(c, obj.values, table, kind, literal, refs, [...stack, obj.name], refAt ?? it.at, out);
  }
  return out;
}

function isNetworkLiteral(t: string): boolean {
  // Object names never start with a digit or contain ':' in practice; a text that looks
  // like an address but fails to parse is reported as an invalid network, not an unknown
  // object, so the message says what is wrong.
  const c = t.charCodeAt(0);
  return (c >= 48 && c <= 57) || t.includes(':') || t === 'any';
}

function intervalsOverlap(a: Interval, b: Interval): boolean {
  if (a.family === 4 && b.family === 4) return a.start <= b.end && b.start <= a.end;
  if (a.family === 6 && b.family === 6) return cmp6(a.start, 0, b.end, 0) <= 0 && cmp6(b.start, 0, a.end, 0) <= 0;
  return false;
}

function compileNetworks(c: Ctx, items: readonly { text: string; at: Pos }[], table: Map<string, ObjDecl>, refs: string[], what = 'networks'): IpSet | null {
  if (items.length === 0) return null;
  const leaves = expand(c, items, table, 'network', isNetworkLiteral, refs);
  const entries: { interval: Interval; label: string; at: Pos; via: string | null; ref: Pos }[] = [];
  for (const l of leaves) {
    if (l.text === 'any') return null;
    const iv = parseNetwork(l.text);
    if (typeof iv === 'string') {
      c.error(l.at, 'policy/invalid-network', l.via ? `${iv} (in object '${l.via}')` : iv);
      continue;
    }
    entries.push({ interval: iv, label: l.text, at: l.at, via: l.via, ref: l.ref });
  }
  // FMC rule analysis "object overlap": two entries of one condition share addresses, so
  // one of them is (partly) useless. Lists are short; pairwise is fine.
  if (entries.length <= 256) {
    for (let i = 0; i < entries.length; i++)
      for (let j = i + 1; j < entries.length; j++)
        if (intervalsOverlap(entries[i].interval, entries[j].interval)) {
          const name = (e: (typeof entries)[number]) => (e.via ? `${e.label} (object '${e.via}')` : e.label);
          c.warn(entries[j].ref, 'lint/object-overlap', `${what}: ${name(entries[j])} overlaps ${name(entries[i])}`);
        }
  }
  return new IpSet(entries);
}

function isPortLiteral(t: string): boolean {
  const c = t.charCodeAt(0);
  return (c >= 48 && c <= 57) || t === 'any';
}

function parsePortText(t: string): [number, number] | string {
  const dash = t.indexOf('-');
  const a = dash >= 0 ? t.slice(0, dash).trim() : t;
  const b = dash >= 0 ? t.slice(dash + 1).trim() : t;
  const pa = /^\d{1,5}$/.test(a) ? Number(a) : NaN;
  const pb = /^\d{1,5}$/.test(b) ? Number(b) : NaN;
  if (!(pa >= 1 && pa <= 65535 && pb >= 1 && pb <= 65535)) return `'${t}' is not a port (1-65535) or port range`;
  if (pa > pb) return `'${t}' is an empty port range`;
  return [pa, pb];
}

function compilePorts(c: Ctx, items: readonly { text: string; at: Pos }[], table: Map<string, ObjDecl>, refs: string[]): Int32Array | null {
  if (items.length === 0) return null;
  const leaves = expand(c, items, table, 'port', isPortLiteral, refs);
  const pairs: [number, number][] = [];
  for (const l of leaves) {
    if (l.text === 'any') return null;
    const p = parsePortText(l.text);
    if (typeof p === 'string') c.error(l.at, 'policy/invalid-port', p);
    else pairs.push(p);
  }
  pairs.sort((x, y) => x[0] - y[0]);
  return Int32Array.from(pairs.flat());
}

/** Reputation as a level set. See evaluate.ts for the FMC wording this implements. */
function reputationLevels(c: Ctx, n: YNode | undefined, action: RuleAction, includeUnknown: boolean): number | null {
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
    c.error(n.at, 'policy/schema', `reputation must be 'Any', 'Unknown', 1-5 or one of ${REPUTATION_LABELS.slice(1).join(', ')}`);
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

function resolveFile(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolvePath(baseDir, p);
}

/** Iterate the non-empty, non-comment lines of a feed: (trimmed text, 1-based line). */
export function forEachFeedLine(text: string, visit: (entry: string, line: number) => void): void {
  let pos = 0;
  let line = 0;
  const n = text.length;
  while (pos <= n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    line++;
    let a = pos;
    let b = nl;
    while (a < b && text.charCodeAt(a) <= 32) a++;
    while (b > a && text.charCodeAt(b - 1) <= 32) b--;
    if (a < b && text.charCodeAt(a) !== 35 /* # */) {
      // Inline comments: 'example.com   # typo-squat of example.org'
      // (scan only this line: indexOf would search the rest of a 20 MB feed per line)
      for (let k = a; k < b; k++) {
        if (text.charCodeAt(k) === 35) {
          b = k;
          while (b > a && text.charCodeAt(b - 1) <= 32) b--;
          break;
        }
      }
      visit(text.slice(a, b), line);
    }
    pos = nl + 1;
  }
}

function readAux(c: Ctx, o: ParseOptions, rel: string, at: Pos, what: string): { text: string; path: string } | null {
  if (!o.readFile) {
    c.error(at, 'policy/no-reader', `${what} '${rel}' cannot be read: no file reader given (use loadPolicyFile)`);
    return null;
  }
  const path = resolveFile(o.baseDir, rel);
  try {
    const text = o.readFile(path);
    if (text.length > MAX_FEED_BYTES) {
      c.error(at, 'policy/feed-too-large', `${what} '${rel}' is larger than ${MAX_FEED_BYTES} bytes`);
      return null;
    }
    return { text, path };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    c.error(at, 'policy/feed-unreadable', `${what} '${rel}' cannot be read (${code ?? (e as Error).message})`);
    return null;
  }
}

function readUrlDb(c: Ctx, o: ParseOptions, n: YNode | undefined): UrlDatabase {
  const db = new UrlDatabase();
  if (!n) return db;
  const rel = str(c, n, 'urlDatabase');
  if (!rel) return db;
  const got = readAux(c, o, rel, n.at, 'URL database');
  if (!got) return db;
  // Format: `domain,reputation,Category One|Category Two` (one record a line, # comments).
  forEachFeedLine(got.text, (entry, line) => {
    const at = { line, column: 1 };
    const parts = entry.split(',');
    if (parts.length !== 3) {
      c.error(at, 'policy/urldb-format', `URL database line must be 'domain,reputation,category|category'`, got.path);
      return;
    }
    const d = parseDomainEntry(parts[0]);
    const rep = Number(parts[1].trim());
    const cats = parts[2].split('|').map((s) => s.trim()).filter((s) => s.length > 0);
    if (typeof d === 'string' || d.wildcard || d.path !== null || d.exact) {
      c.error(at, 'policy/urldb-format', `URL database domain ${typeof d === 'string' ? d : `'${parts[0]}' must be a plain domain`}`, got.path);
      return;
    }
    if (!Number.isInteger(rep) || rep < 0 || rep > 5) {
      c.error(at, 'policy/urldb-format', `URL database reputation must be 0-5, not '${parts[1].trim()}'`, got.path);
      return;
    }
    if (cats.length === 0) {
      c.error(at, 'policy/urldb-format', 'URL database record needs at least one category', got.path);
      return;
    }
    db.set(d.host, { categories: Object.freeze(cats), reputation: rep as 0 | 1 | 2 | 3 | 4 | 5 });
  });
  return db;
}

const SETTINGS_KEYS = ['tsid', 'urlMatching', 'failMode', 'timeouts', 'maxHelloBytes', 'tsidCache', 'oddHellos'];

function readSettings(c: Ctx, n: YNode | undefined): PolicySettings {
  const d = DEFAULT_SETTINGS;
  if (!n) return d;
  const entries = asMap(c, n, 'settings');
  if (!entries) return d;
  const m = checkKeys(c, entries, SETTINGS_KEYS, 'settings', n.at);
  let tsid: TsidSetting = d.tsid;
  let tsidSessionCheck: TsidSessionCheck = d.tsidSessionCheck;
  const t = m.get('tsid');
  if (t) {
    const te = asMap(c, t.value, 'settings.tsid');
    if (te) {
      const tm = checkKeys(c, te, ['enabled', 'profile', 'sessionCheck'], 'settings.tsid', t.value.at);
      const en = tm.get('enabled');
      const pr = tm.get('profile');
      const sc = tm.get('sessionCheck');
      if (sc) tsidSessionCheck = oneOf<TsidSessionCheck>(c, sc.value, 'settings.tsid.sessionCheck', ['off', 'log', 'redecide']) || d.tsidSessionCheck;
      tsid = {
        enabled: (en && bool(c, en.value, 'settings.tsid.enabled')) ?? d.tsid.enabled,
        profile: (pr && oneOf(c, pr.value, 'settings.tsid.profile', TSID_PROFILES)) || d.tsid.profile,
      };
    }
  }
  const um = m.get('urlMatching');
  const fm = m.get('failMode');
  let timeouts = d.timeouts;
  const to = m.get('timeouts');
  if (to) {
    const te = asMap(c, to.value, 'settings.timeouts');
    if (te) {
      const tm = checkKeys(c, te, ['peekMs', 'probeMs', 'connectMs', 'idleMs'], 'settings.timeouts', to.value.at);
      const g = (k: 'peekMs' | 'probeMs' | 'connectMs' | 'idleMs'): number => {
        const e = tm.get(k);
        return (e && int(c, e.value, `settings.timeouts.${k}`, SETTING_BOUNDS.timeoutMs)) ?? d.timeouts[k];
      };
      timeouts = { peekMs: g('peekMs'), probeMs: g('probeMs'), connectMs: g('connectMs'), idleMs: g('idleMs') };
    }
  }
  const mh = m.get('maxHelloBytes');
  let tsidCache = d.tsidCache;
  const tc = m.get('tsidCache');
  if (tc) {
    const te = asMap(c, tc.value, 'settings.tsidCache');
    if (te) {
      const tm = checkKeys(c, te, ['maxEntries', 'ttlMs'], 'settings.tsidCache', tc.value.at);
      const me = tm.get('maxEntries');
      const tt = tm.get('ttlMs');
      tsidCache = {
        maxEntries: (me && int(c, me.value, 'settings.tsidCache.maxEntries', SETTING_BOUNDS.tsidCacheEntries)) ?? d.tsidCache.maxEntries,
        ttlMs: (tt && int(c, tt.value, 'settings.tsidCache.ttlMs', SETTING_BOUNDS.tsidCacheTtlMs)) ?? d.tsidCache.ttlMs,
      };
    }
  }
  let oddHellos: OddHelloSettings = d.oddHellos;
  const oh = m.get('oddHellos');
  if (oh) {
    const oe = asMap(c, oh.value, 'settings.oddHellos');
    if (oe) {
      const om = checkKeys(c, oe, ['sslv2Compat', 'oddSni'], 'settings.oddHellos', oh.value.at);
      const g = (k: 'sslv2Compat' | 'oddSni'): OddHelloAction => {
        const e = om.get(k);
        return (e && oneOf<OddHelloAction>(c, e.value, `settings.oddHellos.${k}`, ['allow', 'refuse'])) || d.oddHellos[k];
      };
      oddHellos = { sslv2Compat: g('sslv2Compat'), oddSni: g('oddSni') };
    }
  }
  return {
    tsid,
    urlMatching: (um && oneOf<UrlMatchingMode>(c, um.value, 'settings.urlMatching', ['current', 'legacy-substring'])) || d.urlMatching,
    failMode: (fm && oneOf<FailMode>(c, fm.value, 'settings.failMode', ['closed', 'open'])) || d.failMode,
    timeouts,
    maxHelloBytes: (mh && int(c, mh.value, 'settings.maxHelloBytes', SETTING_BOUNDS.maxHelloBytes)) ?? d.maxHelloBytes,
    tsidCache,
    oddHellos,
    tsidSessionCheck,
  };
}

const TOP_KEYS = ['name', 'description', 'settings', 'objects', 'urlDatabase', 'securityIntelligence', 'prefilter', 'rules', 'defaultAction'];
const RULE_KEYS = ['name', 'enabled', 'action', 'sourceNetworks', 'destinationNetworks', 'destinationPorts', 'applications', 'urls', 'logging', 'tsid', 'comment'];

/** Parse, validate and compile a policy. Pure except for `o.readFile`. */
export function parsePolicy(text: string, o: ParseOptions): Result<Policy, PeekwallError[]> {
  return compilePolicy(text, o);
}

export function compilePolicy(text: string, o: ParseOptions): Result<CompiledPolicy, PeekwallError[]> {
  const y = readYaml(text, o.file);
  if (!y.ok) return y;
  const c = new Ctx(o.file, o.maxExpansion ?? MAX_EXPANSION);
  for (const e of y.errors) c.errors.push(e); // no push(...): 150,000 errors overflowed the stack
  const root = y.value;
  const top = asMap(c, root, 'the policy');
  if (!top) return { ok: false, error: c.errors };
  const m = checkKeys(c, top, TOP_KEYS, 'the policy', root.at, ['rules']);
  const nameE = m.get('name');
  const name = (nameE && str(c, nameE.value, 'name')) || basename(o.file).replace(/\.ya?ml$/, '');
  const descE = m.get('description');
  if (descE && descE.value.kind !== 'scalar') c.error(descE.value.at, 'policy/schema', 'description must be a string');
  const settings = readSettings(c, m.get('settings')?.value);

  // Objects
  const objects: ObjectInfo[] = [];
  let nets = new Map<string, ObjDecl>();
  let ports = new Map<string, ObjDecl>();
  let urls = new Map<string, ObjDecl>();
  let appDecls = new Map<string, ObjDecl>();
  const objE = m.get('objects');
  if (objE) {
    const oe = asMap(c, objE.value, 'objects');
    if (oe) {
      const om = checkKeys(c, oe, ['networks', 'ports', 'urls', 'applications'], 'objects', objE.value.at);
      nets = readObjects(c, om.get('networks')?.value, 'objects.networks');
      ports = readObjects(c, om.get('ports')?.value, 'objects.ports');
      urls = readObjects(c, om.get('urls')?.value, 'objects.urls');
      appDecls = readObjects(c, om.get('applications')?.value, 'objects.applications');
    }
  }
  // Validate every object once, even unused ones ("invalid entries" are errors wherever they are).
  for (const d of nets.values()) {
    const ips = compileNetworks(c, d.values, nets, [], `network object '${d.name}'`);
    objects.push({ kind: 'network', name: d.name, at: d.at, file: o.file, values: d.values.map((v) => v.text), ...(ips ? { ips } : {}) });
  }
  for (const d of ports.values()) {
    compilePorts(c, d.values, ports, []);
    objects.push({ kind: 'port', name: d.name, at: d.at, file: o.file, values: d.values.map((v) => v.text) });
  }
  const urlLiteral = (t: string): boolean => t.includes('.') || t.includes('/');
  for (const d of urls.values()) {
    for (const l of expand(c, d.values, urls, 'URL', urlLiteral, [])) {
      if (!l.text.includes('/')) {
        const pe = parseDomainEntry(l.text);
        if (typeof pe === 'string') c.error(l.at, 'policy/invalid-url', pe);
      }
    }
    objects.push({ kind: 'url', name: d.name, at: d.at, file: o.file, values: d.values.map((v) => v.text) });
  }
  const appNames: string[] = [];
  const apps = new DomainSet();
  for (const d of appDecls.values()) {
    const id = appNames.length;
    appNames.push(d.name);
    for (const v of d.values) {
      const pe = parseDomainEntry(v.text);
      if (typeof pe === 'string') c.error(v.at, 'policy/invalid-url', `application '${d.name}': ${pe}`);
      else apps.add(pe, id);
    }
    objects.push({ kind: 'application', name: d.name, at: d.at, file: o.file, values: d.values.map((v) => v.text) });
  }

  const urlDb = readUrlDb(c, o, m.get('urlDatabase')?.value);

  // Security Intelligence
  const siLists: CompiledSiList[] = [];
  const siNames = new Set<string>();
  const siUrl = new DomainSet();
  const siDns = new DomainSet();
  const siE = m.get('securityIntelligence');
  if (siE) {
    const se = asMap(c, siE.value, 'securityIntelligence');
    if (se) {
      const sm = checkKeys(c, se, ['network', 'url', 'dns'], 'securityIntelligence', siE.value.at);
      for (const kind of ['network', 'url', 'dns'] as SiKind[]) {
        const le = sm.get(kind);
        if (!le) continue;
        if (le.value.kind !== 'seq') {
          c.error(le.value.at, 'policy/schema', `securityIntelligence.${kind} must be a list of lists`);
          continue;
        }
        for (const item of le.value.items) {
          const ie = asMap(c, item, `a securityIntelligence.${kind} list`);
          if (!ie) continue;
          const im = checkKeys(c, ie, ['name', 'action', 'entries', 'feed', 'description'], `securityIntelligence.${kind} list`, item.at, ['name', 'action']);
          const lname = im.get('name') ? str(c, im.get('name')!.value, 'list name') : null;
          const action = im.get('action') ? oneOf(c, im.get('action')!.value, 'SI list action', SI_ACTIONS) : null;
          if (lname && siNames.has(lname)) c.error(im.get('name')!.value.at, 'policy/duplicate-name', `duplicate Security Intelligence list name '${lname}'`);
          if (lname) siNames.add(lname);
          const index = siLists.length;
          const ipEntries: { interval: Interval; label: string }[] = [];
          let count = 0;
          const addEntry = (text: string, at: Pos, file: string): void => {
            if (kind === 'network') {
              const iv = parseNetwork(text);
              if (typeof iv === 'string') c.error(at, 'policy/invalid-entry', iv, file);
              else {
                ipEntries.push({ interval: iv, label: text });
                count++;
              }
            } else {
              const de: DomainEntry | string = parseDomainEntry(text);
              if (typeof de === 'string') c.error(at, 'policy/invalid-entry', de, file);
              else {
                (kind === 'url' ? siUrl : siDns).add(de, index);
                count++;
              }
            }
          };
          const ents = im.get('entries');
          if (ents) for (const s of scalarList(c, ents.value, `securityIntelligence.${kind}.entries`)) addEntry(s.text, s.at, o.file);
          const feedE = im.get('feed');
          let feed: string | undefined;
          if (feedE) {
            const rel = str(c, feedE.value, 'feed');
            if (rel) {
              const got = readAux(c, o, rel, feedE.value.at, 'feed');
              if (got) {
                feed = rel;
                forEachFeedLine(got.text, (entry, line) => addEntry(entry, { line, column: 1 }, got.path));
              }
            }
          }
          if (!ents && !feedE) c.error(item.at, 'policy/missing-key', `Security Intelligence list '${lname ?? '?'}' needs 'entries' or 'feed'`);
          siLists.push({
            index,
            name: lname ?? `#${index}`,
            kind,
            action: action ?? 'monitor',
            entries: count,
            ...(feed !== undefined ? { feed } : {}),
            ips: kind === 'network' ? new IpSet(ipEntries) : null,
          });
        }
      }
    }
  }

  // Prefilter
  const prefilter: CompiledPrefilterRule[] = [];
  const pfE = m.get('prefilter');
  if (pfE) {
    if (pfE.value.kind !== 'seq') c.error(pfE.value.at, 'policy/schema', 'prefilter must be a list of rules');
    else
      for (const item of pfE.value.items) {
        const ie = asMap(c, item, 'a prefilter rule');
        if (!ie) continue;
        const im = checkKeys(c, ie, ['name', 'action', 'sourceNetworks', 'destinationNetworks', 'destinationPorts'], 'prefilter rule', item.at, ['name', 'action']);
        const pname = im.get('name') ? str(c, im.get('name')!.value, 'prefilter rule name') : null;
        const action = im.get('action') ? oneOf(c, im.get('action')!.value, 'prefilter action', PREFILTER_ACTIONS) : null;
        const g = (k: string) => (im.get(k) ? scalarList(c, im.get(k)!.value, k) : []);
        const refs: string[] = [];
        prefilter.push({
          name: pname ?? '?',
          action: action ?? 'Analyze',
          src: compileNetworks(c, g('sourceNetworks'), nets, refs),
          dst: compileNetworks(c, g('destinationNetworks'), nets, refs),
          ports: compilePorts(c, g('destinationPorts'), ports, refs),
          refs,
        });
      }
  }

  // Rules
  const rules: CompiledRule[] = [];
  const ruleNames = new Set<string>();
  const mode = settings.urlMatching;
  const rulesE = m.get('rules');
  if (rulesE) {
    if (rulesE.value.kind !== 'seq') c.error(rulesE.value.at, 'policy/schema', `rules must be a list, not ${describe(rulesE.value)}`);
    else
      for (const item of rulesE.value.items) {
        const ie = asMap(c, item, 'a rule');
        if (!ie) continue;
        const im = checkKeys(c, ie, RULE_KEYS, 'a rule', item.at, ['name', 'action']);
        const rname = im.get('name') ? str(c, im.get('name')!.value, 'rule name') : null;
        // A Set, not rules.some(): 100,000 rules made the check quadratic (minutes on reload).
        if (rname && ruleNames.has(rname)) c.error(im.get('name')!.value.at, 'policy/duplicate-name', `duplicate rule name '${rname}'`);
        if (rname) ruleNames.add(rname);
        const action = im.get('action') ? oneOf(c, im.get('action')!.value, 'rule action', RULE_ACTIONS) : null;
        const enabled = im.get('enabled') ? bool(c, im.get('enabled')!.value, 'enabled') ?? true : true;
        const refs: string[] = [];
        const g = (k: string) => (im.get(k) ? scalarList(c, im.get(k)!.value, k) : []);
        const srcItems = g('sourceNetworks');
        const dstItems = g('destinationNetworks');
        const portItems = g('destinationPorts');
        const appItems = g('applications');
        const src = compileNetworks(c, srcItems, nets, refs, `rule '${rname}' source networks`);
        const dst = compileNetworks(c, dstItems, nets, refs, `rule '${rname}' destination networks`);
        const portSet = compilePorts(c, portItems, ports, refs);
        let appSet: Set<number> | null = null;
        if (appItems.length > 0) {
          appSet = new Set();
          for (const a of appItems) {
            if (a.text === 'any') {
              appSet = null;
              break;
            }
            const id = appNames.indexOf(a.text);
            if (id < 0) c.error(a.at, 'policy/unknown-object', `unknown application '${a.text}' (declare it under objects.applications)`);
            else {
              appSet.add(id);
              refs.push(a.text);
            }
          }
        }
        let url: UrlCondition | null = null;
        const urlE = im.get('urls');
        if (urlE) {
          const ue = asMap(c, urlE.value, 'urls');
          if (ue) {
            const um = checkKeys(c, ue, ['objects', 'literals', 'categories'], 'urls', urlE.value.at);
            const texts: { text: string; at: Pos }[] = [];
            const objItems = um.get('objects') ? scalarList(c, um.get('objects')!.value, 'urls.objects') : [];
            for (const it of objItems) {
              const obj = urls.get(it.text);
              if (!obj) c.error(it.at, 'policy/unknown-object', `unknown URL object '${it.text}'`);
              else expand(c, [it], urls, 'URL', urlLiteral, refs, [], undefined, texts as { text: string; at: Pos; via: string | null; ref: Pos }[]);
            }
            const lits = um.get('literals') ? scalarList(c, um.get('literals')!.value, 'urls.literals') : [];
            for (const l of lits) texts.push(l); // no push(...): a 150,000-literal rule overflowed the stack
            let hosts: DomainSet | null = null;
            const hostEntries: string[] = [];
            const substrings: string[] = [];
            for (const t of texts) {
              const lower = t.text.toLowerCase();
              const noScheme = lower.includes('://') ? lower.slice(lower.indexOf('://') + 3) : lower;
              if (mode === 'legacy-substring' || noScheme.includes('/')) {
                if (noScheme.length === 0 || /\s/.test(noScheme)) c.error(t.at, 'policy/invalid-url', `'${t.text}' is not a URL`);
                else substrings.push(noScheme);
                continue;
              }
              const pe = parseDomainEntry(noScheme);
              if (typeof pe === 'string') c.error(t.at, 'policy/invalid-url', pe);
              else {
                (hosts ??= new DomainSet()).add(pe, 0);
                hostEntries.push(pe.host);
              }
            }
            const categories: CategoryCondition[] = [];
            const catE = um.get('categories');
            if (catE) {
              if (catE.value.kind !== 'seq') c.error(catE.value.at, 'policy/schema', 'urls.categories must be a list');
              else
                for (const ci of catE.value.items) {
                  const ce = asMap(c, ci, 'a URL category condition');
                  if (!ce) continue;
                  const cm = checkKeys(c, ce, ['category', 'reputation', 'includeUnknown'], 'a URL category condition', ci.at, ['category']);
                  const cat = cm.get('category') ? str(c, cm.get('category')!.value, 'category') : null;
                  const inc = cm.get('includeUnknown') ? bool(c, cm.get('includeUnknown')!.value, 'includeUnknown') ?? false : false;
                  const levels = reputationLevels(c, cm.get('reputation')?.value, action ?? 'Allow', inc);
                  if (cat && levels !== null) categories.push({ category: cat, levels, text: `${cat} (reputation ${levelsText(levels)})` });
                }
            }
            const textParts = [...texts.map((t) => t.text), ...categories.map((x) => x.text)];
            if (textParts.length > 0) url = { hosts, hostEntries, substrings, categories, text: textParts.join(', ') };
          }
        }
        let log = { beginning: false, end: false };
        const lgE = im.get('logging');
        if (lgE) {
          const le = asMap(c, lgE.value, 'logging');
          if (le) {
            const lm = checkKeys(c, le, ['beginning', 'end'], 'logging', lgE.value.at);
            log = {
              beginning: lm.get('beginning') ? bool(c, lm.get('beginning')!.value, 'logging.beginning') ?? false : false,
              end: lm.get('end') ? bool(c, lm.get('end')!.value, 'logging.end') ?? false : false,
            };
          }
        }
        let tsid: Partial<TsidSetting> | null = null;
        const tsE = im.get('tsid');
        if (tsE) {
          const te = asMap(c, tsE.value, 'rule tsid');
          if (te) {
            const tm = checkKeys(c, te, ['enabled', 'profile'], 'rule tsid (lab convenience)', tsE.value.at);
            const en = tm.get('enabled') ? bool(c, tm.get('enabled')!.value, 'tsid.enabled') : null;
            const pr = tm.get('profile') ? oneOf(c, tm.get('profile')!.value, 'tsid.profile', TSID_PROFILES) : null;
            tsid = { ...(en !== null ? { enabled: en } : {}), ...(pr ? { profile: pr } : {}) };
          }
        }
        const listText = (xs: { text: string }[]) => (xs.length === 0 ? 'any' : xs.map((x) => x.text).join(', '));
        rules.push({
          index: rules.length,
          name: rname ?? `#${rules.length + 1}`,
          action: action ?? 'Block',
          enabled,
          file: o.file,
          line: item.at.line,
          column: item.at.column,
          src,
          dst,
          srcText: listText(srcItems),
          dstText: listText(dstItems),
          ports: portSet,
          portsText: listText(portItems),
          apps: appSet,
          appsText: listText(appItems),
          url,
          log,
          tsid,
          refs,
          selfList: Object.freeze([rname ?? `#${rules.length + 1}`]),
        });
      }
  }
  const daE = m.get('defaultAction');
  const defaultAction = (daE && oneOf(c, daE.value, 'defaultAction', DEFAULT_ACTIONS)) || 'Block all traffic';
  if (c.errors.length > 0) {
    // An invalid object is reported where it is declared, once, not at every use.
    const seen = new Set<string>();
    const unique = c.errors.filter((e) => {
      const k = `${e.file}:${e.line}:${e.column}:${e.code}:${e.message}`;
      return seen.has(k) ? false : (seen.add(k), true);
    });
    const errs = unique.sort((a, b) =>
      a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) : (a.file ?? '') < (b.file ?? '') ? -1 : 1,
    );
    return { ok: false, error: errs };
  }
  const index = buildRuleIndex(rules);
  const seenW = new Set<string>();
  const warnings = c.warnings.filter((w) => {
    const k = `${w.line}:${w.column}:${w.message}`;
    return seenW.has(k) ? false : (seenW.add(k), true);
  });
  return {
    ok: true,
    value: new CompiledPolicy(name, o.file, settings, defaultAction, rules, siLists, prefilter, siUrl, siDns, urlDb, appNames, apps, objects, index, false, warnings),
  };
}

/** Read and compile a policy file; feeds and the URL database are read relative to it. */
export async function loadPolicyFile(path: string): Promise<Result<Policy, PeekwallError[]>> {
  const { readBoundedFile, readBoundedFileSync } = await import('../util/files.js');
  const { dirname } = await import('node:path');
  // Bounded, regular-file-only reads: a FIFO or /dev/zero in place of the policy or a feed
  // would otherwise block the event loop (reload runs in the proxy) or exhaust memory.
  const read = await readBoundedFile(path, DEFAULT_YAML_LIMITS.maxBytes);
  if (!read.ok) {
    const f = read.failure;
    return f.kind === 'too-large'
      ? { ok: false, error: [peekwallError('policy/too-large', `policy file is ${f.message} (put large lists in .txt feeds)`, { file: path, line: 1, column: 1 })] }
      : { ok: false, error: [peekwallError('policy/unreadable', `cannot read policy file (${f.message})`, { file: path })] };
  }
  const readFile = (p: string): string => {
    const r = readBoundedFileSync(p, MAX_FEED_BYTES);
    if (!r.ok) throw Object.assign(new Error(r.failure.message), { code: r.failure.message });
    return r.text;
  };
  return compilePolicy(read.text, { file: path, baseDir: dirname(resolvePath(path)), readFile });
}

/** A copy of the policy with TSID forced (CLI `--tsid on|off`, `--profile`): wins over rule overrides. */
export function overrideTsid(policy: Policy, tsid: Partial<TsidSetting>): Policy {
  const p = asCompiled(policy);
  return p.with({ settings: { ...p.settings, tsid: { ...p.settings.tsid, ...tsid } }, tsidForced: true });
}

export function asCompiled(policy: Policy): CompiledPolicy {
  if (!(policy instanceof CompiledPolicy)) throw new TypeError('policy was not created by parsePolicy/loadPolicyFile');
  return policy;
}
