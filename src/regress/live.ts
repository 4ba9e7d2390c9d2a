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
//
// A case that pins a recorded identity (suites made by `--from-events`: the event names the
// server but carries no certificate) is replayed with a certificate made for it, shaped so the
// recorded source is the only one the proxy can derive: the name as SNI (TSID off), as the
// only CN / only SAN / only OU (TSID on, no SNI; OU under the TechNote order, the only one
// that reads it), as the CN over TLS 1.2 (passive), or no
// name at all over TLS 1.3 (the IP). Those certificates are self-signed P-256, made once per
// (source, name) for the run, and never written to disk.
import { existsSync, readFileSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { ConnectionEvent, EventLog } from '../events/index.js';
import { overrideTsid, type Policy } from '../policy/index.js';
import { startProxy, type AddressMap } from '../proxy/index.js';
import type { LoadedSuite } from './load.js';
import { hostOfUrl, negotiatedVersion, tsidOf } from './run.js';
import { fromRoot } from '../util/paths.js';
import { generateLabPki } from '../pki/index.js';
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

/** How a pinned identity is reproduced: the flow the client makes and the certificate shape. */
export interface PinnedPlan {
  readonly sni: string | null;
  readonly tsid: boolean;
  /** Only the TechNote order reads the OU: a recorded cert-ou identity came from it. */
  readonly profile?: 'technote';
  readonly versions: readonly TlsVersionName[];
  /** Subject attributes and SANs of the certificate to present; null: any certificate. */
  readonly cert: { readonly subject: readonly { type: string; value: string }[]; readonly sans: readonly { type: 'dns' | 'ip'; value: string }[] } | null;
}

/** The live replay of a recorded identity, or why it cannot be replayed. Pure. */
export function pinnedPlan(c: ResolvedCase): PinnedPlan | string {
  const id = c.flow.identity;
  if (!id) return 'no recorded identity';
  const name = id.name;
  const san = (): { type: 'dns' | 'ip'; value: string } => ({ type: isIP(name) ? 'ip' : 'dns', value: name });
  // Something in the subject that TSID never reads, so "no CN" is not an empty name.
  const O = { type: 'O', value: 'peekwall --live (made for this case)' };
  const v = c.flow.versions;
  switch (id.source) {
    case 'sni':
      if (c.flow.sni !== name) return `the recorded identity came from an SNI, but the flow's SNI is ${c.flow.sni === null ? 'absent' : `'${c.flow.sni}'`}`;
      return { sni: name, tsid: false, versions: v, cert: { subject: [O, { type: 'CN', value: name }], sans: [san()] } };
    case 'cert-cn':
      return { sni: null, tsid: true, versions: v, cert: { subject: [O, { type: 'CN', value: name }], sans: [] } };
    case 'cert-san':
      return { sni: null, tsid: true, versions: v, cert: { subject: [O], sans: [san()] } };
    case 'cert-ou':
      return { sni: null, tsid: true, profile: 'technote', versions: v, cert: { subject: [O, { type: 'OU', value: name }], sans: [] } };
    case 'passive-cn':
      // Read from the cleartext Certificate message: the client must let TLS 1.2 be chosen.
      if (!v.some((x) => x !== 'TLSv1.3')) return 'a passive CN needs TLS <= 1.2, and the flow offers only TLS 1.3';
      return { sni: null, tsid: false, versions: v.filter((x) => x !== 'TLSv1.3'), cert: { subject: [O, { type: 'CN', value: name }], sans: [] } };
    case 'ip':
      // Nothing to read: no SNI, TSID off, and TLS 1.3 hides the certificate.
      if (!v.includes('TLSv1.3')) return 'the IP as identity with TSID off needs TLS 1.3 (under 1.2 the proxy reads the CN passively)';
      return { sni: null, tsid: false, versions: ['TLSv1.3'], cert: null };
  }
}

/** Why a case cannot be reproduced live (the offline result then stands alone), or null. */
export function liveObstacle(c: ResolvedCase): string | null {
  if (c.flow.identity) {
    const plan = pinnedPlan(c);
    return typeof plan === 'string' ? plan : null;
  }
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

  /** The certificate and key an upstream presents; `id` names it for sharing upstreams. */
  type Presented = { readonly id: string; readonly cert: string | Buffer; readonly key: string | Buffer };
  const fromFile = (certPath: string): Presented => ({ id: certPath, cert: readFileSync(certPath), key: readFileSync(keyPathOf(certPath)) });
  const made = new Map<string, Promise<Presented>>();
  const madeFor = (plan: PinnedPlan, id: { name: string; source: string }): Promise<Presented> => {
    const cert = plan.cert;
    if (cert === null) return Promise.resolve(fromFile(FALLBACK_CERT));
    const key = `${id.source}|${id.name}`;
    let p = made.get(key);
    if (!p) {
      p = generateLabPki(
        {
          label: 'peekwall --live: made for one pinned case, never written to disk',
          epoch: new Date(),
          certificates: [
            {
              name: 'pinned',
              ca: false,
              issuer: 'self',
              subject: cert.subject,
              sans: cert.sans,
              key: { type: 'ec', curve: 'P-256' },
              validityDays: 2,
              notBefore: null,
              notAfter: null,
              expectExpired: false,
              description: `${id.source} ${id.name}`,
            },
          ],
        },
        new Date(Date.now() - 60_000),
      ).then((set) => ({ id: `made:${key}`, cert: set.files.get('pinned.crt.pem') as string, key: set.files.get('pinned.key.pem') as string }));
      made.set(key, p);
    }
    return p;
  };

  const upstreamFor = (dstAlias: string, presented: Presented): Promise<Upstream> => {
    const key = `${dstAlias}|${presented.id}`;
    let p = upstreams.get(key);
    if (!p) {
      p = (async () => {
        const server = tls.createServer({
          cert: presented.cert,
          key: presented.key,
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

  const runCase = async (policy: Policy, c: ResolvedCase, presented: Presented): Promise<{ actual: ActualVerdict } | { error: string }> => {
    const srcAlias = aliases.alias(c.flow.src);
    const dstAlias = aliases.alias(c.flow.dst);
    const up = await upstreamFor(dstAlias, presented);
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
      const pinned = c.flow.identity;
      if (pinned) {
        const plan = pinnedPlan(c) as PinnedPlan;
        try {
          const presented = await madeFor(plan, pinned);
          // The flow the plan needs; the policy sees the same addresses and ports.
          const flow = { ...c.flow, sni: plan.sni, tsid: plan.tsid, versions: plan.versions, identity: undefined, ...(plan.profile ? { profile: plan.profile } : {}) };
          return await runCase(c.compiled, { ...c, flow }, presented);
        } catch (e) {
          return { error: `live run failed: ${(e as Error).message}` };
        }
      }
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
        return await runCase(c.compiled, { ...c, certPath }, fromFile(certPath));
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
