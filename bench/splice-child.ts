// Reference point, not a product: the plainest Node TCP splice (no peeking, no policy), to
// show how much of peekwall's cost is Node's socket layer itself. It ends and destroys both
// sides together — the first version of such a splice in DOMAIN.md §6 leaked one fd per
// connection because pipe() left the other socket paused after one side ended.
import { createServer, connect, type Socket } from 'node:net';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { host: string; upstream: { host: string; port: number }; mode?: 'pipe' | 'onread' };
const sockets = new Set<Socket>();

/**
 * 'onread' mode: the upstream socket reads into one reused 64 KiB buffer (the remedy the issue
 * lists). A write that cannot complete at once still references that buffer, so reading
 * stops (callback returns false) until the client drains; then the buffer is free again.
 */
function connectOnread(client: Socket): Socket {
  const buffer = Buffer.allocUnsafe(65_536);
  let up: Socket;
  const callback = (n: number, buf: Buffer): boolean => {
    const ok = client.write(buf.subarray(0, n));
    if (ok && client.writableLength === 0) return true;
    client.once('drain', () => up.resume());
    up.pause();
    return false;
  };
  up = connect({ host: cfg.upstream.host, port: cfg.upstream.port, noDelay: true, onread: { buffer, callback } });
  return up;
}

const server = createServer({ noDelay: true }, (client) => {
  const up = cfg.mode === 'onread' ? connectOnread(client) : connect({ host: cfg.upstream.host, port: cfg.upstream.port, noDelay: true });
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
  if (cfg.mode === 'onread') up.on('end', () => client.end());
  else up.pipe(client);
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
