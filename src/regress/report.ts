// Reporters: readable text (default), TAP 14, JUnit XML, JSON. Pure: a RunReport in, text out.
import type { CompareReport } from './compare.js';
import type { CaseResult, FieldDiff, PolicyCoverage, RunReport } from './types.js';

export type ReporterName = 'text' | 'tap' | 'junit' | 'json';
export const REPORTERS: readonly ReporterName[] = ['text', 'tap', 'junit', 'json'];

const show = (v: string | null): string => (v === null ? '(none)' : v === '' ? '""' : v);

function diffLines(diffs: readonly FieldDiff[], wantLabel: string, gotLabel: string): string[] {
  const width = Math.max(...diffs.map((d) => d.field.length));
  return diffs.map((d) => `${d.field.padEnd(width)}  ${wantLabel} ${show(d.expected)}\n${' '.repeat(width)}  ${gotLabel} ${show(d.actual)}`);
}

function where(r: CaseResult): string {
  return `${r.at.file}:${r.at.line}:${r.at.column}`;
}

function summaryOf(r: CaseResult): string {
  const a = r.actual;
  return `${a.action} by ${a.rule}, url ${show(a.url)} (${a.identitySource ?? 'no identity'})${a.siCategory ? `, SI ${a.siCategory}` : ''}${a.reason ? `, reason ${a.reason}` : ''}`;
}

/** Every line explaining why a case did not pass (shared by text, TAP and JUnit). */
function failureDetail(r: CaseResult): string[] {
  const out: string[] = [];
  if (r.diffs.length > 0) {
    out.push(...diffLines(r.diffs, 'expected', 'actual  '));
    out.push(`got: ${summaryOf(r)}`);
  }
  if (r.live?.error) out.push(`live: ${r.live.error}`);
  if (r.live && r.live.diffs.length > 0) {
    out.push('live verdict differs from the offline one:');
    out.push(...diffLines(r.live.diffs, 'offline', 'live   '));
  }
  if (r.trace.length > 0) out.push('trace:', ...r.trace.map((t) => `  ${t}`));
  return out;
}

const STATUS_WORD: Record<CaseResult['status'], string> = {
  pass: 'ok  ',
  fail: 'FAIL',
  'live-mismatch': 'LIVE',
  'live-error': 'LIVE',
};

function coverageText(c: PolicyCoverage): string[] {
  const out = [
    `coverage ${c.policy}: ${c.percent}% — rules ${c.rules.reached.length}/${c.rules.total}, SI lists ${c.siLists.hit.length}/${c.siLists.total}`,
  ];
  if (c.rules.unreached.length > 0) out.push(`  rules no case reached: ${c.rules.unreached.join(', ')}`);
  if (c.siLists.unhit.length > 0) out.push(`  SI lists no case hit: ${c.siLists.unhit.join(', ')}`);
  if (c.disabledRules.length > 0) out.push(`  disabled (not counted): ${c.disabledRules.join(', ')}`);
  return out;
}

function countsLine(r: RunReport): string {
  const c = r.counts;
  const parts = [`${c.passed} passed`, `${c.failed} failed`];
  if (r.live) parts.push(`${c.liveMismatch} live mismatches`, `${c.liveError} live errors`, `${c.liveSkipped} not run live`);
  return `${c.total} cases${r.live ? ' (offline + live)' : ''}: ${parts.join(', ')}`;
}

export function renderText(r: RunReport): string {
  const lines: string[] = [];
  for (const s of r.suites) {
    lines.push(`${s.file} (policy ${s.policy})`);
    for (const c of s.cases) {
      lines.push(`  ${STATUS_WORD[c.status]} ${c.name}${c.status === 'pass' ? '' : `  [${where(c)}]`}`);
      if (c.live?.skipped) lines.push(`         live: not run (${c.live.skipped})`);
      if (c.status !== 'pass') for (const d of failureDetail(c)) lines.push(...d.split('\n').map((l) => `         ${l}`));
    }
  }
  lines.push('');
  for (const c of r.coverage) lines.push(...coverageText(c));
  lines.push(countsLine(r));
  return `${lines.join('\n')}\n`;
}

// ---- TAP 14 ---------------------------------------------------------------------------

function yamlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML flow scalar
}

export function renderTap(r: RunReport): string {
  const all = r.suites.flatMap((s) => s.cases);
  const lines = ['TAP version 14', `1..${all.length}`];
  all.forEach((c, i) => {
    const title = `${c.suite} › ${c.name}`.replace(/#/g, '\\#').replace(/\n/g, ' ');
    lines.push(`${c.status === 'pass' ? 'ok' : 'not ok'} ${i + 1} - ${title}`);
    if (c.live?.skipped) lines.push(`  # live: not run (${c.live.skipped.replace(/\n/g, ' ')})`);
    if (c.status !== 'pass') {
      lines.push('  ---', `  status: ${c.status}`, `  at: ${yamlString(where(c))}`);
      if (c.diffs.length > 0) {
        lines.push('  diff:');
        for (const d of c.diffs) lines.push(`    ${d.field}: { expected: ${yamlString(show(d.expected))}, actual: ${yamlString(show(d.actual))} }`);
      }
      if (c.live?.error) lines.push(`  live: ${yamlString(c.live.error)}`);
      if (c.live && c.live.diffs.length > 0) {
        lines.push('  live:');
        for (const d of c.live.diffs) lines.push(`    ${d.field}: { offline: ${yamlString(show(d.expected))}, live: ${yamlString(show(d.actual))} }`);
      }
      lines.push('  ...');
    }
  });
  for (const c of r.coverage) lines.push(...coverageText(c).map((l) => `# ${l}`));
  lines.push(`# ${countsLine(r)}`);
  return `${lines.join('\n')}\n`;
}

// ---- JUnit XML ------------------------------------------------------------------------

/** Escape text for XML content and attribute values; drop characters XML 1.0 cannot carry. */
export function xmlEscape(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const attr = (name: string, value: string | number): string => ` ${name}="${xmlEscape(String(value))}"`;

/** Seconds with millisecond precision, as JUnit's xs:decimal `time`. */
const seconds = (ms: number | undefined): string => ((ms ?? 0) / 1000).toFixed(3);

export interface JunitOptions {
  /** testsuite/@hostname ('localhost' when unknown, as the schema asks). */
  readonly hostname?: string;
}

/** The common JUnit XSD's timestamp: ISO 8601 without milliseconds or time zone. */
const junitTimestamp = (iso: string | undefined): string => (iso ?? new Date(0).toISOString()).slice(0, 19);

/**
 * JUnit XML with only what the common (Ant/windyroad) JUnit XSD allows, which CI servers read:
 * per testsuite id, package, name, timestamp, hostname, tests, failures, errors, skipped, time,
 * then properties, the testcases (name, classname, time), system-out and system-err. Where a case
 * is in its suite file goes into the failure text and the suite's properties, not attributes the
 * schema does not know.
 */
export function renderJunit(r: RunReport, o: JunitOptions = {}): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const failures = r.counts.failed + r.counts.liveMismatch;
  const total = r.suites.reduce((n, s) => n + s.cases.reduce((m, c) => m + (c.timeMs ?? 0), 0), 0);
  out.push(`<testsuites${attr('name', 'peekwall test')}${attr('tests', r.counts.total)}${attr('failures', failures)}${attr('errors', r.counts.liveError)}${attr('time', seconds(total))}>`);
  r.suites.forEach((s, id) => {
    const f = s.cases.filter((c) => c.status === 'fail' || c.status === 'live-mismatch').length;
    const e = s.cases.filter((c) => c.status === 'live-error').length;
    const time = s.cases.reduce((m, c) => m + (c.timeMs ?? 0), 0);
    out.push(
      `  <testsuite${attr('id', id)}${attr('package', 'peekwall')}${attr('name', s.file)}${attr('timestamp', junitTimestamp(r.startedAt))}${attr('hostname', o.hostname || 'localhost')}${attr('tests', s.cases.length)}${attr('failures', f)}${attr('errors', e)}${attr('skipped', 0)}${attr('time', seconds(time))}>`,
    );
    out.push(`    <properties><property${attr('name', 'policy')}${attr('value', s.policy)}/></properties>`);
    for (const c of s.cases) {
      const open = `    <testcase${attr('classname', s.file)}${attr('name', c.name)}${attr('time', seconds(c.timeMs))}`;
      if (c.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      const detail = xmlEscape([`at ${where(c)}`, ...failureDetail(c)].join('\n'));
      const first = c.diffs[0] ?? c.live?.diffs[0];
      const message = c.live?.error ?? (first ? `${first.field}: expected ${show(first.expected)}, got ${show(first.actual)}` : c.status);
      const tag = c.status === 'live-error' ? 'error' : 'failure';
      out.push(`${open}>`);
      out.push(`      <${tag}${attr('message', message)}${attr('type', c.status)}>${detail}</${tag}>`);
      out.push('    </testcase>');
    }
    out.push('    <system-out/>', '    <system-err/>', '  </testsuite>');
  });
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

/**
 * A run that could not start because a suite is invalid: one testsuite per file with one error
 * testcase saying why, so CI shows the broken suite instead of finding no report at all.
 */
export function renderJunitInvalid(errors: readonly { file?: string; line?: number; column?: number; message: string; code: string }[], o: JunitOptions & { startedAt?: string } = {}): string {
  const byFile = new Map<string, string[]>();
  for (const e of errors) {
    const file = e.file ?? '(suites)';
    const at = e.line !== undefined ? `${file}:${e.line}${e.column !== undefined ? `:${e.column}` : ''}: ` : '';
    byFile.set(file, [...(byFile.get(file) ?? []), `${at}${e.message} [${e.code}]`]);
  }
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites${attr('name', 'peekwall test')}${attr('tests', byFile.size)}${attr('failures', 0)}${attr('errors', byFile.size)}${attr('time', seconds(0))}>`);
  [...byFile].forEach(([file, lines], id) => {
    out.push(
      `  <testsuite${attr('id', id)}${attr('package', 'peekwall')}${attr('name', file)}${attr('timestamp', junitTimestamp(o.startedAt))}${attr('hostname', o.hostname || 'localhost')}${attr('tests', 1)}${attr('failures', 0)}${attr('errors', 1)}${attr('skipped', 0)}${attr('time', seconds(0))}>`,
      '    <properties/>',
      `    <testcase${attr('classname', file)}${attr('name', 'the suite is valid')}${attr('time', seconds(0))}>`,
      `      <error${attr('message', lines[0])}${attr('type', 'invalid-suite')}>${xmlEscape(lines.join('\n'))}</error>`,
      '    </testcase>',
      '    <system-out/>',
      '    <system-err/>',
      '  </testsuite>',
    );
  });
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function renderJson(r: RunReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function render(r: RunReport, reporter: ReporterName): string {
  switch (reporter) {
    case 'tap':
      return renderTap(r);
    case 'junit':
      return renderJunit(r);
    case 'json':
      return renderJson(r);
    default:
      return renderText(r);
  }
}

// ---- impact analysis ------------------------------------------------------------------

export function renderCompareText(c: CompareReport): string {
  const lines = [`impact of ${c.old} -> ${c.new} on ${c.flows} flows: ${c.changes.length} change${c.changes.length === 1 ? '' : 's'}`];
  for (const ch of c.changes) {
    const f = ch.flow;
    lines.push(
      `  ${ch.name}  [${ch.origin}]`,
      `    ${f.src}:${f.sport} -> ${f.dst}:${f.dport} sni ${f.sni ?? '(none)'}`,
      `    before: ${ch.before.action} by ${ch.before.rule}, url ${show(ch.before.url)}`,
      `    after:  ${ch.after.action} by ${ch.after.rule}, url ${show(ch.after.url)}`,
    );
    for (const d of ch.fields) lines.push(`      ${d.field}: ${show(d.expected)} -> ${show(d.actual)}`);
  }
  const x = c.exact;
  const untested = x.changes.filter((e) => e.flows.length === 0).length;
  lines.push(`every flow (peekwall diff): ${x.changes.length} class${x.changes.length === 1 ? '' : 'es'} of flows change, ${untested} with no flow above in it; complete: ${x.complete}`);
  x.changes.forEach((e, i) => {
    const w = e.witness;
    lines.push(
      `  ${i + 1}. ${e.old.action} by ${e.old.rule} -> ${e.new.action} by ${e.new.rule}; name ${e.names.join(' | ')}`,
      `     e.g. ${w.src} -> ${w.dst.includes(':') ? `[${w.dst}]` : w.dst}:${w.dport}, name ${w.name} (${w.nameSource})`,
      `     ${e.flows.length === 0 ? 'no flow above falls in this class' : `flows above in it: ${e.flows.length <= 3 ? e.flows.join('; ') : `${e.flows.slice(0, 3).join('; ')} and ${e.flows.length - 3} more`}`}`,
    );
  });
  for (const r of x.reasons) lines.push(`  not covered: ${r}`);
  return `${lines.join('\n')}\n`;
}
