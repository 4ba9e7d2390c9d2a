// Pulling an FMC bundle from a live FMC over its REST API: a token from generatetoken (Basic
// auth), refreshed when a call answers 401; every collection paged with ?expanded=true at
// FMC's largest page (1000); 429s answered by waiting (FMC allows 120 requests a minute). The
// answers are written as they came, so the bundle reader reads exactly what FMC said.
//
// node:https rather than fetch: Node 20's fetch takes a custom CA or an unverified lab
// certificate only through an undici Agent, and undici is not importable without installing
// it; an https.Agent carries `ca` and `rejectUnauthorized` per client, with no global state.
//
// Secrets: the password and the tokens go into request headers only. Every message this module
// makes passes through `redact`, and none quotes a header.
import * as https from 'node:https';
import { peekwallError, type PeekwallError, type Result } from '../../util/errors.js';
import { FMC_OBJECT_RESOURCES } from './bundle.js';

const AUTH = '/api/fmc_platform/v1/auth';
/** FMC's largest page. */
export const FMC_MAX_LIMIT = 1000;
/** Object kinds the bundle reader understands, fetched under /object/. */
export const PULLED_OBJECTS = FMC_OBJECT_RESOURCES;

/** Largest answer body read (one page of 1000 expanded rules is a few MB). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Pages followed per collection, so a server that never ends paging cannot keep us. */
const MAX_PAGES = 10_000;
/** Longest wait for one 429, whatever Retry-After says (FMC's window is one minute). */
const MAX_WAIT_MS = 120_000;

export interface PullOptions {
  /** https://host[:port] of the FMC. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** The access policy's name. */
  readonly policy: string;
  /** A domain's name from the token's DOMAINS (default: the token's DOMAIN_UUID). */
  readonly domain?: string;
  /** PEM CA certificate(s) the FMC's certificate chains to. */
  readonly ca?: string;
  /** Accept any certificate (a lab FMC's self-signed one). */
  readonly insecure?: boolean;
  /** One line per resource pulled, per token refresh and per wait. */
  readonly progress?: (line: string) => void;
  /** Page size (default and most: 1000). */
  readonly limit?: number;
  /** First wait after a 429 without Retry-After, doubled each time (default 2000 ms). */
  readonly backoffMs?: number;
  /** 429s in a row one request may get before the pull gives up (default 8). */
  readonly maxRetries?: number;
  /** Seconds a request may stay silent (default 60). */
  readonly timeoutMs?: number;
}

export type Bundle = Record<string, unknown>;
export interface Pulled {
  readonly bundle: Bundle;
  /** Items per resource written. */
  readonly counts: ReadonlyMap<string, number>;
  readonly requests: number;
}

/** Codes that mean the user's input is wrong (exit 2), rather than the FMC or the network. */
export const PULL_INPUT_ERRORS: ReadonlySet<string> = new Set(['fmc/pull-auth', 'fmc/no-policy', 'fmc/unknown-domain', 'fmc/pull-tls', 'fmc/pull-usage']);

type Json = Record<string, unknown>;
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

class PullFailure extends Error {
  constructor(readonly error: PeekwallError) {
    super(error.message);
  }
}

const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const header = (a: Answer, name: string): string | undefined => {
  const v = a.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds or an HTTP date, as milliseconds to wait; null when absent or unreadable. */
export function retryAfterMs(v: string | undefined, now = Date.now()): number | null {
  if (v === undefined || v.trim() === '') return null;
  if (/^\d+$/.test(v.trim())) return Math.min(Number(v.trim()) * 1000, MAX_WAIT_MS);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.min(Math.max(0, at - now), MAX_WAIT_MS);
}

class Client {
  private readonly agent: https.Agent;
  private readonly base: URL;
  private access: string | null = null;
  private refresh: string | null = null;
  private refreshesLeft = 0;
  private secrets: string[];
  domainUuid = '';
  domains: { name: string; uuid: string }[] = [];
  requests = 0;

  constructor(private readonly o: PullOptions) {
    this.base = new URL(o.url);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: o.ca, rejectUnauthorized: !o.insecure });
    this.secrets = [o.password, Buffer.from(`${o.user}:${o.password}`).toString('base64')].filter((s) => s.length > 0);
  }

  close(): void {
    this.agent.destroy();
  }

  /** A message with every secret known so far blanked out. */
  redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  private fail(code: string, message: string): PullFailure {
    return new PullFailure(peekwallError(code, this.redact(message)));
  }

  private send(method: 'GET' | 'POST', path: string, headers: Record<string, string>): Promise<Answer> {
    this.requests++;
    return new Promise((resolve, reject) => {
      const req = https.request(
        { protocol: 'https:', hostname: this.base.hostname, port: this.base.port || 443, method, path, headers: { Accept: 'application/json', ...headers }, agent: this.agent, timeout: this.o.timeoutMs ?? 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY_BYTES) {
              req.destroy();
              reject(this.fail('fmc/pull-bad-answer', `${method} ${path}: the answer is over ${MAX_BODY_BYTES} bytes`));
            } else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => reject(this.networkError(method, path, e)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer for ${Math.round((this.o.timeoutMs ?? 60_000) / 1000)} s`)));
      req.on('error', (e) => reject(this.networkError(method, path, e)));
      req.end();
    });
  }

  private networkError(method: string, path: string, e: Error): PullFailure {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code)) {
      return this.fail('fmc/pull-tls', `${method} ${this.base.host}${path}: the FMC's certificate is not trusted (${code}: ${e.message}): give its CA with --ca FILE, or --insecure for a lab FMC`);
    }
    return this.fail('fmc/pull-network', `${method} ${this.base.host}${path}: ${code ? `${code}: ` : ''}${e.message}`);
  }

  /** FMC's own words from an error answer, short. */
  private why(a: Answer): string {
    try {
      const j = JSON.parse(a.body) as { error?: { messages?: { description?: string }[] } };
      const d = j.error?.messages?.map((m) => m.description).filter(Boolean).join('; ');
      return d ? `: ${d.slice(0, 200)}` : '';
    } catch {
      return '';
    }
  }

  private httpError(method: string, path: string, a: Answer): PullFailure {
    return this.fail('fmc/pull-http', `${method} ${path} answered HTTP ${a.status}${this.why(a)}`);
  }

  /** A new token pair from the user and password. */
  async login(): Promise<void> {
    const path = `${AUTH}/generatetoken`;
    const basic = Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64');
    const a = await this.withRateLimit('POST', path, () => this.send('POST', path, { Authorization: `Basic ${basic}` }));
    if (a.status === 401 || a.status === 403) {
      throw this.fail('fmc/pull-auth', `POST ${path} answered HTTP ${a.status}: the FMC refused user '${this.o.user}' with the password given (wrong user or password, or no REST API access)`);
    }
    if (a.status < 200 || a.status > 299) throw this.httpError('POST', path, a);
    this.takeTokens(a, path);
    this.refreshesLeft = 3;
    const uuid = header(a, 'DOMAIN_UUID');
    const domains = header(a, 'DOMAINS');
    if (domains) {
      try {
        const d = JSON.parse(domains) as unknown;
        if (Array.isArray(d)) this.domains = d.filter(isMap).map((x) => ({ name: String(x.name ?? ''), uuid: String(x.uuid ?? '') }));
      } catch {
        // DOMAINS is informative; DOMAIN_UUID is what the calls need.
      }
    }
    if (!this.domainUuid) this.domainUuid = uuid ?? '';
    if (!this.domainUuid) throw this.fail('fmc/pull-bad-answer', `POST ${path}: the answer has no DOMAIN_UUID header`);
  }

  private takeTokens(a: Answer, path: string): void {
    const access = header(a, 'X-auth-access-token');
    if (!access) throw this.fail('fmc/pull-bad-answer', `POST ${path} answered HTTP ${a.status} without an X-auth-access-token header`);
    this.access = access;
    this.refresh = header(a, 'X-auth-refresh-token') ?? null;
    for (const t of [access, this.refresh]) if (t && !this.secrets.includes(t)) this.secrets.push(t);
  }

  /** After a 401: refresh the token (FMC allows three refreshes), else log in again. */
  private async renew(): Promise<void> {
    const path = `${AUTH}/refreshtoken`;
    if (this.refresh && this.access && this.refreshesLeft > 0) {
      this.refreshesLeft--;
      const a = await this.withRateLimit('POST', path, () => this.send('POST', path, { 'X-auth-access-token': this.access!, 'X-auth-refresh-token': this.refresh! }));
      if (a.status >= 200 && a.status <= 299) {
        this.takeTokens(a, path);
        this.o.progress?.('token expired: refreshed');
        return;
      }
    }
    await this.login();
    this.o.progress?.('token expired: logged in again');
  }

  /** Send, waiting out 429s: Retry-After when FMC gives it, else a doubling backoff. */
  private async withRateLimit(method: string, path: string, send: () => Promise<Answer>): Promise<Answer> {
    const max = this.o.maxRetries ?? 8;
    let backoff = this.o.backoffMs ?? 2000;
    for (let attempt = 0; ; attempt++) {
      const a = await send();
      if (a.status !== 429) return a;
      if (attempt >= max) throw this.fail('fmc/pull-rate-limited', `${method} ${path} answered HTTP 429 ${attempt + 1} times in a row (FMC allows 120 requests a minute); try again later`);
      const given = retryAfterMs(header(a, 'Retry-After'));
      const wait = given ?? Math.min(backoff, MAX_WAIT_MS);
      if (given === null) backoff *= 2;
      this.o.progress?.(`HTTP 429 on ${method} ${path}: waiting ${(wait / 1000).toFixed(wait < 1000 ? 2 : 0)} s${given === null ? ' (backoff)' : ' (Retry-After)'}`);
      await sleep(wait);
    }
  }

  /** GET a JSON map under the domain; null on 404 when `optional`. */
  async get(rel: string, optional = false): Promise<Json | null> {
    const path = `/api/fmc_config/v1/domain/${this.domainUuid}${rel}`;
    let renewed = false;
    for (;;) {
      const a = await this.withRateLimit('GET', path, () => this.send('GET', path, { 'X-auth-access-token': this.access ?? '' }));
      if (a.status === 401 && !renewed) {
        renewed = true;
        await this.renew();
        continue;
      }
      if (a.status === 404 && optional) return null;
      if (a.status < 200 || a.status > 299) throw this.httpError('GET', path, a);
      try {
        const j = JSON.parse(a.body) as unknown;
        if (isMap(j)) return j;
      } catch {
        // fall through
      }
      throw this.fail('fmc/pull-bad-answer', `GET ${path} answered HTTP ${a.status} with something that is not a JSON object`);
    }
  }

  /** Every page of a collection, fetched with ?expanded=true; null when optional and absent. */
  async pages(rel: string, optional = false): Promise<Json[] | null> {
    const limit = Math.min(Math.max(1, this.o.limit ?? FMC_MAX_LIMIT), FMC_MAX_LIMIT);
    const out: Json[] = [];
    let offset = 0;
    let got = 0;
    let count: number | null = null;
    for (let n = 0; n < MAX_PAGES; n++) {
      const page = await this.get(`${rel}?offset=${offset}&limit=${limit}&expanded=true`, optional && n === 0);
      if (page === null) return null;
      // FMC leaves `items` out of an empty answer; the reader wants it there.
      if (page.items === undefined) page.items = [];
      if (!Array.isArray(page.items)) throw this.fail('fmc/pull-bad-answer', `GET ${rel}: items is not a list`);
      out.push(page);
      got += page.items.length;
      const c = isMap(page.paging) ? Number(page.paging.count) : NaN;
      count = Number.isInteger(c) && c >= 0 ? c : null;
      if (page.items.length === 0 || count === null || got >= count) break;
      offset += page.items.length;
    }
    if (count !== null && got < count) {
      throw this.fail('fmc/incomplete-paging', `GET ${rel}: FMC's paging says ${count} items, ${got} came on ${out.length} pages`);
    }
    return out;
  }

  chooseDomain(name: string): void {
    const hit = this.domains.filter((d) => d.name === name || d.name.split('/').pop() === name);
    if (hit.length !== 1) {
      const known = this.domains.map((d) => `'${d.name}'`).join(', ') || 'none listed';
      throw this.fail('fmc/unknown-domain', `${hit.length === 0 ? 'no' : 'more than one'} domain named '${name}' in the token's DOMAINS (${known})`);
    }
    this.domainUuid = hit[0].uuid;
  }
}

const itemsOf = (pages: readonly Json[]): Json[] => pages.flatMap((p) => (p.items as unknown[]).filter(isMap));
/** One page as it came, several as the list of pages (the reader takes both). */
const asResource = (pages: readonly Json[]): unknown => (pages.length === 1 ? pages[0] : pages);

/** Pull the named access policy, its rules, its Security Intelligence and every object kind the reader reads. */
export async function pullBundle(o: PullOptions): Promise<Result<Pulled, PeekwallError>> {
  let base: URL;
  try {
    base = new URL(o.url);
  } catch {
    return { ok: false, error: peekwallError('fmc/pull-usage', `--url must be https://HOST[:PORT], not '${o.url}'`) };
  }
  if (base.protocol !== 'https:' || (base.pathname !== '/' && base.pathname !== '') || base.search || base.username) {
    return { ok: false, error: peekwallError('fmc/pull-usage', `--url must be https://HOST[:PORT] (the password goes to it), not '${o.url}'`) };
  }
  const c = new Client(o);
  const say = (line: string) => o.progress?.(c.redact(line));
  try {
    await c.login();
    if (o.domain !== undefined) c.chooseDomain(o.domain);
    say(`logged in as '${o.user}', domain ${c.domains.find((d) => d.uuid === c.domainUuid)?.name ?? c.domainUuid}`);
    const bundle: Bundle = {};
    const counts = new Map<string, number>();
    const acps = itemsOf((await c.pages('/policy/accesspolicies'))!);
    const acp = acps.find((a) => a.name === o.policy);
    if (!acp) {
      const names = acps.map((a) => `'${String(a.name)}'`);
      return { ok: false, error: peekwallError('fmc/no-policy', c.redact(`no access policy named '${o.policy}' on the FMC (${names.slice(0, 20).join(', ') || 'none'}${names.length > 20 ? `, and ${names.length - 20} more` : ''})`)) };
    }
    const acpId = String(acp.id ?? '');
    // Only the chosen policy: the reader then needs no --access-policy.
    bundle.accesspolicies = [acp];
    counts.set('accesspolicies', 1);
    say(`accesspolicies: '${o.policy}' (${acps.length} on the FMC)`);
    const rules = (await c.pages(`/policy/accesspolicies/${encodeURIComponent(acpId)}/accessrules`))!;
    bundle.accessrules = asResource(rules);
    counts.set('accessrules', itemsOf(rules).length);
    say(`accessrules: ${itemsOf(rules).length} in ${rules.length} page${rules.length === 1 ? '' : 's'}`);
    const siRef = isMap(acp.securityIntelligence) ? acp.securityIntelligence.id : undefined;
    if (typeof siRef === 'string' && siRef !== '') {
      const si = await c.get(`/policy/accesspolicies/${encodeURIComponent(acpId)}/securityintelligencepolicies/${encodeURIComponent(siRef)}`, true);
      if (si) {
        bundle.securityintelligencepolicies = [si];
        counts.set('securityintelligencepolicies', 1);
      }
      say(`securityintelligencepolicies: ${si ? 1 : 'none (the FMC has no such endpoint: older than 7.0)'}`);
    } else say('securityintelligencepolicies: none referenced by the policy');
    for (const kind of PULLED_OBJECTS) {
      const pages = await c.pages(`/object/${kind}`, true);
      if (pages === null) {
        say(`${kind}: not on this FMC (HTTP 404), left out`);
        continue;
      }
      bundle[kind] = asResource(pages);
      const n = itemsOf(pages).length;
      counts.set(kind, n);
      say(`${kind}: ${n} in ${pages.length} page${pages.length === 1 ? '' : 's'}`);
    }
    return { ok: true, value: { bundle, counts, requests: c.requests } };
  } catch (e) {
    if (e instanceof PullFailure) return { ok: false, error: e.error };
    return { ok: false, error: peekwallError('fmc/pull-network', c.redact(`pull failed: ${(e as Error).message}`)) };
  } finally {
    c.close();
  }
}
