import t from 'tap';
import { spawn } from 'node:child_process';
import { runCli } from '../helpers/io.js';
import { fromRoot } from '../../src/util/paths.js';

t.test('no arguments prints the command list to stderr and exits 2', async (t) => {
  const r = await runCli([]);
  t.equal(r.code, 2);
  t.match(r.stderr, /Usage: peekwall <command>/);
});

t.test('--help exits 0 on stdout', async (t) => {
  const r = await runCli(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /Commands:/);
});

t.test('an unknown command is a usage error', async (t) => {
  const r = await runCli(['frobnicate']);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown command 'frobnicate'/);
});

t.test('--version prints the package version', async (t) => {
  const r = await runCli(['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

t.test('every registered subcommand loads, has --help, and its summary matches the registry', async (t) => {
  const { subcommands } = await import('../../src/cli/registry.js');
  for (const entry of subcommands) {
    const cmd = await entry.load();
    t.equal(cmd.name, entry.name);
    t.equal(cmd.summary, entry.summary, `${entry.name}: registry summary is the module's`);
    const r = await runCli([entry.name, '--help']);
    t.equal(r.code, 0, `${entry.name} --help exits 0`);
    t.match(r.stdout, /Usage: peekwall/, `${entry.name} --help prints usage`);
  }
});

t.test('the real binary: a reader that goes away (peekwall ... | head) ends it quietly, no EPIPE trace', async (t) => {
  const child = spawn(process.execPath, [fromRoot('bin', 'peekwall.js'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Close our end before it writes: its write meets EPIPE.
  child.stdout.destroy();
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.equal(code, 0);
  t.equal(err, '', 'nothing on stderr');
});
