// The flow space of an analysis cut into classes, dimension by dimension: the names first (the
// destination addresses some name entry spells become address classes of their own), then
// ports, then source and destination addresses of each family. Each policy's rules, prefilter
// rules and SI lists get a bit in the classes' member sets; a restriction (search) one more.
import { DomainSet, parseDomainEntry } from '../domains.js';
import { partitionAddresses, type AddressAtoms, type AddressTrack } from './addresses.js';
import type { Restriction } from './engine.js';
import { addressNames, type Limits, type PolicyView } from './model.js';
import { domainPattern, partitionNames, type NamePattern } from './names.js';
import { partitionPorts, type PortAtoms, type PortTrack } from './ports.js';
import { Signatures } from './signatures.js';

export interface Space {
  readonly sigs: Signatures;
  /** Name groups holding DNS names (address-only groups excluded), in order of first sight. */
  readonly nameSigs: number[];
  /** Classes of the name partition, before grouping. */
  readonly nameClasses: number;
  readonly ports: PortAtoms;
  readonly families: { readonly family: 4 | 6; readonly src: AddressAtoms; readonly dst: AddressAtoms; readonly ipSig: Int32Array }[];
  /** Word offset of each policy's part of an address class's bits: [prefilter | SI lists | rules]. */
  readonly aBase: number[];
  /** Word offset of each policy's part of a port class's bits: [prefilter | rules]. */
  readonly qBase: number[];
  /** The word whose bit 0 says "inside the restriction" in address classes. */
  readonly restrictWord: number;
  readonly portRestrictBit: number;
}

export function partitionSpace(views: readonly PolicyView[], limits: Limits, r: Restriction, unlistedAnyCategory = false): Space {
  const aBase: number[] = [];
  const qBase: number[] = [];
  let aw = 0;
  let qw = 0;
  for (const v of views) {
    aBase.push(aw);
    qBase.push(qw);
    aw += v.pW + v.lW + v.rW;
    qw += v.pW + v.rW;
  }
  const restrictBit = aw * 32;

  const patterns = new Map<string, NamePattern>();
  for (const v of views) v.patterns(patterns, limits);
  let namePattern: ((host: string) => boolean) | null = null;
  if (r.name !== undefined) {
    const e = parseDomainEntry(r.name);
    if (typeof e === 'string') throw new Error(e);
    const set = new DomainSet();
    set.add(e, 0);
    namePattern = (h) => set.first(h, null) !== null;
    patterns.set(`restrict|${r.name}`, domainPattern(e.host, e.exact));
  }
  const singles = new Set<bigint>();
  addressNames(patterns.values(), limits, singles);
  const sigs = new Signatures(views, namePattern, unlistedAnyCategory);
  const nameSigs: number[] = [];
  const seen = new Set<number>();
  const part = partitionNames([...patterns.values()], (c) => {
    for (const id of sigs.add(c)) {
      if (!seen.has(id)) {
        seen.add(id);
        nameSigs.push(id);
      }
    }
  });
  if (part.unwitnessed > 0) limits.add(`${part.unwitnessed} name class(es) have no witness name within the search bound`);

  const tracks = (side: 'src' | 'dst'): AddressTrack[] => {
    const out: AddressTrack[] = [];
    views.forEach((v, i) => {
      const b = aBase[i] * 32;
      v.p.prefilter.forEach((pf, k) => out.push({ set: pf[side], bit: b + k }));
      v.p.siLists.forEach((l, k) => l.ips && out.push({ set: l.ips, bit: b + v.pW * 32 + k }));
      v.p.rules.forEach((rule, k) => rule.enabled && out.push({ set: rule[side], bit: b + (v.pW + v.lW) * 32 + k }));
    });
    out.push({ set: r[side] ?? null, bit: restrictBit });
    return out;
  };
  const portTracks: PortTrack[] = [];
  views.forEach((v, i) => {
    const b = qBase[i] * 32;
    v.p.prefilter.forEach((pf, k) => portTracks.push({ ranges: pf.ports, bit: b + k }));
    v.p.rules.forEach((rule, k) => rule.enabled && portTracks.push({ ranges: rule.ports, bit: b + v.pW * 32 + k }));
  });
  portTracks.push({ ranges: r.ports ?? null, bit: qw * 32 });
  const ports = partitionPorts(qw + 1, portTracks);

  const srcT = tracks('src');
  const dstT = tracks('dst');
  const families: Space['families'] = [];
  for (const family of [4, 6] as const) {
    const src = partitionAddresses(family, aw + 1, srcT);
    const dst = partitionAddresses(family, aw + 1, dstT, family === 4 ? [...singles] : []);
    // The destination address as the name (nothing else names the server): its text's group.
    const ipSig = new Int32Array(dst.count).fill(-1);
    for (let d = 0; d < dst.count; d++) if (dst.inSpace(d)) ipSig[d] = sigs.addressGroup(dst.witnessText(d));
    families.push({ family, src, dst, ipSig });
  }
  return { sigs, nameSigs, nameClasses: part.classes, ports, families, aBase, qBase, restrictWord: aw, portRestrictBit: qw * 32 };
}
