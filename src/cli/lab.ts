import { relative, resolve } from 'node:path';
import { renderEventsTable } from '../events/index.js';
import { findScenario, renderLabRun, SCENARIOS, serveLab } from '../lab/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { fromRoot } from '../util/paths.js';
import { EXIT_OK, EXIT_PROBLEM, parseCommandArgs, writeJson, type Subcommand } from './command.js';

const usage = `Usage: peekwall lab [--scenario NAME|list] [--json] [--wide] [--capture FILE.pcapng]
       peekwall lab serve [--policy FILE] [--tsid on|off] [--port N] [--explicit-port N] [--tls13]
                          [--capture FILE.pcapng]

Reproduces the Smart Licensing field case end to end on loopback, without root: a simulated
licensing cloud (certificate CN tools.cisco.com, first SAN toos.cisco.com, TLS 1.2), peekwall
in front of it on the seed's server addresses (72.163.4.38 -> 127.163.4.38, 173.37.145.8 ->
127.37.145.8), and licensing clients that connect without SNI from the seed's device
addresses (10.12.1.8, 10.10.42.2, 10.10.81.2 -> 127.x aliases) and report like FMC/ASA
agents (CH-LIB-ERROR ... err code N). Events show the seed addresses (marked as mapped).

Default scenario 'toos', in acts: (1) TSID on with the shipped policy: URL
https://toos.cisco.com, blocked, renew auth fails; (2) TSID off: https://tools.cisco.com,
renew auth succeeds; (3, 4) TSID on with each remedy policy: allowed by
ALLOW_FMC_ASA_SNT_CISCO, renew auth succeeds.

Options:
  --scenario NAME   run another story; 'list' prints them
  --json            {scenario, acts: [{title, policy, tsid, events, clients, checks, ok}], ok}
  --wide            wider events table (reason, identity source, SNI, ...)
  --timeout MS      the devices' call deadline (default 8000)
  --capture FILE.pcapng
                    record each act's inspected connections and TSID probes as pcapng, one
                    file per act (FILE.act1.pcapng, ...), and print the replay command that
                    gives the act's events again
serve options:
  --policy FILE     policy peekwall applies (default policies/smart-licensing.yaml)
  --tsid on|off     override the policy's TSID setting
  --port N          transparent listeners on 127.163.4.38 and 127.37.145.8 (default 8443)
  --explicit-port N explicit (CONNECT) listener on 127.0.2.10 (default 3128)
  --tls13           the cloud speaks TLS 1.3
  --capture FILE.pcapng
                    record what peekwall inspected (and its TSID probes), written at stop
Exit: 0 the lab showed what the field case predicts (serve: stopped cleanly),
      1 an act's outcome differs, 2 bad options or missing policies/certs.`;

function onOff(v: string | undefined, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new PeekwallFailure(peekwallError('cli/usage', `${what} takes on or off, not '${v}'`));
}

function port(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new PeekwallFailure(peekwallError('cli/usage', `${what} must be a port number, not '${v}'`));
  return n;
}

const lab: Subcommand = {
  name: 'lab',
  summary: 'reproduce the Smart Licensing toos.cisco.com case end to end (scenarios, serve)',
  usage,
  async run(argv, io) {
    const parsed = parseCommandArgs({ usage }, argv, {
      scenario: { type: 'string' },
      json: { type: 'boolean' },
      wide: { type: 'boolean' },
      timeout: { type: 'string' },
      policy: { type: 'string' },
      tsid: { type: 'string' },
      port: { type: 'string' },
      'explicit-port': { type: 'string' },
      tls13: { type: 'boolean' },
      capture: { type: 'string' },
    }, io);
    if (!parsed) return EXIT_OK;
    const { values, positionals } = parsed;
    if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'serve')) {
      throw new PeekwallFailure(peekwallError('cli/usage', `unknown lab command '${positionals.join(' ')}' (peekwall lab [serve])`));
    }

    if (positionals[0] === 'serve') {
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const tsid = onOff(values.tsid, '--tsid');
        const p = port(values.port, '--port');
        const ep = port(values['explicit-port'], '--explicit-port');
        await serveLab({
          ...(values.policy ? { policy: resolve(io.cwd, values.policy) } : {}),
          ...(tsid !== undefined ? { tsid } : {}),
          ...(p !== undefined ? { port: p } : {}),
          ...(ep !== undefined ? { explicitPort: ep } : {}),
          ...(values.tls13 ? { tls13: true } : {}),
          ...(values.capture ? { capture: resolve(io.cwd, values.capture) } : {}),
          signal: ac.signal,
          print: (t) => io.stdout.write(t),
          onEvent: (e) => {
            if (values.json) io.stdout.write(`${JSON.stringify(e)}\n`);
            else io.stdout.write(`${renderEventsTable([e], { format: 'tsv' }).split('\n')[1]}\n`);
          },
        });
        if (values.capture) io.stdout.write(`peekwall lab serve: capture written to ${values.capture}\n`);
        io.stdout.write('peekwall lab serve: stopped, everything closed\n');
        return EXIT_OK;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }

    const name = values.scenario ?? 'toos';
    if (name === 'list') {
      if (values.json) writeJson(io, SCENARIOS.map((s) => ({ name: s.name, seed: s.seed, summary: s.summary })));
      else {
        const w = Math.max(...SCENARIOS.map((s) => s.name.length));
        io.stdout.write(`Scenarios (peekwall lab --scenario NAME):\n${SCENARIOS.map((s) => `  ${s.name.padEnd(w)}  seed ${s.seed.padEnd(7)} ${s.summary}`).join('\n')}\n`);
      }
      return EXIT_OK;
    }
    const scenario = findScenario(name);
    if (!scenario) {
      throw new PeekwallFailure(peekwallError('cli/usage', `unknown scenario '${name}' (peekwall lab --scenario list)`));
    }
    const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 100 && timeoutMs <= 60_000)) {
      throw new PeekwallFailure(peekwallError('cli/usage', `--timeout must be 100..60000 ms, not '${values.timeout}'`));
    }
    const capture = values.capture === undefined ? undefined : resolve(io.cwd, values.capture);
    const run = await scenario.run({ ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(capture ? { capture } : {}) });
    if (values.json) writeJson(io, run);
    else {
      io.stdout.write(renderLabRun(run, values.wide ? { wide: true } : {}));
      for (const [i, a] of run.acts.entries()) {
        if (a.capture === undefined) continue;
        const rel = relative(io.cwd, a.capture);
        const shown = rel === '' || rel.startsWith('..') ? a.capture : rel;
        io.stdout.write(`capture of act ${i + 1}: ${shown} — its events again: peekwall replay ${shown} --policy ${relative(io.cwd, fromRoot(a.policy))} --tsid ${a.tsid.enabled ? 'on' : 'off'} --profile ${a.tsid.profile}\n`);
      }
    }
    return run.ok ? EXIT_OK : EXIT_PROBLEM;
  },
};

export default lab;
