// Classes as a person reads them: address ranges as CIDRs or 'a-b', 'any IPv4 except ...'
// when the complement is shorter, ports as '80, 443, 8000-8080'.
import { addressText } from './addresses.js';

export type Range = readonly [bigint, bigint];

function familyMax(family: 4 | 6): bigint {
  return family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
}

/** Sorted, merged ranges (adjacent ones joined). */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

/** The CIDR blocks that make up [lo, hi], or null when more than `max`. */
function cidrs(family: 4 | 6, lo: bigint, hi: bigint, max: number): string[] | null {
  const bits = family === 4 ? 32 : 128;
  const out: string[] = [];
  if (family === 4) {
    // Numbers: IPv4 fits a double exactly, and bigint steps cost ~10x.
    let x = Number(lo);
    const end = Number(hi);
    while (x <= end) {
      let size = 0;
      while (size < 32 && x % 2 ** (size + 1) === 0 && x + 2 ** (size + 1) - 1 <= end) size++;
      out.push(`${addressText(4, BigInt(x))}/${32 - size}`);
      if (out.length > max) return null;
      x += 2 ** size;
    }
    return out;
  }
  let x = lo;
  while (x <= hi) {
    let size = 0;
    while (size < bits && (x & ((1n << BigInt(size + 1)) - 1n)) === 0n && x + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push(`${addressText(family, x)}/${bits - size}`);
    if (out.length > max) return null;
    x += 1n << BigInt(size);
  }
  return out;
}

export function rangeText(family: 4 | 6, lo: bigint, hi: bigint): string[] {
  if (lo === hi) return [addressText(family, lo)];
  return cidrs(family, lo, hi, 2) ?? [`${addressText(family, lo)}-${addressText(family, hi)}`];
}

/** Every range of a set as text (CIDRs where they fit), at most `cap` ranges written out. */
export function addressList(family: 4 | 6, ranges: readonly Range[], cap = Infinity): string[] {
  const merged = mergeRanges(ranges);
  const out = merged.slice(0, cap).flatMap(([lo, hi]) => rangeText(family, lo, hi));
  if (merged.length > cap) out.push(`... (${merged.length - cap} more ranges)`);
  return out;
}

function complement(family: 4 | 6, merged: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0n;
  for (const [lo, hi] of merged) {
    if (lo > next) out.push([next, lo - 1n]);
    next = hi + 1n;
  }
  if (next <= familyMax(family)) out.push([next, familyMax(family)]);
  return out;
}

/** A short text for a set of addresses: 'any IPv4', a few ranges, or 'any IPv4 except ...'. */
export function addressSummary(family: 4 | 6, ranges: readonly Range[], max = 4): string {
  const merged = mergeRanges(ranges);
  const any = family === 4 ? 'any IPv4' : 'any IPv6';
  // The IPv4-mapped block is no IPv6 flow: leave it out of IPv6 complements.
  const comp = complement(family, merged).filter(([lo, hi]) => family === 4 || !(lo >= 0xffff00000000n && hi < 1n << 48n));
  if (comp.length === 0) return any;
  const shown = (rs: readonly Range[]) => {
    const texts = rs.slice(0, max).flatMap(([lo, hi]) => rangeText(family, lo, hi));
    return rs.length <= max && texts.length <= max ? texts.join(', ') : `${texts.slice(0, max).join(', ')}, ... (${rs.length} ranges)`;
  };
  return comp.length < merged.length ? `${any} except ${shown(comp)}` : shown(merged);
}

/** Ports as '80, 443, 8000-8080' ('any' for 1-65535). */
export function portList(ranges: readonly (readonly [number, number])[]): string[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`));
}

export function portSummary(ranges: readonly (readonly [number, number])[], max = 6): string {
  const list = portList(ranges);
  if (list.length === 1 && list[0] === '1-65535') return 'any';
  return list.length <= max ? list.join(', ') : `${list.slice(0, max).join(', ')}, ... (${list.length} ranges)`;
}
