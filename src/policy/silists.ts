// Security Intelligence (`securityIntelligence:`): lists of networks, URLs and DNS names,
// each blocking, exempting (do-not-block) or monitoring, written inline or read from a feed.
// Network lists keep an IpSet each; URL and DNS entries go into one DomainSet per kind,
// valued by the list's index, so one lookup finds every list a name is on.
import type { CompiledSiList } from './compiled.js';
import { DomainSet, parseDomainEntry } from './domains.js';
import { forEachFeedLine, readAuxFile, type AuxFiles } from './feeds.js';
import { IpSet, parseNetwork, type Interval } from './ip.js';
import { entries, forEachItem, scalarList, str, word, type Reader } from './reader.js';
import type { SiAction, SiKind } from './types.js';
import type { Pos, YEntry, YNode } from '../schema/index.js';

const SI_KINDS: readonly SiKind[] = ['network', 'url', 'dns'];

export interface SecurityIntelligence {
  readonly lists: CompiledSiList[];
  readonly urls: DomainSet;
  readonly dns: DomainSet;
}

export function readSecurityIntelligence(r: Reader, files: AuxFiles, n: YNode | undefined): SecurityIntelligence {
  const si: SecurityIntelligence = { lists: [], urls: new DomainSet(), dns: new DomainSet() };
  const section = entries(n);
  if (!section) return si;
  const names = new Set<string>();
  for (const kind of SI_KINDS) forEachItem(section.get(kind)?.value, (list) => readList(r, files, si, names, kind, list));
  return si;
}

/** One list: its entries (inline, then the feed's) validated and added to `si`. */
function readList(r: Reader, files: AuxFiles, si: SecurityIntelligence, names: Set<string>, kind: SiKind, list: Map<string, YEntry>): void {
  const nameE = list.get('name');
  const name = str(nameE?.value);
  const action = word<SiAction>(list.get('action')?.value);
  if (name && names.has(name)) r.error(nameE!.value.at, 'policy/duplicate-name', `duplicate Security Intelligence list name '${name}'`);
  if (name) names.add(name);
  const index = si.lists.length;
  const ipEntries: { interval: Interval; label: string }[] = [];
  const domains = kind === 'url' ? si.urls : si.dns;
  let count = 0;
  const add = (text: string, at: Pos, file: string): void => {
    if (kind === 'network') {
      const iv = parseNetwork(text);
      if (typeof iv === 'string') r.error(at, 'policy/invalid-entry', iv, file);
      else {
        ipEntries.push({ interval: iv, label: text });
        count++;
      }
    } else {
      const de = parseDomainEntry(text);
      if (typeof de === 'string') r.error(at, 'policy/invalid-entry', de, file);
      else {
        domains.add(de, index);
        count++;
      }
    }
  };
  const inline = list.get('entries');
  if (inline) for (const s of scalarList(inline.value)) add(s.text, s.at, r.fileAt(s.at));
  const feedE = list.get('feed');
  let feed: string | undefined;
  const rel = str(feedE?.value);
  const got = feedE && rel ? readAuxFile(r, files, rel, feedE.value.at, 'feed') : null;
  if (got) {
    feed = rel!;
    forEachFeedLine(got.text, (entry, line) => add(entry, { line, column: 1 }, got.path));
  }
  si.lists.push({
    index,
    name: name ?? `#${index}`,
    kind,
    action: action ?? 'monitor',
    entries: count,
    ...(feed !== undefined ? { feed } : {}),
    ips: kind === 'network' ? new IpSet(ipEntries) : null,
  });
}
