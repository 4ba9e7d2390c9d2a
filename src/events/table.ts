// FMC's connection-events table, as the seed TechNote shows it (tab-separated, FMC column
// names and cell formats: "40722 / tcp", "443 (https) / tcp").
import type { ConnectionEvent } from './types.js';

const PORT_NAMES: Readonly<Record<number, string>> = {
  21: 'ftp', 22: 'ssh', 25: 'smtp', 53: 'domain', 80: 'http', 110: 'pop3', 143: 'imap',
  443: 'https', 465: 'smtps', 993: 'imaps', 995: 'pop3s', 3128: 'squid', 8080: 'http-alt', 8443: 'pcsync-https',
};

function fmcTime(iso: string): string {
  // FMC shows local "YYYY-MM-DD HH:MM:SS"; we show UTC in that shape (events carry ISO UTC).
  return iso.length >= 19 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : iso;
}

function fmcSourcePort(port: number): string {
  return `${port} / tcp`;
}

function fmcDestinationPort(port: number): string {
  const name = PORT_NAMES[port];
  return name ? `${port} (${name}) / tcp` : `${port} / tcp`;
}

interface Column {
  readonly title: string;
  readonly cell: (e: ConnectionEvent) => string;
}

/** The ten columns of the seed's table, in its order. */
const FMC_COLUMNS: readonly Column[] = [
  { title: 'Time', cell: (e) => fmcTime(e.time) },
  { title: 'Event Type', cell: (e) => e.eventType },
  { title: 'Action', cell: (e) => e.action },
  { title: 'Source IP', cell: (e) => e.srcIp },
  { title: 'Destination IP', cell: (e) => e.dstIp },
  { title: 'Source Port / ICMP Type', cell: (e) => fmcSourcePort(e.srcPort) },
  { title: 'Destination Port / ICMP Code', cell: (e) => fmcDestinationPort(e.dstPort) },
  { title: 'Web Application', cell: (e) => e.webApplication ?? '' },
  { title: 'URL', cell: (e) => e.url ?? '' },
  { title: 'Access Control Rule', cell: (e) => e.accessControlRule },
];

/** Extra columns FMC can show, plus what peekwall knows about the identity. */
const WIDE_COLUMNS: readonly Column[] = [
  { title: 'Reason', cell: (e) => e.reason },
  { title: 'Application Protocol', cell: (e) => e.applicationProtocol ?? '' },
  { title: 'Client', cell: (e) => e.client ?? '' },
  { title: 'URL Category', cell: (e) => e.urlCategory ?? '' },
  { title: 'URL Reputation', cell: (e) => e.urlReputation ?? '' },
  { title: 'Security Intelligence Category', cell: (e) => e.siCategory ?? '' },
  { title: 'Identity Source', cell: (e) => e.identitySource ?? '' },
  { title: 'SNI', cell: (e) => e.sni ?? '(none)' },
  { title: 'Close Reason', cell: (e) => e.closeReason ?? '' },
];

export interface TableOptions {
  /** 'aligned' pads columns for a terminal; 'tsv' is the seed's tab-separated shape. */
  readonly format?: 'aligned' | 'tsv';
  readonly wide?: boolean;
  /** Newest first, as FMC lists events (default true). */
  readonly newestFirst?: boolean;
}

function columnsOf(opts: TableOptions): readonly Column[] {
  return opts.wide ? [...FMC_COLUMNS, ...WIDE_COLUMNS] : FMC_COLUMNS;
}

/** Column widths for the aligned format: the header's, grown by every row. */
export function columnWidths(events: readonly ConnectionEvent[], opts: TableOptions = {}): number[] {
  const cols = columnsOf(opts);
  const widths = cols.map((c) => c.title.length);
  // A loop, not Math.max(...rows): spreading 200,000 rows overflows the call stack.
  for (const e of events) {
    for (let i = 0; i < cols.length; i++) {
      const n = cols[i].cell(e).length;
      if (n > widths[i]) widths[i] = n;
    }
  }
  return widths;
}

/**
 * Rows only, in the given order, no header: for rows appended under a table already printed
 * (events --follow), aligned to that table's `widths` (a longer cell widens its column for
 * later rows, as it must not be cut).
 */
export function renderEventRows(events: readonly ConnectionEvent[], opts: TableOptions, widths: number[]): string {
  const cols = columnsOf(opts);
  const lines = events.map((e) => {
    const r = cols.map((c) => c.cell(e));
    if (opts.format === 'tsv') return r.join('\t');
    for (let i = 0; i < r.length; i++) if (r[i].length > widths[i]) widths[i] = r[i].length;
    return r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  });
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export function renderEventsTable(events: readonly ConnectionEvent[], opts: TableOptions = {}): string {
  const cols = columnsOf(opts);
  const list = opts.newestFirst === false ? [...events] : [...events].reverse();
  const header = cols.map((c) => c.title);
  let out: string;
  if (opts.format === 'tsv') {
    out = [header.join('\t'), ...list.map((e) => cols.map((c) => c.cell(e)).join('\t'))].join('\n');
  } else {
    const widths = columnWidths(list, opts);
    const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
    out = [line(header), ...list.map((e) => line(cols.map((c) => c.cell(e))))].join('\n');
  }
  if (events.some((e) => e.mapped)) {
    out += '\n(addresses are the seed\'s; each event\'s `mapped` field holds the lab loopback address behind it)';
  }
  return `${out}\n`;
}
