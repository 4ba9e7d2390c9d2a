// Reading an events file back (for `peekwall events`, `peekwall test --from-events`).
// Lines that are not connection events are reported with their line number, not fatal.
import { isIP } from 'node:net';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { ConnectionEvent } from './types.js';

const REQUIRED: ReadonlyArray<[keyof ConnectionEvent, string]> = [
  ['time', 'string'],
  ['action', 'string'],
  ['srcIp', 'string'],
  ['dstIp', 'string'],
  ['srcPort', 'number'],
  ['dstPort', 'number'],
];

/** Optional text fields: absent, null or a string. */
const TEXT: ReadonlyArray<keyof ConnectionEvent> = [
  'reason', 'accessControlRule', 'url', 'webApplication', 'urlCategory', 'urlReputation', 'siCategory',
  'identitySource', 'sni', 'closeReason', 'applicationProtocol', 'client', 'spoofedSni', 'tlsVersion',
];

export function parseEventLines(
  text: string,
  file = '<events>',
): { events: ConnectionEvent[]; errors: PeekwallError[] } {
  const events: ConnectionEvent[] = [];
  const errors: PeekwallError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      errors.push(peekwallError('events/bad-line', 'not a JSON line', { file, line: i + 1, column: 1 }));
      continue;
    }
    if (typeof value !== 'object' || value === null || (value as { eventType?: unknown }).eventType !== 'Connection') {
      errors.push(peekwallError('events/not-an-event', 'not a connection event (eventType is not "Connection")', { file, line: i + 1, column: 1 }));
      continue;
    }
    const rec = value as Record<string, unknown>;
    const bad = REQUIRED.find(([k, t]) => typeof rec[k] !== t);
    if (bad) {
      errors.push(peekwallError('events/bad-field', `field '${bad[0]}' must be a ${bad[1]}`, { file, line: i + 1, column: 1 }));
      continue;
    }
    // The table and the filters call string methods on these: a number or an object there
    // (a hand-edited or foreign file) must be a reported line, not a TypeError.
    const badText = TEXT.find((k) => rec[k] !== undefined && rec[k] !== null && typeof rec[k] !== 'string');
    if (badText) {
      errors.push(peekwallError('events/bad-field', `field '${badText}' must be a string`, { file, line: i + 1, column: 1 }));
      continue;
    }
    // Present in every event peekwall writes; a file from an older or foreign writer may
    // lack them: read as FMC shows an empty cell.
    if (typeof rec.reason !== 'string') rec.reason = '';
    if (typeof rec.accessControlRule !== 'string') rec.accessControlRule = '';
    if (rec.url === undefined) rec.url = null;
    // pino's level is the log's, not the event's.
    delete (value as { level?: unknown }).level;
    events.push(value as ConnectionEvent);
  }
  return { events, errors };
}

/** The actions a connection event can carry, spelled as FMC shows them (--action takes any case). */
export const EVENT_ACTIONS: readonly string[] = ['Allow', 'Trust', 'Monitor', 'Block', 'Block with reset', 'Interactive Block', 'Interactive Block with reset'];

export interface EventFilter {
  readonly action?: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly rule?: string;
  readonly src?: string;
  readonly dst?: string;
  /** Substring of the URL. */
  readonly url?: string;
  readonly reason?: string;
  /** Only the events FMC would have shown (fmcLogged not false). */
  readonly fmcLogged?: boolean;
}

/**
 * What is wrong with filter values as typed (a filter that can never match is a typo, not an
 * empty answer): an unknown action, an address that is not an IP, a port outside 0..65535.
 */
export function eventFilterErrors(f: { action?: string; src?: string; dst?: string; srcPort?: string; dstPort?: string }): string[] {
  const out: string[] = [];
  if (f.action !== undefined && !EVENT_ACTIONS.some((a) => a.toLowerCase() === f.action!.toLowerCase())) {
    out.push(`--action '${f.action}' is not an action; valid: ${EVENT_ACTIONS.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(', ')}`);
  }
  for (const [flag, v] of [['--src', f.src], ['--dst', f.dst]] as const) {
    if (v !== undefined && isIP(v) === 0) out.push(`${flag} '${v}' is not an IP address (e.g. 10.12.1.8 or 2001:db8::1)`);
  }
  for (const [flag, v] of [['--src-port', f.srcPort], ['--dst-port', f.dstPort]] as const) {
    if (v !== undefined && !(/^\d{1,5}$/.test(v) && Number(v) <= 65535)) out.push(`${flag} '${v}' is not a port (0..65535)`);
  }
  return out;
}

export function filterEvents(events: readonly ConnectionEvent[], f: EventFilter): ConnectionEvent[] {
  const lc = (s: string | undefined) => (s ?? '').toLowerCase();
  return events.filter(
    (e) =>
      (f.action === undefined || lc(e.action) === lc(f.action)) &&
      (f.rule === undefined || e.accessControlRule === f.rule) &&
      (f.src === undefined || e.srcIp === f.src) &&
      (f.dst === undefined || e.dstIp === f.dst) &&
      (f.srcPort === undefined || e.srcPort === f.srcPort) &&
      (f.dstPort === undefined || e.dstPort === f.dstPort) &&
      (f.url === undefined || lc(e.url ?? '').includes(lc(f.url))) &&
      (f.reason === undefined || lc(e.reason) === lc(f.reason)) &&
      (f.fmcLogged !== true || e.fmcLogged !== false),
  );
}
