// `peekwall run --config FILE`: reads the arguments and the run config, loads the policy (and
// the trust store), hands them to the proxy's service (src/proxy: reload, drain, workers) and
// prints what it says.
import { resolve } from 'node:path';
import { loadRunConfig, parseRunConfig, runProxyService, type RunConfig, type ServiceNotice } from '../proxy/index.js';
import { loadPolicyFile, loadTrustStore } from '../sources/index.js';
import { formatError, PeekwallFailure, peekwallError, type PeekwallError } from '../util/errors.js';
import { EXIT_OK, EXIT_USAGE, parseCommandArgs, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall run --config FILE [--listen [HOST:]PORT] [--workers N] [--check]
       peekwall run --policy FILE --listen [HOST:]PORT --upstream HOST:PORT [--events DEST]
                    [--events-format jsonl|ftd-syslog] [--workers N] [--check]
                    [--capture FILE.pcapng [--capture-max-mb N]]

Run the inline proxy: listeners peek at each ClientHello, derive the server identity (SNI or
TSID probe), apply the policy, then splice or reset. Connection events go to stdout, a file
or a syslog collector, as JSON lines (render them with \`peekwall events\`) or as FTD's own
syslog messages %FTD-1-430002/430003 (for a SIEM's FTD parser).

The config (YAML; see policies/proxy.example.yaml):
  policy: FILE            the access-control policy (reloaded on SIGHUP and on change)
  listeners: [...]        mode transparent | sni-route | explicit, host, port, ...
  events: stdout | FILE | udp://HOST:PORT | tcp://HOST:PORT
  eventsFormat: jsonl | ftd-syslog   syslogStyle: 7 | 6   syslogRfc: 5424 | 3164   syslogHost: NAME
  admin: {host, port, token?}   workers: N   drainMs: MS
  limits: {maxConnections, maxHeldBytes}   trust: CA-BUNDLE   watch: true|false
  capture: FILE.pcapng   captureMaxMb: N

Options:
  --config FILE   the run config
  --listen [HOST:]PORT
                  with --config: move its one listener there; without: one transparent
                  listener there (HOST defaults to 0.0.0.0, every interface, as nginx's
                  'listen 443'; IPv6 as [::]:443). Ports below 1024 need CAP_NET_BIND_SERVICE.
  --policy FILE   without --config: the policy (needs --listen and --upstream)
  --upstream HOST:PORT
                  without --config: where the transparent listener forwards (the real
                  server, e.g. 72.163.4.38:443 for tools.cisco.com)
  --events DEST   without --config: stdout (default), FILE, udp://HOST:PORT or tcp://HOST:PORT
  --events-format jsonl|ftd-syslog
                  without --config: JSON lines (default) or FTD syslog (430002/430003)
  --syslog-style 7|6      ftd-syslog: the 7.x message (default) or the pre-7 one
  --syslog-rfc 5424|3164  ftd-syslog: the syslog header (default 5424); TCP is octet-counted
  --workers N     processes (overrides the config's workers)
  --capture FILE.pcapng
                  record the inspected connections (to the end of the server's first
                  flight, a comment with the verdict on each) and the TSID probes, written
                  when the proxy stops; Wireshark opens it, peekwall replay reads it
  --capture-max-mb N
                  the capture's bound (default 64): past it the oldest flows go
  --check         validate the config and the policy, then exit
Signals: SIGHUP reloads the policy and reopens the events file (after logrotate's mv);
SIGUSR1 reopens the events file only; SIGTERM/SIGINT drain and stop.
Exit: 0 stopped cleanly, 2 bad config or policy.`;

function printErrors(io: CliIo, errors: readonly PeekwallError[]): void {
  for (const e of errors) io.stderr.write(`peekwall: ${formatError(e)}\n`);
}

const run: Subcommand = {
  name: 'run',
  summary: 'run the inline proxy from a config file (reload on SIGHUP, drain on SIGTERM)',
  usage,
  async run(argv, io) {
    const parsed = parseCommandArgs(
      { usage },
      argv,
      {
        config: { type: 'string' },
        workers: { type: 'string' },
        check: { type: 'boolean' },
        listen: { type: 'string' },
        policy: { type: 'string' },
        upstream: { type: 'string' },
        events: { type: 'string' },
        'events-format': { type: 'string' },
        'syslog-style': { type: 'string' },
        'syslog-rfc': { type: 'string' },
        capture: { type: 'string' },
        'capture-max-mb': { type: 'string' },
      },
      io,
      false,
    );
    if (!parsed) return EXIT_OK;
    const { values } = parsed;
    const cfgR = await configFromArgs(values, io);
    if (!cfgR.ok) {
      printErrors(io, cfgR.error);
      return EXIT_USAGE;
    }
    const { cfgPath } = cfgR.value;
    const capR = withCapture(cfgR.value.cfg, values, io);
    if ('code' in capR) {
      printErrors(io, [capR]);
      return EXIT_USAGE;
    }
    const cfg = capR;
    let workers = cfg.workers;
    if (values.workers !== undefined) {
      workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        throw new PeekwallFailure(peekwallError('cli/usage', `--workers must be an integer 1..256, got ${values.workers}`));
      }
    }
    if (cfg.capture !== null && workers > 1) {
      printErrors(io, [usageError('a capture is recorded by one process: run it with workers: 1')]);
      return EXIT_USAGE;
    }
    const pol = await loadPolicyFile(cfg.policy);
    if (!pol.ok) {
      printErrors(io, pol.error);
      return EXIT_USAGE;
    }
    if (values.check) {
      io.stdout.write(`config ${values.config === undefined ? '(command line)' : cfgPath}: ok (${cfg.listeners.length} listener(s)); policy ${pol.value.name}: ok (${pol.value.rules.length} rules)\n`);
      return EXIT_OK;
    }
    // Read before any worker is forked: a worker that cannot read it is met by no restart rule
    // and would sit there serving nothing.
    let trust;
    if (cfg.trust !== null) {
      const t = await loadTrustStore(cfg.trust);
      if (!t.ok) {
        printErrors(io, [t.error]);
        return EXIT_USAGE;
      }
      trust = t.value;
    }
    const end = await runProxyService({
      config: cfg,
      policy: pol.value,
      ...(trust ? { trust } : {}),
      workers,
      notify: (n, worker) => printNotice(io, n, worker),
    });
    return end === 'stopped' ? EXIT_OK : EXIT_USAGE;
  },
};

const usageError = (m: string): PeekwallError => peekwallError('cli/usage', m);

/** --capture and --capture-max-mb over the config's capture/captureMaxMb. */
function withCapture(cfg: RunConfig, v: Record<string, string | boolean | undefined>, io: CliIo): RunConfig | PeekwallError {
  const file = typeof v.capture === 'string' ? resolve(io.cwd, v.capture) : cfg.capture?.file;
  const mbText = v['capture-max-mb'];
  let maxBytes = cfg.capture?.maxBytes ?? 64 * 1024 * 1024;
  if (typeof mbText === 'string') {
    const mb = Number(mbText);
    if (!Number.isInteger(mb) || mb < 1 || mb > 4096) return usageError(`--capture-max-mb must be an integer 1..4096, not '${mbText}'`);
    if (file === undefined) return usageError('--capture-max-mb bounds a capture: give --capture FILE.pcapng too');
    maxBytes = mb * 1024 * 1024;
  }
  return file === undefined ? cfg : { ...cfg, capture: { file, maxBytes } };
}

/** `[HOST:]PORT`, `[v6]:PORT`: host (or the default) and a port 0..65535, or why not. */
export function parseHostPort(text: string, defaultHost: string | null, flag: string, minPort = 0): { host: string; port: number } | string {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text) ?? /^()(\d+)$/.exec(text);
  if (!m) return `${flag} takes ${defaultHost === null ? 'HOST:PORT' : '[HOST:]PORT'} (IPv6 as [::1]:443), not '${text}'`;
  const host = m[1] === '' ? defaultHost : m[1];
  if (host === null) return `${flag} needs a host: HOST:PORT, not '${text}'`;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < minPort || port > 65535) return `${flag}: port ${m[2]} is not ${minPort}..65535`;
  return { host, port };
}

/**
 * The run config from --config (a file, optionally with its one listener moved by --listen)
 * or from flags alone (--policy, --listen, --upstream: one transparent listener). Flags are
 * turned into the same YAML a person would write, so one parser validates both.
 */
async function configFromArgs(
  v: Record<string, string | boolean | undefined>,
  io: CliIo,
): Promise<{ ok: true; value: { cfg: RunConfig; cfgPath: string } } | { ok: false; error: PeekwallError[] }> {
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const listen = str('listen');
  let at: { host: string; port: number } | null = null;
  if (listen !== undefined) {
    const l = parseHostPort(listen, '0.0.0.0', '--listen');
    if (typeof l === 'string') return { ok: false, error: [usageError(l)] };
    at = l;
  }
  const config = str('config');
  if (config !== undefined) {
    for (const k of ['policy', 'upstream', 'events', 'events-format', 'syslog-style', 'syslog-rfc']) {
      if (str(k) !== undefined) return { ok: false, error: [usageError(`--${k} is for running without --config; with a config, set it in the file`)] };
    }
    const cfgPath = resolve(io.cwd, config);
    const r = await loadRunConfig(cfgPath);
    if (!r.ok) return r;
    let cfg = r.value;
    if (at) {
      if (cfg.listeners.length !== 1) {
        return { ok: false, error: [usageError(`--listen moves a config's one listener; ${config} has ${cfg.listeners.length}: change them in the file`)] };
      }
      cfg = { ...cfg, listeners: [{ ...cfg.listeners[0], host: at.host, port: at.port }] };
    }
    return { ok: true, value: { cfg, cfgPath } };
  }
  const policy = str('policy');
  const upstream = str('upstream');
  if (policy === undefined && at === null && upstream === undefined) {
    return { ok: false, error: [usageError('give --config FILE, or --policy FILE --listen [HOST:]PORT --upstream HOST:PORT (see peekwall run --help)')] };
  }
  if (policy === undefined) return { ok: false, error: [usageError('without --config, --policy FILE is required')] };
  if (at === null) return { ok: false, error: [usageError('without --config, --listen [HOST:]PORT is required')] };
  if (upstream === undefined) return { ok: false, error: [usageError('without --config, --upstream HOST:PORT is required (the server a transparent listener forwards to)')] };
  const up = parseHostPort(upstream, null, '--upstream', 1);
  if (typeof up === 'string') return { ok: false, error: [usageError(up)] };
  const q = JSON.stringify; // JSON strings are YAML flow scalars: no flag can inject YAML
  const yaml = [
    `policy: ${q(policy)}`,
    `events: ${q(str('events') ?? 'stdout')}`,
    // Values pass through as YAML scalars so the schema words a wrong one as for a config file.
    ...(str('events-format') !== undefined ? [`eventsFormat: ${q(str('events-format'))}`] : []),
    ...(str('syslog-style') !== undefined ? [`syslogStyle: ${/^\d+$/.test(str('syslog-style')!) ? str('syslog-style') : q(str('syslog-style'))}`] : []),
    ...(str('syslog-rfc') !== undefined ? [`syslogRfc: ${/^\d+$/.test(str('syslog-rfc')!) ? str('syslog-rfc') : q(str('syslog-rfc'))}`] : []),
    'listeners:',
    `  - { mode: transparent, host: ${q(at.host)}, port: ${at.port}, upstream: { host: ${q(up.host)}, port: ${up.port} } }`,
    '',
  ].join('\n');
  // Relative paths resolve against the working directory, as a config file's against its folder.
  const cfgPath = resolve(io.cwd, '(command line)');
  const r = parseRunConfig(yaml, cfgPath);
  return r.ok ? { ok: true, value: { cfg: r.value, cfgPath } } : r;
}

/** The service's notices as the lines an operator reads (a worker's prefixed with its pid). */
function noticeLines(n: ServiceNotice): string[] {
  switch (n.kind) {
    case 'listening':
      return [`${n.mode} listener on ${n.host}:${n.port}`];
    case 'admin':
      return [`admin on http://${n.host}:${n.port}/metrics${n.summed ? ' (summed over workers)' : ''}`];
    case 'workers':
      return [`${n.count} workers for ${n.listeners} listener(s)`];
    case 'worker-exited':
      return [`worker ${n.pid} exited (${n.how})`];
    case 'worker-start-failed':
      return ['a worker could not start (see above): stopping'];
    case 'start-failed':
      return n.errors.map(formatError);
    case 'reloaded':
      return [`policy reloaded (${n.why}): ${n.name}, ${n.rules} rules`];
    case 'reload-refused':
      return [`policy reload (${n.why}) refused; the previous policy stays in force:`];
    case 'reload-failed':
      return [`policy reload (${n.why}) failed: ${n.message}; the previous policy stays in force`];
    case 'watch-failed':
      return [`cannot watch ${n.path} (${n.message}); reload with SIGHUP`];
    case 'event-log-error':
      return [formatError(n.error)];
    case 'event-log-notice':
      return [n.message];
    case 'stopping':
      return [`stopping: draining for up to ${n.drainMs} ms`];
    case 'stopped':
      return [`stopped after ${n.connections} connections`];
    case 'capture-written':
      return [`capture: ${n.flows} flow(s) written to ${n.file}${n.dropped > 0 ? ` (${n.dropped} older flow(s) left out by the size bound)` : ''}`];
    case 'capture-failed':
      return [`capture: ${formatError(n.error)}`];
  }
}

function printNotice(io: CliIo, n: ServiceNotice, worker: number | null): void {
  const who = worker === null ? '' : `worker ${worker}: `;
  for (const line of noticeLines(n)) io.stderr.write(`peekwall: ${who}${line}\n`);
  // A refused reload's errors follow its line, each as file:line:column: message [code].
  if (n.kind === 'reload-refused') printErrors(io, n.errors);
}

export default run;
