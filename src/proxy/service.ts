// The proxy as a long-running service, one process's life: start → ready → reload / reopen →
// drain → stop. The policy is reloaded atomically on SIGHUP and when its file changes (an
// invalid file is refused with its errors and the old policy stays); SIGUSR1 reopens the events
// file; SIGTERM/SIGINT stop accepting and drain within drainMs. As a cluster worker the same
// requests come from the primary over IPC (see cluster.ts). Nothing here prints: every
// happening is a ServiceNotice and the caller words it.
import cluster from 'node:cluster';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hostname } from 'node:os';
import { createEventLog, ftdSyslogFormatter } from '../events/index.js';
import type { TrustStore } from '../identity/index.js';
import type { Policy } from '../policy/index.js';
import { PeekwallFailure, type PeekwallError } from '../util/errors.js';
import { answerTsidClear, serveAggregatedMetrics, superviseWorkers, WORKER_START_FAILED } from './cluster.js';
import type { RunConfig } from './config.js';
import { loadPolicyInWorker } from './policy-loader.js';
import { startProxy } from './proxy.js';
import { CaptureFile } from './capture.js';

/** What the service has to say, as data: the caller (the CLI) turns each into a line. */
export type ServiceNotice =
  | { kind: 'listening'; mode: string; host: string; port: number }
  | { kind: 'admin'; host: string; port: number; summed: boolean }
  | { kind: 'workers'; count: number; listeners: number }
  | { kind: 'worker-exited'; pid: number | undefined; how: string | number | null }
  | { kind: 'worker-start-failed' }
  | { kind: 'start-failed'; errors: readonly PeekwallError[] }
  | { kind: 'reloaded'; why: string; name: string; rules: number }
  | { kind: 'reload-refused'; why: string; errors: readonly PeekwallError[] }
  | { kind: 'reload-failed'; why: string; message: string }
  | { kind: 'watch-failed'; path: string; message: string }
  | { kind: 'event-log-error'; error: PeekwallError }
  | { kind: 'event-log-notice'; message: string }
  | { kind: 'stopping'; drainMs: number }
  | { kind: 'stopped'; connections: number }
  | { kind: 'capture-written'; file: string; flows: number; dropped: number }
  | { kind: 'capture-failed'; error: PeekwallError };

export interface ServiceOptions {
  readonly config: RunConfig;
  /** The first policy, already loaded from config.policy (reloads read that file again). */
  readonly policy: Policy;
  readonly trust?: TrustStore;
  /** Processes: above 1 this process becomes the cluster primary and forks that many workers. */
  readonly workers: number;
  /** Every notice; `worker` is the pid of the cluster worker that says it, else null. */
  notify(n: ServiceNotice, worker: number | null): void;
}

/** 'start-failed': bad input met at start (a port in use, an address not here): exit 2. */
export type ServiceEnd = 'stopped' | 'start-failed';

/** Runs until stopped: N supervised workers, or one proxy in this process. */
export function runProxyService(o: ServiceOptions): Promise<ServiceEnd> {
  return o.workers > 1 && cluster.isPrimary ? superviseWorkers(o) : serveProxy(o);
}

interface LifeHandlers {
  reload(): void;
  stop(): void;
  reopen(): void;
  clearTsidCache(): number;
}

/**
 * Signals (and a worker's requests from the primary) are ours from the first moment: a SIGHUP
 * that arrives between "listener on ..." and a handler would take its default action and end
 * the process (a deploy script's reload right after start), and a 'drain' sent to a worker that
 * early would be lost. Until the proxy is up they are remembered, then acted on. SIGUSR1 too:
 * without a listener Node answers it by opening its debugger on port 9229.
 */
function takeSignals(): { ready(h: LifeHandlers): void; release(): void } {
  const early = { reload: false, stop: false, reopen: false };
  let h: LifeHandlers = {
    reload: () => void (early.reload = true),
    stop: () => void (early.stop = true),
    reopen: () => void (early.reopen = true),
    clearTsidCache: () => 0, // nothing is cached before the proxy is up
  };
  const hup = (): void => h.reload();
  const term = (): void => h.stop();
  const usr1 = (): void => h.reopen();
  const message = (m: unknown): void => {
    if (m === 'reload') h.reload();
    else if (m === 'drain') h.stop();
    else if (m === 'reopen') h.reopen();
    else answerTsidClear(m, () => h.clearTsidCache());
  };
  process.on('SIGHUP', hup);
  process.on('SIGUSR1', usr1);
  process.on('SIGTERM', term);
  process.on('SIGINT', term);
  if (cluster.isWorker) process.on('message', message);
  return {
    ready(handlers) {
      h = handlers;
      if (early.stop) h.stop();
      else if (early.reload) h.reload();
      else if (early.reopen) h.reopen();
    },
    release() {
      process.removeListener('SIGHUP', hup);
      process.removeListener('SIGUSR1', usr1);
      process.removeListener('SIGTERM', term);
      process.removeListener('SIGINT', term);
      process.removeListener('message', message);
    },
  };
}

/** One proxy in this process until SIGTERM/SIGINT (or a 'drain' message from the primary). */
async function serveProxy(o: ServiceOptions): Promise<ServiceEnd> {
  const signals = takeSignals();
  try {
    return await serveWith(o, signals);
  } finally {
    signals.release();
  }
}

async function serveWith(o: ServiceOptions, signals: ReturnType<typeof takeSignals>): Promise<ServiceEnd> {
  const cfg = o.config;
  const worker = cluster.isWorker ? process.pid : null;
  const notify = (n: ServiceNotice): void => o.notify(n, worker);
  // ACPolicy in FTD syslog names the policy in force, which a reload changes.
  let policyName = o.policy.name;
  const eventLog = createEventLog({
    destination: cfg.events,
    ...(cfg.eventsFormat === 'ftd-syslog'
      ? { format: ftdSyslogFormatter({ style: cfg.syslog.style, rfc: cfg.syslog.rfc, hostname: cfg.syslog.host ?? hostname(), acPolicy: () => policyName, instanceId: cluster.worker?.id ?? 1 }) }
      : {}),
    onError: (error) => notify({ kind: 'event-log-error', error }),
    onNotice: (message) => notify({ kind: 'event-log-notice', message }),
  });
  const capture = cfg.capture === null ? null : new CaptureFile(cfg.capture.file, cfg.capture.maxBytes);
  let proxy;
  try {
    proxy = await startProxy({
      ...(capture ? { capture } : {}),
      policy: o.policy,
      listeners: cfg.listeners,
      eventLog,
      // With workers the primary serves the admin port (metrics summed over workers).
      ...(cfg.admin && !cluster.isWorker ? { admin: cfg.admin } : {}),
      ...(o.trust ? { trust: o.trust } : {}),
      limits: cfg.limits,
    });
  } catch (e) {
    // A port in use, a privileged port, an address not on this machine: bad input.
    await eventLog.close();
    if (!(e instanceof PeekwallFailure)) throw e;
    notify({ kind: 'start-failed', errors: e.errors });
    if (cluster.isWorker) {
      // A cluster worker exits 0 on disconnect whatever it returns: say it in a message.
      await new Promise<void>((r) => (process.send ? process.send(WORKER_START_FAILED, () => r()) : r()));
      process.disconnect?.();
    }
    return 'start-failed';
  }
  if (cluster.isWorker && cfg.admin) serveAggregatedMetrics(proxy.metricsRegistry);
  for (const l of proxy.listeners) notify({ kind: 'listening', mode: l.mode, host: l.host, port: l.port });
  if (proxy.admin) notify({ kind: 'admin', host: proxy.admin.host, port: proxy.admin.port, summed: false });

  // Reloads are serialised: a burst of file events or signals results in ordered loads.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading
      .then(async () => {
        // Built in a worker thread: compiling a large feed on the event loop stopped every
        // connection for as long as it took (about a second per 1,000,000 entries).
        const r = await loadPolicyInWorker(cfg.policy);
        if (!r.ok) {
          proxy.reloadRefused();
          notify({ kind: 'reload-refused', why, errors: r.error });
          return;
        }
        proxy.reload(r.value);
        policyName = r.value.name;
        notify({ kind: 'reloaded', why, name: r.value.name, rules: r.value.rules.length });
      })
      // A bug in loading must neither end the process (unhandled rejection) nor poison the
      // chain: every later .then() on a rejected promise would skip its reload silently.
      .catch((e: unknown) => {
        proxy.reloadRefused();
        notify({ kind: 'reload-failed', why, message: (e as Error)?.message ?? String(e) });
      });
  };
  const watching = cfg.watch ? watchPolicyFile(cfg.policy, () => reload('file changed'), notify) : null;

  await new Promise<void>((stopped) =>
    signals.ready({
      reload: () => {
        eventLog.reopen('SIGHUP');
        reload('SIGHUP');
      },
      stop: stopped,
      reopen: () => eventLog.reopen('SIGUSR1'),
      clearTsidCache: () => proxy.clearTsidCache(),
    }),
  );
  // The events still waiting get the same deadline as the connections: a destination that
  // stalls (a stdout nobody reads) must not hold the process past it.
  eventLog.stopBy(Date.now() + cfg.drainMs);
  // Draining: a second SIGTERM/SIGINT takes its default action (stop now).
  signals.release();
  watching?.close();
  notify({ kind: 'stopping', drainMs: cfg.drainMs });
  await proxy.close({ drainMs: cfg.drainMs });
  await eventLog.close();
  if (capture) {
    try {
      const s = capture.flush();
      notify({ kind: 'capture-written', file: capture.path, flows: s.flows, dropped: s.dropped });
    } catch (e) {
      if (!(e instanceof PeekwallFailure)) throw e;
      notify({ kind: 'capture-failed', error: e.errors[0] });
    }
  }
  notify({ kind: 'stopped', connections: proxy.stats().connections });
  if (cluster.isWorker) process.disconnect?.();
  return 'stopped';
}

/**
 * Calls changed() 150 ms after the last change of the policy file. The directory is watched:
 * editors replace files by rename, which ends a watch on the file itself.
 */
function watchPolicyFile(path: string, changed: () => void, notify: (n: ServiceNotice) => void): { close(): void } | null {
  const name = basename(path);
  let debounce: NodeJS.Timeout | null = null;
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), (_ev, f) => {
      if (f !== null && f.toString() !== name) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(changed, 150);
    });
    watcher.on('error', () => undefined);
  } catch (e) {
    notify({ kind: 'watch-failed', path, message: (e as Error).message });
    return null;
  }
  return {
    close() {
      watcher.close();
      if (debounce) clearTimeout(debounce);
    },
  };
}
