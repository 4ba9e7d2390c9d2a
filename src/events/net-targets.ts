// Event lines to a syslog collector over the network: udp://HOST:PORT (one datagram per line,
// RFC 5426) or tcp://HOST:PORT (octet counting, RFC 6587 3.4.1: `LEN SP MSG`, so a line may
// hold any byte and the receiver never guesses where a message ends). Both are Targets for the
// sink in log.ts, which bounds what waits, counts drops and retries a failed write: a collector
// that is down, slow or refusing never blocks the proxy.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIP, type Socket } from 'node:net';
import type { Target, WriteResult } from './targets.js';

export interface NetDestination {
  readonly proto: 'udp' | 'tcp';
  readonly host: string;
  readonly port: number;
}

/** `udp://HOST:PORT`, `tcp://[::1]:PORT` → the destination; null for anything else (a file path, stdout). */
export function parseNetDestination(text: string): NetDestination | string | null {
  const m = /^(udp|tcp):\/\/(.*)$/i.exec(text);
  if (!m) return null;
  const hp = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(m[2]) ?? /^([^:[\]/]+):(\d{1,5})$/.exec(m[2]);
  const port = hp ? Number(hp[2]) : NaN;
  if (!hp || port < 1 || port > 65535) return `${text}: expected ${m[1].toLowerCase()}://HOST:PORT with a port 1..65535 (IPv6 as [::1]:514)`;
  return { proto: m[1].toLowerCase() as 'udp' | 'tcp', host: hp[1], port };
}

const fail = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

/** The lines of a batch (each ends in \n), without their line ends. */
function linesOf(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, from)) {
    out.push(data.subarray(from, i));
    from = i + 1;
  }
  if (from < data.length) out.push(data.subarray(from));
  return out;
}

/**
 * One datagram per line, all of a batch handed to the kernel at once. The socket is connected
 * (no address lookup per datagram); UDP says nothing of loss: a send error (no route, too large,
 * or the port refused by ICMP on a connected socket) is all we see, and the sink retries.
 */
export function udpTarget(d: NetDestination): Target {
  const socket: UdpSocket = createSocket(isIP(d.host) === 6 ? 'udp6' : 'udp4');
  socket.on('error', () => undefined);
  socket.unref();
  let connected: Promise<Error | null> | null = null;
  const connectOnce = () =>
    (connected ??= new Promise((r) => {
      socket.connect(d.port, d.host, () => r(null));
      socket.once('error', (e) => r(e));
    }));
  return {
    kind: 'stream',
    async write(data): Promise<WriteResult> {
      const c = await connectOnce();
      if (c) {
        connected = null;
        return { written: 0, error: c as NodeJS.ErrnoException };
      }
      const lines = linesOf(data);
      // One promise per batch, not per datagram: the callbacks only count down.
      const failed: (Error | null)[] = new Array(lines.length).fill(null);
      await new Promise<void>((resolve) => {
        let left = lines.length;
        if (left === 0) return resolve();
        lines.forEach((line, i) =>
          socket.send(line, (e) => {
            if (e) failed[i] = e;
            if (--left === 0) resolve();
          }),
        );
      });
      // Lines up to the first failed one count as written; the rest are retried.
      let written = 0;
      for (let i = 0; i < lines.length; i++) {
        if (failed[i]) return { written, error: failed[i] as NodeJS.ErrnoException };
        written += lines[i].length + 1;
      }
      return { written: data.length, error: null };
    },
    async end() {
      await new Promise<void>((r) => socket.close(() => r()));
    },
  };
}

export interface TcpTargetOptions {
  /** First delay before reconnecting after a failure; doubled per failure up to maxBackoffMs. Default 250. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A connect attempt that takes longer fails. Default 3000. */
  readonly connectTimeoutMs?: number;
}

/**
 * Octet-counted frames on one connection, reconnected when it fails. Between failures the sink's
 * retries are answered at once (no socket churn) until the backoff has passed.
 */
export function tcpTarget(d: NetDestination, o: TcpTargetOptions = {}): Target {
  const minB = o.minBackoffMs ?? 250;
  const maxB = o.maxBackoffMs ?? 30_000;
  let socket: Socket | null = null;
  let backoff = minB;
  let notBefore = 0;
  let ended = false;

  const lost = () => {
    notBefore = Date.now() + backoff;
    backoff = Math.min(backoff * 2, maxB);
  };
  const open = (): Promise<Socket | NodeJS.ErrnoException> =>
    new Promise((resolve) => {
      const s = connect({ host: d.host, port: d.port });
      const timer = setTimeout(() => s.destroy(fail('ETIMEDOUT', `no connection to ${d.host}:${d.port} within ${o.connectTimeoutMs ?? 3000} ms`)), o.connectTimeoutMs ?? 3000);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        s.on('error', () => undefined);
        s.once('close', () => {
          if (socket === s) {
            socket = null;
            lost();
          }
        });
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        resolve(e as NodeJS.ErrnoException);
      });
    });

  return {
    kind: 'stream',
    async write(data): Promise<WriteResult> {
      if (ended) return { written: 0, error: fail('EPIPE', 'the collector connection is closed') };
      if (socket === null) {
        const wait = notBefore - Date.now();
        if (wait > 0) return { written: 0, error: fail('ECONNREFUSED', `tcp://${d.host}:${d.port} is unreachable; reconnecting in ${wait} ms`) };
        const s = await open();
        if (!('write' in s)) {
          lost();
          return { written: 0, error: s };
        }
        if (ended) {
          s.destroy();
          return { written: 0, error: fail('EPIPE', 'the collector connection is closed') };
        }
        socket = s;
        backoff = minB;
      }
      const s = socket;
      const frames = Buffer.concat(linesOf(data).flatMap((l) => [Buffer.from(`${l.length} `), l]));
      return new Promise((resolve) => {
        // The callback comes when the kernel took the bytes; a collector that stops reading
        // holds it, and the sink's bound then drops new events instead of growing.
        s.write(frames, (e) => {
          if (!e) return resolve({ written: data.length, error: null });
          if (socket === s) {
            socket = null;
            lost();
          }
          s.destroy();
          resolve({ written: 0, error: e as NodeJS.ErrnoException });
        });
      });
    },
    async end(abandon) {
      ended = true;
      const s = socket;
      socket = null;
      if (!s) return;
      if (abandon) return void s.destroy();
      await new Promise<void>((r) => {
        s.once('close', () => r());
        s.end();
        setTimeout(() => {
          s.destroy();
          r();
        }, 1000).unref();
      });
    },
  };
}
