// Two policies with different TSID settings name one connection differently: TSID on takes a
// certificate name by the profile's order (and drops a spoofed SNI), TSID off takes the SNI, or
// the CN read passively over TLS <= 1.2. So where the settings differ a flow is a connection —
// an SNI or none, a server certificate with a CN, a first DNS SAN and an OU or not, the SNI
// spoofed or not, TLS 1.3 or older — and each side derives its name from one "slot" of it.
// Slots that hold the same name (the same slot, or an unspoofed SNI that can only be the CN)
// compare name by name; other slots hold names chosen independently.
import type { CertificateFacts, IdentityInput, IdentitySource, TsidSetting } from '../../identity/index.js';

export type Slot = 'sni' | 'cn' | 'san' | 'ou' | 'ip';

/** What a connection shows, without the names themselves. */
export interface Shape {
  readonly sni: boolean;
  readonly cn: boolean;
  readonly san: boolean;
  readonly ou: boolean;
  /** The certificate carries no name matching the SNI (meaningful with an SNI). */
  readonly spoofed: boolean;
  readonly tls13: boolean;
}

const ORDER: Readonly<Record<string, readonly Slot[]>> = {
  'on/snort3-legacy': ['sni', 'san', 'cn'],
  'on/snort3': ['sni', 'cn', 'san'],
  'on/technote': ['cn', 'san', 'ou', 'sni'],
};

/** The slot a TSID setting ('off', 'on/<profile>') takes the name from. */
export function slotOf(tsid: string, c: Shape): Slot {
  if (tsid === 'off') return c.sni ? 'sni' : !c.tls13 && c.cn ? 'cn' : 'ip';
  for (const s of ORDER[tsid] ?? ORDER['on/snort3-legacy']) {
    if (s === 'sni' ? c.sni && !c.spoofed : c[s as 'cn' | 'san' | 'ou']) return s;
  }
  return 'ip';
}

/** Every shape a connection can have: an unspoofed SNI needs a certificate name to match. */
export function shapes(): Shape[] {
  const out: Shape[] = [];
  for (let bits = 0; bits < 64; bits++) {
    const [sni, cn, san, ou, spoofed, tls13] = [1, 2, 4, 8, 16, 32].map((b) => (bits & b) !== 0);
    if (!sni && spoofed) continue;
    if (sni && !spoofed && !cn && !san) continue;
    out.push({ sni, cn, san, ou, spoofed, tls13 });
  }
  return out;
}

/** Whether two slots hold one name in a shape: the same slot, or an unspoofed SNI only the CN can match. */
export function sameName(a: Slot, b: Slot, c: Shape): boolean {
  if (a === b) return true;
  const pair = new Set([a, b]);
  return pair.has('sni') && pair.has('cn') && c.sni && !c.spoofed && !c.san;
}

/** Whether the two slots' names must differ (a spoofed SNI is none of the certificate's names). */
export function mustDiffer(a: Slot, b: Slot, c: Shape): boolean {
  if (!c.spoofed) return false;
  return (a === 'sni' && (b === 'cn' || b === 'san')) || (b === 'sni' && (a === 'cn' || a === 'san'));
}

export const SOURCE: Readonly<Record<Slot, IdentitySource>> = { sni: 'sni', cn: 'cert-cn', san: 'cert-san', ou: 'cert-ou', ip: 'ip' };

/** The identity source a slot is under a TSID setting (the CN is read passively with TSID off). */
export function sourceOf(slot: Slot, tsid: string): IdentitySource {
  return slot === 'cn' && tsid === 'off' ? 'passive-cn' : SOURCE[slot];
}

/** A concrete connection of a shape with the names given per slot (for a witness). */
export interface Connection {
  readonly sni: string | null;
  readonly certificate: { readonly cn: string | null; readonly sans: readonly string[]; readonly ou: string | null };
  readonly tls: 'TLSv1.2' | 'TLSv1.3';
}

export function connectionOf(c: Shape, names: Partial<Record<Slot, string>>, filler: string): Connection {
  const cn = c.cn ? names.cn ?? (c.sni && !c.spoofed && !c.san ? names.sni : null) ?? filler : null;
  const sni = c.sni ? names.sni ?? (!c.spoofed && !c.san ? cn : null) ?? filler : null;
  const sans = c.san ? [names.san ?? filler, ...(c.sni && !c.spoofed && sni !== null ? [sni] : [])] : [];
  return { sni, certificate: { cn, sans, ou: c.ou ? names.ou ?? filler : null }, tls: c.tls13 ? 'TLSv1.3' : 'TLSv1.2' };
}

/** What identity/ resolves for a connection under a TSID setting. */
export function identityInput(conn: Connection, tsid: TsidSetting, dstIp: string): IdentityInput {
  const z = conn.certificate;
  const facts: CertificateFacts = {
    der: new Uint8Array(0),
    subject: [],
    subjectDn: '',
    issuer: [],
    issuerDn: '',
    cn: z.cn,
    cns: z.cn === null ? [] : [z.cn],
    ous: z.ou === null ? [] : [z.ou],
    sans: z.sans.map((value) => ({ type: 'dns' as const, value })),
    serial: '',
    notBefore: new Date(0),
    notAfter: new Date(0),
    keyType: '',
    keySize: null,
    signatureAlgorithm: '',
    ski: null,
    aki: null,
    sha256: '',
    selfSigned: false,
    isCa: false,
  };
  const hasCert = z.cn !== null || z.sans.length > 0 || z.ou !== null || tsid.enabled;
  return {
    sni: conn.sni,
    tsid,
    dstIp,
    ...(tsid.enabled ? { certificate: facts } : hasCert && conn.tls === 'TLSv1.2' ? { passiveCertificate: facts } : {}),
  };
}

/** One way the two sides take their names: the slots, whether they hold one name, an example shape. */
export interface Combo {
  readonly a: Slot;
  readonly b: Slot;
  readonly same: boolean;
  readonly differ: boolean;
  readonly shape: Shape;
}

/** The distinct ways two TSID settings name a connection. */
export function combos(ta: string, tb: string): Combo[] {
  const out = new Map<string, Combo>();
  for (const c of shapes()) {
    const a = slotOf(ta, c);
    const b = slotOf(tb, c);
    const same = sameName(a, b, c);
    const differ = !same && mustDiffer(a, b, c);
    const k = `${a}|${b}|${same}|${differ}`;
    if (!out.has(k)) out.set(k, { a, b, same, differ, shape: c });
  }
  return [...out.values()];
}

/** What walking a TSID-differing state needs from the analysis. */
export interface TsidWalk {
  readonly nameSigs: readonly number[];
  readonly ipSig: number;
  /** Each side's outcome for a name group. */
  readonly decide: readonly [(sig: number) => number, (sig: number) => number];
  /** Whether a name group holds two names at least. */
  multi(sig: number): boolean;
}

/**
 * Every (old outcome, new outcome) a state's connections can get when the two sides name
 * them by `combo`, with name groups that give them: `visit(oOld, oNew, sigOld, sigNew)`.
 */
export function walkCombo(w: TsidWalk, combo: Combo, visit: (oa: number, ob: number, sa: number, sb: number) => void): void {
  const domain = (s: Slot) => (s === 'ip' ? [w.ipSig] : w.nameSigs);
  if (combo.same) {
    for (const sig of domain(combo.a)) {
      const oa = w.decide[0](sig);
      const ob = w.decide[1](sig);
      if (oa !== ob) visit(oa, ob, sig, sig);
    }
    return;
  }
  // Independent names: each side's outcomes, two groups kept per outcome for names that must differ.
  const outcomes = (side: 0 | 1, slot: Slot) => {
    const m = new Map<number, number[]>();
    for (const sig of domain(slot)) {
      const o = w.decide[side](sig);
      const l = m.get(o);
      if (!l) m.set(o, [sig]);
      else if (l.length < 2) l.push(sig);
    }
    return m;
  };
  const A = outcomes(0, combo.a);
  const B = outcomes(1, combo.b);
  for (const [oa, sas] of A) {
    for (const [ob, sbs] of B) {
      if (oa === ob) continue;
      let pick: [number, number] | null = null;
      for (const sa of sas) for (const sb of sbs) if (pick === null && (!combo.differ || sa !== sb || w.multi(sa))) pick = [sa, sb];
      if (pick) visit(oa, ob, pick[0], pick[1]);
    }
  }
}
