// `peekwall run --config FILE`: the YAML file that says where to listen, which policy to
// load, where events go, and the admin/limits/workers settings. Its format and defaults are
// policies/schemas/run-config.schema.json; what a schema cannot say (addresses are IPs, an
// admin port off loopback has a token) is checked here. Every problem with file:line:column;
// nothing here throws on bad input.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { factsOf, formatSchema, inFileOrder, isMapping as isObject, limitsOf, locate, readFormat, type IssueWords } from '../schema/index.js';
import { parseNetDestination, type SyslogRfc, type SyslogStyle } from '../events/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { isLoopbackHost } from './loopback.js';
import type { HostPort, ListenerConfig, ProxyLimits } from './types.js';

export interface RunConfig {
  readonly file: string;
  /** Absolute path of the policy file. */
  readonly policy: string;
  readonly listeners: ListenerConfig[];
  /** 'stdout', an absolute file path, or udp://HOST:PORT / tcp://HOST:PORT. */
  readonly events: string;
  readonly eventsFormat: 'jsonl' | 'ftd-syslog';
  /** ftd-syslog's header style (7.x or pre-7), syslog framing RFC, and HOSTNAME (null: os.hostname()). */
  readonly syslog: { readonly style: SyslogStyle; readonly rfc: SyslogRfc; readonly host: string | null };
  readonly admin: { host: string; port: number; token?: string } | null;
  readonly workers: number;
  readonly drainMs: number;
  readonly limits: ProxyLimits;
  /** Absolute path of a CA bundle/dir for certificate status, or null. */
  readonly trust: string | null;
  /** Reload when the policy file changes (default true). */
  readonly watch: boolean;
  /** Record inspected connections as pcapng: the absolute path and the ring's bound in bytes. */
  readonly capture: { readonly file: string; readonly maxBytes: number } | null;
}

/** A run config is a few dozen lines; anything this large is not one. */
export const MAX_CONFIG_BYTES = limitsOf('config').maxBytes;

const SCHEMA = formatSchema('run-config');

/** The file as the schema leaves it: valid shapes, defaults filled in. */
interface RawHostPort {
  host: string;
  port: number;
}
interface RawListener {
  mode: ListenerConfig['mode'];
  host: string;
  port: number;
  flowPort?: number;
  upstream?: RawHostPort | { byLocalAddress: Record<string, RawHostPort> };
  routes?: Record<string, RawHostPort>;
  fallback?: RawHostPort;
}
interface RawConfig {
  policy: string;
  listeners: RawListener[];
  events: string;
  eventsFormat: 'jsonl' | 'ftd-syslog';
  syslogStyle: SyslogStyle;
  syslogRfc: SyslogRfc;
  syslogHost?: string;
  admin?: { host: string; port: number; token?: string } | null;
  workers: number;
  drainMs: number;
  limits?: ProxyLimits | null;
  trust?: string;
  watch: boolean;
  capture?: string;
  captureMaxMb: number;
}

/** `listeners.0.port: expected a port number 0..65535`: the path, then what the schema expects there. */
const words: IssueWords = (i) => {
  const f = factsOf(i);
  const path = i.path.join('.');
  if (i.keyword === 'additionalProperties') return { code: 'config/invalid', message: `${path}: unknown key (known: ${f.allowed.join(', ')})` };
  const expected = f.expected ?? i.ajvMessage;
  return { code: 'config/invalid', message: path ? `${path}: ${expected}` : expected };
};

/**
 * What the schema cannot say: addresses to listen on and local addresses are IPs, an admin
 * listener off loopback has a token. Run beside the schema's errors (so the data may be any
 * shape here) to report every problem of the file at once.
 */
function semanticErrors(c: Record<string, unknown>, bad: (path: (string | number)[], msg: string) => void): void {
  (Array.isArray(c.listeners) ? c.listeners : []).forEach((l: unknown, i) => {
    if (!isObject(l)) return;
    if (typeof l.host === 'string' && l.host !== '' && isIP(l.host) === 0) bad(['listeners', i, 'host'], 'expected an IP address to listen on');
    const byLocal = isObject(l.upstream) ? l.upstream.byLocalAddress : undefined;
    if (isObject(byLocal)) {
      for (const k of Object.keys(byLocal)) if (isIP(k) === 0) bad(['listeners', i, 'upstream', 'byLocalAddress', k], 'keys are local IP addresses');
    }
  });
  if (typeof c.events === 'string') {
    const net = parseNetDestination(c.events);
    if (typeof net === 'string') bad(['events'], net);
  }
  const a = c.admin;
  // /metrics tells anyone who can reach it what the proxy sees: off loopback it needs a token.
  if (isObject(a) && typeof a.host === 'string' && !isLoopbackHost(a.host) && !a.token) {
    bad(['admin', 'host'], `the admin listener on ${a.host} is reachable from other hosts: set admin.token (or use 127.0.0.1)`);
  }
}

const hostPort = (v: RawHostPort): HostPort => ({ host: v.host, port: v.port });

function listenerOf(l: RawListener): ListenerConfig {
  const common = { host: l.host, port: l.port, ...(l.flowPort !== undefined ? { flowPort: l.flowPort } : {}) };
  if (l.mode === 'explicit') return { mode: 'explicit', ...common };
  if (l.mode === 'sni-route') {
    const routes: Record<string, HostPort> = {};
    for (const [k, v] of Object.entries(l.routes ?? {})) routes[k.toLowerCase()] = hostPort(v);
    return { mode: 'sni-route', ...common, routes, ...(l.fallback ? { fallback: hostPort(l.fallback) } : {}) };
  }
  const up = l.upstream as RawHostPort | { byLocalAddress: Record<string, RawHostPort> };
  if (!('byLocalAddress' in up)) return { mode: 'transparent', ...common, upstream: hostPort(up) };
  const byLocalAddress: Record<string, HostPort> = {};
  for (const [k, v] of Object.entries(up.byLocalAddress)) byLocalAddress[k] = hostPort(v);
  return { mode: 'transparent', ...common, upstream: { byLocalAddress } };
}

/** Parse and validate a run config's text; every problem with file:line:column. Pure. */
export function parseRunConfig(text: string, file: string): Result<RunConfig, PeekwallError[]> {
  const r = readFormat(text, file, 'config', SCHEMA, words);
  if (!r.ok) return r;
  const errors = [...r.errors];
  if (isObject(r.data)) {
    semanticErrors(r.data, (path, msg) => errors.push(peekwallError('config/invalid', `${path.join('.')}: ${msg}`, { file, ...locate(r.tree, path).at })));
  }
  if (errors.length > 0) return { ok: false, error: inFileOrder(errors) };
  const c = r.data as RawConfig;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));
  const admin = c.admin ? { host: c.admin.host, port: c.admin.port, ...(c.admin.token ? { token: c.admin.token } : {}) } : null;
  return {
    ok: true,
    value: {
      file,
      policy: abs(c.policy),
      listeners: c.listeners.map(listenerOf),
      events: c.events === 'stdout' || parseNetDestination(c.events) !== null ? c.events : abs(c.events),
      eventsFormat: c.eventsFormat,
      syslog: { style: c.syslogStyle, rfc: c.syslogRfc, host: c.syslogHost ?? null },
      admin,
      workers: c.workers,
      drainMs: c.drainMs,
      limits: { ...c.limits },
      trust: c.trust !== undefined ? abs(c.trust) : null,
      watch: c.watch,
      capture: c.capture !== undefined ? { file: abs(c.capture), maxBytes: c.captureMaxMb * 1024 * 1024 } : null,
    },
  };
}

export async function loadRunConfig(path: string): Promise<Result<RunConfig, PeekwallError[]>> {
  const refuse = (code: string, message: string, line?: boolean) => ({
    ok: false as const,
    error: [peekwallError(code, message, line ? { file: path, line: 1, column: 1 } : { file: path })],
  });
  let fh;
  try {
    // Non-blocking open: a FIFO in place of the file must not hang the loader until a writer
    // appears; fstat on the opened handle then refuses anything that is not a regular file.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return refuse('config/unreadable', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return refuse('config/not-a-file', `${path} is not a regular file (a device, FIFO or directory cannot be a run config)`);
    if (st.size > MAX_CONFIG_BYTES) return refuse('config/too-large', `${path} is ${st.size} bytes, larger than ${MAX_CONFIG_BYTES}; it is not a run config`, true);
    // Read at most one byte past the bound, in case the file grew since fstat.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n >= buf.length) return refuse('config/too-large', `${path} is larger than ${MAX_CONFIG_BYTES} bytes; it is not a run config`, true);
    }
    return parseRunConfig(buf.toString('utf8', 0, n), path);
  } catch (e) {
    return refuse('config/unreadable', `cannot read ${path}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}
