// The simulated Smart Licensing cloud: an HTTPS server presenting the lab licensing
// certificate (CN tools.cisco.com, first SAN toos.cisco.com) and answering
// POST /its/service/oddce/services/DDCEService. The real service speaks TLS 1.2 (seed 003's
// curl shows TLSv1.2), so that is the default; TLS 1.3 is an option because it hides the
// certificate from a passive observer (TSID off -> no name at all).
//
// Request body (lab format, JSON): {"op":"register"|"renew-auth"|"renew-id"|"deregister",
// "device":"fmc-10.12.1.8","token":"..."}. Answer: {"ok":true,"op","device","record","status"}
// or {"ok":false,"error":{"code","message"}} with a 4xx status.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from './clock.js';
import {
  applyLicenseOp,
  LICENSE_OPS,
  licenseStatus,
  type LabToken,
  type LicenseOp,
  type LicenseRecord,
  type LicenseStatus,
} from './license.js';

export const DDCE_PATH = '/its/service/oddce/services/DDCEService';
const MAX_BODY = 16 * 1024;

export interface CloudOptions {
  readonly host: string;
  /** 0 = ephemeral. */
  readonly port: number;
  /** PEM: the licensing leaf, optionally followed by its chain. */
  readonly cert: string;
  readonly key: string;
  readonly tls13?: boolean;
  readonly clock: Clock;
  readonly tokens: ReadonlyMap<string, LabToken>;
  /** Device records kept at most (serve runs for hours and anyone local can register). */
  readonly maxDevices?: number;
}

export interface CloudRequestLog {
  readonly time: string;
  readonly op: string;
  readonly device: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly tlsVersion: string | null;
}

export interface RunningCloud {
  readonly host: string;
  readonly port: number;
  readonly tlsMaxVersion: 'TLSv1.2' | 'TLSv1.3';
  record(device: string): LicenseRecord | undefined;
  status(device: string): LicenseStatus | null;
  /** Every request answered, oldest first (bounded). */
  readonly log: readonly CloudRequestLog[];
  close(): Promise<void>;
}

export interface RecordJson {
  device: string;
  firstSeen: string;
  registeredAt: string | null;
  account: string | null;
  compliant: boolean;
  lastAuth: string | null;
  lastId: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function recordToJson(r: LicenseRecord): RecordJson {
  return {
    device: r.device,
    firstSeen: r.firstSeen.toISOString(),
    registeredAt: iso(r.registeredAt),
    account: r.account,
    compliant: r.compliant,
    lastAuth: iso(r.lastAuth),
    lastId: iso(r.lastId),
  };
}

export function recordFromJson(j: RecordJson): LicenseRecord {
  const d = (s: string | null): Date | null => (s === null ? null : new Date(s));
  return {
    device: j.device,
    firstSeen: new Date(j.firstSeen),
    registeredAt: d(j.registeredAt),
    account: j.account,
    compliant: j.compliant,
    lastAuth: d(j.lastAuth),
    lastId: d(j.lastId),
  };
}

const LOG_MAX = 1000;

export async function startCloud(o: CloudOptions): Promise<RunningCloud> {
  const records = new Map<string, LicenseRecord>();
  const maxDevices = o.maxDevices ?? 10_000;
  const log: CloudRequestLog[] = [];
  const tlsMaxVersion = o.tls13 ? 'TLSv1.3' : 'TLSv1.2';

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const tlsVersion = (req.socket as TLSSocket).getProtocol?.() ?? null;
    const note = (op: string, device: string, ok: boolean, code?: string): void => {
      if (log.length >= LOG_MAX) log.shift();
      log.push({ time: o.clock.now().toISOString(), op, device, ok, ...(code ? { code } : {}), tlsVersion });
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      note('?', '?', false, 'lab/bad-request');
      return answer(res, 400, { ok: false, error: { code: 'lab/bad-request', message: 'body is not JSON' } });
    }
    const p = parsed as { op?: unknown; device?: unknown; token?: unknown };
    if (typeof p !== 'object' || p === null || !LICENSE_OPS.includes(p.op as LicenseOp) || typeof p.device !== 'string' || p.device === '' || (p.token !== undefined && typeof p.token !== 'string')) {
      // Never String() a parsed value: {"op": {"toString": 1}} makes String() throw, and this
      // runs in a stream handler, where a throw takes the whole lab down.
      const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?');
      note(text(p?.op), text(p?.device), false, 'lab/bad-request');
      return answer(res, 400, { ok: false, error: { code: 'lab/bad-request', message: `expected {op: ${LICENSE_OPS.join('|')}, device, token?}` } });
    }
    if (!records.has(p.device) && records.size >= maxDevices) {
      note(p.op as string, p.device, false, 'lab/too-many-devices');
      return answer(res, 429, { ok: false, error: { code: 'lab/too-many-devices', message: `the lab cloud keeps at most ${maxDevices} devices` } });
    }
    const now = o.clock.now();
    const r = applyLicenseOp(records.get(p.device), { op: p.op as LicenseOp, device: p.device, ...(typeof p.token === 'string' ? { token: p.token } : {}) }, now, o.tokens);
    if (!r.ok) {
      note(p.op as string, p.device, false, r.error.code);
      return answer(res, r.error.code === 'lab/invalid-token' || r.error.code === 'lab/token-expired' ? 401 : 409, { ok: false, error: r.error });
    }
    records.set(p.device, r.value);
    note(p.op as string, p.device, true);
    const st = licenseStatus(r.value, now);
    return answer(res, 200, { ok: true, op: p.op, device: p.device, time: now.toISOString(), record: recordToJson(r.value), status: { registration: st.registration, authorization: st.authorization } });
  };

  const server = https.createServer(
    { cert: o.cert, key: o.key, minVersion: 'TLSv1.2', maxVersion: tlsMaxVersion },
    (req, res) => {
      if (req.url !== DDCE_PATH) return answer(res, 404, { ok: false, error: { code: 'lab/not-found', message: `only ${DDCE_PATH} is served` } });
      if (req.method !== 'POST') return answer(res, 405, { ok: false, error: { code: 'lab/method', message: 'POST only' } });
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          answer(res, 413, { ok: false, error: { code: 'lab/too-large', message: `body over ${MAX_BODY} bytes` } });
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (size <= MAX_BODY) handle(req, res, Buffer.concat(chunks));
      });
      req.on('error', () => res.destroy());
    },
  );
  // A TLS client that gives up mid-handshake (the TSID probe does exactly that) is normal.
  server.on('tlsClientError', () => {});
  server.on('clientError', (_e, sock) => sock.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  return {
    host: o.host,
    port: addr.port,
    tlsMaxVersion,
    record: (device) => records.get(device),
    status: (device) => {
      const r = records.get(device);
      return r ? licenseStatus(r, o.clock.now()) : null;
    },
    log,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
