// Every subcommand, in the order `peekwall --help` lists them. One line per module:
// add yours here (and nowhere else) when you add a src/cli/<name>.ts.
import type { Subcommand } from './command.js';

export const subcommands: ReadonlyArray<() => Promise<Subcommand>> = [
  () => import('./lab.js').then((m) => m.default),
  () => import('./run.js').then((m) => m.default),
  () => import('./test.js').then((m) => m.default),
  () => import('./trace.js').then((m) => m.default),
  () => import('./lint.js').then((m) => m.default),
  () => import('./events.js').then((m) => m.default),
  () => import('./hello.js').then((m) => m.default),
  () => import('./cert.js').then((m) => m.default),
  () => import('./certs.js').then((m) => m.default),
];
