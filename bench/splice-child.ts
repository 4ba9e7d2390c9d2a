// Reference point, not a product: the plainest Node TCP splice (no peeking, no policy), to
// show how much of peekwall's cost is Node's socket layer itself. It ends and destroys both
// sides together — the first version of such a splice in DOMAIN.md §6 leaked one fd per
// connection because pipe() left the other socket paused after one side ended.
import { createServer, connect, type Socket } from 'node:net';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { host: string; upstream: { host: string; port: number } };
const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (client) => {
  const up = connect({ host: cfg.upstream.host, port: cfg.upstream.port, noDelay: true });
  sockets.add(client);
  sockets.add(up);
  const done = (): void => {
    client.destroy();
    up.destroy();
    sockets.delete(client);
    sockets.delete(up);
  };
  client.on('error', done).on('close', done);
  up.on('error', done).on('close', done);
  client.pipe(up);
  up.pipe(client);
});
server.listen(0, cfg.host, () => {
  const a = server.address();
  process.send?.({ type: 'ready', port: typeof a === 'object' && a ? a.port : 0 });
});
const stop = (): void => {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('message', (m: { type?: string }) => { if (m?.type === 'close') stop(); });
process.on('disconnect', stop);
