// Defaults of every policy setting, written once. A policy file only states what it changes.
import type { PolicySettings } from './types.js';

export const DEFAULT_SETTINGS: PolicySettings = Object.freeze({
  // TSID is an access-control-policy setting in FMC; the field case has it on. The default
  // profile reproduces the field case (`toos.cisco.com` from the seed certificate).
  tsid: Object.freeze({ enabled: true, profile: 'snort3-legacy' as const }),
  urlMatching: 'current' as const,
  failMode: 'closed' as const,
  timeouts: Object.freeze({ peekMs: 10_000, probeMs: 5_000, connectMs: 5_000, idleMs: 300_000 }),
  // nginx ssl_preread and Envoy tls_inspector stop at 16 KiB; a post-quantum ClientHello is
  // ~1.8 KB, so 16 KiB leaves ample room while bounding memory per pending connection.
  maxHelloBytes: 16_384,
  tsidCache: Object.freeze({ maxEntries: 10_000, ttlMs: 3_600_000 }),
  // What a firewall does. An SSLv2-format hello offering TLS is an ordinary request from an old
  // client, a TLS hello without SNI: go on, the identity comes from TSID or the address. A
  // server_name that is no DNS name is refused: the server may still route on those bytes
  // while the firewall, seeing no usable name, judged another identity.
  oddHellos: Object.freeze({ sslv2Compat: 'allow' as const, oddSni: 'refuse' as const }),
  // Noticing costs one read of the server's first flight beside the splice; re-deciding holds
  // that flight back, so it is asked for.
  tsidSessionCheck: 'log' as const,
});

/** Bounds on settings values (the schema rejects anything outside). */
export const SETTING_BOUNDS = Object.freeze({
  timeoutMs: [1, 3_600_000] as const,
  maxHelloBytes: [512, 1_048_576] as const,
  tsidCacheEntries: [0, 10_000_000] as const,
  tsidCacheTtlMs: [0, 604_800_000] as const,
});

/** Largest feed / URL database file read (a 1,000,000-domain feed is ~20 MB). */
export const MAX_FEED_BYTES = 256 * 1024 * 1024;
