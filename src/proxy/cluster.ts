// The cluster primary of `run --workers N`: it forks N workers that share the listening
// sockets (node:cluster), relays SIGHUP/SIGUSR1/SIGTERM to them as messages, restarts a worker
// that died (bounded), stops when a worker could not start, and serves the admin port for all
// of them: /metrics summed with prom-client's AggregatorRegistry, POST /tsid/cache/clear relayed
// to every worker. The primary itself proxies nothing.
import cluster, { type Worker } from 'node:cluster';
import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { PeekwallFailure } from '../util/errors.js';
import { createAdminServer, type TsidClearAnswer } from './admin.js';
import type { RunConfig } from './config.js';
import { listen } from './proxy.js';
import type { ServiceEnd, ServiceNotice, ServiceOptions } from './service.js';

/** A worker's message to the primary: it met bad input at start; a restart would fail the same way. */
export const WORKER_START_FAILED = 'start-failed';

const CLEAR_REQUEST = 'peekwall:tsid-cache-clear';
const CLEAR_ANSWER = 'peekwall:tsid-cache-cleared';

/** How long the primary waits for the workers' answers to POST /tsid/cache/clear. */
export const TSID_CLEAR_WAIT_MS = 2000;

/** In a worker: answers the primary's clear request. Other messages are not this one's: ignored. */
export function answerTsidClear(m: unknown, clear: () => number): void {
  if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== CLEAR_REQUEST) return;
  process.send?.({ type: CLEAR_ANSWER, id: (m as { id?: unknown }).id, cleared: clear() });
}

/** In a worker: answer the primary's metric requests with this worker's registry. */
export function serveAggregatedMetrics(registry: Registry): void {
  // prom-client's cluster protocol over the IPC channel. It installs the worker's IPC listener
  // in the AggregatorRegistry constructor (lib/cluster.js addListeners), not in setRegistries:
  // without one the primary's scrape waits for its timeout.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
}

/** What the relay needs of a worker (node:cluster's Worker is one). */
export interface ClearTarget {
  readonly id: number;
  send(message: object, handle: undefined, callback: (e: Error | null) => void): unknown;
}

/**
 * The primary's half of POST /tsid/cache/clear: asks every given worker to clear its TSID cache
 * and sums the `cleared` counts they answer. `hub` is where the workers' messages and exits are
 * heard (node:cluster). A worker that has not answered within waitMs (busy, exiting) is left
 * out of the sum, and the answer says so: `answered` < `workers`.
 */
export function tsidClearRelay(hub: EventEmitter, waitMs = TSID_CLEAR_WAIT_MS): (workers: readonly ClearTarget[]) => Promise<TsidClearAnswer> {
  let nextId = 0;
  return (workers) => {
    const id = ++nextId;
    const waiting = new Set(workers.map((w) => w.id));
    let cleared = 0;
    let answered = 0;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        hub.off('message', onMessage);
        hub.off('exit', onGone);
        resolve({ cleared, workers: workers.length, answered });
      };
      const onMessage = (w: { id: number }, m: unknown) => {
        const a = m as { type?: unknown; id?: unknown; cleared?: unknown } | null;
        if (a?.type !== CLEAR_ANSWER || a.id !== id || typeof a.cleared !== 'number' || !waiting.delete(w.id)) return;
        cleared += a.cleared;
        answered++;
        if (waiting.size === 0) finish();
      };
      const onGone = (w: { id: number }) => {
        if (waiting.delete(w.id) && waiting.size === 0) finish();
      };
      hub.on('message', onMessage);
      hub.on('exit', onGone);
      timer = setTimeout(finish, waitMs);
      // The callback takes a closed channel's error (a worker exiting just now), which would
      // otherwise be emitted as an 'error' nobody listens for.
      for (const w of workers) w.send({ type: CLEAR_REQUEST, id }, undefined, (e) => e && onGone(w));
      if (waiting.size === 0) finish();
    });
  };
}

const connectedWorkers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());

/** The primary's admin port: every worker's metrics summed, the TSID clear relayed to each. */
async function primaryAdmin(admin: NonNullable<RunConfig['admin']>): Promise<Server> {
  const agg = new AggregatorRegistry();
  const clear = tsidClearRelay(cluster);
  const server = createAdminServer({
    metrics: () => agg.clusterMetrics(),
    contentType: agg.contentType,
    health: () => ({ workers: Object.keys(cluster.workers ?? {}).length }),
    clearTsidCache: () => clear(connectedWorkers()),
    ...(admin.token ? { token: admin.token } : {}),
  });
  await listen(server, admin.host, admin.port, () => undefined);
  return server;
}

/** The cluster primary: fork, relay signals, restart crashed workers (bounded), drain them all. */
export async function superviseWorkers(o: ServiceOptions): Promise<ServiceEnd> {
  const cfg = o.config;
  const n = o.workers;
  const notify = (m: ServiceNotice): void => o.notify(m, null);
  let stopping = false;
  let restarts = 0;
  let end: ServiceEnd = 'stopped';
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  // Handlers first, as in serveProxy: a SIGHUP before them would end the primary.
  const each = (msg: string) => {
    for (const w of connectedWorkers()) w.send(msg);
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
      if (m === WORKER_START_FAILED) startFailed = true;
    });
    w.on('exit', (exitCode, signal) => {
      if (stopping) return;
      notify({ kind: 'worker-exited', pid: w.process.pid, how: signal ?? exitCode });
      if (startFailed) {
        notify({ kind: 'worker-start-failed' });
        end = 'start-failed';
        return stop();
      }
      if (restarts++ < 10 * n) fork();
    });
  };
  // The admin port belongs to the primary: one /metrics with every worker's counters summed
  // (were it each worker's, a scrape would see whichever worker accepted it).
  let admin: Server | null = null;
  if (cfg.admin) {
    try {
      admin = await primaryAdmin(cfg.admin);
    } catch (e) {
      detach();
      if (!(e instanceof PeekwallFailure)) throw e;
      notify({ kind: 'start-failed', errors: e.errors });
      return 'start-failed';
    }
    const a = admin.address() as AddressInfo;
    notify({ kind: 'admin', host: a.address, port: a.port, summed: true });
  }
  for (let i = 0; i < n; i++) fork();
  notify({ kind: 'workers', count: n, listeners: cfg.listeners.length });
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
    const a = admin;
    const closed = new Promise<void>((r) => a.close(() => r()));
    a.closeAllConnections(); // a scraper's keep-alive connection must not hold the exit
    await closed;
  }
  return end;
}
