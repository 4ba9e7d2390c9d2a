// The lab's little world: a simulated licensing cloud, peekwall in front of it on the
// seed's server addresses (loopback aliases), and three licensing devices with the seed's
// source addresses. Scenarios (scenarios.ts) drive it; `peekwall lab serve` keeps it up.
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { ConnectionEvent } from '../events/index.js';
import { trustStoreFromPem } from '../identity/index.js';
import type { Policy } from '../policy/index.js';
import type { ListenerConfig, ProxyOptions, RunningProxy } from '../proxy/index.js';
import { CaptureFile, startProxy } from '../proxy/index.js';
import { fromRoot } from '../util/paths.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { readBoundedFileSync } from '../util/files.js';
import { createAddressMap, LAB_CLOUD_HOST, SEED_SERVERS, type LabAddressMap } from './addresses.js';
import { LicensingDevice, LICENSING_HOST, type DeviceCommandResult } from './client.js';
import { DeviceClock, LabClock } from './clock.js';
import { startCloud, type RunningCloud } from './cloud.js';
import { parseTokenFile, type LabToken } from './license.js';

/** The seed's devices (000: FMC 10.12.1.8; ASA/routers 10.10.42.2 and 10.10.81.2). */
export const LAB_DEVICES: readonly { name: string; kind: 'FMC' | 'ASA' | 'router'; address: string; dnsStart: number }[] = [
  { name: 'FMC 10.12.1.8', kind: 'FMC', address: '10.12.1.8', dnsStart: 0 },
  { name: 'ASA 10.10.42.2', kind: 'ASA', address: '10.10.42.2', dnsStart: 1 },
  { name: 'router 10.10.81.2', kind: 'router', address: '10.10.81.2', dnsStart: 0 },
];
export const LAB_PROXY_SEED = '192.0.2.10';
export const LAB_PROXY_PORT_SEED = 80;
export const LAB_TOKEN = 'LAB-TOKEN-VALID-0001';

/** A lab act is a few dozen connections: far below this. */
const LAB_CAPTURE_BYTES = 64 * 1024 * 1024;

export interface WorldOptions {
  /** certs/<name>.crt.pem + .key.pem presented by the cloud (default smart-licensing). */
  readonly serverCert?: string;
  readonly tls13?: boolean;
  /** Devices offer TLS 1.3 too (the agents of the field case stop at 1.2). */
  readonly devicesTls13?: boolean;
  /** Device clock skew (ms). */
  readonly deviceSkewMs?: number;
  /** Lab clock start (default: now). */
  readonly start?: Date;
  /** The lab clock ticks with the host clock (serve). */
  readonly runningClock?: boolean;
  /** Devices use PROXY_SRV/PROXY_PORT (the proxy's explicit listener). */
  readonly explicitProxy?: boolean;
  /** Device call deadline (curl timeout). */
  readonly timeoutMs?: number;
  /** Fixed proxy listener port for the two server aliases (serve); default ephemeral. */
  readonly proxyPort?: number;
  readonly explicitPort?: number;
  readonly cloudPort?: number;
  readonly trust?: ProxyOptions['trust'];
  readonly root?: string;
  /** Record each act's inspected connections and TSID probes: FILE.pcapng -> FILE.act1.pcapng, ... */
  readonly capture?: string;
  /** One proxy for the whole run (serve): the capture is FILE itself. */
  readonly captureExact?: boolean;
}

/** `lab.pcapng` -> `lab.act2.pcapng`: one capture per act, as each act has its own policy. */
export function actCapturePath(file: string, act: number): string {
  const m = /^(.*?)(\.pcapng)?$/i.exec(file) as RegExpExecArray;
  return `${m[1]}.act${act}${m[2] ?? '.pcapng'}`;
}

export interface LabPaths {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly tokens: string;
}

export function labPaths(serverCert = 'smart-licensing', root?: string): LabPaths {
  const at = (...p: string[]): string => (root ? `${root}/${p.join('/')}` : fromRoot(...p));
  return {
    ca: at('certs', 'lab-ca.crt.pem'),
    cert: at('certs', `${serverCert}.crt.pem`),
    key: at('certs', `${serverCert}.key.pem`),
    tokens: at('policies', 'lab', 'tokens.txt'),
  };
}

/** Read a lab file; a missing one is a typed failure (exit 2), not a crash. */
export function readLabFile(path: string): string {
  // Bounded and regular-file-only, like every user-named file: a lab root (--root) is the
  // user's, and a FIFO or device there must not hang or exhaust the process.
  const r = readBoundedFileSync(path, 16 * 1024 * 1024);
  if (r.ok) return r.text;
  const code = r.failure.message.split(':')[0];
  throw new PeekwallFailure(peekwallError('lab/missing-file', `cannot read it (${code}): the lab runs on the shipped certs/ and policies/`, { file: path }));
}

export function loadLabTokens(path: string): Map<string, LabToken> {
  const r = parseTokenFile(readLabFile(path), path);
  if (!r.ok) throw new PeekwallFailure(r.error);
  return r.value;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export class LabWorld {
  readonly clock: LabClock;
  readonly deviceClock: DeviceClock;
  readonly map: LabAddressMap;
  readonly paths: LabPaths;
  readonly caPem: string;
  readonly certPem: string;
  readonly devices: LicensingDevice[];
  cloud: RunningCloud | null = null;
  proxy: RunningProxy | null = null;
  /** Where devices' packets go: straight to the cloud (setup) or through peekwall. */
  path: 'direct' | 'proxy' = 'proxy';
  /** Also called for every event (serve prints them as they come). */
  onEvent: ((e: ConnectionEvent) => void) | null = null;
  #events: ConnectionEvent[] = [];
  /** Set while collect() waits: called on every event. */
  #arrived: (() => void) | null = null;
  #ports = new Map<string, number>();
  #explicitPort = 0;
  #trust: ProxyOptions['trust'];
  #capture: CaptureFile | null = null;
  #captures = 0;
  readonly o: WorldOptions;

  constructor(o: WorldOptions = {}) {
    this.o = o;
    this.clock = new LabClock(o.start ?? new Date(), { running: o.runningClock ?? false });
    this.deviceClock = new DeviceClock(this.clock, o.deviceSkewMs ?? 0);
    this.map = createAddressMap();
    this.paths = labPaths(o.serverCert, o.root);
    this.caPem = readLabFile(this.paths.ca);
    this.certPem = readLabFile(this.paths.cert);
    const t = trustStoreFromPem(this.caPem, this.paths.ca);
    this.#trust = o.trust ?? (t.ok ? t.value : undefined);
    this.devices = LAB_DEVICES.map(
      (d) =>
        new LicensingDevice({
          name: d.name,
          kind: d.kind,
          address: d.address,
          localAddress: this.map.toLab(d.address),
          dns: { [LICENSING_HOST]: SEED_SERVERS },
          dnsStart: d.dnsStart,
          route: (ip, port) => this.route(ip, port),
          ...(o.explicitProxy
            ? { proxy: { srv: LAB_PROXY_SEED, port: LAB_PROXY_PORT_SEED }, connectPort: () => this.cloud?.port ?? 443 }
            : {}),
          ca: this.caPem,
          clock: this.deviceClock,
          // Generous: a loaded CI machine must not turn a slow handshake into err 28; the lab's
          // blocks are resets, answered at once, so nothing waits for this deadline.
          timeoutMs: o.timeoutMs ?? 8000,
          tlsMaxVersion: o.devicesTls13 ? 'TLSv1.3' : 'TLSv1.2',
        }),
    );
  }

  /** Lab routing: a seed server address on 443 reaches peekwall's listener on its alias. */
  route(ip: string, port: number): { host: string; port: number } {
    const cloud = this.cloud;
    if (this.path === 'direct' && cloud) return { host: cloud.host, port: cloud.port };
    if (ip === LAB_PROXY_SEED && port === LAB_PROXY_PORT_SEED) return { host: this.map.toLab(ip), port: this.#explicitPort };
    const p = port === 443 ? this.#ports.get(ip) : undefined;
    return { host: this.map.toLab(ip), port: p ?? port };
  }

  async startCloud(): Promise<RunningCloud> {
    this.cloud = await startCloud({
      // With an explicit proxy, CONNECT names tools.cisco.com and peekwall resolves it: the
      // cloud then sits on the first server's alias, so events show 72.163.4.38.
      host: this.o.explicitProxy ? this.map.toLab(SEED_SERVERS[0]) : LAB_CLOUD_HOST,
      port: this.o.cloudPort ?? 0,
      cert: this.certPem,
      key: readLabFile(this.paths.key),
      clock: this.clock,
      tokens: loadLabTokens(this.paths.tokens),
      ...(this.o.tls13 ? { tls13: true } : {}),
    });
    return this.cloud;
  }

  /** Start (or restart) peekwall in front of the cloud with this policy. */
  async startProxy(policy: Policy): Promise<RunningProxy> {
    if (!this.cloud) throw new Error('start the cloud first');
    await this.proxy?.close();
    const upstream = { host: this.cloud.host, port: this.cloud.port };
    const [s1, s2] = SEED_SERVERS;
    const first = this.o.proxyPort ?? 0;
    const listeners: ListenerConfig[] = [{ mode: 'transparent', host: this.map.toLab(s1), port: first, upstream, flowPort: 443 }];
    if (this.o.explicitProxy) {
      listeners.push({ mode: 'explicit', host: this.map.toLab(LAB_PROXY_SEED), port: this.o.explicitPort ?? 0, flowPort: 443 });
    }
    const base = {
      policy,
      addressMap: this.map,
      onEvent: (e: ConnectionEvent) => {
        // Serve runs for hours: keep a bounded window, the scenarios need far less.
        if (this.#events.length >= 10_000) this.#events.splice(0, 5_000);
        this.#events.push(e);
        this.#arrived?.();
        this.onEvent?.(e);
      },
      // CONNECT targets resolve like the devices' DNS would, then to the lab cloud.
      resolve: async (host: string) => (host === LICENSING_HOST ? this.cloud!.host : host),
      // The lab CA as peekwall's trust store: events carry certStatus (valid, expired, ...).
      ...(this.#trust ? { trust: this.#trust } : {}),
      ...(this.#nextCapture() ?? {}),
    };
    // Both server aliases on one port (like 443 in the field) when it is free.
    const port1 = first || (await freePort(this.map.toLab(s1)));
    listeners[0] = { ...listeners[0], port: port1 } as ListenerConfig;
    listeners.splice(1, 0, { mode: 'transparent', host: this.map.toLab(s2), port: port1, upstream, flowPort: 443 });
    let proxy: RunningProxy;
    try {
      proxy = await startProxy({ ...base, listeners });
    } catch (e) {
      if (first) throw e;
      proxy = await startProxy({ ...base, listeners: listeners.map((l) => ({ ...l, port: 0 }) as ListenerConfig) });
    }
    this.proxy = proxy;
    this.#ports.set(s1, proxy.listeners[0].port);
    this.#ports.set(s2, proxy.listeners[1].port);
    this.#explicitPort = proxy.listeners.find((l) => l.mode === 'explicit')?.port ?? 0;
    return proxy;
  }

  get proxyPorts(): { servers: { seed: string; host: string; port: number }[]; explicit: number } {
    return {
      servers: SEED_SERVERS.map((s) => ({ seed: s, host: this.map.toLab(s), port: this.#ports.get(s) ?? 0 })),
      explicit: this.#explicitPort,
    };
  }

  /** Register every device straight with the cloud (the month before the story starts). */
  async registerAllDirect(token = LAB_TOKEN): Promise<DeviceCommandResult[]> {
    const before = this.path;
    this.path = 'direct';
    const proxies = this.devices.map((d) => d.proxy);
    try {
      const out: DeviceCommandResult[] = [];
      for (const d of this.devices) {
        d.useProxy(null);
        out.push(await d.register(token));
      }
      return out;
    } finally {
      this.path = before;
      this.devices.forEach((d, i) => d.useProxy(proxies[i]));
    }
  }

  /** Run `fn` and return the events peekwall logged meanwhile (waits, bounded, for `expect`). */
  async collect<T>(fn: () => Promise<T>, expect: number, waitMs = 30_000): Promise<{ value: T; events: ConnectionEvent[] }> {
    const start = this.#events.length;
    const value = await fn();
    // Allows are logged when the connection ends, a moment after the client is done: wait
    // for the events themselves (woken by each one), with a deadline only as a bound, so a
    // loaded machine is slower but never gets a different answer.
    if (this.#events.length - start < expect) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#arrived = null;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.#arrived = () => {
          if (this.#events.length - start >= expect) done();
        };
      });
    }
    return { value, events: this.#events.slice(start) };
  }

  /** The licensing certificate's CN and SANs in order (for the explanation). */
  certificateNames(): { cn: string | null; sans: string[]; notAfter: string; subject: string } {
    const c = new X509Certificate(this.certPem);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? null;
    const sans = (c.subjectAltName ?? '')
      .split(', ')
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    return { cn, sans, notAfter: c.validTo, subject: c.subject.replace(/\n/g, ', ') };
  }

  /** A fresh capture for the proxy about to start (each act's policy is its own). */
  #nextCapture(): { capture: CaptureFile } | null {
    this.flushCapture();
    if (this.o.capture === undefined) return null;
    const n = ++this.#captures;
    this.#capture = new CaptureFile(this.o.captureExact ? this.o.capture : actCapturePath(this.o.capture, n), LAB_CAPTURE_BYTES);
    return { capture: this.#capture };
  }

  /** Write the current act's capture; its path, or null when not capturing. */
  flushCapture(): string | null {
    const c = this.#capture;
    if (c === null) return null;
    c.flush();
    return c.path;
  }

  async close(): Promise<void> {
    await this.proxy?.close();
    this.flushCapture();
    await this.cloud?.close();
    this.proxy = null;
    this.cloud = null;
  }
}
