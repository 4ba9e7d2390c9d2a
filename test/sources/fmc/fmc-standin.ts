// A stand-in for an FMC's REST API, for `fmc pull` tests only: real HTTPS on 127.0.0.1 with a
// lab certificate, the documented behaviour (../shared/FMC-API.md): Basic-auth generatetoken
// answering 204 with X-auth-access-token, X-auth-refresh-token, DOMAIN_UUID and DOMAINS;
// refreshtoken taking both tokens; 401 without a valid token; paging by offset and limit
// (default 25, at most 1000) with {links, items, paging}, `items` left out when empty; items
// reduced to {links, type, id, name} without ?expanded=true; 404 for what it does not hold.
// Faults are injected by the number of the data GET: a 429 (with or without Retry-After), a
// 500, or the tokens expiring.
import { randomUUID } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import type { TestCert } from '../../proxy/lib/net.js';

export type Json = Record<string, unknown>;
export interface DomainData {
  readonly accesspolicies: Json[];
  /** Rules by access policy id. */
  readonly accessrules: Record<string, Json[]>;
  /** SI policies by id. */
  readonly securityintelligencepolicies: Record<string, Json>;
  /** Object kind -> items (a kind left out answers 404, as on an older FMC). */
  readonly objects: Record<string, Json[]>;
}
export type Fault = '429' | '429-bare' | 'expire' | '500';
export interface StandinOptions {
  readonly user: string;
  readonly password: string;
  readonly domains: readonly { name: string; uuid: string; data: DomainData }[];
  /** Fault by the 1-based number of the data GET. */
  readonly faults?: Readonly<Record<number, Fault>>;
  readonly refuseRefresh?: boolean;
}
export interface Standin {
  readonly url: string;
  readonly log: { method: string; path: string; status: number }[];
  /** Every token handed out, and the password: none may appear in what peekwall prints. */
  secrets(): string[];
}

const API = '/api/fmc_config/v1/domain/';

export async function startStandin(t: Test, cert: TestCert, o: StandinOptions): Promise<Standin> {
  const tokens = new Map<string, string>(); // access -> refresh
  const issued: string[] = [];
  const log: Standin['log'] = [];
  let gets = 0;
  const issue = (res: import('node:http').ServerResponse): void => {
    const access = randomUUID();
    const refresh = randomUUID();
    tokens.set(access, refresh);
    issued.push(access, refresh);
    res.setHeader('X-auth-access-token', access);
    res.setHeader('X-auth-refresh-token', refresh);
    res.setHeader('DOMAIN_UUID', o.domains[0].uuid);
    res.setHeader('DOMAINS', JSON.stringify(o.domains.map((d) => ({ name: d.name, uuid: d.uuid }))));
  };
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://fmc.invalid');
    const send = (status: number, body?: unknown): void => {
      log.push({ method: req.method ?? '', path: req.url ?? '', status });
      if (body === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const error = (status: number, description: string) => send(status, { error: { category: 'FRAMEWORK', messages: [{ description }], severity: 'ERROR' } });
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && url.pathname === '/api/fmc_platform/v1/auth/generatetoken') {
        const basic = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
        if (req.headers.authorization !== basic) return error(401, 'Access denied.');
        issue(res);
        return send(204);
      }
      if (req.method === 'POST' && url.pathname === '/api/fmc_platform/v1/auth/refreshtoken') {
        const access = String(req.headers['x-auth-access-token'] ?? '');
        const refresh = String(req.headers['x-auth-refresh-token'] ?? '');
        if (o.refuseRefresh || !issued.includes(access) || !issued.includes(refresh)) return error(401, 'Invalid refresh token.');
        issue(res);
        return send(204);
      }
      if (req.method !== 'GET' || !url.pathname.startsWith(API)) return error(404, 'Not found.');
      const fault = o.faults?.[++gets];
      if (fault === 'expire') tokens.clear();
      if (!tokens.has(String(req.headers['x-auth-access-token'] ?? ''))) return error(401, 'Access token invalid.');
      if (fault === '500') return error(500, 'Internal server error: database unavailable');
      if (fault === '429' || fault === '429-bare') {
        if (fault === '429') res.setHeader('Retry-After', '0');
        return error(429, 'Too Many Requests');
      }
      const [uuid, ...rest] = url.pathname.slice(API.length).split('/').map(decodeURIComponent);
      const d = o.domains.find((x) => x.uuid === uuid)?.data;
      if (!d) return error(404, 'Domain not found.');
      const p = rest.join('/');
      let items: Json[] | undefined;
      let m: RegExpExecArray | null;
      if (p === 'policy/accesspolicies') items = d.accesspolicies;
      else if ((m = /^policy\/accesspolicies\/([^/]+)\/accessrules$/.exec(p))) items = d.accessrules[m[1]];
      else if ((m = /^policy\/accesspolicies\/([^/]+)\/securityintelligencepolicies\/([^/]+)$/.exec(p))) {
        const si = d.securityintelligencepolicies[m[2]];
        return si ? send(200, si) : error(404, 'Not found.');
      } else if ((m = /^object\/([a-z]+)$/.exec(p))) items = d.objects[m[1]];
      if (!items) return error(404, 'Not found.');
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 25), 1000);
      const expanded = url.searchParams.get('expanded') === 'true';
      const self = `https://fmc.invalid${url.pathname}`;
      const page = items.slice(offset, offset + limit).map((it) => (expanded ? it : { links: { self: `${self}/${String(it.id)}` }, type: it.type, id: it.id, name: it.name }));
      send(200, {
        links: { self: `${self}?offset=${offset}&limit=${limit}${expanded ? '&expanded=true' : ''}` },
        ...(page.length > 0 ? { items: page } : {}),
        paging: { offset, limit, count: items.length, pages: Math.ceil(items.length / limit) },
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, log, secrets: () => [o.password, Buffer.from(`${o.user}:${o.password}`).toString('base64'), ...issued] };
}
