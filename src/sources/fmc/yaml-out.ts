// The policy tree of an FMC bundle written as a peekwall YAML policy, for people who keep
// YAML: the same tree the bundle compiles from (so the file means what the bundle means), a
// comment per rule naming its FMC id and what was left out, a trailing comment per object
// naming the FMC object it came from, and file names made relative to where the YAML goes.
import { Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import { toPlain } from '../../schema/index.js';
import type { MappedPolicy } from './map.js';

export interface YamlOutOptions {
  /** Where the bundle was read from, for the header. */
  readonly source: string;
  /** A feed or URL database name as the written file must say it (relative to its folder). */
  readonly rebase: (name: string) => string;
  /** `$schema` for editors, relative to the written file; none when absent. */
  readonly schema?: string;
}

/** Short lists and small maps of scalars read best on one line, as the shipped policies write them. */
function flowSmall(n: unknown): void {
  if (isSeq(n)) {
    if (n.items.length <= 8 && n.items.every((i) => isScalar(i))) n.flow = true;
    else n.items.forEach(flowSmall);
  } else if (isMap(n)) {
    if (n.items.length <= 3 && n.items.every((p) => isScalar(p.value))) n.flow = true;
    else n.items.forEach((p) => flowSmall(p.value));
  }
}

const commentLines = (lines: readonly string[]): string => lines.map((l) => ` ${l}`).join('\n');

export function policyYaml(m: MappedPolicy, o: YamlOutOptions): string {
  const plain = toPlain(m.tree) as Record<string, unknown>;
  if (typeof plain.urlDatabase === 'string') plain.urlDatabase = o.rebase(plain.urlDatabase);
  const si = plain.securityIntelligence as Record<string, Record<string, unknown>[]> | undefined;
  for (const lists of Object.values(si ?? {})) for (const l of lists) if (typeof l.feed === 'string') l.feed = o.rebase(l.feed);
  const doc = new Document(plain);
  doc.commentBefore = commentLines([
    ...(o.schema ? [`yaml-language-server: $schema=${o.schema}`] : []),
    `Imported by peekwall import fmc from ${o.source}.`,
    ...m.notes,
  ]);
  const rules = doc.get('rules');
  if (isSeq(rules)) {
    rules.items.forEach((r, i) => {
      const lines = m.ruleComments[i] ?? [];
      if (lines.length > 0) (r as Node).commentBefore = commentLines(lines);
      flowSmall(r);
    });
    if (rules.items.length > 0) (rules.items[0] as Node).spaceBefore = false;
  }
  const objects = doc.get('objects');
  if (isMap(objects)) {
    for (const section of objects.items) {
      const kind = String((section.key as { value?: unknown })?.value ?? section.key);
      const singular = kind === 'networks' ? 'network' : kind === 'ports' ? 'port' : kind === 'urls' ? 'url' : kind;
      if (!isMap(section.value)) continue;
      for (const p of section.value.items) {
        flowSmall(p.value);
        const origin = m.objectOrigins.get(`${singular}\0${String((p.key as { value?: unknown })?.value ?? p.key)}`);
        if (origin && p.value) (p.value as Node).comment = ` ${origin}`;
      }
    }
  }
  const settings = doc.get('settings');
  if (isMap(settings)) settings.items.forEach((p) => flowSmall(p.value));
  const siNode = doc.get('securityIntelligence');
  if (isMap(siNode)) siNode.items.forEach((p) => isSeq(p.value) && p.value.items.forEach(flowSmall));
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
