// One event for a connection or request refused before policy decided anything (connection
// limit, HTTP parser, bad request, unresolvable host, the proxy itself as target): the operator
// sees every refusal, from where and to what, not only policy blocks. Never throws: a refusal
// that cannot be logged is counted.
import type { Socket } from 'node:net';
import { refusalEvent, type Refusal } from '../events/index.js';
import { normalizeIp, type ProxyContext } from './connection.js';

export interface RefusedTarget {
  /** The destination address (an IP; '0.0.0.0' when none is known) and port. */
  readonly dstIp: string;
  readonly dstPort: number;
  readonly scheme: 'http' | 'https';
  readonly listener: string;
  /** The host a request named, if any. */
  readonly host?: string;
  readonly path?: string;
  /** When the request started, and the socket's counters then (a keep-alive socket's earlier requests are not this one's). */
  readonly started?: number;
  readonly read0?: number;
  readonly written0?: number;
}

export function emitRefusal(
  ctx: ProxyContext,
  sock: Socket,
  to: RefusedTarget,
  why: Pick<Refusal, 'closeReason' | 'action' | 'reason' | 'applicationProtocol'>,
): void {
  try {
    const src = normalizeIp(sock.remoteAddress);
    const map = ctx.addressMap;
    ctx.counters.connections++;
    ctx.emit(
      refusalEvent({
        flow: {
          srcIp: map ? map.toSeed(src) : src,
          srcPort: sock.remotePort ?? 0,
          dstIp: map ? map.toSeed(to.dstIp) : to.dstIp,
          dstPort: to.dstPort,
          protocol: 'tcp',
          scheme: to.scheme,
          sni: null,
          ...(to.path !== undefined ? { path: to.path } : {}),
        },
        ...(to.host !== undefined ? { host: to.host } : {}),
        ...why,
        bytesFromClient: sock.bytesRead - (to.read0 ?? 0),
        bytesFromServer: sock.bytesWritten - (to.written0 ?? 0),
        durationMs: to.started !== undefined ? Date.now() - to.started : 0,
        ...(map ? { mapped: { srcIp: src, dstIp: to.dstIp } } : {}),
      }),
      { listener: to.listener, failed: true },
    );
  } catch {
    ctx.counters.eventErrors = (ctx.counters.eventErrors ?? 0) + 1;
  }
}
