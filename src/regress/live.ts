// --live: every case as a real TLS handshake on loopback —
//   real client (node:tls, bound to the case's source address alias)
//     -> real peekwall proxy (startProxy, transparent listener, flowPort = the case's dport)
//     -> lab upstream (node:tls server on the case's destination alias, presenting the case's
//        certificate and its key, certs/<name>.key.pem beside certs/<name>.crt.pem)
// and the verdict the proxy logs (onEvent) is compared with the offline one. Loopback aliases
// keep the seed's numbers readable (Linux routes all of 127.0.0.0/8 to lo): a.b.c.d becomes
// 127.b.c.d (10.12.1.8 -> 127.12.1.8, 72.163.4.38 -> 127.163.4.38, as the lab does), with a
// fresh 127.254.x.y alias on a collision; an AddressMap turns them back into the seed
// addresses, so the proxy's policy sees exactly the offline flow (source port aside: the
// client's real ephemeral port is used, so rules matching source ports are not live-tested).
//
// One proxy per case: a fresh TSID cache and the case's own TSID override (overrideTsid),
// so no case can see another's probe result. Upstreams are shared per (address, certificate).
import { existsSync, readFileSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { ConnectionEvent, EventLog } from '../events/index.js';
import { overrideTsid, type Policy } from '../policy/index.js';
import { startProxy, type AddressMap } from '../proxy/index.js';
import type { LoadedSuite } from './load.js';
import { hostOfUrl, negotiatedVersion, tsidOf } from './run.js';
import { fromRoot } from '../util/paths.js';
import type { LiveCaseRunner } from './runner.js';
import type { ActualVerdict, ResolvedCase, TlsVersionName } from './types.js';

export interface LiveOptions {
  /** Bound on one case's handshake + event wait (ms). Not an assertion: a hang becomes a live-error. */
  readonly caseTimeoutMs?: number;
  /** Also log every live connection event here (JSON lines, as `peekwall run` writes them). */
  readonly eventLog?: EventLog;
}

export interface LiveRunner {
  readonly run: LiveCaseRunner;
  /** Close every upstream the run opened. */
  close(): Promise<void>;
  /** Seed address -> loopback alias used (for messages and tests). */
  readonly aliases: ReadonlyMap<string, string>;
}

/** Why a case cannot be reproduced live (the offline result then stands alone), or null. */
export function liveObstacle(c: ResolvedCase): string | null {
  if (c.flow.identity) return 'the flow pins a recorded identity (no certificate to present)';
  if (c.certificate && !c.certPath) return 'an inline certificate has no key to present it with';
  if (c.certPath && !existsSync(keyPathOf(c.certPath))) return `no key beside ${c.certPath} (expected ${keyPathOf(c.certPath)})`;
  return null;
}

export function keyPathOf(certPath: string): string {
  return certPath.endsWith('.crt.pem') ? `${certPath.slice(0, -'.crt.pem'.length)}.key.pem` : `${certPath}.key`;
}

export function eventToActual(e: ConnectionEvent): ActualVerdict {
  return {
    action: e.action,
    rule: e.accessControlRule,
    url: e.url,
    identity: e.url === null ? null : hostOfUrl(e.url),
    identitySource: e.identitySource ?? null,
    siCategory: e.siCategory ?? null,
    urlCategory: e.urlCategory ?? null,
    urlReputation: e.urlReputation ?? null,
    reason: e.reason,
  };
}

class Aliases implements AddressMap {
  readonly toAlias = new Map<string, string>();
  private readonly toSeedMap = new Map<string, string>();
  private next = 1;

  alias(seed: string): string {
    const known = this.toAlias.get(seed);
    if (known) return known;
    let a: string | null = null;
    if (isIP(seed) === 4) {
      const [, b, c, d] = seed.split('.');
      const candidate = `127.${b}.${c}.${d}`;
      if (!this.toSeedMap.has(candidate) && d !== '0' && d !== '255' && candidate !== '127.0.0.1') a = candidate;
    }
    if (a === null) {
      // IPv6 seeds and collisions: a sequential alias in a block the convention never yields
      // for the seed's private/public addresses we use.
      for (;;) {
        const n = this.next++;
        const candidate = `127.254.${(n >> 8) & 255}.${(n & 255) || 1}`;
        if (!this.toSeedMap.has(candidate)) {
          a = candidate;
          break;
        }
      }
    }
    this.toAlias.set(seed, a);
    this.toSeedMap.set(a, seed);
    return a;
  }

  toSeed(ip: string): string {
    const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    return this.toSeedMap.get(plain) ?? ip;
  }
}

interface Upstream {
  server: tls.Server;
  port: number;
}

function listenTls(server: tls.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      server.removeListener('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Presented when a case names no certificate and the proxy will not look at it anyway. */
const FALLBACK_CERT = fromRoot('certs', 'self-signed.crt.pem');

const VERSION_ORDER: readonly TlsVersionName[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The lowest version offered (for the client's minVersion). */
function lowest(vs: readonly TlsVersionName[]): TlsVersionName {
  let best = VERSION_ORDER.length - 1;
  for (const v of vs) best = Math.min(best, VERSION_ORDER.indexOf(v));
  return VERSION_ORDER[best];
}

export async function createLiveRunner(o: LiveOptions = {}): Promise<LiveRunner> {
  const timeoutMs = o.caseTimeoutMs ?? 10_000;
  const aliases = new Aliases();
  const upstreams = new Map<string, Promise<Upstream>>();
  const sockets = new Set<tls.TLSSocket>();

  const upstreamFor = (dstAlias: string, certPath: string): Promise<Upstream> => {
    const key = `${dstAlias}|${certPath}`;
    let p = upstreams.get(key);
    if (!p) {
      p = (async () => {
        const server = tls.createServer({
          cert: readFileSync(certPath),
          key: readFileSync(keyPathOf(certPath)),
          minVersion: 'TLSv1.2',
          maxVersion: 'TLSv1.3',
          // Answer any ALPN the client offers with its first choice (the lab server speaks all).
          ALPNCallback: ({ protocols }) => protocols[0],
        });
        // The lab upstream says nothing; it closes its side when the client does.
        server.on('secureConnection', (s) => {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('end', () => s.end());
          s.on('close', () => sockets.delete(s));
          s.resume();
        });
        server.on('tlsClientError', () => undefined);
        const port = await listenTls(server, dstAlias);
        return { server, port };
      })();
      upstreams.set(key, p);
    }
    return p;
  };

  const runCase = async (policy: Policy, c: ResolvedCase): Promise<{ actual: ActualVerdict } | { error: string }> => {
    const srcAlias = aliases.alias(c.flow.src);
    const dstAlias = aliases.alias(c.flow.dst);
    const up = await upstreamFor(dstAlias, c.certPath as string);
    const casePolicy =
      c.flow.tsid !== undefined || c.flow.profile !== undefined
        ? overrideTsid(policy, { ...(c.flow.tsid !== undefined ? { enabled: c.flow.tsid } : {}), ...(c.flow.profile ? { profile: c.flow.profile } : {}) })
        : policy;
    const events: ConnectionEvent[] = [];
    let onEventSeen: (() => void) | null = null;
    const proxy = await startProxy({
      policy: casePolicy,
      // Transparent: the client "reaches the server's address" — the proxy listens on the
      // destination alias and the flow's destination is the local address it was reached on.
      listeners: [{ mode: 'transparent', host: dstAlias, port: 0, upstream: { host: dstAlias, port: up.port }, flowPort: c.flow.dport }],
      addressMap: aliases,
      // Events are logged here rather than through ProxyOptions.eventLog: the proxy flushes
      // that log on close, once per case, and one long-lived log outlives every proxy.
      onEvent: (e) => {
        o.eventLog?.write(e);
        events.push(e);
        onEventSeen?.();
      },
    });
    try {
      const listener = proxy.listeners[0];
      const versions = c.flow.versions;
      const clientError = await new Promise<string | null>((resolve) => {
        const opts: tls.ConnectionOptions & { localAddress?: string } = {
          host: listener.host,
          port: listener.port,
          localAddress: srcAlias,
          // '' = no server_name extension (the Smart Licensing clients send none).
          servername: c.flow.sni ?? '',
          rejectUnauthorized: false,
          minVersion: lowest(versions),
          maxVersion: negotiatedVersion(versions),
        };
        if (c.flow.alpn.length > 0) opts.ALPNProtocols = [...c.flow.alpn];
        const s = tls.connect(opts);
        let done = false;
        const finish = (why: string | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(why);
        };
        const timer = setTimeout(() => {
          s.destroy();
          finish(`no answer within ${timeoutMs} ms`);
        }, timeoutMs);
        s.on('secureConnect', () => s.end());
        s.on('error', (e) => finish((e as NodeJS.ErrnoException).code ?? e.message));
        s.on('close', () => finish(null));
        s.resume();
      });
      // A block is logged when the proxy refuses, an allow when the spliced connection ends:
      // either way the event arrives around the client's close. Wait for it, bounded.
      if (events.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          onEventSeen = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const e = events[0];
      if (!e) return { error: `the proxy logged no event (client: ${clientError ?? 'closed normally'})` };
      if (!e.identitySource && e.closeReason && e.closeReason !== 'policy/block') {
        return { error: `the proxy could not inspect the flow: ${e.closeReason} (client: ${clientError ?? 'closed normally'})` };
      }
      return { actual: eventToActual(e) };
    } finally {
      await proxy.close();
    }
  };

  return {
    aliases: aliases.toAlias,
    async run(suite: LoadedSuite, c: ResolvedCase) {
      const obstacle = liveObstacle(c);
      if (obstacle) return { skipped: obstacle };
      let certPath = c.certPath;
      if (!certPath) {
        // Without a certificate the offline identity is the SNI (or the IP). Live, the lab
        // upstream must present something: harmless only when the proxy never looks at it
        // (TSID off and an SNI present: no probe, no passive read).
        if (tsidOf(c.compiled, c).enabled || c.flow.sni === null || !existsSync(FALLBACK_CERT)) {
          return { skipped: 'no certificate: the proxy would read whatever the lab upstream presents, which the offline run never saw' };
        }
        certPath = FALLBACK_CERT;
      }
      try {
        return await runCase(c.compiled, { ...c, certPath });
      } catch (e) {
        return { error: `live run failed: ${(e as Error).message}` };
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      const all = await Promise.allSettled([...upstreams.values()]);
      await Promise.all(
        all.map((r) => (r.status === 'fulfilled' ? new Promise<void>((res) => r.value.server.close(() => res())) : Promise.resolve())),
      );
    },
  };
}
