// Licensing clients that behave like the FMC/ASA Smart Licensing agents on the wire:
// resolve tools.cisco.com (through the lab's DNS table), connect WITHOUT SNI over TLS 1.2
// (seed 000/001: that missing SNI is what makes TSID fall back to the certificate), verify
// the chain against the lab CA with the device's own clock, optionally through an explicit
// proxy (PROXY_SRV/PROXY_PORT: HTTP CONNECT first), from a chosen source address, and report
// in the devices' own words (libcurl codes, seed 003).
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Clock } from './clock.js';
import { curlCertIssueLine, curlCodeFor, curlErrorLine, CURL_ERRORS, type CurlCode } from './curl.js';
import { DDCE_PATH, recordFromJson, type RecordJson } from './cloud.js';
import { licenseStatus, newRecord, type LicenseOp, type LicenseRecord, type LicenseStatus } from './license.js';
import { parsePemBundle, verifyDeviceChain, type DeviceVerifyResult } from './verify.js';

export const LICENSING_HOST = 'tools.cisco.com';
const LICENSING_URL = `https://${LICENSING_HOST}${DDCE_PATH}`;
const MAX_RESPONSE = 64 * 1024;

export interface DeviceOptions {
  /** Product instance name, sent to the cloud and shown in the lab's output. */
  readonly name: string;
  readonly kind: 'FMC' | 'ASA' | 'router';
  /** The address the device has in the field (shown), e.g. 10.12.1.8. */
  readonly address: string;
  /** The loopback alias it binds to in the lab, e.g. 127.12.1.8. */
  readonly localAddress: string;
  /** The device's DNS: name -> A records, in answer order. A missing name is curl err 6. */
  readonly dns: Readonly<Record<string, readonly string[]>>;
  /** Lab routing: where a packet to ip:port really goes (default: unchanged). */
  readonly route?: (ip: string, port: number) => { host: string; port: number };
  /** Explicit proxy, as in smart_callhome.conf (PROXY_SRV / PROXY_PORT). */
  readonly proxy?: { readonly srv: string; readonly port: number };
  /**
   * Port in the CONNECT line (443 in the field). The lab's explicit scenario sets the cloud's
   * port: peekwall's explicit listener connects to what the CONNECT names, and the lab cannot
   * listen on 443 without root.
   */
  readonly connectPort?: number | (() => number);
  /** Which A record to try first (curl takes the first answer; devices differ in the field). */
  readonly dnsStart?: number;
  /** Trusted CA bundle (PEM): the lab CA. */
  readonly ca: string;
  /** The device's own clock (skew it to reproduce seed 003 case 3). */
  readonly clock: Clock;
  /** Whole-call deadline (curl's timeout) in ms. */
  readonly timeoutMs?: number;
  readonly tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** One HTTPS call to the licensing service, as the agent saw it. */
export interface CallOutcome {
  /** Transport and HTTP were fine and the cloud said ok. */
  readonly ok: boolean;
  /** curl's code when the transport failed; null when it did not. */
  readonly curl: CurlCode | null;
  /** Plain words for the lab (what happened at which step). */
  readonly detail: string;
  /** Seed-side address:port the device connected to (or its proxy). */
  readonly connectedTo: string | null;
  readonly tlsVersion: string | null;
  readonly verify: DeviceVerifyResult | null;
  readonly httpStatus: number | null;
  readonly response: unknown;
}

export interface DeviceCommandResult {
  readonly device: string;
  readonly command: string;
  readonly ok: boolean;
  readonly output: string;
  readonly curl: CurlCode | null;
  readonly detail: string;
  readonly connectedTo: string | null;
}

const COMMANDS: Record<LicenseOp, string> = {
  register: 'license smart register idtoken',
  'renew-auth': 'license smart renew auth',
  'renew-id': 'license smart renew id',
  deregister: 'license smart deregister',
};

interface CallState {
  sockets: net.Socket[];
  phase: 'proxy' | 'connect' | 'handshake' | 'transfer';
}

function connectTcp(host: string, port: number, localAddress: string, st: CallState): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    st.sockets.push(s);
    // Errors after this step surface through the TLS socket or the deadline; never crash.
    s.on('error', () => {});
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** HTTP CONNECT through an explicit proxy, as libcurl does for https:// URLs. */
function proxyConnect(s: net.Socket, host: string, port: number): Promise<{ status: number; line: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 8192) fail(Object.assign(new Error('proxy response headers too large'), { code: 'EPROTO' }));
        return;
      }
      cleanup();
      const rest = buf.subarray(end + 4);
      if (rest.length) s.unshift(rest);
      const line = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
      resolve({ status: m ? Number(m[1]) : 0, line });
    };
    const onEnd = (): void => fail(Object.assign(new Error('proxy closed the connection'), { code: 'ECONNRESET' }));
    const fail = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', fail);
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', fail);
    s.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: peekwall-lab-smart-agent\r\nProxy-Connection: Keep-Alive\r\n\r\n`);
  });
}

function tlsHandshake(socket: net.Socket, maxVersion: 'TLSv1.2' | 'TLSv1.3', st: CallState): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // servername '' : Node sends no server_name extension (like the agents). The chain is
    // checked afterwards with the device clock, so OpenSSL's own verdict is not used here.
    const t = tls.connect({ socket, servername: '', rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion });
    st.sockets.push(t);
    t.on('error', () => {});
    t.once('secureConnect', () => {
      t.off('error', reject);
      resolve(t);
    });
    t.once('error', reject);
  });
}

function peerChain(t: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = t.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  for (let i = 0; c && c.raw && i < 10; i++) {
    const fp = c.fingerprint256;
    if (seen.has(fp)) break;
    seen.add(fp);
    try {
      out.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
    c = c.issuerCertificate;
  }
  return out;
}

function httpExchange(t: tls.TLSSocket, body: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    t.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_RESPONSE) chunks.push(c);
    });
    t.once('error', reject);
    t.once('end', () => {
      if (size === 0) return resolve(null);
      const text = Buffer.concat(chunks).toString('utf8');
      const head = text.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: head >= 0 ? text.slice(head + 4) : '' });
    });
    t.write(
      `POST ${DDCE_PATH} HTTP/1.1\r\nHost: ${LICENSING_HOST}\r\nUser-Agent: peekwall-lab-smart-agent\r\nAccept: */*\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/**
 * Licensing client state machine of one device: its own copy of the license record (mirrored
 * from the cloud's answers) plus the last communication attempt.
 */
export class LicensingDevice {
  readonly options: DeviceOptions;
  #record: LicenseRecord;
  #trust: X509Certificate[];
  #lastAttempt: { time: Date; op: LicenseOp; ok: boolean; reason: string } | null = null;
  #rr: number;
  #proxy: { readonly srv: string; readonly port: number } | null;
  #dns: Readonly<Record<string, readonly string[]>>;

  constructor(o: DeviceOptions) {
    this.options = o;
    this.#rr = o.dnsStart ?? 0;
    this.#proxy = o.proxy ?? null;
    this.#dns = o.dns;
    this.#record = newRecord(o.name, o.clock.now());
    this.#trust = parsePemBundle(o.ca);
  }

  /** Change the PROXY_SRV/PROXY_PORT setting (null: direct). */
  useProxy(p: { readonly srv: string; readonly port: number } | null): void {
    this.#proxy = p;
  }
  /** Replace the device's DNS table (the lab's DNS-failure scenario). */
  useDns(dns: Readonly<Record<string, readonly string[]>>): void {
    this.#dns = dns;
  }
  get proxy(): { readonly srv: string; readonly port: number } | null {
    return this.#proxy;
  }

  get name(): string {
    return this.options.name;
  }
  get record(): LicenseRecord {
    return this.#record;
  }
  status(): LicenseStatus {
    return licenseStatus(this.#record, this.options.clock.now());
  }

  /** One call to the cloud, with every step a real agent takes and the errors it would log. */
  async call(body: Record<string, unknown>): Promise<CallOutcome> {
    const o = this.options;
    const route = o.route ?? ((host: string, port: number) => ({ host, port }));
    const st: CallState = { sockets: [], phase: 'connect' };
    let connectedTo: string | null = null;
    let tlsVersion: string | null = null;
    let verify: DeviceVerifyResult | null = null;
    const fail = (curl: CurlCode, detail: string): CallOutcome => ({ ok: false, curl, detail, connectedTo, tlsVersion, verify, httpStatus: null, response: null });

    const attempt = async (): Promise<CallOutcome> => {
      let tcp: net.Socket;
      const proxy = this.#proxy;
      if (proxy) {
        const proxyIp = net.isIP(proxy.srv) ? proxy.srv : this.#dns[proxy.srv]?.[0];
        if (!proxyIp) return fail(5, `proxy name ${proxy.srv} does not resolve`);
        const r = route(proxyIp, proxy.port);
        connectedTo = `${proxyIp}:${proxy.port} (proxy)`;
        tcp = await connectTcp(r.host, r.port, o.localAddress, st);
        st.phase = 'proxy';
        const cport = typeof o.connectPort === 'function' ? o.connectPort() : o.connectPort ?? 443;
        const answer = await proxyConnect(tcp, LICENSING_HOST, cport);
        if (answer.status !== 200) {
          return fail(56, `proxy answered '${answer.line}' to CONNECT ${LICENSING_HOST}:${cport} (curl: Received HTTP code ${answer.status} from proxy after CONNECT)`);
        }
      } else {
        const ips = this.#dns[LICENSING_HOST];
        if (!ips || ips.length === 0) return fail(6, `${LICENSING_HOST} does not resolve in the device's DNS`);
        const ip = ips[this.#rr++ % ips.length];
        const r = route(ip, 443);
        connectedTo = `${ip}:443`;
        tcp = await connectTcp(r.host, r.port, o.localAddress, st);
      }
      st.phase = 'handshake';
      const t = await tlsHandshake(tcp, o.tlsMaxVersion ?? 'TLSv1.2', st);
      tlsVersion = t.getProtocol() ?? null;
      verify = verifyDeviceChain(peerChain(t), this.#trust, LICENSING_HOST, o.clock.now());
      if (!verify.ok) {
        t.destroy();
        return fail(60, `certificate check failed at depth ${verify.depth}: ${verify.reason} (device clock ${o.clock.now().toISOString()})`);
      }
      st.phase = 'transfer';
      const res = await httpExchange(t, JSON.stringify(body));
      if (res === null) return fail(52, 'the connection closed before any response');
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        parsed = null;
      }
      const cloudOk = res.status === 200 && typeof parsed === 'object' && parsed !== null && (parsed as { ok?: unknown }).ok === true;
      return {
        ok: cloudOk,
        curl: null,
        detail: cloudOk ? `HTTP ${res.status} from ${LICENSING_HOST}` : `HTTP ${res.status}: ${(parsed as { error?: { message?: string } } | null)?.error?.message ?? res.body.slice(0, 200)}`,
        connectedTo,
        tlsVersion,
        verify,
        httpStatus: res.status,
        response: parsed,
      };
    };

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<CallOutcome>((resolve) => {
      timer = setTimeout(() => resolve(fail(28, `no answer within ${o.timeoutMs ?? 3000} ms (${st.phase})`)), o.timeoutMs ?? 3000);
    });
    const run = attempt().catch((e: unknown) => {
      const ex = e as { code?: string; message?: string };
      const code = curlCodeFor(ex, st.phase, false);
      const what = ex.code === 'ECONNRESET' ? 'connection reset by peer' : ex.message ?? String(e);
      return fail(code, `${what} during ${st.phase === 'transfer' ? 'the request' : st.phase === 'handshake' ? 'the TLS handshake' : st.phase === 'proxy' ? 'the proxy CONNECT' : 'the TCP connect'}${connectedTo ? ` with ${connectedTo}` : ''}`);
    });
    try {
      return await Promise.race([run, deadline]);
    } finally {
      clearTimeout(timer);
      for (const s of st.sockets) s.destroy();
    }
  }

  /** Run one licensing command (`license smart renew auth`, ...) and print what the device would. */
  async command(op: LicenseOp, token?: string): Promise<DeviceCommandResult> {
    const o = this.options;
    const command = op === 'register' ? `${COMMANDS[op]} ${token ?? ''}`.trim() : COMMANDS[op];
    const out = await this.call({ op, device: o.name, ...(token !== undefined ? { token } : {}) });
    const now = o.clock.now();
    const lines: string[] = [];
    let ok = out.ok;
    if (out.curl !== null) {
      lines.push(`CH-LIB-TRACE: ch_pf_curl_request_init[59], request "POST", url "${LICENSING_URL}"`);
      if (out.curl === 60) lines.push(curlCertIssueLine(LICENSING_URL));
      lines.push(curlErrorLine(out.curl));
      lines.push(`(lab) ${out.detail}`);
      this.#lastAttempt = { time: now, op, ok: false, reason: `err code ${out.curl}, ${CURL_ERRORS[out.curl]}` };
    } else if (!out.ok) {
      const e = (out.response as { error?: { code?: string; message?: string } } | null)?.error;
      const reason = e?.message ?? out.detail;
      lines.push(`${op === 'register' ? 'Registration' : 'Communication'} failed: ${reason}${e?.code ? ` [${e.code}]` : ''}`);
      this.#lastAttempt = { time: now, op, ok: false, reason };
    } else {
      const r = (out.response as { record?: RecordJson }).record;
      if (r) {
        const rec = recordFromJson(r);
        // The evaluation clock is the device's own (it started at installation).
        this.#record = { ...rec, device: o.name, firstSeen: this.#record.firstSeen };
      } else {
        ok = false;
      }
      this.#lastAttempt = { time: now, op, ok, reason: '' };
      const s = this.status();
      lines.push(`${command}: SUCCEEDED on ${fmtDate(now)} via ${out.connectedTo} (${out.tlsVersion}, no SNI)`);
      lines.push(`Registration: ${regWord(s)}; License Authorization: ${authWord(s)}${s.nextAuthRenewal ? `; next renewal ${fmtDate(s.nextAuthRenewal)}` : ''}`);
    }
    return { device: o.name, command, ok, output: lines.join('\n'), curl: out.curl, detail: out.detail, connectedTo: out.connectedTo };
  }

  register(token: string): Promise<DeviceCommandResult> {
    return this.command('register', token);
  }
  renewAuth(): Promise<DeviceCommandResult> {
    return this.command('renew-auth');
  }
  renewId(): Promise<DeviceCommandResult> {
    return this.command('renew-id');
  }
  deregister(): Promise<DeviceCommandResult> {
    return this.command('deregister');
  }

  /** `show license`-style status, from the device's own record and clock. */
  showLicense(): string {
    const now = this.options.clock.now();
    const s = licenseStatus(this.#record, now);
    const a = this.#lastAttempt;
    const L: string[] = ['Smart Licensing is ENABLED', '', 'Registration:', `  Status: ${regWord(s)}`];
    if (s.registration === 'Registered') {
      L.push(`  Smart Account: ${s.account}`);
      L.push(`  Initial Registration: SUCCEEDED on ${fmtDate(s.registeredAt!)}`);
      if (s.idExpires) L.push(`  Registration Expires: ${fmtDate(s.idExpires)}${s.idExpires.getTime() <= now.getTime() ? ' (passed)' : ''}`);
    } else if (s.evaluationEnds) {
      L.push(`  Evaluation Period: ${s.registration === 'Evaluation' ? 'in use' : 'expired'}, ends ${fmtDate(s.evaluationEnds)}`);
    }
    L.push('', 'License Authorization:', `  Status: ${authWord(s)}${s.lastAuth && s.registration === 'Registered' ? ` on ${fmtDate(s.lastAuth)}` : ''}`);
    L.push(`  Last Communication Attempt: ${a ? `${a.ok ? 'SUCCEEDED' : 'FAILED'} on ${fmtDate(a.time)}` : 'None'}`);
    if (a && !a.ok) L.push(`    Failure reason: ${a.reason}`);
    if (s.nextAuthRenewal) {
      // Past due (a failed renewal): the agent keeps retrying (seed 003).
      L.push(`  Next Communication Attempt: ${s.nextAuthRenewal.getTime() <= now.getTime() ? `overdue since ${fmtDate(s.nextAuthRenewal)}, retrying` : fmtDate(s.nextAuthRenewal)}`);
    }
    if (s.authExpires) L.push(`  Communication Deadline: ${fmtDate(s.authExpires)}${s.authExpires.getTime() <= now.getTime() ? ' (passed)' : ''}`);
    return L.join('\n');
  }
}

function regWord(s: LicenseStatus): string {
  return s.registration === 'Registered' ? 'REGISTERED' : s.registration === 'Evaluation' ? 'EVALUATION MODE' : 'UNREGISTERED';
}

function authWord(s: LicenseStatus): string {
  switch (s.authorization) {
    case 'Authorized':
      return 'AUTHORIZED';
    case 'Authorization Expired':
      return 'AUTHORIZATION EXPIRED';
    case 'Out of Compliance':
      return 'OUT OF COMPLIANCE';
    case 'Evaluation':
      return 'EVALUATION MODE';
    case 'N/A':
      return 'N/A';
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** IOS/ASA style: `Dec 02 18:46:41 2025 UTC`. */
function fmtDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} UTC`;
}
