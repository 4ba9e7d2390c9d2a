// The HTTPS origin for the benchmark, in its own process so its CPU is measured apart from the
// load generator and the proxy. Keep-alive on, a small fixed body, nothing else: the bench
// measures what sits in the middle, so the origin should be as cheap as Node can make it.
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';

interface UpstreamConfig {
  certFile: string;
  keyFile: string;
  host: string;
  bodyBytes: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as UpstreamConfig;
const body = Buffer.alloc(cfg.bodyBytes, 'x');
const server = createServer(
  { cert: readFileSync(cfg.certFile), key: readFileSync(cfg.keyFile), keepAlive: true },
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  },
);
server.keepAliveTimeout = 60_000;
// Clients that the proxy resets, or benchmark loops that stop mid-handshake, are expected.
server.on('tlsClientError', () => {});
server.on('clientError', (_e, socket) => socket.destroy());
server.listen(0, cfg.host, () => {
  const a = server.address();
  process.send?.({ type: 'ready', port: typeof a === 'object' && a ? a.port : 0 });
});
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'close') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  }
});
process.on('disconnect', () => process.exit(0));
