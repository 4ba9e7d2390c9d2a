// TSID: the proxy's own side connection to the server, mimicking the client's hello (SNI or
// none, ALPN, version range, signature algorithms), to read the certificate chain. The chain
// is cached per server ip:port (and SNI, since a server may pick its certificate by name)
// with a TTL and an LRU bound; concurrent probes for one key share a single connection.
import * as tls from 'node:tls';
import * as net from 'node:net';
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import { certificateFacts, type CertificateFacts } from '../identity/index.js';
import { highestVersion, lowestVersion, tlsVersionName, type ClientHello } from '../wire/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import type { Endpoint } from '../flow/index.js';

export interface ProbeRequest {
  readonly dst: Endpoint;
  readonly hello: ClientHello;
  /** Bind the probe to this address (the client's), when it is usable. */
  readonly localAddress?: string;
  readonly timeoutMs: number;
  /** Record the probe's bytes (--capture): set only when capturing. */
  readonly capture?: ProbeCapture;
}

/** Where a probe's raw bytes go, below TLS (src/proxy/capture.ts's ProbeTap). */
export interface ProbeCapture {
  connected(localPort: number): void;
  sent(b: Uint8Array): void;
  received(b: Uint8Array): void;
  finish(outcome: string): void;
}

type Chain = readonly CertificateFacts[];

// Signature schemes the client offered, in OpenSSL's spelling: a server holding an RSA and
// an ECDSA certificate picks by these, so offering the client's list gets the client's cert.
const SIGALG_NAMES: Record<number, string> = {
  0x0401: 'rsa_pkcs1_sha256',
  0x0501: 'rsa_pkcs1_sha384',
  0x0601: 'rsa_pkcs1_sha512',
  0x0403: 'ecdsa_secp256r1_sha256',
  0x0503: 'ecdsa_secp384r1_sha384',
  0x0603: 'ecdsa_secp521r1_sha512',
  0x0804: 'rsa_pss_rsae_sha256',
  0x0805: 'rsa_pss_rsae_sha384',
  0x0806: 'rsa_pss_rsae_sha512',
  0x0807: 'ed25519',
  0x0808: 'ed448',
  0x0809: 'rsa_pss_pss_sha256',
  0x080a: 'rsa_pss_pss_sha384',
  0x080b: 'rsa_pss_pss_sha512',
  0x0201: 'RSA+SHA1',
  0x0203: 'ECDSA+SHA1',
};

/** tls.connect passes socket options (localAddress) through; its typings omit them. */
export type ProbeConnectOptions = tls.ConnectionOptions & { localAddress?: string };

export function probeOptions(req: ProbeRequest): ProbeConnectOptions {
  const h = req.hello;
  const max = tlsVersionName(highestVersion(h)) ?? 'TLSv1.3';
  let min = tlsVersionName(lowestVersion(h)) ?? 'TLSv1.2';
  // OpenSSL's default security level refuses < TLS 1.2 anyway; asking for it only errors.
  if (min === 'TLSv1' || min === 'TLSv1.1') min = max === 'TLSv1.3' ? 'TLSv1.2' : max;
  const sigalgs: string[] = [];
  for (const s of h.signatureAlgorithms) {
    const n = SIGALG_NAMES[s];
    if (n !== undefined) sigalgs.push(n);
  }
  const o: ProbeConnectOptions = {
    host: req.dst.ip,
    port: req.dst.port,
    // '' means no server_name extension, exactly like the client; an IP is never sent.
    servername: h.sni ?? '',
    rejectUnauthorized: false,
    minVersion: min,
    maxVersion: max,
  };
  if (h.alpn.length > 0) o.ALPNProtocols = [...h.alpn];
  if (sigalgs.length > 0) o.sigalgs = sigalgs.join(':');
  if (req.localAddress) o.localAddress = req.localAddress;
  return o;
}

/** One probe: connect, handshake, read the chain (leaf first), close. */
export function probeOnce(req: ProbeRequest): Promise<Result<Chain>> {
  return new Promise((resolve) => {
    let done = false;
    let sock: tls.TLSSocket;
    const finish = (r: Result<Chain>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.capture?.finish(r.ok ? `certificate read, CN ${r.value[0].cn ?? '(none)'}` : `${r.error.code}`);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: peekwallError('proxy/probe-timeout', `TSID probe to ${req.dst.ip}:${req.dst.port} got no certificate within ${req.timeoutMs} ms`),
        }),
      req.timeoutMs,
    );
    try {
      sock = tls.connect(req.capture ? tappedOptions(req, req.capture) : probeOptions(req));
    } catch (e) {
      clearTimeout(timer);
      resolve({ ok: false, error: peekwallError('proxy/probe-failed', `TSID probe options refused: ${(e as Error).message}`) });
      return;
    }
    sock.once('secureConnect', () => {
      const ders = peerChain(sock);
      const chain: CertificateFacts[] = [];
      for (const der of ders) {
        const f = certificateFacts(der);
        if (f.ok) chain.push(f.value);
        else if (chain.length === 0) return finish({ ok: false, error: f.error });
      }
      if (chain.length === 0) {
        return finish({ ok: false, error: peekwallError('proxy/probe-no-certificate', `the server at ${req.dst.ip}:${req.dst.port} sent no certificate`) });
      }
      finish({ ok: true, value: chain });
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      const code =
        e.code === 'ECONNREFUSED' ? 'proxy/probe-refused' : e.code === 'ECONNRESET' ? 'proxy/probe-reset' : 'proxy/probe-failed';
      finish({ ok: false, error: peekwallError(code, `TSID probe to ${req.dst.ip}:${req.dst.port} failed: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ')) });
    });
    sock.once('close', () =>
      finish({ ok: false, error: peekwallError('proxy/probe-failed', `the server at ${req.dst.ip}:${req.dst.port} closed the TSID probe before the handshake ended`) }),
    );
  });
}

/**
 * The probe on a TCP socket of our own, its bytes recorded before TLS sees or after it wrote
 * them (only when capturing: the plain path stays tls.connect's own).
 */
function tappedOptions(req: ProbeRequest, cap: ProbeCapture): tls.ConnectionOptions {
  const o = probeOptions(req);
  const raw = net.connect({ host: req.dst.ip, port: req.dst.port, ...(req.localAddress ? { localAddress: req.localAddress } : {}) });
  // A Duplex of our own, not the net.Socket: given a net.Socket, TLS reads and writes its
  // handle natively and no JS listener sees the bytes.
  const wire = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      cap.sent(chunk);
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.once('connect', () => cap.connected(raw.localPort ?? 0));
  raw.on('data', (d: Buffer) => {
    cap.received(d);
    if (!wire.push(d)) raw.pause();
  });
  raw.on('end', () => wire.push(null));
  raw.on('error', (e) => wire.destroy(e));
  raw.on('close', () => wire.destroy());
  const { host: _h, port: _p, localAddress: _l, ...tlsOnly } = o;
  return { ...tlsOnly, socket: wire };
}

function peerChain(sock: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c: tls.DetailedPeerCertificate | null = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  // The issuer links end in a self-reference at the root; bound the walk anyway.
  for (let i = 0; i < 16 && c && c.raw && c.raw.length > 0; i++) {
    const key = c.fingerprint256;
    if (seen.has(key)) break;
    seen.add(key);
    out.push(c.raw);
    c = c.issuerCertificate ?? null;
  }
  return out;
}

export interface TsidCacheOptions {
  maxEntries: number;
  ttlMs: number;
}

interface Entry {
  readonly chain: Chain;
  readonly expires: number;
}

/**
 * Cache + coalescing in front of probeOnce. Map insertion order is the LRU order: a hit
 * re-inserts its key. Failures are not cached (the next connection probes again).
 */
export class TsidCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Result<Chain>>>();
  hits = 0;
  misses = 0;
  probes = 0;

  constructor(private readonly probe: (r: ProbeRequest) => Promise<Result<Chain>> = probeWithFallback) {}

  static key(dst: Endpoint, sni: string | null): string {
    return sni === null ? `${dst.ip}:${dst.port}` : `${dst.ip}:${dst.port}/${sni}`;
  }

  async get(
    req: ProbeRequest,
    o: TsidCacheOptions,
    now: () => number = Date.now,
  ): Promise<{ ok: true; chain: Chain; cache: 'hit' | 'miss' } | { ok: false; error: PeekwallError; cache: 'miss' }> {
    const key = TsidCache.key(req.dst, req.hello.sni);
    const e = this.entries.get(key);
    if (e !== undefined) {
      if (e.expires > now()) {
        this.entries.delete(key);
        this.entries.set(key, e);
        this.hits++;
        return { ok: true, chain: e.chain, cache: 'hit' };
      }
      this.entries.delete(key);
    }
    this.misses++;
    let p = this.inflight.get(key);
    if (p === undefined) {
      this.probes++;
      p = this.probe(req);
      this.inflight.set(key, p);
      p.then(
        (r) => {
          this.inflight.delete(key);
          if (r.ok && o.maxEntries > 0) {
            this.entries.set(key, { chain: r.value, expires: now() + o.ttlMs });
            while (this.entries.size > o.maxEntries) {
              const oldest = this.entries.keys().next().value as string;
              this.entries.delete(oldest);
            }
          }
        },
        () => this.inflight.delete(key),
      );
    }
    const r = await p;
    return r.ok ? { ok: true, chain: r.value, cache: 'miss' } : { ok: false, error: r.error, cache: 'miss' };
  }

  get size(): number {
    return this.entries.size;
  }

  /** Forget every cached identity (a probe in flight still answers its waiters); returns how many. */
  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    return n;
  }
}

/** Probe from the client's address when given; if the platform refuses the bind, probe without. */
export async function probeWithFallback(req: ProbeRequest): Promise<Result<Chain>> {
  if (req.localAddress !== undefined) {
    const r = await probeOnce(req);
    if (r.ok || !r.error.message.includes('EADDRNOTAVAIL')) return r;
  }
  return probeOnce({ ...req, localAddress: undefined });
}

/** The client's address is usable as a probe source when it is loopback of the same family. */
export function probeSource(clientIp: string, dstIp: string): string | undefined {
  const fam = isIP(clientIp);
  if (fam === 0 || fam !== isIP(dstIp)) return undefined;
  if (fam === 4 ? clientIp.startsWith('127.') : clientIp === '::1') return clientIp;
  return undefined;
}
