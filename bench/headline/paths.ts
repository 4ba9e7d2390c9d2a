// The headline bench's paths (what the client does, through which peekwall configuration) and
// the ratios reported over them. Data only: adding a path or a ratio is one row here.
import type { ProxyConfigName } from '../lib/policies.js';

export type TargetName = 'direct' | 'peekwall' | 'peekwall-b' | 'haproxy' | 'nginx' | 'node-splice';
export type Kind = 'keepalive' | 'newconn' | 'blocked';

export interface PathDef {
  readonly id: string;
  readonly key: string;
  readonly title: string;
  readonly kind: Kind;
  /** 'allowed' | 'blocked' | null (no SNI: the client connects by IP address). */
  readonly sni: 'allowed' | 'blocked' | null;
  readonly maxVersion?: 'TLSv1.2';
  readonly proxy: ProxyConfigName;
  /** Measured through HAProxy/nginx too (only the SNI paths: peers have no TSID). */
  readonly peers: boolean;
  /** A direct run makes no sense for a refusal. */
  readonly direct: boolean;
  /** The load generator when not the default (autocannon / the connection loop). */
  readonly loadgen?: 'wrk';
  /** Only when asked for (--paths or its flag), never in the default set. */
  readonly optional?: boolean;
}

export const PATHS: readonly PathDef[] = [
  { id: '1', key: 'sni-keepalive', title: 'SNI allowed, keep-alive', kind: 'keepalive', sni: 'allowed', proxy: 'small', peers: true, direct: true },
  { id: '2', key: 'sni-newconn', title: 'SNI allowed, new TLS conn/request', kind: 'newconn', sni: 'allowed', proxy: 'small', peers: true, direct: true },
  { id: '3', key: 'tsid-warm', title: 'no SNI, TSID on, cache warm', kind: 'newconn', sni: null, proxy: 'tsid', peers: false, direct: true },
  { id: '4', key: 'tsid-nocache', title: 'no SNI, TSID on, cache off', kind: 'newconn', sni: null, proxy: 'tsid-nocache', peers: false, direct: true },
  { id: '5', key: 'passive-tls12', title: 'no SNI, TSID off, passive TLS1.2', kind: 'newconn', sni: null, maxVersion: 'TLSv1.2', proxy: 'small', peers: false, direct: true },
  { id: '6', key: 'blocked-sni', title: 'blocked by SNI (refusals)', kind: 'blocked', sni: 'blocked', proxy: 'small', peers: true, direct: false },
  { id: '7', key: 'si-1m-keepalive', title: 'big SI policy, keep-alive', kind: 'keepalive', sni: 'allowed', proxy: 'big', peers: false, direct: true },
  { id: '7n', key: 'si-1m-newconn', title: 'big SI policy, new conn/request', kind: 'newconn', sni: 'allowed', proxy: 'big', peers: false, direct: true },
  { id: '1w', key: 'sni-keepalive-wrk', title: 'SNI allowed, keep-alive, wrk', kind: 'keepalive', sni: 'allowed', proxy: 'small', peers: true, direct: true, loadgen: 'wrk', optional: true },
];

export interface RatioDef {
  readonly id: string;
  readonly title: string;
  readonly num: { path: string; target: TargetName };
  readonly den: { path: string; target: TargetName };
  /** Divide by (norm.num / norm.den) measured in the same round: removes a handshake-cost difference. */
  readonly norm?: { num: { path: string; target: TargetName }; den: { path: string; target: TargetName } };
  readonly goal: number | null;
}

export const RATIOS: readonly RatioDef[] = [
  { id: 'keepalive-vs-haproxy', title: 'keep-alive: peekwall / HAProxy', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'haproxy' }, goal: 0.9 },
  { id: 'newconn-vs-haproxy', title: 'new conn: peekwall / HAProxy', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'haproxy' }, goal: 1.0 },
  { id: 'blocked-vs-haproxy', title: 'blocked: peekwall / HAProxy', num: { path: '6', target: 'peekwall' }, den: { path: '6', target: 'haproxy' }, goal: 1.0 },
  { id: 'tsid-warm-vs-sni', title: 'TSID warm / SNI path (new conn)', num: { path: '3', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: 0.95 },
  {
    id: 'passive-vs-sni',
    title: 'passive TLS1.2 / SNI path, per direct',
    num: { path: '5', target: 'peekwall' },
    den: { path: '5', target: 'direct' },
    norm: { num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'direct' } },
    goal: 0.9,
  },
  { id: 'si-1m-vs-small', title: '1M SI / small policy (keep-alive)', num: { path: '7', target: 'peekwall' }, den: { path: '1', target: 'peekwall' }, goal: 0.98 },
  { id: 'si-1m-vs-small-newconn', title: '1M SI / small policy (new conn)', num: { path: '7n', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: 0.98 },
  // Informational: each middlebox against going direct, and the other peer.
  { id: 'keepalive-peekwall-vs-direct', title: 'keep-alive: peekwall / direct', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'direct' }, goal: null },
  { id: 'keepalive-haproxy-vs-direct', title: 'keep-alive: HAProxy / direct', num: { path: '1', target: 'haproxy' }, den: { path: '1', target: 'direct' }, goal: null },
  { id: 'keepalive-vs-nginx', title: 'keep-alive: peekwall / nginx', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'nginx' }, goal: null },
  { id: 'newconn-peekwall-vs-direct', title: 'new conn: peekwall / direct', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'direct' }, goal: null },
  { id: 'newconn-haproxy-vs-direct', title: 'new conn: HAProxy / direct', num: { path: '2', target: 'haproxy' }, den: { path: '2', target: 'direct' }, goal: null },
  { id: 'newconn-vs-nginx', title: 'new conn: peekwall / nginx', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'nginx' }, goal: null },
  { id: 'blocked-vs-nginx', title: 'blocked: peekwall / nginx', num: { path: '6', target: 'peekwall' }, den: { path: '6', target: 'nginx' }, goal: null },
  { id: 'keepalive-vs-splice', title: 'keep-alive: peekwall / plain Node splice', num: { path: '1', target: 'peekwall' }, den: { path: '1', target: 'node-splice' }, goal: null },
  { id: 'newconn-vs-splice', title: 'new conn: peekwall / plain Node splice', num: { path: '2', target: 'peekwall' }, den: { path: '2', target: 'node-splice' }, goal: null },
  { id: 'tsid-nocache-vs-sni', title: 'TSID no cache / SNI path (new conn)', num: { path: '4', target: 'peekwall' }, den: { path: '2', target: 'peekwall' }, goal: null },
  // The second opinion (--wrk): the keep-alive ratios again with wrk driving the load.
  { id: 'wrk-keepalive-vs-haproxy', title: 'wrk keep-alive: peekwall / HAProxy', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'haproxy' }, goal: null },
  { id: 'wrk-keepalive-vs-nginx', title: 'wrk keep-alive: peekwall / nginx', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'nginx' }, goal: null },
  { id: 'wrk-keepalive-vs-splice', title: 'wrk keep-alive: peekwall / plain Node splice', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'node-splice' }, goal: null },
  { id: 'wrk-keepalive-peekwall-vs-direct', title: 'wrk keep-alive: peekwall / direct', num: { path: '1w', target: 'peekwall' }, den: { path: '1w', target: 'direct' }, goal: null },
  { id: 'wrk-keepalive-haproxy-vs-direct', title: 'wrk keep-alive: HAProxy / direct', num: { path: '1w', target: 'haproxy' }, den: { path: '1w', target: 'direct' }, goal: null },
];

/** The unit of a path's rate. */
export const UNIT: Record<Kind, string> = { keepalive: 'req/s', newconn: 'conn/s', blocked: 'refusals/s' };
