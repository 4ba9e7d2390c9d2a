// The admin listener (127.0.0.1 by default): /healthz for liveness, /metrics for Prometheus.
// An optional bearer token guards both when the admin port is reachable by others.
import * as http from 'node:http';
import type { ProxyMetrics } from './metrics.js';

export function createAdminServer(o: {
  metrics: ProxyMetrics;
  counters: Record<string, number>;
  token?: string;
}): http.Server {
  return http.createServer((req, res) => {
    if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ status: 'ok', active: o.counters.active ?? 0 })}\n`);
      return;
    }
    if (path === '/metrics') {
      o.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
          res.end(text);
        },
        (e: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${e.message}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found (try /healthz or /metrics)\n');
  });
}
