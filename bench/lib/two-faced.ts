// A server that shows a firewall's TSID probe one certificate and real clients another: its first
// TCP connection (the probe comes before the client's hello is forwarded) goes to one origin
// port, every later one to another. Used by the TSID attack script and the TSID session-check
// tests. Loopback only; close() ends every relayed socket.
import * as net from 'node:net';

export async function twoFaced(firstPort: number, restPort: number): Promise<{ port: number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const u = net.connect({ host: '127.0.0.1', port: n++ === 0 ? firstPort : restPort });
    for (const s of [c, u]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    c.pipe(u);
    u.pipe(c);
    c.on('close', () => u.destroy());
    u.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
