// `peekwall run --config FILE`: the proxy as a long-running service. SIGHUP or a change of the
// policy file reloads the policy atomically (an invalid file is refused with its errors and
// the old policy stays); SIGTERM/SIGINT stop accepting and drain within drainMs; --workers N
// runs N processes with node:cluster (the primary only supervises and relays signals).
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createEventLog } from '../events/index.js';
import type { Policy } from '../policy/index.js';
import { loadPolicyInWorker, loadRunConfig, parseRunConfig, startProxy, type RunConfig } from '../proxy/index.js';
import { listen } from '../proxy/proxy.js';
import { loadPolicyFile, loadTrustStore } from '../sources/index.js';
import { formatError, PeekwallFailure, peekwallError, type PeekwallError } from '../util/errors.js';
import { EXIT_OK, EXIT_USAGE, parseCommandArgs, type CliIo, type Subcommand } from './command.js';

const usage = `Usage: peekwall run --config FILE [--listen [HOST:]PORT] [--workers N] [--check]
       peekwall run --policy FILE --listen [HOST:]PORT --upstream HOST:PORT [--events FILE]
                    [--workers N] [--check]

Run the inline proxy: listeners peek at each ClientHello, derive the server identity (SNI or
TSID probe), apply the policy, then splice or reset. Connection events go to stdout or the
config's events file as JSON lines (render them with \`peekwall events\`).

The config (YAML; see policies/proxy.example.yaml):
  policy: FILE            the access-control policy (reloaded on SIGHUP and on change)
  listeners: [...]        mode transparent | sni-route | explicit, host, port, ...
  events: stdout | FILE   admin: {host, port, token?}   workers: N   drainMs: MS
  limits: {maxConnections, maxHeldBytes}   trust: CA-BUNDLE   watch: true|false

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
  --events FILE   without --config: events file (default stdout)
  --workers N     processes (overrides the config's workers)
  --check         validate the config and the policy, then exit
Signals: SIGHUP reloads the policy and reopens the events file (after logrotate's mv);
SIGUSR1 reopens the events file only; SIGTERM/SIGINT drain and stop.
Exit: 0 stopped cleanly, 2 bad config or policy.`;

function printErrors(io: CliIo, errors: readonly PeekwallError[]): void {
  for (const e of errors) io.stderr.write(`peekwall: ${formatError(e)}\n`);
}

async function loadPolicy(path: string): Promise<{ ok: true; value: Policy } | { ok: false; error: PeekwallError[] }> {
  const r = await loadPolicyFile(path);
  return r.ok ? { ok: true, value: r.value } : { ok: false, error: [...r.error] };
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
    const { cfg, cfgPath } = cfgR.value;
    let workers = cfg.workers;
    if (values.workers !== undefined) {
      workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        throw new PeekwallFailure(peekwallError('cli/usage', `--workers must be an integer 1..256, got ${values.workers}`));
      }
    }
    const pol = await loadPolicy(cfg.policy);
    if (!pol.ok) {
      printErrors(io, pol.error);
      return EXIT_USAGE;
    }
    if (values.check) {
      io.stdout.write(`config ${values.config === undefined ? '(command line)' : cfgPath}: ok (${cfg.listeners.length} listener(s)); policy ${pol.value.name}: ok (${pol.value.rules.length} rules)\n`);
      return EXIT_OK;
    }
    if (workers > 1 && cluster.isPrimary) return supervise(cfg, workers, io);
    return serve(cfg, pol.value, io);
  },
};

const usageError = (m: string): PeekwallError => peekwallError('cli/usage', m);

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
    for (const k of ['policy', 'upstream', 'events']) {
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
    'listeners:',
    `  - { mode: transparent, host: ${q(at.host)}, port: ${at.port}, upstream: { host: ${q(up.host)}, port: ${up.port} } }`,
    '',
  ].join('\n');
  // Relative paths resolve against the working directory, as a config file's against its folder.
  const cfgPath = resolve(io.cwd, '(command line)');
  const r = parseRunConfig(yaml, cfgPath);
  return r.ok ? { ok: true, value: { cfg: r.value, cfgPath } } : r;
}

/** One proxy in this process until SIGTERM/SIGINT (or a 'drain' message from the primary). */
async function serve(cfg: RunConfig, initial: Policy, io: CliIo): Promise<number> {
  // Signals are ours from the first moment: a SIGHUP that arrived between "listener on ..."
  // and a handler used to take its default action and end the process (a deploy script's
  // reload right after start), and a 'drain' sent to a worker that early was lost. Until the
  // proxy is up they are remembered, then acted on.
  // SIGUSR1 too: without a listener Node answers it by opening its debugger on port 9229.
  const early = { reload: false, stop: false, reopen: false };
  let onReload = (): void => void (early.reload = true);
  let onStop = (): void => void (early.stop = true);
  let onReopen = (): void => void (early.reopen = true);
  const hup = (): void => onReload();
  const term = (): void => onStop();
  const usr1 = (): void => onReopen();
  const message = (m: unknown): void => {
    if (m === 'reload') onReload();
    else if (m === 'drain') onStop();
    else if (m === 'reopen') onReopen();
  };
  process.on('SIGHUP', hup);
  process.on('SIGUSR1', usr1);
  process.on('SIGTERM', term);
  process.on('SIGINT', term);
  if (cluster.isWorker) process.on('message', message);
  const detach = (): void => {
    process.removeListener('SIGHUP', hup);
    process.removeListener('SIGUSR1', usr1);
    process.removeListener('SIGTERM', term);
    process.removeListener('SIGINT', term);
    process.removeListener('message', message);
  };
  try {
    return await serveWith(cfg, initial, io, {
      // Called once the proxy is up: from then on signals act directly.
      ready(reload: () => void, stop: () => void, reopen: () => void) {
        onReload = reload;
        onStop = stop;
        onReopen = reopen;
        if (early.stop) stop();
        else if (early.reload) reload();
        else if (early.reopen) reopen();
      },
      // Draining: a second SIGTERM/SIGINT takes its default action (stop now), as it did.
      draining: detach,
    });
  } finally {
    detach();
  }
}

async function serveWith(
  cfg: RunConfig,
  initial: Policy,
  io: CliIo,
  signals: { ready(reload: () => void, stop: () => void, reopen: () => void): void; draining(): void },
): Promise<number> {
  let trust;
  if (cfg.trust !== null) {
    const t = await loadTrustStore(cfg.trust);
    if (!t.ok) {
      printErrors(io, [t.error]);
      return EXIT_USAGE;
    }
    trust = t.value;
  }
  const who = cluster.isWorker ? `worker ${process.pid}: ` : '';
  const eventLog = createEventLog({
    destination: cfg.events,
    onError: (e) => io.stderr.write(`peekwall: ${who}${formatError(e)}\n`),
    onNotice: (m) => io.stderr.write(`peekwall: ${who}${m}\n`),
  });
  let proxy;
  try {
    proxy = await startProxy({
      policy: initial,
      listeners: cfg.listeners,
      eventLog,
      // With workers the primary serves the admin port (metrics summed over workers).
      ...(cfg.admin && !cluster.isWorker ? { admin: cfg.admin } : {}),
      ...(trust ? { trust } : {}),
      limits: cfg.limits,
    });
  } catch (e) {
    // A port in use, a privileged port, an address not on this machine: bad input, exit 2.
    await eventLog.close();
    if (!(e instanceof PeekwallFailure)) throw e;
    for (const err of e.errors) io.stderr.write(`peekwall: ${who}${formatError(err)}\n`);
    if (cluster.isWorker) {
      // A cluster worker exits 0 on disconnect whatever it returns: say it in a message.
      await new Promise<void>((r) => (process.send ? process.send('start-failed', () => r()) : r()));
      process.disconnect?.();
    }
    return EXIT_USAGE;
  }
  if (cluster.isWorker && cfg.admin) {
    // Answer the primary's metric requests with this worker's registry (prom-client's
    // cluster protocol over the IPC channel).
    const { AggregatorRegistry } = await import('prom-client');
    AggregatorRegistry.setRegistries([proxy.metricsRegistry]);
    // prom-client installs the worker's IPC listener in the AggregatorRegistry constructor
    // (lib/cluster.js addListeners), not in setRegistries: without one the primary's scrape
    // waits for its timeout.
    new AggregatorRegistry();
  }
  for (const l of proxy.listeners) io.stderr.write(`peekwall: ${who}${l.mode} listener on ${l.host}:${l.port}\n`);
  if (proxy.admin) io.stderr.write(`peekwall: ${who}admin on http://${proxy.admin.host}:${proxy.admin.port}/metrics\n`);

  // Reloads are serialised: a burst of file events or signals results in ordered loads.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      // Built in a worker thread: compiling a large feed on the event loop stopped every
      // connection for as long as it took (about a second per 1,000,000 entries).
      const r = await loadPolicyInWorker(cfg.policy);
      if (!r.ok) {
        proxy.reloadRefused();
        io.stderr.write(`peekwall: ${who}policy reload (${why}) refused; the previous policy stays in force:\n`);
        printErrors(io, r.error);
        return;
      }
      proxy.reload(r.value);
      io.stderr.write(`peekwall: ${who}policy reloaded (${why}): ${r.value.name}, ${r.value.rules.length} rules\n`);
    })
      // A bug in loading must neither end the process (unhandled rejection) nor poison the
      // chain: every later .then() on a rejected promise would skip its reload silently.
      .catch((e: unknown) => {
        proxy.reloadRefused();
        io.stderr.write(`peekwall: ${who}policy reload (${why}) failed: ${(e as Error)?.message ?? String(e)}; the previous policy stays in force\n`);
      });
  };

  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  if (cfg.watch) {
    // Watch the directory: editors replace files by rename, which ends a watch on the file.
    const name = basename(cfg.policy);
    try {
      watcher = watch(dirname(cfg.policy), (_ev, f) => {
        if (f !== null && f.toString() !== name) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => reload('file changed'), 150);
      });
      watcher.on('error', () => undefined);
    } catch (e) {
      io.stderr.write(`peekwall: cannot watch ${cfg.policy} (${(e as Error).message}); reload with SIGHUP\n`);
    }
  }

  await new Promise<void>((stopped) =>
    signals.ready(
      () => {
        eventLog.reopen('SIGHUP');
        reload('SIGHUP');
      },
      stopped,
      () => eventLog.reopen('SIGUSR1'),
    ),
  );
  // The events still waiting get the same deadline as the connections: a destination that
  // stalls (a stdout nobody reads) must not hold the process past it.
  eventLog.stopBy(Date.now() + cfg.drainMs);
  signals.draining();
  watcher?.close();
  if (debounce) clearTimeout(debounce);
  io.stderr.write(`peekwall: ${who}stopping: draining for up to ${cfg.drainMs} ms\n`);
  await proxy.close({ drainMs: cfg.drainMs });
  await eventLog.close();
  const s = proxy.stats();
  io.stderr.write(`peekwall: ${who}stopped after ${s.connections} connections\n`);
  if (cluster.isWorker) process.disconnect?.();
  return EXIT_OK;
}

/** The cluster primary: fork, relay SIGHUP/SIGTERM, restart crashed workers (bounded). */
async function supervise(cfg: RunConfig, n: number, io: CliIo): Promise<number> {
  let stopping = false;
  let restarts = 0;
  let code = EXIT_OK;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  // Handlers first, as in serve(): a SIGHUP before them would end the primary.
  const each = (msg: string) => {
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(msg);
  };
  const onHup = () => each('reload');
  const onUsr1 = () => each('reopen');
  process.on('SIGHUP', onHup);
  process.on('SIGUSR1', onUsr1);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const detach = () => {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGHUP', onHup);
    process.removeListener('SIGUSR1', onUsr1);
  };
  const fork = () => {
    const w = cluster.fork();
    let startFailed = false;
    w.on('message', (m: unknown) => {
      if (m === 'start-failed') startFailed = true;
    });
    w.on('exit', (exitCode, signal) => {
      if (stopping) return;
      io.stderr.write(`peekwall: worker ${w.process.pid} exited (${signal ?? exitCode})\n`);
      // A worker that could not start (the port, the address) met bad input: every restart
      // would fail the same way, so stop instead of looping.
      if (startFailed) {
        io.stderr.write('peekwall: a worker could not start (see above): stopping\n');
        code = EXIT_USAGE;
        return stop();
      }
      if (restarts++ < 10 * n) fork();
    });
  };
  // The admin port belongs to the primary: one /metrics with every worker's counters summed
  // (each worker bound its own, and a scrape saw whichever worker accepted it).
  let admin: Server | null = null;
  if (cfg.admin) {
    const { AggregatorRegistry } = await import('prom-client');
    const { createAdminServer } = await import('../proxy/admin.js');
    const agg = new AggregatorRegistry();
    admin = createAdminServer({
      metrics: () => agg.clusterMetrics(),
      contentType: agg.contentType,
      health: () => ({ workers: Object.keys(cluster.workers ?? {}).length }),
      ...(cfg.admin.token ? { token: cfg.admin.token } : {}),
    });
    try {
      await listen(admin, cfg.admin.host, cfg.admin.port, () => undefined);
    } catch (e) {
      detach();
      if (!(e instanceof PeekwallFailure)) throw e;
      printErrors(io, e.errors);
      return EXIT_USAGE;
    }
    const a = admin.address() as AddressInfo;
    io.stderr.write(`peekwall: admin on http://${a.address}:${a.port}/metrics (summed over workers)\n`);
  }
  for (let i = 0; i < n; i++) fork();
  io.stderr.write(`peekwall: ${n} workers for ${cfg.listeners.length} listener(s)\n`);
  await stopped;
  stopping = true;
  detach();
  each('drain');
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGKILL');
      r();
    }, cfg.drainMs + 2000);
    const check = () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        clearTimeout(t);
        r();
      }
    };
    cluster.on('exit', check);
    check();
  });
  if (admin) {
    const closed = new Promise<void>((r) => admin!.close(() => r()));
    admin.closeAllConnections(); // a scraper's keep-alive connection must not hold the exit
    await closed;
  }
  return code;
}

export default run;
