// Test scaffolding for the proxy: throwaway certificates (made here with @peculiar/x509: no
// openssl needed), real node:tls origin servers, clients, inline policies, and an event
// collector. Everything binds to loopback on ephemeral ports; callers close what they open.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { parsePolicy, type Policy } from '../../../src/policy/index.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../../src/proxy/index.js';
import type { ConnectionEvent } from '../../../src/events/index.js';

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCert {
  cert: string;
  key: string;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k);
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/** A self-signed ECDSA leaf (TEST ONLY) with the given subject CN, DNS SANs and IP SANs. */
export async function makeCert(o: { cn?: string; sans?: string[]; ips?: string[] }): Promise<TestCert> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  const names = [...(o.sans ?? []).map((value) => ({ type: 'dns' as const, value })), ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: o.cn ? `O=peekwall TEST, CN=${o.cn}` : 'O=peekwall TEST',
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 30 * 86_400_000),
    keys: keys as never,
    signingAlgorithm: alg,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

export function policyFrom(yaml: string): Policy {
  const r = parsePolicy(yaml, { file: 'inline.yaml', baseDir: '/' });
  if (!r.ok) throw new Error(`test policy invalid: ${JSON.stringify(r.error)}`);
  return r.value;
}

export interface Origin {
  port: number;
  /** TLS handshakes completed, and raw TCP connections accepted. */
  handshakes: number;
  connections: number;
  close(): Promise<void>;
}

/**
 * A TLS origin that answers every line with `echo:<line>` and closes on 'bye'.
 * Keeps its sockets so close() leaves nothing behind.
 */
export async function startOrigin(cert: TestCert, o: { maxVersion?: tls.SecureVersion; host?: string } = {}): Promise<Origin> {
  const sockets = new Set<net.Socket>();
  const state = { handshakes: 0, connections: 0 };
  const server = tls.createServer({ cert: cert.cert, key: cert.key, maxVersion: o.maxVersion ?? 'TLSv1.3', ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
    state.handshakes++;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text.includes('bye')) s.end('bye\n');
      else s.write(`echo:${text}`);
    });
  });
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, o.host ?? '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    get handshakes() {
      return state.handshakes;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A plain TCP server with a custom connection handler (refusing, resetting, silent origins). */
export async function startTcp(onConn: (s: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export type ClientOutcome =
  | { kind: 'ok'; reply: string; alpn: string | false; version: string | null }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'closed' };

/** A TLS client through the proxy: handshake, send `hello`, read the echo, say bye. */
export function tlsRoundTrip(
  port: number,
  o: { servername?: string; maxVersion?: tls.SecureVersion; minVersion?: tls.SecureVersion; alpn?: string[]; host?: string; localAddress?: string } = {},
): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ClientOutcome) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve(r);
    };
    const opts: tls.ConnectionOptions & { localAddress?: string } = {
      host: o.host ?? '127.0.0.1',
      port,
      servername: o.servername ?? '',
      rejectUnauthorized: false,
      maxVersion: o.maxVersion ?? 'TLSv1.3',
      ...(o.minVersion ? { minVersion: o.minVersion } : {}),
      ...(o.alpn ? { ALPNProtocols: o.alpn } : {}),
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    };
    const s = tls.connect(opts, () => {
      s.write('hello');
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.startsWith('echo:hello')) {
        finish({ kind: 'ok', reply: got, alpn: s.alpnProtocol ?? false, version: s.getProtocol() });
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', code: e.code ?? 'ERR', message: e.message }));
    s.on('close', () => finish({ kind: 'closed' }));
  });
}

/** Raw TCP: write chunks (with pauses), then collect what comes back until close. */
export function rawExchange(
  port: number,
  chunks: (Buffer | { pauseMs: number })[],
  o: { host?: string; endAfter?: boolean } = {},
): Promise<{ data: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: o.host ?? '127.0.0.1', port });
    const got: Buffer[] = [];
    let error: string | null = null;
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    s.on('close', () => resolve({ data: Buffer.concat(got), error }));
    s.on('connect', async () => {
      for (const c of chunks) {
        if (Buffer.isBuffer(c)) {
          if (!s.destroyed) s.write(c);
        } else await new Promise((r) => setTimeout(r, c.pauseMs));
      }
      if (o.endAfter && !s.destroyed) s.end();
    });
  });
}

/** Collects events; next() waits for the next one (bounded by a timeout to fail, not hang). */
export class EventSink {
  readonly events: ConnectionEvent[] = [];
  private waiters: ((e: ConnectionEvent) => void)[] = [];
  readonly onEvent = (e: ConnectionEvent) => {
    const w = this.waiters.shift();
    if (w) w(e);
    else this.events.push(e);
  };
  next(timeoutMs = 5000): Promise<ConnectionEvent> {
    const e = this.events.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no connection event within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (ev: ConnectionEvent) => {
        clearTimeout(t);
        resolve(ev);
      };
      this.waiters.push(waiter);
    });
  }
}

/** Open file descriptors of this process (Linux /proc; null elsewhere). */
export function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One plain-HTTP GET through an explicit proxy (absolute-form target, as browsers send). */
export function getViaProxy(proxyPort: number, url: string): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: u.host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain-HTTP origin on loopback that answers with what it saw; close() ends kept-alive sockets too. */
export async function startHttpOrigin(answer: (req: http.IncomingMessage) => string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(answer(req)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A transparent proxy on loopback in front of one upstream port, collecting its events; closed at teardown. */
export async function transparentTo(
  t: { teardown(fn: () => unknown): void },
  policy: Policy,
  upstreamPort: number,
  extra: Omit<ProxyOptions, 'policy' | 'listeners' | 'onEvent'> = {},
): Promise<{ proxy: RunningProxy; sink: EventSink; port: number }> {
  const sink = new EventSink();
  const proxy = await startProxy({
    policy,
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: upstreamPort } }],
    onEvent: sink.onEvent,
    ...extra,
  });
  t.teardown(() => proxy.close());
  return { proxy, sink, port: proxy.listeners[0].port };
}

/** Exactly these bytes out, everything back (latin1) until the peer closes, bounded by a destroy timer. */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 4000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('connect', () => s.write(request));
  });
}

/** The status line of a raw HTTP answer. */
export const statusOf = (r: string): string => r.split('\r\n')[0];
