import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  eventFilterErrors,
  filterEvents,
  followLines,
  parseEventLines,
  columnWidths,
  renderEventRows,
  renderEventsTable,
  type ConnectionEvent,
  type EventFilter,
} from '../events/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { readBoundedFile } from '../util/files.js';

/** Largest events file rendered at once (~1,000,000 events); --follow reads new lines as they come. */
const MAX_EVENTS_BYTES = 256 * 1024 * 1024;
/** Bad lines reported one by one; past this, only how many more. */
const MAX_WARNINGS = 10;
import { EXIT_OK, parseCommandArgs, type Subcommand } from './command.js';

const usage = `Usage: peekwall events FILE [options]

Render connection events (JSON lines written by \`peekwall run\` / the lab) as FMC's
connection-events table: Time, Event Type, Action, Source IP, Destination IP, Source Port /
ICMP Type, Destination Port / ICMP Code, Web Application, URL, Access Control Rule.

Options:
  --action A       only events with this action (Allow, Block, "Block with reset", ...)
  --rule NAME      only events decided by this access-control rule
  --src IP         only this source address       --dst IP    only this destination
  --src-port N     only this source port          --dst-port N  only this destination port
  --url TEXT       only events whose URL contains TEXT
  --reason R       only this FMC reason (e.g. "URL Block", "User Bypass")
  --fmc-logged     only what FMC would show: events whose rule's logging: logs at that
                   phase (peekwall records every connection; FMC only logged ones)
  --wide           add Reason, Application Protocol, Client, URL Category/Reputation, SI
                   Category, identity source, SNI, close reason
  --tsv            tab-separated, exactly the seed TechNote's shape
  --oldest-first   chronological order (FMC lists newest first)
  --follow         keep printing new events as they are appended (Ctrl-C to stop); as
                   tail -F: waits for a FILE not there yet, follows it across rotation
  --json           print the (filtered) events as a JSON array
Lines that are not connection events are reported on stderr with their line number (the
first ${MAX_WARNINGS}, then how many more).
Exit: 0 printed, 2 unreadable file, a file with lines but no connection event (not an events
file), or bad options (an unknown --action, an address or port that is none).`;

const events: Subcommand = {
  name: 'events',
  summary: 'render connection events as the FMC table (filters, --follow)',
  usage,
  async run(argv, io) {
    const parsed = parseCommandArgs({ usage }, argv, {
      action: { type: 'string' },
      rule: { type: 'string' },
      src: { type: 'string' },
      dst: { type: 'string' },
      'src-port': { type: 'string' },
      'dst-port': { type: 'string' },
      url: { type: 'string' },
      reason: { type: 'string' },
      'fmc-logged': { type: 'boolean' },
      wide: { type: 'boolean' },
      tsv: { type: 'boolean' },
      'oldest-first': { type: 'boolean' },
      follow: { type: 'boolean' },
      json: { type: 'boolean' },
    }, io);
    if (!parsed) return EXIT_OK;
    const { values, positionals } = parsed;
    if (positionals.length !== 1) {
      throw new PeekwallFailure(peekwallError('cli/usage', 'give exactly one events FILE (see peekwall events --help)'));
    }
    const file = resolve(io.cwd, positionals[0]);
    const bad = eventFilterErrors({ action: values.action, src: values.src, dst: values.dst, srcPort: values['src-port'], dstPort: values['dst-port'] });
    if (bad.length > 0) throw new PeekwallFailure(bad.map((m) => peekwallError('cli/usage', m)));
    const filter: EventFilter = {
      action: values.action, rule: values.rule, src: values.src, dst: values.dst, url: values.url, reason: values.reason,
      ...(values['src-port'] !== undefined ? { srcPort: Number(values['src-port']) } : {}),
      ...(values['dst-port'] !== undefined ? { dstPort: Number(values['dst-port']) } : {}),
      ...(values['fmc-logged'] ? { fmcLogged: true } : {}),
    };
    const table = { wide: values.wide, format: values.tsv ? 'tsv' as const : 'aligned' as const, newestFirst: !values['oldest-first'] };

    // tail -F: a file not there yet is waited for (the proxy creates it on its first event).
    const waiting = values.follow === true && !existsSync(file);
    if (waiting) io.stderr.write(`peekwall: ${file} does not exist yet: waiting for it\n`);
    // Bounded and regular files only: /dev/zero or a FIFO named here would read forever.
    const read = waiting ? ({ ok: true, text: '' } as const) : await readBoundedFile(file, MAX_EVENTS_BYTES);
    if (!read.ok) {
      throw new PeekwallFailure(peekwallError('events/unreadable', `cannot read events file: ${read.failure.message}`, { file }));
    }
    const text = read.text;
    const { events: all, errors } = parseEventLines(text, file);
    if (all.length === 0 && errors.length > 0) {
      // Lines, none of them an event: the wrong file (a README, a policy), not an empty log.
      const e = errors[0];
      throw new PeekwallFailure(
        peekwallError('events/not-an-events-file', `not an events file: none of its ${errors.length} non-empty line(s) is a connection event; the first, line ${e.line}: ${e.message}`, { file, ...(e.line !== undefined ? { line: e.line } : {}) }),
      );
    }
    for (const e of errors.slice(0, MAX_WARNINGS)) io.stderr.write(`peekwall: ${e.file}:${e.line}: ${e.message} [${e.code}]\n`);
    if (errors.length > MAX_WARNINGS) io.stderr.write(`peekwall: ${file}: ${errors.length - MAX_WARNINGS} more line(s) that are not connection events\n`);
    const shown: ConnectionEvent[] = filterEvents(all, filter);
    if (values.json) io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    else io.stdout.write(renderEventsTable(shown, table));

    if (values.follow) {
      const widths = columnWidths(shown, table);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await followLines(file, (lines) => {
          const fresh = filterEvents(parseEventLines(lines.join('\n'), file).events, filter);
          if (fresh.length === 0) return;
          if (values.json) for (const e of fresh) io.stdout.write(`${JSON.stringify(e)}\n`);
          // Rows only (no header again), oldest first as they arrive, under the columns above.
          else io.stdout.write(renderEventRows(fresh, table, widths));
        }, ac.signal, { onSwitch: (why) => io.stderr.write(`peekwall: ${file} ${why === 'appeared' ? 'appeared' : why === 'rotated' ? 'was rotated: following the new file' : 'was truncated: reading from its start'}\n`) });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    return EXIT_OK;
  },
};

export default events;
