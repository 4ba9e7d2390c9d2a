// The lab run as a person reads it: per act the FMC-style events table, the devices'
// commands and what they printed, and whether the act showed what the field case predicts.
import { renderEventsTable, type ConnectionEvent } from '../events/index.js';
import type { LabRun } from './acts.js';

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');
}

/** A wrapped paragraph (the explanation), so it reads in an 80-100 column terminal. */
export function wrap(text: string, width = 96): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(line);
  return out.join('\n');
}

export function renderLabRun(run: LabRun, o: { wide?: boolean } = {}): string {
  const L: string[] = [];
  L.push(`peekwall lab — ${run.scenario}: ${run.title}`);
  L.push('');
  for (const act of run.acts) {
    L.push(`== ${act.title} ==`);
    L.push(`policy ${act.policy} · TSID ${act.tsid.enabled ? 'on' : 'off'} (${act.tsid.profile})`);
    L.push('');
    if (act.events.length > 0) {
      L.push(renderEventsTable(oldestFirst(act.events), { newestFirst: true, ...(o.wide ? { wide: true } : {}) }).trimEnd());
    } else {
      L.push('(no connection events: nothing reached the firewall)');
    }
    L.push('');
    for (const c of act.clients) {
      L.push(`${c.device}# ${c.command}`);
      L.push(indent(c.output));
    }
    for (const n of act.notes) L.push(n.includes('\n') ? indent(n) : n);
    L.push('');
    L.push(`expected: ${act.expected}`);
    for (const c of act.checks) L.push(`  [${c.ok ? 'ok' : 'DIFFERS'}] ${c.what}`);
    L.push('');
  }
  L.push(wrap(run.explanation));
  L.push('');
  L.push(
    run.ok
      ? `lab ok: every act showed what the field case predicts (${run.acts.length} act${run.acts.length === 1 ? '' : 's'})`
      : `lab DIFFERS: ${run.acts.filter((a) => !a.ok).map((a) => a.title).join('; ')} did not show the expected outcome`,
  );
  return `${L.join('\n')}\n`;
}

function oldestFirst(events: readonly ConnectionEvent[]): ConnectionEvent[] {
  return [...events].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}
