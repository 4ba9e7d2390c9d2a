// The proof: `peekwall lab --capture` records every act, and peekwall's own replay of
// an act's capture, under that act's policy and TSID setting, gives the events the lab printed
// (TSID on: the recorded probe names the server; TSID off: the passive certificate). tshark
// reads the same files with TLS dissected: no SNI in any hello, the lab certificate's names.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureWalk, Replay, type FlowResult } from '../../src/capture/index.js';
import type { ConnectionEvent } from '../../src/events/index.js';
import { findScenario } from '../../src/lab/index.js';
import { loadLabPolicy } from '../../src/lab/acts.js';
import { runCli } from '../helpers/io.js';
import { hasTool, verdictOf } from '../helpers/capture.js';


const byPort = (a: { srcPort: number }, b: { srcPort: number }) => a.srcPort - b.srcPort;

t.test('lab --capture: each act replayed from its capture gives the events the lab printed (TSID on and off)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peekwall-lab-capture-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = findScenario('toos');
  if (!scenario) throw new Error('the toos scenario is gone');
  const run = await scenario.run({ capture: join(dir, 'lab.pcapng') });
  t.ok(run.ok, 'the lab itself ran as the field case predicts');
  const tsidSettings = new Set<boolean>();
  for (const [i, act] of run.acts.entries()) {
    t.equal(act.capture, join(dir, `lab.act${i + 1}.pcapng`), `act ${i + 1} has its own capture`);
    const policy = await loadLabPolicy(act.policy, act.tsid.enabled);
    const out: FlowResult[] = [];
    const replay = new Replay({ policy }, (r) => out.push(r));
    const walk = new CaptureWalk(replay.open);
    walk.push(readFileSync(act.capture as string));
    walk.end();
    t.ok(out.every((r) => r.evaluated), `act ${i + 1}: every flow of the capture replays`);
    t.same(
      out.map((r) => verdictOf(r.event as ConnectionEvent)).sort(byPort),
      act.events.map(verdictOf).sort(byPort),
      `act ${i + 1} (TSID ${act.tsid.enabled ? 'on' : 'off'}, ${act.policy}): replay gives the lab's events`,
    );
    if (act.tsid.enabled) t.ok(out.every((r) => r.certificateOrigin === 'probe'), `act ${i + 1}: the recorded TSID probe answered every flow`);
    tsidSettings.add(act.tsid.enabled);
  }
  t.same([...tsidSettings].sort(), [false, true], 'both TSID settings were proved');

  // The command the lab prints for it, as a person would run it.
  const cli = await runCli(['replay', run.acts[1].capture as string, '--policy', run.acts[1].policy, '--tsid', 'off', '--json']);
  t.equal(cli.code, 0, 'peekwall replay judges every flow of the TSID-off act');
  t.same(
    JSON.parse(cli.stdout).flows.map((f: { event: ConnectionEvent }) => verdictOf(f.event)).sort(byPort),
    run.acts[1].events.map(verdictOf).sort(byPort),
    'peekwall replay (the command) gives the same events',
  );

  if (!hasTool('tshark')) return;
  for (const act of run.acts) {
    const out = execFileSync('tshark', ['-r', act.capture as string, '-d', 'tcp.port==443,tls', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'tls.handshake.type', '-e', 'tls.handshake.extensions_server_name', '-e', 'x509ce.dNSName', '-e', 'frame.comment'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString('utf8');
    const rows = out.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
    const hellos = rows.filter((r) => r[1].split(',').includes('1'));
    t.ok(hellos.length >= act.events.length, `${act.title}: tshark finds the ClientHellos`);
    t.ok(hellos.every((r) => r[2] === ''), 'no SNI in any of them (the licensing agents send none)');
    const certs = rows.filter((r) => r[3] !== '');
    t.ok(certs.length > 0 && certs.every((r) => r[3].startsWith('toos.cisco.com,tools1.cisco.com')), 'tshark reads the certificate: first SAN toos.cisco.com');
    const comments = rows.filter((r) => r[4] !== '' && r[0] === 'peekwall-inspected').map((r) => r[4]);
    t.equal(comments.length, act.events.length, 'a comment per inspected flow');
    for (const e of act.events) t.ok(comments.some((c) => c.startsWith(`peekwall: ${e.action};`) && c.includes(`url ${e.url}`) && c.includes(`identity source ${e.identitySource}`)), `the comment of ${e.srcIp} says ${e.action}, ${e.url}`);
    if (act.tsid.enabled) t.ok(rows.some((r) => r[0] === 'peekwall-tsid-probe'), 'TSID on: the probe is in the capture, on its own interface');
  }
});
