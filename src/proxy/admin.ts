// The admin listener (127.0.0.1 by default): /healthz for liveness, /metrics for Prometheus.
// An optional bearer token guards both when the admin port is reachable by others. The same
// server fronts one proxy (its registry) or, with `run --workers N`, the cluster primary
// (prom-client's AggregatorRegistry summing every worker's registry, the TSID clear relayed to
// every worker).
import * as http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** POST /tsid/cache/clear's answer; a cluster primary adds how many workers it asked and heard. */
export interface TsidClearAnswer {
  readonly cleared: number;
  readonly workers?: number;
  readonly answered?: number;
}

export interface AdminSource {
  /** The Prometheus text exposition. */
  metrics(): Promise<string>;
  readonly contentType: string;
  /** The /healthz body. */
  health(): Record<string, unknown>;
  /**
   * POST /tsid/cache/clear: forget the TSID identities learnt by probing (as FTD's CLI can),
   * so the next connection to each server probes again; resolves to how many were cleared.
   */
  clearTsidCache?(): Promise<TsidClearAnswer>;
}

export function createAdminServer(o: AdminSource & { token?: string }): http.Server {
  // Constant-time check: both sides are hashed to 32 bytes first, so timingSafeEqual always
  // compares equal lengths and neither the token's length nor a matching prefix leaks through
  // the response time.
  const expected = o.token !== undefined ? digest(`Bearer ${o.token}`) : null;
  const authorized = (header: string | undefined): boolean =>
    expected === null || timingSafeEqual(digest(header ?? ''), expected);
  return http.createServer((req, res) => {
    if (!authorized(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ status: 'ok', ...o.health() })}\n`);
      return;
    }
    if (path === '/metrics') {
      o.metrics()
        .then(
          (text) => {
            res.writeHead(200, { 'content-type': o.contentType });
            res.end(text);
          },
          (e: Error) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`metrics failed: ${e.message}\n`);
          },
        )
        // A client gone mid-answer must never become an unhandled rejection.
        .catch(() => res.destroy());
      return;
    }
    if (path === '/tsid/cache/clear' && o.clearTsidCache) {
      if (req.method !== 'POST') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' });
        res.end('use POST to clear the TSID cache\n');
        return;
      }
      o.clearTsidCache()
        .then(
          (answer) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(`${JSON.stringify(answer)}\n`);
          },
          (e: Error) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`clearing the TSID cache failed: ${e.message}\n`);
          },
        )
        .catch(() => res.destroy());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found (try /healthz, /metrics${o.clearTsidCache ? ' or POST /tsid/cache/clear' : ''})\n`);
  });
}
