import { resolve } from 'node:path';
import {
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
import { EXIT_OK, parseCommandArgs, type Subcommand } from './command.js';

const usage = `Usage: peekwall events FILE [options]

Render connection events (JSON lines written by \`peekwall run\` / the lab) as FMC's
connection-events table: Time, Event Type, Action, Source IP, Destination IP, Source Port /
ICMP Type, Destination Port / ICMP Code, Web Application, URL, Access Control Rule.

Options:
  --action A       only events with this action (Allow, Block, "Block with reset", ...)
  --rule NAME      only events decided by this access-control rule
  --src IP         only this source address       --dst IP    only this destination
  --url TEXT       only events whose URL contains TEXT
  --reason R       only this FMC reason (e.g. "URL Block", "User Bypass")
  --fmc-logged     only what FMC would show: events whose rule's logging: logs at that
                   phase (peekwall records every connection; FMC only logged ones)
  --wide           add Reason, Application Protocol, Client, URL Category/Reputation, SI
                   Category, identity source, SNI, close reason
  --tsv            tab-separated, exactly the seed TechNote's shape
  --oldest-first   chronological order (FMC lists newest first)
  --follow         keep printing new events as they are appended (Ctrl-C to stop)
  --json           print the (filtered) events as a JSON array
Lines that are not connection events are reported on stderr with their line number.
Exit: 0 printed, 2 unreadable file or bad options.`;

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
    const filter: EventFilter = {
      action: values.action, rule: values.rule, src: values.src, dst: values.dst, url: values.url, reason: values.reason,
      ...(values['fmc-logged'] ? { fmcLogged: true } : {}),
    };
    const table = { wide: values.wide, format: values.tsv ? 'tsv' as const : 'aligned' as const, newestFirst: !values['oldest-first'] };

    // Bounded and regular files only: /dev/zero or a FIFO named here would read forever.
    const read = await readBoundedFile(file, MAX_EVENTS_BYTES);
    if (!read.ok) {
      throw new PeekwallFailure(peekwallError('events/unreadable', `cannot read events file: ${read.failure.message}`, { file }));
    }
    const text = read.text;
    const { events: all, errors } = parseEventLines(text, file);
    for (const e of errors) io.stderr.write(`peekwall: ${e.file}:${e.line}: ${e.message} [${e.code}]\n`);
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
        }, ac.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    return EXIT_OK;
  },
};

export default events;
