// Connection events as JSON lines. pino formats each event as one line (`"level":"info"` then
// the event's own fields, no pid/hostname/time noise, so operational lines with `msg` can
// share the stream and readers pick events by `eventType`); a small bounded writer of our own
// carries the lines to the destination, because the destination is the part that fails:
//  - A disk that fills, a file deleted or rotated away, a stdout reader that stops reading
//    never takes the proxy down, never grows memory without bound and never holds shutdown:
//    at most maxBufferedBytes of lines wait; past that a new event is dropped and counted.
//  - Each dropping episode is said once when it starts (events/write-failed with the reason,
//    or events/backpressure) and once when writing works again, with the number dropped.
//    A failed write is retried on a timer, so writing resumes without a restart.
//  - A file is reopened on reopen() (SIGHUP/SIGUSR1 after logrotate's mv) and when a cheap
//    periodic stat finds its path deleted or pointing at another file.
//  - A line reaches the file whole or not at all: a short write on a full disk is cut back.
//  - flush()/close() give up at a deadline; what is still waiting then is counted dropped.
// The hot path is pino's formatting plus an array push: no fs call per event.
import { pino, type Logger } from 'pino';
import type { Writable } from 'node:stream';
import { PeekwallFailure, peekwallError, type PeekwallError } from '../util/errors.js';
import { stat } from 'node:fs/promises';
import { openFile, stdoutTarget, streamTarget, type Target } from './targets.js';
import { parseNetDestination, tcpTarget, udpTarget } from './net-targets.js';
import type { ConnectionEvent } from './types.js';

export interface EventLog {
  write(e: ConnectionEvent): void;
  /**
   * Resolves when everything written so far reached the destination, or the destination is
   * failing (the lines stay queued for the retry), or at the deadline: `timeoutMs`, else the
   * one set by stopBy(), else flushTimeoutMs.
   */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (bounded as flush), counts what is still waiting as dropped, says so, closes. */
  close(timeoutMs?: number): Promise<void>;
  /** The process stops by `at` (Date.now() ms): flush() and close() give up then (after a short grace for the last events). */
  stopBy(at: number): void;
  /** Reopen a file destination by its path (logrotate moved it away); a no-op for streams. */
  reopen(why: string): void;
  /** Events that will never be written (bound reached, or still waiting at close). */
  readonly dropped: number;
  /** Events the destination accepted. */
  readonly written: number;
  /** Events waiting to be written (bounded by maxBufferedBytes). */
  readonly queued: number;
  readonly lastError: PeekwallError | null;
}

export interface EventLogOptions {
  /**
   * 'stdout', a file path (appended, parent folders created), `udp://HOST:PORT` or
   * `tcp://HOST:PORT` (a syslog collector; see net-targets.ts), or a writable stream.
   */
  readonly destination: 'stdout' | string | Writable;
  /**
   * The lines (without line ends) for one event, instead of the JSON line: e.g. FTD syslog
   * (ftd-syslog.ts). An event may give none, one or several.
   */
  readonly format?: (e: ConnectionEvent) => readonly string[];
  /**
   * A dropping episode starts (once per episode: events/write-failed with the reason, or
   * events/backpressure), or the file was found deleted or replaced (events/file-replaced).
   */
  readonly onError?: (e: PeekwallError) => void;
  /** Writing works again (with how many were dropped meanwhile); reopened; drops at close. */
  readonly onNotice?: (message: string) => void;
  /** Bound on the lines waiting, in characters of JSON (~bytes). Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** Bound of flush()/close() without an argument and before stopBy(). Default 2000 ms. */
  readonly flushTimeoutMs?: number;
  /** How often a file destination's path is compared with the open file. Default 1000 ms. */
  readonly checkMs?: number;
  /** Delay before a failed write or open is retried. Default 500 ms. */
  readonly retryMs?: number;
}

const MAX_BATCH = 64 * 1024;
/** After stopBy's deadline the last events (emitted as connections are cut at it) still get this long. */
const STOP_GRACE_MS = 500;

const why = (e: NodeJS.ErrnoException): string => (e.code && !e.message.includes(e.code) ? `${e.code} ${e.message}` : e.message).replace(/\s+/g, ' ').trim();

export function createEventLog(o: EventLogOptions): EventLog {
  const max = o.maxBufferedBytes ?? 1024 * 1024;
  const flushTimeoutMs = o.flushTimeoutMs ?? 2000;
  const retryMs = o.retryMs ?? 500;
  const net = typeof o.destination === 'string' ? parseNetDestination(o.destination) : null;
  // The config and the command line refuse a malformed udp:// or tcp:// before this.
  if (typeof net === 'string') throw new PeekwallFailure(peekwallError('events/bad-destination', net));
  const path = typeof o.destination === 'string' && o.destination !== 'stdout' && net === null ? o.destination : null;
  const where = path ?? (typeof o.destination === 'string' ? o.destination : 'stream');

  let target: Target | null = null;
  if (net !== null) target = net.proto === 'udp' ? udpTarget(net) : tcpTarget(net);
  else if (o.destination === 'stdout') target = stdoutTarget();
  else if (path === null) target = streamTarget(o.destination as Writable, false);

  // Lines waiting (each ends in \n); `held` counts their characters plus the batch in flight.
  let queue: string[] = [];
  let held = 0;
  let inFlight: string[] = [];
  let busy = false; // the I/O loop is running (one write, open or reopen at a time)
  let paused = false; // a write or open failed: the retry timer resumes
  let opening = path !== null;
  let reopenWanted: string | null = null;
  let closing = false;
  let dropped = 0;
  let written = 0;
  let lastError: PeekwallError | null = null;
  /** The dropping episode in progress: why, and the drop count when it began. */
  let episode: { reason: 'write-failed' | 'backpressure'; droppedBefore: number; cause: string } | null = null;
  let stopAt: number | null = null;
  let graceFrom: number | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let generation = 0;
  const waiters = new Set<() => void>();

  const startEpisode = (reason: 'write-failed' | 'backpressure', cause: string) => {
    if (episode?.reason === 'write-failed' || (episode && reason === 'backpressure')) return;
    // A stalled reader that then fails is news: say it even inside a backpressure episode.
    episode = { reason, droppedBefore: episode?.droppedBefore ?? dropped, cause };
    lastError =
      reason === 'write-failed'
        ? peekwallError(
            'events/write-failed',
            `cannot write connection events to ${where}: ${cause}; holding up to ${Math.round(max / 1024)} KiB of them and retrying, then dropping (counted in peekwall_events_dropped_total)`,
          )
        : peekwallError(
            'events/backpressure',
            `connection events to ${where} are not taken as fast as they come (${Math.round(held / 1024)} KiB waiting): dropping new events until the destination catches up (counted in peekwall_events_dropped_total)`,
          );
    o.onError?.(lastError);
  };
  const endEpisode = () => {
    if (!episode) return;
    const n = dropped - episode.droppedBefore;
    const was = episode.reason === 'write-failed' ? `it failed (${episode.cause})` : 'it was not keeping up';
    episode = null;
    o.onNotice?.(`connection events: writing to ${where} again; ${n} event(s) were dropped while ${was}`);
  };

  const drop = (n: number) => {
    if (!episode) startEpisode('backpressure', 'full');
    dropped += n;
  };

  const settleWaiters = () => {
    if ((queue.length === 0 && inFlight.length === 0 && !opening) || paused) {
      for (const w of waiters) w();
      waiters.clear();
    }
  };

  const scheduleRetry = () => {
    paused = true;
    if (retryTimer || closing) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      paused = false;
      kick();
    }, retryMs);
    retryTimer.unref();
  };

  const kick = () => {
    if (busy) return;
    busy = true;
    setImmediate(() => {
      loop()
        .catch(() => undefined) // every await inside handles its own errors; belt and braces
        .finally(() => {
          busy = false;
          settleWaiters();
          // Work that arrived while the last step finished.
          if (!paused && (reopenWanted !== null || (target !== null && queue.length > 0))) kick();
        });
    });
  };

  /** `reason`: said as a notice once open (a requested reopen); null: silent (start, retry, found replaced). */
  const openPath = async (reason: string | null): Promise<void> => {
    const old = target;
    target = null;
    opening = true;
    generation++;
    if (old) await old.end(false);
    try {
      target = await openFile(path!);
      opening = false;
      if (reason !== null) o.onNotice?.(`connection events: reopened ${path} (${reason})`);
      if (episode?.reason === 'write-failed' && queue.length === 0) endEpisode();
    } catch (e) {
      startEpisode('write-failed', why(e as NodeJS.ErrnoException));
      reopenWanted = reason ?? '';
      scheduleRetry();
    }
  };

  const loop = async (): Promise<void> => {
    for (;;) {
      if (paused || closing) return;
      if (reopenWanted !== null && path !== null) {
        const r = reopenWanted;
        reopenWanted = null;
        await openPath(r === '' ? null : r);
        continue;
      }
      if (target === null || queue.length === 0) return;
      // One batch: whole lines up to MAX_BATCH characters (at least one line).
      let n = 0;
      let chars = 0;
      while (n < queue.length && (n === 0 || chars + queue[n].length <= MAX_BATCH)) chars += queue[n++].length;
      inFlight = queue.length === n ? queue : queue.slice(0, n);
      queue = queue.length === n ? [] : queue.slice(n);
      const data = Buffer.from(inFlight.join(''));
      const t = target;
      const r = await t.write(data);
      // A stream abandoned at close: its lines were counted there, whatever happens now.
      if (closing && t.kind === 'stream') return;
      if (!r.error) {
        written += inFlight.length;
        held -= chars;
        inFlight = [];
        if (episode && (episode.reason === 'write-failed' || held <= max / 2)) endEpisode();
        settleWaiters();
        continue;
      }
      // Lines wholly written count; a cut line is removed from the file and retried whole.
      let done = 0;
      let bytes = 0;
      let doneChars = 0;
      while (done < inFlight.length) {
        const b = Buffer.byteLength(inFlight[done]);
        if (bytes + b > r.written) break;
        bytes += b;
        doneChars += inFlight[done].length;
        done++;
      }
      if (r.written > bytes && t.cutBack) await t.cutBack(data.subarray(bytes, r.written));
      written += done;
      held -= doneChars;
      queue = inFlight.slice(done).concat(queue);
      inFlight = [];
      startEpisode('write-failed', why(r.error));
      scheduleRetry();
      return;
    }
  };

  // Deleted or replaced file: compare the path with the open file now and then (a stat per
  // period, never per event). Rotation by mv without a signal is noticed the same way.
  let checkTimer: NodeJS.Timeout | null = null;
  if (path !== null) {
    checkTimer = setInterval(() => {
      const t = target;
      const gen = generation;
      if (!t?.id || reopenWanted !== null || closing) return;
      stat(path).then(
        (s) => {
          if (gen !== generation || (s.dev === t.id!.dev && s.ino === t.id!.ino)) return;
          o.onError?.(peekwallError('events/file-replaced', `the events file ${path} was replaced by another file: writing to the new one`));
          requestReopen('');
        },
        (e: NodeJS.ErrnoException) => {
          if (gen !== generation || e.code !== 'ENOENT') return;
          o.onError?.(peekwallError('events/file-replaced', `the events file ${path} was deleted or moved away (the events written to it since went with it): writing to a new ${path}`));
          requestReopen('');
        },
      );
    }, o.checkMs ?? 1000);
    checkTimer.unref();
  }

  /** `reason` '' reopens silently (the caller said why). */
  const requestReopen = (reason: string) => {
    if (path === null || closing) return;
    reopenWanted = reason;
    // A reopen is also the retry for a failing file: do not wait for the timer.
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    paused = false;
    kick();
  };

  if (path !== null) {
    reopenWanted = '';
    kick();
  }

  // pino formats into this: one call per event with the whole line.
  const logger: Logger = pino(
    {
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => enqueue(line) },
  );
  function enqueue(line: string): void {
    if (held + line.length > max) return drop(1);
    queue.push(line);
    held += line.length;
    if (!busy && !paused) kick();
  }
  const format = o.format;

  const deadlineMs = (timeoutMs: number | undefined): number => {
    if (timeoutMs !== undefined) return timeoutMs;
    if (stopAt === null) return flushTimeoutMs;
    graceFrom ??= Date.now();
    return Math.max(stopAt, graceFrom + STOP_GRACE_MS) - Date.now();
  };

  const flush = (timeoutMs?: number): Promise<void> =>
    new Promise((resolve) => {
      const ms = deadlineMs(timeoutMs);
      if ((queue.length === 0 && inFlight.length === 0 && !opening) || paused || ms <= 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });

  let closed: Promise<void> | null = null;
  return {
    write(e) {
      // Full or closed: count it without formatting it.
      if (closing) dropped++;
      else if (held >= max) drop(1);
      else if (format) {
        // A line end inside a line would make two messages of one.
        for (const line of format(e)) enqueue(`${line.replace(/[\r\n]+/g, ' ')}\n`);
      } else logger.info(e);
    },
    flush,
    stopBy(at) {
      stopAt = at;
    },
    reopen(reason) {
      requestReopen(reason);
    },
    close(timeoutMs) {
      closed ??= (async () => {
        // One last try for a failing destination, then whatever the deadline allows.
        if (retryTimer) {
          clearTimeout(retryTimer);
          retryTimer = null;
        }
        paused = false;
        kick();
        await flush(timeoutMs);
        closing = true;
        if (checkTimer) clearInterval(checkTimer);
        if (retryTimer) clearTimeout(retryTimer);
        const stuck = target?.kind === 'stream' && inFlight.length > 0;
        // A file write in flight finishes in the kernel's time (bounded here): let it, then count.
        if (!stuck) for (let k = 0; k < 200 && busy; k++) await new Promise((r) => setTimeout(r, 5));
        const fdBusy = busy && target?.kind === 'fd';
        const left = queue.length + inFlight.length;
        if (left > 0) {
          dropped += left;
          o.onNotice?.(
            `connection events: ${left} event(s) not written to ${where} by the shutdown deadline were dropped (${dropped} dropped in all${episode?.reason === 'write-failed' ? `; ${episode.cause}` : ''})`,
          );
        }
        queue = [];
        inFlight = [];
        held = 0;
        // An fd with a write still in flight is left open rather than closed under it.
        if (!fdBusy) await target?.end(stuck);
        target = null;
      })();
      return closed;
    },
    get dropped() {
      return dropped;
    },
    get written() {
      return written;
    },
    get queued() {
      return queue.length + inFlight.length;
    },
    get lastError() {
      return lastError;
    },
  };
}
