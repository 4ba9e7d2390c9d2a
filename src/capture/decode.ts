// From a captured frame to a TCP segment: the link layers a firewall engineer's captures come
// with (Ethernet with 802.1Q/802.1ad tags, Linux cooked v1 and v2 from `tcpdump -i any`, raw
// IP, BSD loopback), then IPv4 or IPv6 (extension headers walked), then TCP. Pure; allocates
// one small object per TCP segment, the payload is a view.
import { ipv6GroupsText } from '../identity/index.js';

/** LINKTYPE_* values read (tcpdump.org/linktypes.html); DLT_RAW is 12 or 14 on some systems. */
export const LINK_TYPES: Readonly<Record<number, string>> = {
  0: 'BSD loopback (NULL)',
  1: 'Ethernet',
  12: 'raw IP',
  14: 'raw IP',
  101: 'raw IP',
  108: 'OpenBSD loopback',
  113: 'Linux cooked (SLL)',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked v2 (SLL2)',
};

export function isKnownLinkType(t: number): boolean {
  return LINK_TYPES[t] !== undefined;
}

export interface TcpSegment {
  readonly ipVersion: 4 | 6;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10). */
  readonly flags: number;
  /** The captured payload (a view). */
  readonly payload: Uint8Array;
  /** Payload bytes the snaplen cut off (0 when the whole segment was captured). */
  readonly missing: number;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** Why a frame gave no TCP segment: counted per reason, never an error. */
export type SkipReason = 'not-ip' | 'not-tcp' | 'ip-fragment' | 'short' | 'bad-ip' | 'unknown-link-type';

export type Decoded = TcpSegment | SkipReason;

const EMPTY = new Uint8Array(0);
const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/**
 * Decode one frame. `wireLength` is the frame's length on the wire: a frame shorter than its
 * IP header claims because the snaplen cut it reports how many payload bytes are missing.
 */
export function decodeFrame(linkType: number, b: Uint8Array, wireLength: number = b.length): Decoded {
  let o: number;
  let ethType: number;
  switch (linkType) {
    case 1: {
      if (b.length < 14) return 'short';
      o = 12;
      ethType = (b[o] << 8) | b[o + 1];
      // 802.1Q, 802.1ad (QinQ) and the old 0x9100: a 4-byte tag before the real type.
      while (ethType === 0x8100 || ethType === 0x88a8 || ethType === 0x9100) {
        o += 4;
        if (b.length < o + 2) return 'short';
        ethType = (b[o] << 8) | b[o + 1];
      }
      o += 2;
      break;
    }
    case 113:
      if (b.length < 16) return 'short';
      ethType = (b[14] << 8) | b[15];
      o = 16;
      break;
    case 276:
      if (b.length < 20) return 'short';
      ethType = (b[0] << 8) | b[1];
      o = 20;
      break;
    case 0:
    case 108: {
      // The address family, in the capturing host's byte order (NULL) or network order (LOOP).
      if (b.length < 4) return 'short';
      let af = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      if (linkType === 108 || af > 0xffff) af = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
      ethType = af === 2 ? ETH_IPV4 : af === 24 || af === 28 || af === 30 || af === 10 ? ETH_IPV6 : 0;
      o = 4;
      break;
    }
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      if (b.length < 1) return 'short';
      ethType = b[0] >> 4 === 4 ? ETH_IPV4 : b[0] >> 4 === 6 ? ETH_IPV6 : 0;
      o = 0;
      break;
    default:
      return 'unknown-link-type';
  }
  const lost = wireLength > b.length ? wireLength - b.length : 0;
  if (ethType === ETH_IPV4) return ipv4(b, o, lost);
  if (ethType === ETH_IPV6) return ipv6(b, o, lost);
  return 'not-ip';
}

function ipv4(b: Uint8Array, o: number, lost: number): Decoded {
  if (b.length < o + 20) return 'short';
  if (b[o] >> 4 !== 4) return 'bad-ip';
  const ihl = (b[o] & 15) * 4;
  if (ihl < 20) return 'bad-ip';
  const total = (b[o + 2] << 8) | b[o + 3];
  // Fragments (more-fragments set, or an offset): a TLS hello is never sent fragmented at IP.
  if ((b[o + 6] & 0x20) !== 0 || (((b[o + 6] & 0x1f) << 8) | b[o + 7]) !== 0) return 'ip-fragment';
  if (b[o + 9] !== 6) return 'not-tcp';
  // Total length 0: TSO/GSO frames captured on the sending host before segmentation.
  const end = total === 0 ? b.length + lost : o + total;
  if (end < o + ihl) return 'bad-ip';
  const src = `${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
  const dst = `${b[o + 16]}.${b[o + 17]}.${b[o + 18]}.${b[o + 19]}`;
  return tcp(b, o + ihl, end, 4, src, dst);
}

function ipv6(b: Uint8Array, o: number, lost: number): Decoded {
  if (b.length < o + 40) return 'short';
  if (b[o] >> 4 !== 6) return 'bad-ip';
  const plen = (b[o + 4] << 8) | b[o + 5];
  let next = b[o + 6];
  const src = ipv6Text(b, o + 8);
  const dst = ipv6Text(b, o + 24);
  const end = plen === 0 ? b.length + lost : o + 40 + plen;
  let p = o + 40;
  // Walk the extension headers up to TCP (hop-by-hop, routing, destination options, AH).
  for (let hops = 0; next !== 6; hops++) {
    if (hops > 8) return 'bad-ip';
    if (next === 44) return 'ip-fragment';
    if (next !== 0 && next !== 43 && next !== 60 && next !== 51) return 'not-tcp';
    if (b.length < p + 2) return 'short';
    const len = next === 51 ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8;
    next = b[p];
    p += len;
  }
  return tcp(b, p, end, 6, src, dst);
}

function tcp(b: Uint8Array, o: number, end: number, v: 4 | 6, srcIp: string, dstIp: string): Decoded {
  if (b.length < o + 20) return 'short';
  const doff = (b[o + 12] >> 4) * 4;
  if (doff < 20) return 'bad-ip';
  const from = o + doff;
  if (from > end) return 'bad-ip';
  const have = Math.min(end, b.length);
  // Half the segments of a flow are bare ACKs: no view to allocate for them.
  const payload = from >= have ? EMPTY : b.subarray(from, have);
  return {
    ipVersion: v,
    srcIp,
    dstIp,
    srcPort: (b[o] << 8) | b[o + 1],
    dstPort: (b[o + 2] << 8) | b[o + 3],
    seq: ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0,
    ack: ((b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11]) >>> 0,
    flags: b[o + 13],
    payload,
    missing: end > b.length ? end - Math.max(b.length, from) : 0,
  };
}

/** RFC 5952 text (lower case, longest zero run as ::, IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6Text(b: Uint8Array, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[o + 2 * i] << 8) | b[o + 2 * i + 1]);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
  }
  return ipv6GroupsText(w);
}
