// `peekwall run --config FILE`: the YAML file that says where to listen, which policy to
// load, where events go, and the admin/limits/workers settings. Validation returns every
// problem with file:line, like the policy loader does; nothing here throws on bad input.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { LineCounter, parseDocument } from 'yaml';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { isLoopbackHost } from './loopback.js';
import type { HostPort, ListenerConfig, ProxyLimits } from './types.js';

export interface RunConfig {
  readonly file: string;
  /** Absolute path of the policy file. */
  readonly policy: string;
  readonly listeners: ListenerConfig[];
  /** 'stdout' or an absolute file path. */
  readonly events: string;
  readonly admin: { host: string; port: number; token?: string } | null;
  readonly workers: number;
  readonly drainMs: number;
  readonly limits: ProxyLimits;
  /** Absolute path of a CA bundle/dir for certificate status, or null. */
  readonly trust: string | null;
  /** Reload when the policy file changes (default true). */
  readonly watch: boolean;
}

const TOP_KEYS = new Set(['policy', 'listeners', 'events', 'admin', 'workers', 'drainMs', 'limits', 'trust', 'watch']);

/** A run config is a few dozen lines; anything this large is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export function parseRunConfig(text: string, file: string): Result<RunConfig, PeekwallError[]> {
  const first = { file, line: 1, column: 1 };
  if (text.length > MAX_CONFIG_BYTES) {
    return { ok: false, error: [peekwallError('config/too-large', `the run config is larger than ${MAX_CONFIG_BYTES} bytes; it is not a run config`, first)] };
  }
  // The YAML library is trusted to return errors, but hostile input (deep nesting, alias
  // bombs) can still make it throw: that becomes an error value too.
  try {
    return parseChecked(text, file);
  } catch (e) {
    return { ok: false, error: [peekwallError('config/yaml', `the run config cannot be read as YAML: ${(e as Error).message}`, first)] };
  }
}

function parseChecked(text: string, file: string): Result<RunConfig, PeekwallError[]> {
  const first = { file, line: 1, column: 1 };
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: PeekwallError[] = [];
  const posOf = (offset: number) => {
    const p = lc.linePos(offset);
    return { file, line: Math.max(1, p.line), column: Math.max(1, p.col) };
  };
  // The node at path, or its nearest ancestor that exists (a missing key points at its map).
  const at = (path: (string | number)[]) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && node.range) return posOf(node.range[0]);
    }
    return first;
  };
  const bad = (path: (string | number)[], msg: string) =>
    errors.push(peekwallError('config/invalid', `${path.join('.') || 'config'}: ${msg}`, at(path)));
  for (const e of doc.errors) {
    errors.push(peekwallError('config/yaml', e.message.split('\n')[0], posOf(e.pos[0])));
  }
  if (errors.length > 0) return { ok: false, error: errors };
  let root: unknown;
  try {
    // Alias expansion is where a billion-laughs document explodes: bound it.
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, error: [peekwallError('config/yaml', `the run config cannot be expanded: ${(e as Error).message}`, first)] };
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    return { ok: false, error: [peekwallError('config/invalid', 'the config must be a mapping (policy:, listeners:, ...)', first)] };
  }
  const c = root as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!TOP_KEYS.has(k)) bad([k], `unknown key (known: ${[...TOP_KEYS].join(', ')})`);
  const base = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

  const str = (v: unknown, path: (string | number)[]): string | null => {
    if (typeof v === 'string' && v !== '') return v;
    bad(path, 'expected a non-empty string');
    return null;
  };
  const port = (v: unknown, path: (string | number)[], allowZero: boolean): number | null => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= (allowZero ? 0 : 1) && v <= 65535) return v;
    bad(path, `expected a port number ${allowZero ? '0' : '1'}..65535`);
    return null;
  };
  const hostPort = (v: unknown, path: (string | number)[]): HostPort | null => {
    if (v === null || typeof v !== 'object') {
      bad(path, 'expected { host, port }');
      return null;
    }
    const o = v as Record<string, unknown>;
    const h = str(o.host, [...path, 'host']);
    const p = port(o.port, [...path, 'port'], false);
    return h !== null && p !== null ? { host: h, port: p } : null;
  };
  const posInt = (v: unknown, path: (string | number)[], def: number, min = 0): number => {
    if (v === undefined) return def;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
    bad(path, `expected an integer >= ${min}`);
    return def;
  };

  const policy = str(c.policy, ['policy']);
  const listeners: ListenerConfig[] = [];
  if (!Array.isArray(c.listeners) || c.listeners.length === 0) {
    bad(['listeners'], 'expected a list of at least one listener');
  } else {
    c.listeners.forEach((raw: unknown, i: number) => {
      const path = ['listeners', i];
      if (raw === null || typeof raw !== 'object') return bad(path, 'expected a mapping');
      const l = raw as Record<string, unknown>;
      const host = str(l.host ?? '127.0.0.1', [...path, 'host']);
      const p = port(l.port, [...path, 'port'], true);
      const flowPort = l.flowPort === undefined ? undefined : port(l.flowPort, [...path, 'flowPort'], false);
      if (host === null || p === null || flowPort === null) return;
      if (isIP(host) === 0) bad([...path, 'host'], 'expected an IP address to listen on');
      const common = { host, port: p, ...(flowPort !== undefined ? { flowPort } : {}) };
      switch (l.mode) {
        case 'transparent': {
          const up = l.upstream as Record<string, unknown> | undefined;
          if (up && typeof up === 'object' && 'byLocalAddress' in up) {
            const m = up.byLocalAddress as Record<string, unknown>;
            if (m === null || typeof m !== 'object') return bad([...path, 'upstream', 'byLocalAddress'], 'expected a mapping local-address -> { host, port }');
            const byLocalAddress: Record<string, HostPort> = {};
            for (const [k, v] of Object.entries(m)) {
              if (isIP(k) === 0) bad([...path, 'upstream', 'byLocalAddress', k], 'keys are local IP addresses');
              const hp = hostPort(v, [...path, 'upstream', 'byLocalAddress', k]);
              if (hp) byLocalAddress[k] = hp;
            }
            listeners.push({ mode: 'transparent', ...common, upstream: { byLocalAddress } });
          } else {
            const hp = hostPort(up, [...path, 'upstream']);
            if (hp) listeners.push({ mode: 'transparent', ...common, upstream: hp });
          }
          return;
        }
        case 'sni-route': {
          const r = l.routes as Record<string, unknown> | undefined;
          const routes: Record<string, HostPort> = {};
          if (r !== undefined && (r === null || typeof r !== 'object')) return bad([...path, 'routes'], 'expected a mapping name -> { host, port }');
          for (const [k, v] of Object.entries(r ?? {})) {
            const hp = hostPort(v, [...path, 'routes', k]);
            if (hp) routes[k.toLowerCase()] = hp;
          }
          const fb = l.fallback === undefined ? undefined : hostPort(l.fallback, [...path, 'fallback']);
          listeners.push({ mode: 'sni-route', ...common, routes, ...(fb ? { fallback: fb } : {}) });
          return;
        }
        case 'explicit':
          listeners.push({ mode: 'explicit', ...common });
          return;
        default:
          bad([...path, 'mode'], 'expected transparent, sni-route or explicit');
      }
    });
  }

  let events = 'stdout';
  if (c.events !== undefined) {
    const e = str(c.events, ['events']);
    if (e !== null) events = e === 'stdout' ? 'stdout' : abs(e);
  }
  let admin: RunConfig['admin'] = null;
  if (c.admin !== undefined && c.admin !== null) {
    const a = c.admin as Record<string, unknown>;
    const h = str(a.host ?? '127.0.0.1', ['admin', 'host']);
    const p = port(a.port, ['admin', 'port'], true);
    const token = a.token === undefined ? undefined : str(a.token, ['admin', 'token']);
    // /metrics tells anyone who can reach it what the proxy sees: off loopback it needs a token.
    if (h !== null && !isLoopbackHost(h) && !token) {
      bad(['admin', 'host'], `the admin listener on ${h} is reachable from other hosts: set admin.token (or use 127.0.0.1)`);
    } else if (h !== null && p !== null) admin = { host: h, port: p, ...(token ? { token } : {}) };
  }
  const workers = posInt(c.workers, ['workers'], 1, 1);
  const drainMs = posInt(c.drainMs, ['drainMs'], 10_000);
  const limits: { maxConnections?: number; maxHeldBytes?: number } = {};
  if (c.limits !== undefined) {
    const l = (c.limits ?? {}) as Record<string, unknown>;
    if (l.maxConnections !== undefined) limits.maxConnections = posInt(l.maxConnections, ['limits', 'maxConnections'], 10_000, 1);
    if (l.maxHeldBytes !== undefined) limits.maxHeldBytes = posInt(l.maxHeldBytes, ['limits', 'maxHeldBytes'], 64 << 20, 1024);
  }
  let trust: string | null = null;
  if (c.trust !== undefined) {
    const t = str(c.trust, ['trust']);
    if (t !== null) trust = abs(t);
  }
  if (c.watch !== undefined && typeof c.watch !== 'boolean') bad(['watch'], 'expected true or false');
  if (errors.length > 0 || policy === null) return { ok: false, error: errors };
  return {
    ok: true,
    value: { file, policy: abs(policy), listeners, events, admin, workers, drainMs, limits, trust, watch: c.watch !== false },
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
