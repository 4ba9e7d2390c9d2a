// Evaluation in FTD's order (DOMAIN.md §3):
//   1. prefilter (fastpath / block / analyze by IP and port),
//   2. Security Intelligence: network, then URL, then DNS lists. Per kind, a Do-Not-Block
//      match overrides a Block match of the same kind, and the flow continues to the access
//      rules WITHOUT being trusted; monitor-only lists log and continue. An SI block on TCP is
//      'Block with reset', reason 'IP Block' / 'URL Block' / 'DNS Block'.
//      peekwall sees no DNS queries: DNS lists are applied to the server name, as if the
//      client had resolved it.
//   3. access-control rules top-down; the first rule whose every condition matches decides,
//      Monitor rules log (rulesMatched) and matching continues,
//   4. the default action.
// URL conditions (current mode, FMC 7.x): an entry without '/' matches the host at its start
// or right after a dot, label-aligned ('ign.com' matches www.ign.com, not verisign.com, and
// 'example.com' does not match example.com.evil.net); an entry with '/' is a substring of
// host+path (scheme ignored; TLS flows have path '/'). legacy-substring mode (FMC 6.x): every
// entry is a substring of host+path, so 'ign.com' matches 'verisign.com'.
//
// Reputation (FMC "URL conditions", reputation slider): "For rules that block traffic, the
// selected reputation level and all reputation levels MORE SEVERE than it are included; for
// rules that allow traffic (Allow, Trust, Monitor), the selected level and all levels LESS
// SEVERE." Severity runs 1 Untrusted (most severe) .. 5 Trusted (least): a Block rule at
// 2 Questionable matches 1 and 2; an Allow rule at 4 Favorable matches 4 and 5. Reputation
// 0 Unknown matches only 'Any', 'Unknown' or includeUnknown: true.
import { parseAddress, type ParsedAddress } from './ip.js';
import { lowerHost, REPUTATION_LABELS, UNKNOWN_URL, type UrlDbRecord } from './domains.js';
import { asCompiled, type CompiledPolicy, type CompiledRule } from './compiled.js';
import type { TsidSetting } from '../identity/index.js';
import type {
  EvaluateOptions,
  Flow,
  FlowIdentity,
  Policy,
  TraceStep,
  UrlReputation,
  Verdict,
  VerdictAction,
} from './types.js';

const EMPTY: readonly string[] = Object.freeze([]);
const SI_KINDS = ['network', 'url', 'dns'] as const;
const NO_TRACE: readonly TraceStep[] = Object.freeze([]);
const REPUTATIONS: readonly UrlReputation[] = REPUTATION_LABELS.map((label, level) =>
  Object.freeze({ level: level as UrlReputation['level'], label }),
);

const enum Fail {
  None = 0,
  Source,
  Destination,
  Port,
  Application,
  Url,
}

/** What evaluation derives once per flow. */
interface FlowFacts {
  readonly src: ParsedAddress | null;
  readonly dst: ParsedAddress | null;
  readonly dport: number;
  /** Lower-case URL host, or null when no name is known. */
  readonly host: string | null;
  readonly path: string | null;
  readonly rec: UrlDbRecord;
  readonly app: number;
  /** host + path (path '/' for TLS), the subject of substring entries. */
  subject: string | null;
}

function inSet(set: CompiledRule['src'], a: ParsedAddress | null): boolean {
  if (set === null) return true;
  if (a === null) return false;
  return set.find(a) >= 0;
}

function inPorts(p: Int32Array | null, port: number): boolean {
  if (p === null) return true;
  for (let i = 0; i < p.length; i += 2) if (port >= p[i] && port <= p[i + 1]) return true;
  return false;
}

function subjectOf(f: FlowFacts): string {
  return (f.subject ??= f.host === null ? '' : f.host + (f.path ?? '/'));
}

/** The matching URL entry/category text, or null. */
function urlMatch(r: CompiledRule, f: FlowFacts): string | null {
  const u = r.url!;
  if (f.host === null) return null;
  if (u.hosts) {
    const hit = u.hosts.first(f.host, null);
    if (hit !== null) return hit;
  }
  if (u.substrings.length > 0) {
    const subj = subjectOf(f);
    for (const s of u.substrings) if (subj.includes(s)) return s;
  }
  for (const c of u.categories) {
    if ((c.levels & (1 << f.rec.reputation)) === 0) continue;
    if (c.category === 'Any' || f.rec.categories.includes(c.category)) return c.text;
  }
  return null;
}

function ruleFails(r: CompiledRule, f: FlowFacts): Fail {
  if (!inSet(r.src, f.src)) return Fail.Source;
  if (!inSet(r.dst, f.dst)) return Fail.Destination;
  if (!inPorts(r.ports, f.dport)) return Fail.Port;
  if (r.apps !== null && !r.apps.has(f.app)) return Fail.Application;
  if (r.url !== null && urlMatch(r, f) === null) return Fail.Url;
  return Fail.None;
}

function failText(r: CompiledRule, why: Fail, flow: Flow, f: FlowFacts, appName: string): string {
  switch (why) {
    case Fail.Source:
      return `source ${flow.srcIp} not in [${r.srcText}]`;
    case Fail.Destination:
      return `destination ${flow.dstIp} not in [${r.dstText}]`;
    case Fail.Port:
      return `destination port ${flow.dstPort} not in [${r.portsText}]`;
    case Fail.Application:
      return `application ${appName || 'unknown'} not in [${r.appsText}]`;
    default:
      return f.host === null ? `no URL known (no server name) for URL condition [${r.url!.text}]` : `url ${f.host} does not match [${r.url!.text}]`;
  }
}

function appOf(p: CompiledPolicy, host: string | null): number {
  if (host === null || p.appNames.length === 0) return -1;
  let best = -1;
  p.apps.forEach(host, null, (ids) => {
    const id = ids[0];
    if (best < 0 || id < best) best = id;
  });
  return best;
}

function verdictActionOf(a: CompiledRule['action']): VerdictAction {
  return a === 'Monitor' ? 'Allow' : a;
}

function ftdAction(a: VerdictAction): string {
  switch (a) {
    case 'Allow':
      return 'allow';
    case 'Trust':
      return 'trust';
    case 'Block':
    case 'Interactive Block':
      return 'drop';
    default:
      return 'reset';
  }
}

function ftdVerdict(a: VerdictAction): string {
  switch (a) {
    case 'Allow':
      return 'pass';
    case 'Trust':
      return 'whitelist';
    default:
      return 'blacklist';
  }
}

/**
 * Does any SI list match at all? The common answer is no, and then evaluation skips the
 * bookkeeping (visitor closures, per-kind precedence) entirely.
 */
function siAnyMatch(p: CompiledPolicy, f: FlowFacts, host: string | null): boolean {
  for (const l of p.siLists) {
    if (l.ips === null) continue;
    if ((f.src !== null && l.ips.find(f.src) >= 0) || (f.dst !== null && l.ips.find(f.dst) >= 0)) return true;
  }
  if (host === null) return false;
  return (p.siUrl.size > 0 && p.siUrl.first(host, f.path) !== null) || (p.siDns.size > 0 && p.siDns.first(host, f.path) !== null);
}

/**
 * The TSID setting that applies to a flow: CLI-forced setting, else the lab-convenience
 * override of the first enabled rule with one whose network and port conditions match the
 * flow, else the policy setting.
 */
export function tsidFor(policy: Policy, flow: Flow): TsidSetting {
  const p = asCompiled(policy);
  const base = p.settings.tsid;
  if (p.tsidForced) return base;
  const src = parseAddress(flow.srcIp);
  const dst = parseAddress(flow.dstIp);
  for (const r of p.rules) {
    if (!r.enabled || r.tsid === null) continue;
    if (inSet(r.src, src) && inSet(r.dst, dst) && inPorts(r.ports, flow.dstPort)) return { ...base, ...r.tsid };
  }
  return base;
}

/** Per-flow facts every verdict carries (built once per evaluation). */
interface Common {
  readonly urlCategory: string;
  readonly urlReputation: UrlReputation;
  readonly url: string;
  readonly application: string | undefined;
}

// One object shape for every verdict (no spreads): V8 keeps it monomorphic on the hot path.
function verdict(
  c: Common,
  action: VerdictAction,
  rule: string,
  reason: string,
  siCategory: string | undefined,
  monitored: readonly string[],
  log: Verdict['log'],
  trace: readonly TraceStep[],
  siMatched: readonly string[],
  rulesMatched: readonly string[],
): Verdict {
  return {
    action,
    rule,
    reason,
    siCategory,
    urlCategory: c.urlCategory,
    urlReputation: c.urlReputation,
    application: c.application,
    url: c.url,
    monitored,
    log,
    trace,
    siMatched,
    rulesMatched,
  };
}

const LOG_BEGIN: Verdict['log'] = Object.freeze({ beginning: true, end: false });
const LOG_END: Verdict['log'] = Object.freeze({ beginning: false, end: true });

/** Evaluate one flow. Pure; allocation is limited to the verdict (and the trace when asked). */
export function evaluate(policy: Policy, flow: Flow, identity: FlowIdentity, opts?: EvaluateOptions): Verdict {
  const p = asCompiled(policy);
  const tracing = opts?.trace !== false;
  const trace: TraceStep[] | null = tracing ? [] : null;
  const host = !identity.name ? null : lowerHost(identity.name);
  const rec = host === null ? UNKNOWN_URL : p.urlDb.lookup(host);
  const app = appOf(p, host);
  const f: FlowFacts = {
    src: parseAddress(flow.srcIp),
    dst: parseAddress(flow.dstIp),
    dport: flow.dstPort,
    host,
    path: flow.path ?? null,
    rec,
    app,
    subject: null,
  };
  const url = host === null ? '' : flow.path ? `${flow.scheme}://${host}${flow.path}` : `${flow.scheme}://${host}`;
  const appName = app >= 0 ? p.appNames[app] : '';
  const reputation = REPUTATIONS[rec.reputation];
  const category = rec.categories[0];
  const base: Common = { urlCategory: category, urlReputation: reputation, url, application: appName || undefined };
  if (trace) {
    trace.push({ module: 'Identity', message: host === null ? 'no server name known' : `server name '${host}' from ${identity.source}` });
    if (host !== null) {
      trace.push({ module: 'URL', message: `url ${host}, category '${rec.categories.join("', '")}', reputation ${reputation.level} ${reputation.label}` });
      if (appName) trace.push({ module: 'AppID', message: `web application ${appName}` });
    }
  }

  // 1. Prefilter
  for (const pf of p.prefilter) {
    if (!inSet(pf.src, f.src) || !inSet(pf.dst, f.dst) || !inPorts(pf.ports, f.dport)) continue;
    if (pf.action === 'Analyze') {
      trace?.push({ module: 'Prefilter', message: `analyze rule '${pf.name}', continue to access control` });
      break;
    }
    const action: VerdictAction = pf.action === 'Fastpath' ? 'Trust' : 'Block';
    trace?.push({ module: 'Prefilter', message: `${pf.action.toLowerCase()} rule '${pf.name}', ${pf.action === 'Fastpath' ? 'fastpath' : 'drop'}` });
    trace?.push({ module: 'Verdict', message: ftdVerdict(action) });
    const reason = pf.action === 'Fastpath' ? 'Prefilter Fastpath' : 'Prefilter Block';
    return verdict(base, action, pf.name, reason, undefined, EMPTY, LOG_BEGIN, trace ?? NO_TRACE, EMPTY, EMPTY);
  }

  if (trace && p.prefilter.length > 0 && (trace.length === 0 || trace[trace.length - 1].module !== 'Prefilter')) {
    trace.push({ module: 'Prefilter', message: 'no prefilter rule matched, continue to access control' });
  }

  // 2. Security Intelligence
  let siMatched: string[] | null = null;
  let siBlock: { list: string; reason: string; entry: string } | null = null;
  let siMonitor: { list: string; reason: string } | null = null;
  if (p.siLists.length > 0 && siAnyMatch(p, f, host)) {
    for (const kind of SI_KINDS) {
      let block: { list: string; entry: string } | null = null;
      let dnb: { list: string; entry: string } | null = null;
      const reasonWord = kind === 'network' ? 'IP' : kind === 'url' ? 'URL' : 'DNS';
      const hit = (li: number, entry: string): void => {
        const l = p.siLists[li];
        const seen: string[] = (siMatched ??= []);
        if (!seen.includes(l.name)) seen.push(l.name);
        if (l.action === 'block') block ??= { list: l.name, entry };
        else if (l.action === 'do-not-block') dnb ??= { list: l.name, entry };
        else siMonitor ??= { list: l.name, reason: `${reasonWord} Monitor` };
        trace?.push({ module: 'Security Intelligence', message: `${reasonWord} list '${l.name}' (${l.action}) matched '${entry}'` });
      };
      if (kind === 'network') {
        for (const l of p.siLists) {
          if (l.kind !== 'network' || l.ips === null) continue;
          const a = f.src ? l.ips.find(f.src) : -1;
          if (a >= 0) hit(l.index, `${flow.srcIp} in ${l.ips.label(a)}`);
          const b = f.dst ? l.ips.find(f.dst) : -1;
          if (b >= 0) hit(l.index, `${flow.dstIp} in ${l.ips.label(b)}`);
        }
      } else if (host !== null) {
        const set = kind === 'url' ? p.siUrl : p.siDns;
        if (set.size > 0) set.forEach(host, f.path, (ids, entry) => {
          for (const id of ids) hit(id, entry);
        });
      }
      const b = block as { list: string; entry: string } | null;
      const d = dnb as { list: string; entry: string } | null;
      if (b && d) {
        trace?.push({ module: 'Security Intelligence', message: `${reasonWord} do-not-block '${d.list}' overrides block '${b.list}', continue to access control` });
      } else if (b && !siBlock) {
        siBlock = { list: b.list, reason: `${reasonWord} Block`, entry: b.entry };
        break;
      }
    }
  }
  if (trace && p.siLists.length > 0 && !siBlock && siMatched === null) trace.push({ module: 'Security Intelligence', message: 'no list matched' });
  if (siBlock) {
    trace?.push({ module: 'Firewall', message: `SI ${siBlock.reason.split(' ')[0]} block, list '${siBlock.list}', entry '${siBlock.entry}', reset` });
    trace?.push({ module: 'Verdict', message: 'blacklist' });
    return verdict(base, 'Block with reset', siBlock.list, siBlock.reason, siBlock.list, EMPTY, LOG_BEGIN, trace ?? NO_TRACE, siMatched ?? EMPTY, EMPTY);
  }

  // 3. Access-control rules
  let monitored: string[] | null = null;
  let decided: CompiledRule | null = null;
  if (trace) {
    trace.push({ module: 'Firewall', message: `starting rule matching, zone -1 -> -1, geo 0 -> 0, vlan 0, src sgt: 0, dst sgt: 0, svc 0, payload ${app >= 0 ? app + 1 : 0}, client 0, misc 0, user 9999997` });
    // Diagnostic path: every rule in order, naming the first condition that failed.
    for (const r of p.rules) {
      if (!r.enabled) {
        trace.push({ module: 'Firewall', message: `rule '${r.name}' skipped: disabled` });
        continue;
      }
      let why = Fail.None;
      if (!inSet(r.src, f.src)) why = Fail.Source;
      else if (!inSet(r.dst, f.dst)) why = Fail.Destination;
      else if (!inPorts(r.ports, f.dport)) why = Fail.Port;
      else {
        if (r.apps !== null || r.url !== null) {
          const pending = r.url !== null ? 'pending URL' : 'pending AppID';
          trace.push({ module: 'Firewall', message: `pending rule-matching, '${r.name}', ${pending}` });
        }
        if (r.apps !== null && !r.apps.has(app)) why = Fail.Application;
        else if (r.url !== null && urlMatch(r, f) === null) why = Fail.Url;
      }
      if (why !== Fail.None) {
        trace.push({ module: 'Firewall', message: `rule '${r.name}' skipped: ${failText(r, why, flow, f, appName)}` });
        continue;
      }
      if (r.action === 'Monitor') {
        (monitored ??= []).push(r.name);
        trace.push({ module: 'Firewall', message: `monitor rule, '${r.name}', continue` });
        continue;
      }
      decided = r;
      break;
    }
  } else {
    // Indexed path: only rules whose networks can hold both addresses, still in rule order.
    const s = f.src;
    const d = f.dst;
    const cands =
      s !== null && d !== null && s.family === 4 && d.family === 4
        ? p.index.candidates4(s.v4, d.v4)
        : s !== null && d !== null && s.family === 6 && d.family === 6
          ? p.index.candidates6(s.v6, d.v6)
          : p.index.all;
    for (let i = 0; i < cands.length; i++) {
      const r = p.rules[cands[i]];
      if (ruleFails(r, f) !== Fail.None) continue;
      if (r.action === 'Monitor') {
        (monitored ??= []).push(r.name);
        continue;
      }
      decided = r;
      break;
    }
  }
  const siCat = siMonitor as { list: string; reason: string } | null;
  if (decided) {
    const action = verdictActionOf(decided.action);
    if (trace) {
      const kind = action === 'Allow' ? 'allow' : action === 'Trust' ? 'trust' : 'block';
      trace.push({ module: 'Firewall', message: `${kind} rule, '${decided.name}', ${ftdAction(action)}` });
      trace.push({ module: 'Verdict', message: ftdVerdict(action) });
    }
    const rulesMatched = monitored ? [...monitored, decided.name] : decided.selfList;
    return verdict(base, action, decided.name, siCat ? siCat.reason : '', siCat?.list, monitored ?? EMPTY, decided.log, trace ?? NO_TRACE, siMatched ?? EMPTY, rulesMatched);
  }
  // 4. Default action
  const da = p.defaultAction;
  const action: VerdictAction = da === 'Block all traffic' ? 'Block' : da === 'Trust all traffic' ? 'Trust' : 'Allow';
  if (trace) {
    trace.push({ module: 'Firewall', message: `no rule matched, default action '${da}', ${ftdAction(action)}` });
    trace.push({ module: 'Verdict', message: ftdVerdict(action) });
  }
  // FMC logs default-action blocks at the beginning, allows at the end.
  const log = action === 'Block' ? LOG_BEGIN : LOG_END;
  return verdict(base, action, 'Default Action', siCat ? siCat.reason : '', siCat?.list, monitored ?? EMPTY, log, trace ?? NO_TRACE, siMatched ?? EMPTY, monitored ?? EMPTY);
}

/**
 * `system support trace`-shaped lines:
 * `<src> <sport> -> <dst> <dport> 6 AS=0 ID=0 GR=1-1 <Module>: <message>`.
 */
export function traceLines(flow: Flow, _identity: FlowIdentity, verdict: Verdict): string[] {
  const prefix = `${flow.srcIp} ${flow.srcPort} -> ${flow.dstIp} ${flow.dstPort} 6 AS=0 ID=0 GR=1-1 `;
  return verdict.trace.map((s) => `${prefix}${s.module}: ${s.message}`);
}
