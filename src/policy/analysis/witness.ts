// A concrete flow for a class: the class's witness address, port and name, as evaluate() takes
// it, and the identity sources that can give such a name under a TSID setting.
import type { IdentitySource } from '../../identity/index.js';
import { REPUTATION_LABELS } from '../domains.js';
import type { Flow, FlowIdentity } from '../types.js';
import type { Analysis, FamilyPart } from './engine.js';
import { connectionOf, type Combo, type Connection, type Slot } from './tsid.js';

export interface FlowWitness {
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  /** The name policy sees: a server name, or the destination address when none is known. */
  readonly name: string;
  readonly nameSource: IdentitySource;
  /** What the URL database (of the old policy, in a diff) says of the name. */
  readonly category: string;
  readonly reputation: string;
  /** Where the TSID settings differ: the name the new policy derives from the same connection. */
  readonly newName?: string;
  readonly newNameSource?: IdentitySource;
  /** ... and the connection both derive their names from. */
  readonly connection?: Connection;
}

/** Sources that can name a server under a TSID setting ('off', 'on/<profile>'), most common first. */
export function nameSourcesOf(tsid: string | null, viaAddress: boolean): IdentitySource[] {
  if (viaAddress) return ['ip'];
  switch (tsid) {
    case 'off':
      return ['sni', 'passive-cn'];
    case 'on/snort3-legacy':
      return ['sni', 'cert-san', 'cert-cn'];
    case 'on/snort3':
      return ['sni', 'cert-cn', 'cert-san'];
    case 'on/technote':
      return ['sni', 'cert-cn', 'cert-san', 'cert-ou'];
    default:
      return ['sni'];
  }
}

export function witnessFlow(a: Analysis, fam: FamilyPart, s: number, d: number, q: number, sig: number, viaAddress: boolean): { witness: FlowWitness; flow: Flow; identity: FlowIdentity } {
  const src = fam.src.witnessText(s);
  const dst = fam.dst.witnessText(d);
  const dport = a.ports.witness(q);
  const info = a.sigs.info[sig];
  const name = viaAddress ? dst : info.samples[0].witness;
  const source: IdentitySource = viaAddress ? 'ip' : 'sni';
  const rec = info.recs[0];
  const flow: Flow = { srcIp: src, srcPort: 40000, dstIp: dst, dstPort: dport, protocol: 'tcp', scheme: 'https', sni: viaAddress ? null : name };
  return {
    witness: { src, dst, dport, name, nameSource: source, category: rec.categories[0], reputation: `${rec.reputation} ${REPUTATION_LABELS[rec.reputation]}` },
    flow,
    identity: { name, source },
  };
}

export function describeFlow(w: FlowWitness): string {
  const dst = w.dst.includes(':') ? `[${w.dst}]` : w.dst;
  return `${w.src} -> ${dst}:${w.dport} name ${w.name} (${w.nameSource})`;
}

/**
 * A connection for a class where the TSID settings differ: the names of the two groups put in
 * the slots each side takes its name from (the rest filled with a name no slot is read from).
 */
export function connectionWitness(a: Analysis, fam: FamilyPart, s: number, d: number, q: number, combo: Combo, sigOld: number, sigNew: number): { src: string; dst: string; dport: number; conn: Connection } {
  const names: Partial<Record<Slot, string>> = {};
  const nameOf = (sig: number) => a.sigs.info[sig].samples[0]?.witness;
  if (combo.a !== 'ip') names[combo.a] = nameOf(sigOld);
  if (combo.b !== 'ip') names[combo.b] = combo.same && combo.a !== 'ip' ? names[combo.a] : nameOf(sigNew);
  // Two names of one group when they must differ (a spoofed SNI and a certificate name).
  if (combo.differ && sigOld === sigNew && combo.a !== 'ip' && combo.b !== 'ip') names[combo.b] = a.sigs.info[sigNew].samples.map((c) => c.witness).find((w) => w !== names[combo.a]) ?? `www.${names[combo.a]}`;
  let filler = 'unused-name.invalid';
  while (Object.values(names).includes(filler)) filler = `x.${filler}`;
  return { src: fam.src.witnessText(s), dst: fam.dst.witnessText(d), dport: a.ports.witness(q), conn: connectionOf(combo.shape, names, filler) };
}
