// `peekwall test`: policy regression suites, offline (pure core) and --live (real proxy), with
// rule coverage, impact analysis between two policies, and suites generated from events.
import { existsSync, readdirSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { makeParentsSync } from '../util/files.js';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createEventLog, parseEventLines, type ConnectionEvent } from '../events/index.js';
import { Replay } from '../capture/index.js';
import type { Policy } from '../policy/index.js';
import {
  comparePolicies,
  createLiveRunner,
  flowFromEvent,
  loadPolicyVariant,
  loadSuiteFile,
  render,
  renderCompareText,
  renderJunit,
  renderJunitInvalid,
  REPORTERS,
  runSuites,
  suiteFromEvents,
  type ComparedFlow,
  type LiveCaseRunner,
  type LoadedSuite,
  type PolicyCache,
  type ReporterName,
  type RunReport,
} from '../regress/index.js';
import { formatError, peekwallError, PeekwallFailure, type PeekwallError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { EXIT_OK, EXIT_PROBLEM, parseCommandArgs, UsageError, type CliIo, type Subcommand } from './command.js';
import { isCapture, openInput, walkCapture } from './capture-input.js';

const usage = `Usage: peekwall test [SUITE...] [options]
       peekwall test --compare OLD.yaml NEW.yaml SUITE...   (or --from-events FILE)
       peekwall test --from-events FILE --policy POLICY.yaml [--out SUITE.test.yaml]
       peekwall test --from-capture CAPTURE --policy POLICY.yaml [--out SUITE.test.yaml]

Run policy regression suites: every case is a flow (addresses, SNI or none, offered TLS
versions, the server's certificate, TSID on/off) and the verdict fields it must produce
(action, rule, url, identitySource, siCategory, urlCategory, urlReputation, reason; only
stated fields are checked). Without SUITE, runs policies/tests/*.test.yaml.

Options:
  --reporter R       text (default), tap, junit or json
  --json             same as --reporter json
  --junit FILE       also write JUnit XML to FILE
  --min-coverage N   fail when a policy's coverage (rules reached + SI lists hit) is below N %
  --live             also run every case as a real TLS handshake through a real peekwall
                     proxy on loopback; the live verdict must equal the offline one
  --events FILE      (with --live) append the proxy's connection events to FILE (JSON lines)
  --compare OLD      impact analysis: evaluate the flows under OLD and under NEW (the first
                     SUITE argument) and list every flow whose verdict changes
  --from-events F    flows from a recorded events file (JSON lines): with --compare, the
                     flows to compare; without, generate a suite pinning their verdicts
  --from-capture C   generate a suite from a pcap/pcapng capture: its flows replayed under
                     --policy as peekwall replay does, their verdicts pinned
  --policy FILE      (generating) the policy the generated suite names
  --out FILE         (generating) write the suite to FILE instead of stdout
Exit: 0 all passed (no verdict changes), 1 a case failed, coverage below the minimum or
(--compare) some verdict changes, 2 invalid suite, policy or options (file:line errors).`;

function pickReporter(values: { reporter?: string; json?: boolean }): ReporterName {
  if (values.json) return 'json';
  const r = values.reporter ?? 'text';
  if (!(REPORTERS as readonly string[]).includes(r)) throw new UsageError(`unknown reporter '${r}' (${REPORTERS.join(', ')})`);
  return r as ReporterName;
}

function defaultSuites(cwd: string): string[] {
  for (const base of [cwd, repoRoot]) {
    const dir = join(base, 'policies', 'tests');
    if (existsSync(dir)) {
      const files = readdirSync(dir).filter((f) => f.endsWith('.test.yaml')).sort();
      if (files.length > 0) return files.map((f) => join(dir, f));
    }
  }
  return [];
}

function display(abs: string, cwd: string): string {
  const r = relative(cwd, abs);
  return r && !r.startsWith('..') ? r : abs;
}

async function loadSuites(paths: readonly string[], io: CliIo, cache: PolicyCache): Promise<LoadedSuite[]> {
  const errors: PeekwallError[] = [];
  const suites: LoadedSuite[] = [];
  for (const p of paths) {
    const abs = resolve(io.cwd, p);
    const s = await loadSuiteFile(abs, { cache, display: display(abs, io.cwd) });
    if (s.ok) suites.push(s.value);
    else errors.push(...s.error);
  }
  if (errors.length > 0) throw new PeekwallFailure(errors);
  return suites;
}

async function readEvents(file: string, io: CliIo) {
  const abs = resolve(io.cwd, file);
  let text: string;
  try {
    // Events files can be large, but never endless: refuse devices and FIFOs.
    if (!(await stat(abs)).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw new PeekwallFailure(peekwallError('events/unreadable', `cannot read events file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }));
  }
  const { events, errors } = parseEventLines(text, display(abs, io.cwd));
  // Unreadable lines are reported, not fatal: a log may hold other records too.
  for (const e of errors) io.stderr.write(`peekwall: ${formatError(e)}\n`);
  return { events, shown: display(abs, io.cwd) };
}

/** A capture's flows as the proxy would log them under `policy` (peekwall replay's events). */
async function replayedEvents(file: string, policy: Policy, io: CliIo): Promise<{ events: ConnectionEvent[]; shown: string }> {
  const input = await openInput(file, io);
  if (!isCapture(input)) {
    input.close();
    throw new PeekwallFailure(peekwallError('capture/unknown-format', `${file} is not a pcap or pcapng capture`, { file }));
  }
  const events: ConnectionEvent[] = [];
  const run = new Replay({ policy, fingerprints: false }, (r) => {
    if (r.event) events.push(r.event);
    else if (r.reason) io.stderr.write(`peekwall: ${file}: tcp.stream ${r.stream} not evaluated: ${formatError(r.reason)}\n`);
  });
  const summary = await walkCapture(input, run.open);
  for (const p of summary.problems) io.stderr.write(`peekwall: ${file}: ${formatError(p)}\n`);
  return { events, shown: display(resolve(io.cwd, file), io.cwd) };
}

async function loadPolicyArg(file: string, io: CliIo, cache: PolicyCache) {
  const p = await loadPolicyVariant(resolve(io.cwd, file), null, cache);
  if (!p.ok) throw new PeekwallFailure(p.error);
  return p.value;
}

async function runCompare(values: Record<string, unknown>, positionals: string[], io: CliIo, reporter: ReporterName): Promise<number> {
  const cache: PolicyCache = new Map();
  const [newFile, ...suitePaths] = positionals;
  if (!newFile) throw new UsageError('--compare OLD needs NEW: peekwall test --compare OLD.yaml NEW.yaml SUITE...');
  const oldPolicy = await loadPolicyArg(values.compare as string, io, cache);
  const newPolicy = await loadPolicyArg(newFile, io, cache);
  const flows: ComparedFlow[] = [];
  if (typeof values['from-events'] === 'string') {
    if (suitePaths.length > 0) throw new UsageError('give suites or --from-events, not both');
    const { events, shown } = await readEvents(values['from-events'], io);
    events.forEach((e, i) => {
      const flow = flowFromEvent(e);
      if (flow) flows.push({ name: `event ${i + 1} ${e.srcIp} -> ${e.dstIp}:${e.dstPort} ${e.url ?? ''}`.trim(), origin: `${shown} event ${i + 1}`, flow, certificate: null });
    });
  } else {
    const paths = suitePaths.length > 0 ? suitePaths : defaultSuites(io.cwd);
    if (paths.length === 0) throw new UsageError('no suites to take flows from (give SUITE files or --from-events FILE)');
    for (const s of await loadSuites(paths, io, cache)) {
      for (const c of s.cases) flows.push({ name: c.name, origin: `${c.at.file}:${c.at.line}:${c.at.column}`, flow: c.flow, certificate: c.certificate });
    }
  }
  const report = comparePolicies(oldPolicy, newPolicy, flows);
  io.stdout.write(reporter === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderCompareText(report));
  return report.changes.length > 0 ? EXIT_PROBLEM : EXIT_OK;
}

async function runGenerate(values: Record<string, unknown>, positionals: string[], io: CliIo): Promise<number> {
  if (positionals.length > 0) throw new UsageError('generating a suite takes no SUITE arguments (use --out FILE)');
  if (typeof values.policy !== 'string') throw new UsageError('generating a suite (--from-events, --from-capture) needs --policy POLICY.yaml');
  if (typeof values['from-events'] === 'string' && typeof values['from-capture'] === 'string') throw new UsageError('give --from-events or --from-capture, not both');
  const { events, shown } =
    typeof values['from-capture'] === 'string'
      ? await replayedEvents(values['from-capture'], await loadPolicyArg(values.policy, io, new Map()), io)
      : await readEvents(values['from-events'] as string, io);
  const policyAbs = resolve(io.cwd, values.policy);
  // Fail early (exit 2) when the policy the suite will name does not load.
  await loadPolicyArg(values.policy, io, new Map());
  const out = typeof values.out === 'string' ? resolve(io.cwd, values.out) : null;
  const policyRef = out ? relative(dirname(out), policyAbs) || policyAbs : display(policyAbs, io.cwd);
  const g = suiteFromEvents(events, { policy: policyRef, source: shown, ...(typeof values['from-capture'] === 'string' ? { option: '--from-capture' } : {}) });
  for (const c of g.conflicts) io.stderr.write(`peekwall: recorded with different verdicts (pinned the last): ${c}\n`);
  if (out) {
    await writeOutput(out, g.text, io);
    io.stderr.write(`peekwall: wrote ${g.cases} cases to ${display(out, io.cwd)} (${g.skipped} events without a verdict skipped)\n`);
  } else {
    io.stdout.write(g.text);
  }
  return g.cases > 0 ? EXIT_OK : EXIT_PROBLEM;
}

/**
 * Write a report or a generated suite, creating its directory. A path that cannot be written
 * (read-only, a file where a directory should be, no permission) is a usage error naming the
 * file, exit 2, not a stack trace.
 */
async function writeOutput(file: string, text: string, io: CliIo): Promise<void> {
  try {
    makeParentsSync(dirname(file));
    await writeFile(file, text);
  } catch (e) {
    const n = e as NodeJS.ErrnoException;
    throw new PeekwallFailure(
      peekwallError('regress/unwritable', `cannot write: ${n.code ?? ''} ${n.message.replace(/^\w+: /, '')}`.replace(/\s+/g, ' '), {
        file: display(file, io.cwd),
      }),
    );
  }
}

const test: Subcommand = {
  name: 'test',
  summary: 'policy regression suites: expected verdicts, offline and --live, coverage, --compare',
  usage,
  async run(argv, io) {
    const parsed = parseCommandArgs({ usage }, argv, {
      reporter: { type: 'string' },
      json: { type: 'boolean' },
      junit: { type: 'string' },
      'min-coverage': { type: 'string' },
      live: { type: 'boolean' },
      events: { type: 'string' },
      compare: { type: 'string' },
      'from-events': { type: 'string' },
      'from-capture': { type: 'string' },
      policy: { type: 'string' },
      out: { type: 'string' },
    }, io);
    if (!parsed) return EXIT_OK;
    const { values, positionals } = parsed;
    const reporter = pickReporter(values);
    if (typeof values.compare === 'string') return runCompare(values, positionals, io, reporter);
    if (typeof values['from-events'] === 'string' || typeof values['from-capture'] === 'string') return runGenerate(values, positionals, io);

    if (values.events !== undefined && !values.live) throw new UsageError('--events FILE records the live run: add --live');
    let minCoverage: number | null = null;
    if (values['min-coverage'] !== undefined) {
      minCoverage = Number(values['min-coverage']);
      if (!Number.isFinite(minCoverage) || minCoverage < 0 || minCoverage > 100) throw new UsageError('--min-coverage takes a percentage 0-100');
    }
    const paths = positionals.length > 0 ? positionals : defaultSuites(io.cwd);
    if (paths.length === 0) throw new UsageError('no suites given and no policies/tests/*.test.yaml found');
    let suites: LoadedSuite[];
    try {
      suites = await loadSuites(paths, io, new Map());
    } catch (e) {
      // CI reads the JUnit file: an invalid suite is an error testcase there, not a missing file.
      if (typeof values.junit === 'string' && e instanceof PeekwallFailure) {
        await writeOutput(resolve(io.cwd, values.junit), renderJunitInvalid(e.errors, { hostname: hostname(), startedAt: new Date().toISOString() }), io);
      }
      throw e;
    }

    let live: LiveCaseRunner | undefined;
    let closeLive: (() => Promise<void>) | undefined;
    if (values.live) {
      const eventLog = typeof values.events === 'string' ? createEventLog({ destination: resolve(io.cwd, values.events) }) : undefined;
      const l = await createLiveRunner(eventLog ? { eventLog } : {});
      live = l.run;
      closeLive = async () => {
        await l.close();
        await eventLog?.close();
        if (eventLog?.lastError) io.stderr.write(`peekwall: ${formatError(eventLog.lastError)}\n`);
      };
    }
    let report: RunReport;
    try {
      report = await runSuites(suites, live ? { live } : {});
    } finally {
      await closeLive?.();
    }
    // Policy paths as the user would type them (relative to the working directory).
    report = { ...report, coverage: report.coverage.map((c) => ({ ...c, policy: display(c.policy, io.cwd) })) };
    io.stdout.write(render(report, reporter));
    if (typeof values.junit === 'string') {
      const file = resolve(io.cwd, values.junit);
      await writeOutput(file, renderJunit(report, { hostname: hostname() }), io);
    }
    let code = report.counts.total === report.counts.passed ? EXIT_OK : EXIT_PROBLEM;
    if (minCoverage !== null) {
      for (const c of report.coverage) {
        if (c.percent < minCoverage) {
          io.stderr.write(`peekwall: coverage of ${c.policy} is ${c.percent}%, below the required ${minCoverage}%\n`);
          code = EXIT_PROBLEM;
        }
      }
    }
    return code;
  },
};

export default test;
