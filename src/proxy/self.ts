// The proxy's own sockets as targets. An allow-all explicit listener asked for its own address
// forwards to itself, which accepts, forwards to itself again, … (one curl made 19,844 fds in
// 3.5 s); a CONNECT to the admin port hands /metrics to anyone who can reach the proxy. Every
// upstream, tunnel and TSID probe is checked here after name resolution, and refused when it
// would reach one of this proxy's listening sockets.
import { networkInterfaces } from 'node:os';
import { canonicalIp } from '../identity/index.js';

const V4_ANY = '0.0.0.0';
const V6_ANY = canonicalIp('::') as string;
const V6_LOOPBACK = canonicalIp('::1') as string;

interface Bound {
  readonly ip: string;
  readonly port: number;
  /** e.g. 'explicit listener 127.0.0.1:3128', 'admin listener 127.0.0.1:9100'. */
  readonly what: string;
}

export class SelfTargets {
  private readonly bound: Bound[] = [];
  private readonly ports = new Set<number>();
  private readonly local = new Set<string>();

  constructor() {
    // The machine's own addresses, read once: a wildcard listener answers on every one of them.
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        const ip = canonicalIp(a.address);
        if (ip !== null) this.local.add(ip);
      }
    }
  }

  /** A socket this proxy listens on (host as bound: an address, 0.0.0.0 or ::). */
  add(host: string, port: number, what: string): void {
    const ip = canonicalIp(host) ?? host;
    this.bound.push({ ip, port, what });
    this.ports.add(port);
  }

  /**
   * What of ours an (address, port) would reach, or null. Connecting to the unspecified address
   * reaches the local host on Linux, and any address of this machine reaches a wildcard listener.
   */
  match(address: string, port: number): string | null {
    // The per-connection cost for every other port is this one Set lookup.
    if (!this.ports.has(port)) return null;
    const ip = canonicalIp(address);
    if (ip === null) return null;
    for (const b of this.bound) {
      if (b.port !== port) continue;
      const wildcard = b.ip === V4_ANY || b.ip === V6_ANY;
      if (ip === b.ip || ip === V4_ANY || ip === V6_ANY || (wildcard && this.isLocal(ip))) return b.what;
    }
    return null;
  }

  private isLocal(ip: string): boolean {
    return ip.startsWith('127.') || ip === V6_LOOPBACK || this.local.has(ip);
  }
}
