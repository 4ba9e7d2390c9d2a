// Prometheus metrics with a per-proxy Registry (never prom-client's global default registry:
// two proxies in one process — tests, the lab — must not share or collide). Updated once per
// connection when its event is emitted, never per chunk.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { readFileSync } from 'node:fs';
import type { ConnectionEvent } from '../events/index.js';
import { fromRoot } from '../util/paths.js';

/** What the connection-event sink did with the events given to it (an EventLog is one). */
export interface EventSinkStats {
  readonly written: number;
  readonly dropped: number;
  readonly queued: number;
}

/** Seconds: a loopback hello takes well under a millisecond, a TSID probe to a slow server seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface BuildInfo {
  readonly version: string;
}

/** peekwall's version from its package.json ('unknown' if it cannot be read: metrics must not fail). */
function packageVersion(): string {
  try {
    const v: unknown = JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly connections: Counter<'listener'>;
  private readonly verdicts: Counter<'action' | 'rule'>;
  private readonly identities: Counter<'source'>;
  private readonly failures: Counter<'reason'>;
  private readonly bytes: Counter<'direction'>;
  private readonly byAction: Counter<'action'>;
  private readonly helloSeconds: Histogram;
  private readonly verdictSeconds: Histogram;
  private readonly probeSeconds: Histogram;

  constructor(counters: () => Record<string, number>, sink?: EventSinkStats, build?: BuildInfo) {
    const registers = [this.registry];
    // The Node process (CPU, memory, event-loop lag, GC, handles) in this proxy's own registry,
    // from the first scrape on: prom-client's collectors (an event-loop delay monitor, a GC
    // observer) live as long as the process, so a proxy nobody scrapes (tests, the lab) gets none.
    let processMetrics = false;
    const withProcess = (): void => {
      if (processMetrics) return;
      processMetrics = true;
      collectDefaultMetrics({ register: this.registry });
    };
    const text = this.registry.metrics.bind(this.registry);
    const json = this.registry.getMetricsAsJSON.bind(this.registry);
    this.registry.metrics = () => (withProcess(), text());
    this.registry.getMetricsAsJSON = () => (withProcess(), json());
    new Gauge({
      name: 'peekwall_build_info',
      help: 'Always 1; the labels say which peekwall and which Node.js serve',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: build?.version ?? packageVersion(), node: process.version }, 1);
    this.byAction = new Counter({
      name: 'peekwall_connections_by_action_total',
      help: 'Connections by the action of their event (Allow, Block, Block with reset, Trust, Monitor, ...)',
      labelNames: ['action'],
      registers,
    });
    this.helloSeconds = new Histogram({
      name: 'peekwall_client_hello_seconds',
      help: 'From accept to the complete ClientHello (connections that sent one)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.verdictSeconds = new Histogram({
      name: 'peekwall_verdict_seconds',
      help: 'From accept to the verdict (after the TSID probe or the server certificate when those were needed)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.probeSeconds = new Histogram({
      name: 'peekwall_tsid_probe_seconds',
      help: 'Connections that waited for a TSID probe (certificate cache miss): from the complete ClientHello to the verdict, the probe as the connection waited for it',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.connections = new Counter({
      name: 'peekwall_connections_total',
      help: 'Connections accepted and finished (one per connection event), by listener mode',
      labelNames: ['listener'],
      registers,
    });
    new Gauge({
      name: 'peekwall_connections_active',
      help: 'Client connections currently open',
      registers,
      collect() {
        this.set(counters().active ?? 0);
      },
    });
    this.verdicts = new Counter({
      name: 'peekwall_verdicts_total',
      help: 'Connection events by action and access-control rule',
      labelNames: ['action', 'rule'],
      registers,
    });
    this.identities = new Counter({
      name: 'peekwall_identity_sources_total',
      help: 'Where the server name of each decided connection came from (sni, cert-cn, cert-san, cert-ou, passive-cn, ip)',
      labelNames: ['source'],
      registers,
    });
    new Counter({
      name: 'peekwall_tsid_cache_hits_total',
      help: 'TSID certificate cache hits',
      registers,
      collect() {
        this.reset();
        this.inc(counters().tsidCacheHits ?? 0);
      },
    });
    new Counter({
      name: 'peekwall_tsid_cache_misses_total',
      help: 'TSID certificate cache misses (a probe ran or was joined)',
      registers,
      collect() {
        this.reset();
        this.inc(counters().tsidCacheMisses ?? 0);
      },
    });
    this.failures = new Counter({
      name: 'peekwall_inspection_failures_total',
      help: 'Connections whose ClientHello/server flight could not be inspected, by reason code',
      labelNames: ['reason'],
      registers,
    });
    this.bytes = new Counter({
      name: 'peekwall_bytes_total',
      help: 'Bytes relayed, by direction (client_to_server, server_to_client)',
      labelNames: ['direction'],
      registers,
    });
    new Counter({
      name: 'peekwall_connections_refused_total',
      help: 'Connections refused by the concurrent-connection limit',
      registers,
      collect() {
        this.reset();
        this.inc(counters().refused ?? 0);
      },
    });
    new Counter({
      name: 'peekwall_policy_reloads_total',
      help: 'Policy reloads: ok (applied to new connections) or refused (the new policy was invalid; the previous one stayed)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        this.inc({ result: 'ok' }, counters().reloads ?? 0);
        this.inc({ result: 'refused' }, counters().reloadsRefused ?? 0);
      },
    });
    this.sinkMetrics(sink, registers);
  }

  /**
   * Read from the sink at scrape time, so the hot path pays nothing; zeros without a sink
   * (no events destination: nothing written, nothing lost).
   */
  private sinkMetrics(sink: EventSinkStats | undefined, registers: Registry[]): void {
    new Counter({
      name: 'peekwall_events_written_total',
      help: 'Connection events written to the events destination (file or stdout)',
      registers,
      collect() {
        this.reset();
        this.inc(sink?.written ?? 0);
      },
    });
    new Counter({
      name: 'peekwall_events_dropped_total',
      help: 'Connection events dropped: the destination failed or stalled past the buffer bound, or still waiting at shutdown',
      registers,
      collect() {
        this.reset();
        this.inc(sink?.dropped ?? 0);
      },
    });
    new Gauge({
      name: 'peekwall_events_queued',
      help: 'Connection events waiting to be written (bounded buffer)',
      registers,
      collect() {
        this.set(sink?.queued ?? 0);
      },
    });
  }

  observe(e: ConnectionEvent, listener: string, failed: boolean): void {
    this.connections.inc({ listener });
    this.verdicts.inc({ action: e.action, rule: e.accessControlRule });
    this.byAction.inc({ action: e.action });
    const hello = e.timings?.helloMs;
    const verdict = e.timings?.decisionMs;
    if (hello !== undefined) this.helloSeconds.observe(hello / 1000);
    if (verdict !== undefined) this.verdictSeconds.observe(verdict / 1000);
    if (e.tsid?.cache === 'miss' && hello !== undefined && verdict !== undefined) this.probeSeconds.observe(Math.max(0, verdict - hello) / 1000);
    if (e.identitySource) this.identities.inc({ source: e.identitySource });
    if (failed && e.closeReason) this.failures.inc({ reason: e.closeReason });
    if (e.bytesFromClient > 0) this.bytes.inc({ direction: 'client_to_server' }, e.bytesFromClient);
    if (e.bytesFromServer > 0) this.bytes.inc({ direction: 'server_to_client' }, e.bytesFromServer);
  }
}
