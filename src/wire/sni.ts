// server_name (RFC 6066 §3): framing, the one host_name, and — read leniently, judged strictly
// — why a well-framed name is not a usable DNS name. Also the same check for a name a person
// typed (trace --sni, suites).
import type { HelloAnomaly } from './types.js';

export const NO_ANOMALIES: readonly HelloAnomaly[] = Object.freeze([]);

interface SniRead {
  /** Lower-cased, trailing dot removed; null when there is no usable host name. */
  readonly name: string | null;
  readonly trailingDot: boolean;
  /** [start, end) of the host_name bytes, -1 without a host_name. */
  readonly start: number;
  readonly end: number;
  readonly anomalies: readonly HelloAnomaly[];
}

/**
 * server_name (RFC 6066 §3): a list of (type, name); we take the host_name (type 0).
 *
 * Read leniently, judge strictly. Refused (a string, wire/bad-sni): bytes that cannot be read
 * one way only — the list framing, an empty list or host_name (the grammar's <1..2^16-1>), and
 * a second host_name (SNI smuggling: the server and the firewall could each take another
 * one). Decoded and flagged: a well-framed host_name that is not a usable DNS name, and a
 * list without a host_name. For those the normalized `name` is null, as if no SNI were sent,
 * and the bytes stay in [start, end). Why null, case by case:
 *  - not ASCII: RFC 6066 wants ASCII; an IDN travels as its xn-- A-label. Reading the bytes as
 *    latin1 or UTF-8 and punycoding them would judge a name the server never saw: OpenSSL and
 *    nginx compare the bytes as sent, so the firewall's name and the server's would differ.
 *  - over 253 bytes, or any other non-DNS syntax: no DNS name is spelled that way, so no server
 *    was found by it; cutting or repairing it invents a name the client did not send.
 *  - no host_name: there is no name at all.
 * Policy then sees no SNI (TSID, the certificate or the address decide) if settings.oddHellos
 * lets such hellos through; by default it does not (see src/proxy/machine.ts onHello).
 */
export function parseSni(b: Uint8Array, s: number, e: number): SniRead | string {
  if (e - s < 2) return 'server_name extension is too short for its list length';
  const listLen = (b[s] << 8) | b[s + 1];
  if (listLen !== e - s - 2) return `server_name list length ${listLen} does not match the extension length ${e - s - 2}`;
  if (listLen === 0) return 'server_name list is empty (RFC 6066: at least one entry)';
  let hs = -1;
  let he = -1;
  for (let i = s + 2; i < e; ) {
    if (i + 3 > e) return 'a server_name entry header runs past the extension';
    const t = b[i];
    const n = (b[i + 1] << 8) | b[i + 2];
    const ns = i + 3;
    const ne = ns + n;
    if (ne > e) return `server_name entry length ${n} runs past the extension`;
    if (t === 0) {
      if (hs >= 0) return 'server_name carries two host_name entries';
      if (n === 0) return 'server_name host_name is empty (RFC 6066: 1 byte at least)';
      hs = ns;
      he = ne;
    }
    i = ne;
  }
  if (hs < 0) {
    const types: number[] = [];
    for (let i = s + 2; i < e; i += 3 + ((b[i + 1] << 8) | b[i + 2])) types.push(b[i]);
    return {
      name: null, trailingDot: false, start: -1, end: -1,
      anomalies: [{ code: 'wire/sni-no-host-name', detail: `server_name carries no host_name entry, only name type(s) ${types.join(', ')}` }],
    };
  }
  const r = hostName(b, hs, he);
  if (typeof r !== 'string') return { name: r.name, trailingDot: r.trailingDot, start: hs, end: he, anomalies: NO_ANOMALIES };
  const trailingDot = b[he - 1] === 0x2e;
  return { name: null, trailingDot, start: hs, end: he, anomalies: sniAnomalies(b, hs, he) };
}

/**
 * Every reason the host_name b[s..e) is not a usable DNS name, in a fixed order (not-ascii,
 * too-long, bad-syntax). The slow path: hostName() already failed on it. Non-empty exactly
 * when hostName() fails on a non-empty host_name.
 */
function sniAnomalies(b: Uint8Array, s: number, e: number): HelloAnomaly[] {
  const out: HelloAnomaly[] = [];
  const end = e > s && b[e - 1] === 0x2e ? e - 1 : e;
  for (let i = s; i < end; i++) {
    if (b[i] >= 0x80) {
      out.push({ code: 'wire/sni-not-ascii', detail: `server_name host_name has byte 0x${b[i].toString(16)} at offset ${i - s}: not ASCII (an IDN is sent as its xn-- A-label)` });
      break;
    }
  }
  if (end - s > 253) out.push({ code: 'wire/sni-too-long', detail: `server_name host_name is ${end - s} bytes long (a DNS name has 253 at most)` });
  let syntax: string | null = end === s ? 'server_name host_name is only the root dot' : null;
  let label = 0;
  for (let i = s; i < end && syntax === null; i++) {
    const c = b[i];
    if (c === 0x2e) {
      if (label === 0) syntax = `server_name host_name has an empty label at offset ${i - s}`;
      label = 0;
    } else {
      const ok = c >= 0x80 || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
      if (!ok) syntax = `server_name host_name contains byte 0x${c.toString(16).padStart(2, '0')} at offset ${i - s}, not a host-name character`;
      else if (++label > 63) syntax = `server_name host_name has a label longer than 63 bytes at offset ${i - s}`;
    }
  }
  // 'example.com..': one trailing dot is the root, a second is an empty last label.
  if (syntax === null && label === 0) syntax = 'server_name host_name ends with an empty label';
  if (syntax !== null) out.push({ code: 'wire/sni-bad-syntax', detail: syntax });
  return out;
}

/**
 * The same check for a name typed by a person (trace --sni, suites): the name as the wire
 * reader would normalize it from a ClientHello, lower-cased, or why the reader would leave
 * `sni` null (a wire/sni-* anomaly, refused by default).
 */
export function checkSniName(text: string): { name: string; trailingDot: boolean } | string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return `server_name host_name contains '${text[i]}' at offset ${i}, not a host-name character`;
  }
  const b = Buffer.from(text, 'latin1');
  return hostName(b, 0, b.length);
}

/** The anomaly codes the reader would flag a ClientHello carrying this name with (none: a usable name). */
export function sniNameAnomalies(text: string): readonly string[] {
  const b = Buffer.from(text, 'utf8');
  return typeof hostName(b, 0, b.length) === 'string' ? sniAnomalies(b, 0, b.length).map((a) => a.code) : [];
}

function hostName(b: Uint8Array, s: number, e: number): { name: string; trailingDot: boolean } | string {
  let end = e;
  let trailingDot = false;
  if (end > s && b[end - 1] === 0x2e) {
    trailingDot = true;
    end--;
  }
  if (end === s) return 'server_name host_name is empty';
  if (end - s > 253) return `server_name host_name is ${end - s} bytes long (max 253)`;
  let name = '';
  let label = 0;
  for (let i = s; i < end; i++) {
    let c = b[i];
    if (c === 0x2e) {
      if (label === 0) return 'server_name host_name has an empty label';
      label = 0;
    } else {
      if (c >= 0x41 && c <= 0x5a) c |= 0x20; // lower-case
      else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) {
        return `server_name host_name contains byte 0x${c.toString(16).padStart(2, '0')} at offset ${i - s}, not a host-name character`;
      }
      if (++label > 63) return 'server_name host_name has a label longer than 63 bytes';
    }
    name += String.fromCharCode(c);
  }
  // 'example.com..': one trailing dot is the root, a second is an empty last label (policy
  // would otherwise see 'example.com.' and strip it: a second spelling of the same name).
  if (label === 0) return 'server_name host_name has an empty label';
  return { name, trailingDot };
}
