// A concrete flow for a class: the class's witness address, port and name, as evaluate() takes
// it, and the identity sources that can give such a name under a TSID setting.
import type { IdentitySource } from '../../identity/index.js';
import { REPUTATION_LABELS } from '../domains.js';
import type { Flow, FlowIdentity } from '../types.js';
import type { Analysis, FamilyPart } from './engine.js';

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
