// Public contract of the proxy shell. Consumers (lab, bench, cli)
// import from src/proxy/index.ts only.
import type { ConnectionEvent, EventLog } from '../events/index.js';
import type { Policy } from '../policy/index.js';
import type { TrustStore } from '../identity/index.js';
import type { Registry } from 'prom-client';
import type { CaptureFile } from './capture.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

interface ListenerCommon {
  readonly host: string;
  readonly port: number;
  /**
   * The destination port policy and events see (default: the port the client actually
   * reached — the listener's port for transparent, the upstream port otherwise). The lab
   * listens on ephemeral ports but wants rules written for 443 to match.
   */
  readonly flowPort?: number;
}

export type ListenerConfig =
  | (ListenerCommon & {
      readonly mode: 'transparent';
      /** A fixed upstream, or one per local address the client connected to (lab IP aliases). */
      readonly upstream: HostPort | { readonly byLocalAddress: Readonly<Record<string, HostPort>> };
    })
  | (ListenerCommon & {
      readonly mode: 'sni-route';
      /** Exact names, or `*.example.com` (one label). Hosts that are not IPs go through resolve(). */
      readonly routes: Readonly<Record<string, HostPort>>;
      /** For clients without SNI (or an SNI with no route). */
      readonly fallback?: HostPort;
    })
  | (ListenerCommon & { readonly mode: 'explicit' });

/** Lab: real loopback addresses <-> seed addresses. Identity for unmapped addresses. */
export interface AddressMap {
  toSeed(ip: string): string;
}

export interface ProxyLimits {
  /** Concurrent client connections per proxy; beyond it new ones are reset (default 10000). */
  readonly maxConnections?: number;
  /** Bytes held (hellos, server first flights) across all connections (default 64 MiB). */
  readonly maxHeldBytes?: number;
  /** Interactive Block "continue" bypasses remembered per (client, host) (default 10000). */
  readonly maxBypasses?: number;
}

export interface ProxyOptions {
  policy: Policy;
  listeners: ListenerConfig[];
  /** Every event, in process (the lab and tests use it). */
  onEvent?: (e: ConnectionEvent) => void;
  /** JSON lines via pino. */
  eventLog?: EventLog;
  addressMap?: AddressMap;
  admin?: { host: string; port: number; token?: string };
  /** sni-route / CONNECT name resolution (injectable; default dns.lookup). */
  resolve?: (host: string) => Promise<string>;
  /** For certificate status in events. */
  trust?: TrustStore;
  limits?: ProxyLimits;
  /** Record inspected connections and TSID probes (--capture); the caller writes the file. */
  capture?: CaptureFile;
}

export interface RunningProxy {
  readonly listeners: readonly { mode: string; host: string; port: number }[];
  /** The admin listener's bound address when `admin` was given. */
  readonly admin: { host: string; port: number } | null;
  /** This proxy's Prometheus registry (for a cluster primary to aggregate over workers). */
  readonly metricsRegistry: Registry;
  /**
   * New connections get the new policy; in-flight ones keep theirs. A change of TSID settings
   * (enabled, profile, cache size or TTL) clears the TSID cache.
   */
  reload(policy: Policy): void;
  /** A reload the caller refused (the new policy was invalid; the old one stays), for /metrics. */
  reloadRefused(): void;
  /** Forget every cached TSID identity (the admin's POST /tsid/cache/clear); returns how many. */
  clearTsidCache(): number;
  /** The policy new connections get. */
  readonly policy: () => Policy;
  /**
   * Stop accepting. With drainMs, let in-flight connections finish for up to that long;
   * then destroy what is left. Resolves when every socket is closed.
   */
  close(o?: { drainMs?: number }): Promise<void>;
  readonly stats: () => Record<string, number>;
}
