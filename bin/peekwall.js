#!/usr/bin/env node
// Entry point. The TypeScript is compiled to dist/ by `npm ci` (the `prepare` script);
// running compiled JS keeps start-up fast (no TS loader on every invocation).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('peekwall: dist/ is missing — run `npm ci` (or `npm run build`) first\n');
  process.exit(2);
}
// `peekwall ... | head`: the reader went away. Like any Unix tool, stop quietly instead of
// dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
