// Connection events as JSON lines through pino. One line per event: `"level":"info"` then the
// event's own fields (no pid/hostname/time noise), so operational lines (level warn/error,
// with `msg`) can share the stream and readers pick events by `eventType`.
// A log destination failing (disk full, file unwritable) never takes the proxy down: the
// error is counted, reported once through onError, and later writes are dropped and counted.
import { createWriteStream } from 'node:fs';
import { makeParentsSync } from '../util/files.js';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Writable } from 'node:stream';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import type { ConnectionEvent } from './types.js';

export interface EventLog {
  write(e: ConnectionEvent): void;
  /** Resolves when everything written so far reached the destination (or failed). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Events that could not be written (destination failed). */
  readonly dropped: number;
  readonly lastError: PeekwallError | null;
}

export interface EventLogOptions {
  /** 'stdout', a file path (appended, parent folders created), or a writable stream. */
  readonly destination: 'stdout' | string | Writable;
  /** Called once, on the first destination failure. */
  readonly onError?: (e: PeekwallError) => void;
}

export function createEventLog(o: EventLogOptions): EventLog {
  let stream: Writable;
  let ownsStream = false;
  if (o.destination === 'stdout') {
    stream = process.stdout;
  } else if (typeof o.destination === 'string') {
    const path = o.destination;
    try {
      makeParentsSync(dirname(path));
    } catch {
      // The write stream's own error below says what is wrong with the path.
    }
    stream = createWriteStream(path, { flags: 'a' });
    ownsStream = true;
  } else {
    stream = o.destination;
  }

  let dropped = 0;
  let lastError: PeekwallError | null = null;
  let failed = false;
  const where = typeof o.destination === 'string' ? o.destination : 'stream';
  stream.on('error', (e: NodeJS.ErrnoException) => {
    lastError = peekwallError(
      'events/write-failed',
      `cannot write connection events to ${where}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' '),
    );
    if (!failed) {
      failed = true;
      o.onError?.(lastError);
    }
  });

  const logger: Logger = pino(
    {
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );

  return {
    write(e) {
      if (failed) {
        dropped++;
        return;
      }
      logger.info(e);
    },
    flush() {
      // An empty write's callback runs once every earlier chunk has reached the destination
      // (writes complete in order). 'drain' would only fire after a write hit backpressure.
      return new Promise((resolve) => {
        if (failed || stream.destroyed || stream.writableLength === 0) return resolve();
        stream.write('', () => resolve());
      });
    },
    async close() {
      if (!ownsStream) return;
      await new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.end(() => resolve());
        stream.once('error', () => resolve());
      });
    },
    get dropped() {
      return dropped;
    },
    get lastError() {
      return lastError;
    },
  };
}
