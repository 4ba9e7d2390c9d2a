// Where event lines go: an fd written with fs.write (files: a short write can be cut back, the
// open file's dev/ino lets the sink notice it was deleted or rotated away), or a stream (pipes,
// TTYs, tests; stdout that is a pipe gets a handle of its own so a stuck reader can be abandoned).
import { close as fsClose, fstat, open, read, stat, write, ftruncate, fstatSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { makeParentsSync } from '../util/files.js';

export type WriteResult = { written: number; error: NodeJS.ErrnoException | null };

/** Where lines go: an fd we write with fs.write (files), or a stream (pipes, TTYs, tests). */
export interface Target {
  readonly kind: 'fd' | 'stream';
  write(data: Buffer): Promise<WriteResult>;
  /** A short write left `tail` (the start of a line) at the end of the file: remove it. */
  cutBack?(tail: Buffer): Promise<boolean>;
  /** dev/ino of the open file, for the deleted-or-replaced check (files opened by path). */
  readonly id?: { dev: number; ino: number };
  /** Ends the target; `abandon`: give up on writes still pending (a stuck pipe). */
  end(abandon: boolean): Promise<void>;
}

const pWrite = promisify(write);
const pFstat = promisify(fstat);
const pRead = promisify(read);
const pFtruncate = promisify(ftruncate);
const pClose = promisify(fsClose);
const pOpen = promisify(open);
const pStat = promisify(stat);

export function fdTarget(fd: number, owned: boolean, st: Stats | null): Target {
  return {
    kind: 'fd',
    ...(st ? { id: { dev: st.dev, ino: st.ino } } : {}),
    async write(data) {
      let off = 0;
      try {
        while (off < data.length) {
          const { bytesWritten } = await pWrite(fd, data, off, data.length - off, null);
          if (bytesWritten <= 0) return { written: off, error: Object.assign(new Error('the destination took no bytes'), { code: 'ENOSPC' }) };
          off += bytesWritten;
        }
        return { written: off, error: null };
      } catch (e) {
        return { written: off, error: e as NodeJS.ErrnoException };
      }
    },
    async cutBack(tail) {
      // Only a regular file can be cut, and only if the tail is still its end (appended by
      // this process): another writer appending meanwhile means leaving it.
      try {
        const s = await pFstat(fd);
        if (!s.isFile() || s.size < tail.length) return false;
        const at = s.size - tail.length;
        const back = Buffer.alloc(tail.length);
        const { bytesRead } = await pRead(fd, back, 0, tail.length, at);
        if (bytesRead !== tail.length || !back.equals(tail)) return false;
        await pFtruncate(fd, at);
        return true;
      } catch {
        return false;
      }
    },
    async end() {
      if (owned) await pClose(fd).catch(() => undefined);
    },
  };
}

export function streamTarget(stream: Writable, owned: boolean): Target {
  // Errors also reach each write's callback; the listener keeps an 'error' event from being
  // unhandled (which would end the process).
  stream.on('error', () => undefined);
  return {
    kind: 'stream',
    write(data) {
      return new Promise((resolve) => {
        // An errored stream buffers later writes without ever calling back: fail them now.
        if (stream.destroyed || !stream.writable || stream.errored) {
          return resolve({ written: 0, error: Object.assign(new Error('the stream is closed'), { code: 'EPIPE' }) });
        }
        stream.write(data, (e) => resolve(e ? { written: 0, error: e as NodeJS.ErrnoException } : { written: data.length, error: null }));
      });
    },
    async end(abandon) {
      if (!owned) return;
      if (abandon) {
        // Closing the handle cancels the pending writes, so they cannot keep the process
        // alive; libuv never closes fds 0-2 themselves.
        stream.destroy();
        return;
      }
      await new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.once('error', () => resolve());
        stream.end(() => resolve());
      });
    },
  };
}

/**
 * stdout by what fd 1 is: a pipe or socket gets a handle of its own (process.stdout's pending
 * writes could not be cancelled at shutdown, and would hold the process); a file or device is
 * written with fs.write; a terminal through process.stdout.
 */
export function stdoutTarget(): Target {
  if (isatty(1)) return streamTarget(process.stdout, false);
  let st: Stats;
  try {
    st = fstatSync(1);
  } catch {
    return streamTarget(process.stdout, false);
  }
  if (st.isFIFO() || st.isSocket()) {
    try {
      return streamTarget(new Socket({ fd: 1, readable: false, writable: true }), true);
    } catch {
      return streamTarget(process.stdout, false);
    }
  }
  return fdTarget(1, false, null);
}

export async function openFile(path: string): Promise<Target> {
  try {
    makeParentsSync(dirname(path));
  } catch {
    // The open below says what is wrong with the path.
  }
  // A regular file (or none yet) also with read access, to check that a cut line is still
  // ours before removing it; a file only writable (mode 0200) is appended to without that.
  // A FIFO or device as before, write-only: a FIFO opened read-write would be its own reader.
  const existing = await pStat(path).catch(() => null);
  const fd =
    existing !== null && !existing.isFile()
      ? await pOpen(path, 'a')
      : await pOpen(path, 'a+').catch((e: NodeJS.ErrnoException) => (e.code === 'EACCES' ? pOpen(path, 'a') : Promise.reject(e)));
  try {
    return fdTarget(fd, true, await pFstat(fd));
  } catch (e) {
    await pClose(fd).catch(() => undefined);
    throw e;
  }
}
