// A listener that cannot bind is bad input, not a crash: startProxy rejects with a typed
// proxy/listen failure whose message says what to do, and nothing stays open.
import t from 'tap';
import * as net from 'node:net';
import { startProxy } from '../../src/proxy/index.js';
import { listenError } from '../../src/proxy/proxy.js';
import { PeekwallFailure } from '../../src/util/errors.js';
import { policyFrom } from './lib/net.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });

t.test('each errno gets the operator-facing reason', async (t) => {
  t.match(listenError('127.0.0.1', 8443, errno('EADDRINUSE')).message, /^cannot listen on 127\.0\.0\.1:8443: EADDRINUSE, the port is already in use/);
  t.match(listenError('0.0.0.0', 443, errno('EACCES')).message, /ports below 1024 need root or CAP_NET_BIND_SERVICE/);
  t.match(listenError('0.0.0.0', 8443, errno('EACCES')).message, /EACCES, permission denied$/);
  t.match(listenError('::1', 8443, errno('EADDRNOTAVAIL')).message, /^cannot listen on \[::1\]:8443: EADDRNOTAVAIL, that address is not configured/);
  t.equal(listenError('127.0.0.1', 1, errno('EADDRINUSE')).code, 'proxy/listen');
});

t.test('startProxy on a port in use rejects with proxy/listen (the listener already bound is closed again, or this file would never end)', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
  const port = (holder.address() as net.AddressInfo).port;
  // The first listener binds (port 0), the second cannot: the first must be closed again.
  const err = await startProxy({
    policy: policyFrom('name: l\nrules:\n  - {name: A, action: Allow}\n'),
    listeners: [
      { mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: 9 } },
      { mode: 'transparent', host: '127.0.0.1', port, upstream: { host: '127.0.0.1', port: 9 } },
    ],
  }).then(
    (p) => p.close().then(() => null),
    (e: unknown) => e,
  );
  t.type(err, PeekwallFailure);
  if (err instanceof PeekwallFailure) {
    t.equal(err.errors[0].code, 'proxy/listen');
    t.match(err.errors[0].message, new RegExp(`127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  }
});

t.test('an upstream whose name does not resolve is proxy/resolve-failed, not a crash', async (t) => {
  const err = await startProxy({
    policy: policyFrom('name: l\nrules:\n  - {name: A, action: Allow}\n'),
    listeners: [{ mode: 'transparent', host: '127.0.0.1', port: 0, upstream: { host: 'nosuch.invalid', port: 443 } }],
    resolve: () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND nosuch.invalid'), { code: 'ENOTFOUND' })),
  }).then(
    (p) => p.close().then(() => null),
    (e: unknown) => e,
  );
  t.type(err, PeekwallFailure);
  if (err instanceof PeekwallFailure) {
    t.equal(err.errors[0].code, 'proxy/resolve-failed');
    t.match(err.errors[0].message, /upstream nosuch\.invalid:443 does not resolve: ENOTFOUND/);
  }
});
