// Splicing two sockets after the verdict: the hot path. One 'data' listener per direction
// that writes straight through and pauses on backpressure — no per-chunk allocation, no
// logging, no counters (bytes come from socket.bytesRead at the end).
//
// Half-close: a FIN from one side becomes end() on the other, and the other direction keeps
// flowing. The fd-leak bug of DOMAIN.md §6 (pipe() leaving the other socket paused forever
// after one side ended) is avoided by construction: whenever either socket closes, the other
// is ended and then destroyed once its writes flushed, or after a grace period at the latest.
import type { Socket } from 'node:net';

export type SpliceEnd = 'client-reset' | 'upstream-reset' | 'idle-timeout' | 'client-error' | 'upstream-error';

const GRACE_MS = 2000;

/**
 * onAbnormal is called once, as soon as the splice ends for a reason other than both sides
 * closing normally (before the sockets' 'close' events, so the event can carry it).
 */
export function splice(client: Socket, upstream: Socket, idleMs: number, onAbnormal: (why: SpliceEnd) => void): void {
  let why: SpliceEnd | null = null;
  const note = (w: SpliceEnd) => {
    if (why !== null) return;
    why = w;
    onAbnormal(w);
  };

  client.on('data', (c: Buffer) => {
    if (!upstream.write(c)) client.pause();
  });
  upstream.on('data', (c: Buffer) => {
    if (!client.write(c)) upstream.pause();
  });
  upstream.on('drain', () => client.resume());
  client.on('drain', () => upstream.resume());

  client.on('end', () => {
    if (!upstream.destroyed) upstream.end();
  });
  upstream.on('end', () => {
    if (!client.destroyed) client.end();
  });
  // A FIN read before the splice existed (net emits 'end' at EOF even on a paused socket once
  // its buffer is empty: a client that sends its hello and FIN together) must still be passed
  // on, or the server waits for it for ever and both sockets stay open.
  if (client.readableEnded && !upstream.destroyed) upstream.end();
  if (upstream.readableEnded && !client.destroyed) client.end();

  client.on('error', (e: NodeJS.ErrnoException) => {
    note(e.code === 'ECONNRESET' ? 'client-reset' : 'client-error');
    // Pass an abort on as an abort: the server sees what the client did.
    if (!upstream.destroyed) upstream.resetAndDestroy();
  });
  upstream.on('error', (e: NodeJS.ErrnoException) => {
    note(e.code === 'ECONNRESET' ? 'upstream-reset' : 'upstream-error');
    if (!client.destroyed) client.resetAndDestroy();
  });

  if (idleMs > 0) {
    // Idle detection without per-chunk work: socket.setTimeout() refreshes a timer on every
    // read and write; instead one interval per connection compares byte counters. A splice
    // with no traffic in either direction for one whole interval is closed (within 2 x idleMs).
    let last = -1;
    const timer = setInterval(() => {
      const now = client.bytesRead + upstream.bytesRead;
      if (now !== last) {
        last = now;
        return;
      }
      clearInterval(timer);
      note('idle-timeout');
      client.destroy();
      upstream.destroy();
    }, idleMs);
    timer.unref();
    client.once('close', () => clearInterval(timer));
    upstream.once('close', () => clearInterval(timer));
  }

  const onClose = (other: Socket) => () => {
    if (!other.destroyed) closeSoon(other);
  };
  client.once('close', onClose(upstream));
  upstream.once('close', onClose(client));

  client.resume();
  upstream.resume();
}

/** End a socket whose peer is gone, and make sure it is destroyed soon either way. */
export function closeSoon(s: Socket, graceMs = GRACE_MS): void {
  if (s.destroyed) return;
  const t = setTimeout(() => s.destroy(), graceMs);
  t.unref();
  s.once('close', () => clearTimeout(t));
  // Nobody reads it any more: flowing mode lets its FIN arrive and 'end' fire.
  s.resume();
  if (s.writableFinished) {
    s.destroy();
    return;
  }
  s.end(() => s.destroy());
}
