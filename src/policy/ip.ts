// IP addresses, CIDRs and ranges as sorted, merged intervals. IPv4 addresses are one uint32;
// IPv6 addresses are four uint32 words (most significant first). Parsing is a hand-written
// character loop: it runs per connection, so no regex, no split, no per-call allocation for
// IPv4 (IPv6 writes into a caller-provided buffer).

/** Parse dotted-quad IPv4. Returns the address as an unsigned 32-bit number, or -1. */
export function parseIpv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // No leading zeros ("010" is octal to some parsers, ambiguous: refuse it).
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parse IPv6 (RFC 4291 text forms: '::' compression, embedded IPv4 tail, an optional
 * '%zone' which is ignored) into out[0..3]. Returns false when invalid.
 */
export function parseIpv6(s: string, out: Uint32Array, start = 0, end = s.length): boolean {
  const pct = s.indexOf('%', start);
  if (pct >= 0 && pct < end) end = pct;
  // Up to 8 groups of 16 bits; 'gap' is the group index where '::' sits.
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0;
  let gap = -1;
  let i = start;
  if (end - start < 2) return false;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      out[0] = out[1] = out[2] = out[3] = 0;
      return true;
    }
  }
  while (i < end) {
    if (n >= 8) return false;
    // Find the end of this group.
    let j = i;
    let v = 0;
    let isV4 = false;
    while (j < end) {
      const c = s.charCodeAt(j);
      if (c === 58) break;
      if (c === 46) {
        isV4 = true;
        break;
      }
      const h = hexVal(c);
      if (h < 0) return false;
      v = v * 16 + h;
      j++;
    }
    if (isV4) {
      if (n > 6) return false;
      const v4 = parseIpv4(s, i, end);
      if (v4 < 0) return false;
      groups[n++] = Math.floor(v4 / 65536);
      groups[n++] = v4 % 65536;
      i = end;
      break;
    }
    const len = j - i;
    if (len === 0 || len > 4) return false;
    groups[n++] = v;
    if (j === end) {
      i = j;
      break;
    }
    // j is at ':'
    if (j + 1 < end && s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
      if (i === end) break;
    } else {
      i = j + 1;
      if (i === end) return false; // trailing single ':'
    }
  }
  if (gap >= 0) {
    if (n >= 8) return false;
    const missing = 8 - n;
    for (let k = n - 1; k >= gap; k--) groups[k + missing] = groups[k];
    for (let k = gap; k < gap + missing; k++) groups[k] = 0;
  } else if (n !== 8) {
    return false;
  }
  for (let k = 0; k < 4; k++) out[k] = groups[2 * k] * 65536 + groups[2 * k + 1];
  return true;
}

/** A parsed address: family and value (v4 number, or v6 words). */
export type ParsedAddress =
  | { readonly family: 4; readonly v4: number }
  | { readonly family: 6; readonly v6: Uint32Array };

/**
 * Parse either family. IPv4-mapped IPv6 (::ffff:a.b.c.d), as Node reports addresses on
 * dual-stack sockets, becomes plain IPv4 so policies written with IPv4 objects match.
 */
export function parseAddress(s: string): ParsedAddress | null {
  const v4 = parseIpv4(s);
  if (v4 >= 0) return { family: 4, v4 };
  const w = new Uint32Array(4);
  if (!parseIpv6(s, w)) return null;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return { family: 4, v4: w[3] };
  return { family: 6, v6: w };
}

/** One parsed network entry: an inclusive interval of one family. */
export type Interval =
  | { readonly family: 4; readonly start: number; readonly end: number }
  | { readonly family: 6; readonly start: Uint32Array; readonly end: Uint32Array };

/**
 * Parse a host, CIDR (`a/len`) or range (`a-b`) of either family. Returns an error message
 * (a string) when invalid. Host bits set in a CIDR are cleared (FMC does the same).
 */
export function parseNetwork(text: string): Interval | string {
  const s = text.trim();
  const slash = s.indexOf('/');
  const dash = s.indexOf('-');
  if (slash >= 0) {
    const addr = parseAddress(s.slice(0, slash));
    const lenText = s.slice(slash + 1);
    if (!addr) return `'${s}' is not a valid CIDR: bad address`;
    if (lenText.length === 0 || lenText.length > 3) return `'${s}' is not a valid CIDR: bad prefix length`;
    let len = 0;
    for (let i = 0; i < lenText.length; i++) {
      const c = lenText.charCodeAt(i);
      if (c < 48 || c > 57) return `'${s}' is not a valid CIDR: bad prefix length`;
      len = len * 10 + c - 48;
    }
    // '::ffff:10.0.0.0/104' style mapped prefixes are rare; treat mapped addresses as IPv4
    // only when the prefix fits IPv4.
    if (addr.family === 4) {
      const isMappedText = s.indexOf(':') >= 0;
      if (isMappedText) len -= 96;
      if (len < 0 || len > 32) return `'${s}' is not a valid CIDR: prefix length must be 0-32`;
      const size = 2 ** (32 - len);
      const start = Math.floor(addr.v4 / size) * size;
      return { family: 4, start, end: start + size - 1 };
    }
    if (len > 128) return `'${s}' is not a valid CIDR: prefix length must be 0-128`;
    const start = new Uint32Array(4);
    const end = new Uint32Array(4);
    for (let k = 0; k < 4; k++) {
      const bits = Math.max(0, Math.min(32, len - 32 * k)); // prefix bits inside this word
      const hostBits = 32 - bits;
      const size = 2 ** hostBits;
      const st = Math.floor(addr.v6[k] / size) * size;
      start[k] = st;
      end[k] = st + size - 1;
    }
    return { family: 6, start, end };
  }
  if (dash >= 0) {
    const a = parseAddress(s.slice(0, dash).trim());
    const b = parseAddress(s.slice(dash + 1).trim());
    if (!a || !b) return `'${s}' is not a valid address range`;
    if (a.family !== b.family) return `'${s}' mixes IPv4 and IPv6`;
    if (a.family === 4 && b.family === 4) {
      if (a.v4 > b.v4) return `'${s}' is an empty range (start after end)`;
      return { family: 4, start: a.v4, end: b.v4 };
    }
    const av = (a as { v6: Uint32Array }).v6;
    const bv = (b as { v6: Uint32Array }).v6;
    if (cmp6(av, 0, bv, 0) > 0) return `'${s}' is an empty range (start after end)`;
    return { family: 6, start: av, end: bv };
  }
  const a = parseAddress(s);
  if (!a) return `'${s}' is not a valid IP address, CIDR or range`;
  if (a.family === 4) return { family: 4, start: a.v4, end: a.v4 };
  return { family: 6, start: a.v6, end: a.v6 };
}

/** Compare two IPv6 keys stored at offsets (4 words each). */
export function cmp6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k];
    const y = b[bi + k];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Binary search shared by the IP sets and the rule index: the index of the last of
 * sorted[lo..hi] that is <= key, or -1 when none is.
 */
export function lastAtOrBelow(sorted: Float64Array, key: number, lo: number, hi: number): number {
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= key) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return at;
}

/** The same over 4-word IPv6 keys, key i at words[i * stride]; `count` keys. */
export function lastAtOrBelow6(words: Uint32Array, stride: number, count: number, key: Uint32Array): number {
  let lo = 0;
  let hi = count - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp6(words, mid * stride, key, 0) <= 0) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return at;
}

/** Add one to a v6 key in place; returns false on overflow. */
function inc6(w: Uint32Array, o: number): boolean {
  for (let k = 3; k >= 0; k--) {
    if (w[o + k] !== 0xffffffff) {
      w[o + k]++;
      return true;
    }
    w[o + k] = 0;
  }
  return false;
}

/**
 * A set of addresses of both families as sorted, disjoint, merged intervals, each carrying
 * the label (entry text index) of the first entry that produced it. Lookup is a binary
 * search: O(log n), no allocation.
 *
 * Everything is in typed arrays, the entry texts too (one buffer, not a string per entry):
 * a 1,000,000-entry feed is then no 1,000,000 objects for every major GC to mark, and a set
 * built in the policy loader's worker thread crosses to the event loop by moving its
 * buffers, where 1,000,000 strings would be copied one by one on the event loop.
 */
export class IpSet {
  private readonly s4: Float64Array;
  private readonly e4: Float64Array;
  private readonly l4: Int32Array;
  private readonly k6: Uint32Array; // 8 words per interval: start[4], end[4]
  private readonly l6: Int32Array;
  /** Entry text i is labelBytes[labelOffs[i] .. labelOffs[i + 1]) (UTF-8). */
  private readonly labelBytes: Buffer;
  private readonly labelOffs: Int32Array;
  readonly size: number;
  /** For big sets: b4[k] = number of IPv4 intervals starting below k<<16, so a lookup only
   * binary-searches the few intervals around the address's /16 (fewer cache misses). */
  private readonly b4: Uint32Array | null;

  constructor(entries: readonly { interval: Interval; label: string }[]) {
    const labelOffs = new Int32Array(entries.length + 1);
    for (let i = 0; i < entries.length; i++) labelOffs[i + 1] = labelOffs[i] + Buffer.byteLength(entries[i].label);
    const labelBytes = Buffer.allocUnsafeSlow(labelOffs[entries.length]);
    const v4: { s: number; e: number; l: number }[] = [];
    const v6: { s: Uint32Array; e: Uint32Array; l: number }[] = [];
    for (let l = 0; l < entries.length; l++) {
      const { interval, label } = entries[l];
      labelBytes.write(label, labelOffs[l]);
      if (interval.family === 4) v4.push({ s: interval.start, e: interval.end, l });
      else v6.push({ s: interval.start, e: interval.end, l });
    }
    v4.sort((a, b) => a.s - b.s || a.l - b.l);
    const m4: { s: number; e: number; l: number }[] = [];
    for (const r of v4) {
      const last = m4[m4.length - 1];
      if (last && r.s <= last.e + 1) {
        if (r.e > last.e) last.e = r.e;
      } else m4.push({ ...r });
    }
    this.s4 = Float64Array.from(m4, (r) => r.s);
    this.e4 = Float64Array.from(m4, (r) => r.e);
    this.l4 = Int32Array.from(m4, (r) => r.l);
    if (m4.length > 1024) {
      const b4 = new Uint32Array(65537);
      let j = 0;
      for (let k = 0; k <= 65536; k++) {
        while (j < m4.length && m4[j].s < k * 65536) j++;
        b4[k] = j;
      }
      this.b4 = b4;
    } else this.b4 = null;
    v6.sort((a, b) => cmp6(a.s, 0, b.s, 0) || a.l - b.l);
    const m6: { s: Uint32Array; e: Uint32Array; l: number }[] = [];
    const next = new Uint32Array(4);
    for (const r of v6) {
      const last = m6[m6.length - 1];
      if (last) {
        next.set(last.e);
        const noOverflow = inc6(next, 0);
        if (!noOverflow || cmp6(r.s, 0, next, 0) <= 0) {
          if (cmp6(r.e, 0, last.e, 0) > 0) last.e = r.e;
          continue;
        }
      }
      m6.push({ s: r.s, e: r.e, l: r.l });
    }
    this.k6 = new Uint32Array(m6.length * 8);
    this.l6 = new Int32Array(m6.length);
    m6.forEach((r, i) => {
      this.k6.set(r.s, i * 8);
      this.k6.set(r.e, i * 8 + 4);
      this.l6[i] = r.l;
    });
    this.labelBytes = labelBytes;
    this.labelOffs = labelOffs;
    this.size = m4.length + m6.length;
  }

  /**
   * A set as a structured clone delivers it (postMessage from the policy loader's worker):
   * the same fields without the prototype, the Buffer a plain Uint8Array.
   */
  static revive(o: IpSet): IpSet {
    Object.setPrototypeOf(o, IpSet.prototype);
    const m = o as unknown as { labelBytes: Uint8Array };
    m.labelBytes = Buffer.from(m.labelBytes.buffer, m.labelBytes.byteOffset, m.labelBytes.byteLength);
    return o;
  }

  /** The text of entry i (a label index from find). */
  label(i: number): string {
    return this.labelBytes.toString('utf8', this.labelOffs[i], this.labelOffs[i + 1]);
  }

  /** Label index of the interval holding an IPv4 address, or -1. */
  find4(ip: number): number {
    const at = this.at4(ip);
    return at >= 0 ? this.l4[at] : -1;
  }

  /** Label index of the interval holding an IPv6 address (4 words), or -1. */
  find6(ip: Uint32Array): number {
    const at = this.at6(ip);
    return at >= 0 ? this.l6[at] : -1;
  }

  find(a: ParsedAddress): number {
    return a.family === 4 ? this.find4(a.v4) : this.find6(a.v6);
  }

  /** The merged intervals, for lint (coverage comparisons between rules). */
  intervals4(): { s: number; e: number }[] {
    return Array.from(this.s4, (s, i) => ({ s, e: this.e4[i] }));
  }
  intervals6(): { s: Uint32Array; e: Uint32Array }[] {
    const out: { s: Uint32Array; e: Uint32Array }[] = [];
    for (let i = 0; i < this.l6.length; i++) out.push({ s: this.k6.slice(i * 8, i * 8 + 4), e: this.k6.slice(i * 8 + 4, i * 8 + 8) });
    return out;
  }

  /** Position of the merged IPv4 interval holding ip, or -1. */
  private at4(ip: number): number {
    const s = this.s4;
    let lo = 0;
    let hi = s.length - 1;
    const b4 = this.b4;
    if (b4 !== null) {
      const k = Math.floor(ip / 65536);
      // The holder starts at or below ip: among those starting before the next /16, at or
      // after the last one starting before this /16.
      lo = b4[k] > 0 ? b4[k] - 1 : 0;
      hi = b4[k + 1] - 1;
    }
    const at = lastAtOrBelow(s, ip, lo, hi);
    return at >= 0 && this.e4[at] >= ip ? at : -1;
  }

  private at6(ip: Uint32Array): number {
    const k = this.k6;
    const at = lastAtOrBelow6(k, 8, this.l6.length, ip);
    return at >= 0 && cmp6(k, at * 8 + 4, ip, 0) >= 0 ? at : -1;
  }

  /** True when every address of `other` is in this set (intervals are merged, so each of
   * other's intervals must sit inside one of ours). */
  covers(other: IpSet): boolean {
    for (let i = 0; i < other.s4.length; i++) {
      const a = this.at4(other.s4[i]);
      if (a < 0 || this.e4[a] < other.e4[i]) return false;
    }
    for (let i = 0; i < other.l6.length; i++) {
      const a = this.at6(other.k6.subarray(i * 8, i * 8 + 4));
      if (a < 0 || cmp6(this.k6, a * 8 + 4, other.k6, i * 8 + 4) < 0) return false;
    }
    return true;
  }
}
