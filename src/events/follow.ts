// `tail -F` for an events file: delivers complete new lines as they are appended, waits for a
// file that does not exist yet, and follows rotation: when the path comes to name another file
// (logrotate's mv, then the writer's reopen), the rest of the old file is read first, then the
// new one from its start; a file truncated in place is read again from its start. Polls (cheap,
// works on every filesystem) until the signal aborts.
import { statSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** Bytes read per poll at most: a burst of appends is delivered over several polls. */
const MAX_READ = 4 * 1024 * 1024;
/** A "line" without a newline longer than this is not an event line: dropped. */
const MAX_PARTIAL = 1024 * 1024;

export interface FollowOptions {
  /** Deliver the lines already in the file too (default: only what is appended from now on). */
  readonly fromStart?: boolean;
  readonly intervalMs?: number;
  /** The path names a new file (rotation, or the file appeared): said once per switch. */
  readonly onSwitch?: (why: 'appeared' | 'rotated' | 'truncated') => void;
}

export async function followLines(path: string, onLines: (lines: string[]) => void, signal: AbortSignal, opts: FollowOptions = {}): Promise<void> {
  const interval = opts.intervalMs ?? 250;
  let fh: FileHandle | null = null;
  let ino = -1;
  let dev = -1;
  let offset = 0;
  let partial = '';
  // Reads end anywhere, also inside a multi-byte character: the decoder carries it over.
  let decoder = new StringDecoder('utf8');
  // Where to start is decided before the first await: lines appended once followLines has been
  // called are delivered, whatever the scheduling (the caller can append right away). A file
  // there now is read from that end (unless fromStart), one that appears later from its start.
  let initial: { size: number; ino: number; dev: number } | null = null;
  try {
    initial = statSync(path);
  } catch {
    initial = null;
  }
  let first = true;

  const openCurrent = async (): Promise<boolean> => {
    try {
      const h = await open(path, 'r');
      const s = await h.stat();
      fh = h;
      ino = s.ino;
      dev = s.dev;
      offset = first && !opts.fromStart && initial !== null && initial.ino === s.ino && initial.dev === s.dev ? Math.min(initial.size, s.size) : 0;
      partial = '';
      decoder = new StringDecoder('utf8');
      return true;
    } catch {
      return false;
    }
  };
  /** Everything readable now from the open file; true if it delivered up to its end. */
  const drain = async (): Promise<void> => {
    for (;;) {
      const size = (await fh!.stat()).size;
      if (size < offset) {
        offset = 0; // truncated in place: start over
        partial = '';
        decoder = new StringDecoder('utf8');
        opts.onSwitch?.('truncated');
      }
      if (size <= offset) return;
      const buf = Buffer.alloc(Math.min(size - offset, MAX_READ));
      const { bytesRead } = await fh!.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      const text = partial + decoder.write(buf.subarray(0, bytesRead));
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      if (partial.length > MAX_PARTIAL) partial = '';
      const lines = parts.filter((l) => l.trim() !== '');
      if (lines.length > 0) onLines(lines);
    }
  };

  try {
    if (await openCurrent()) first = false;
    while (!signal.aborted) {
      if (fh === null) {
        first = false;
        if (await openCurrent()) opts.onSwitch?.('appeared');
      }
      if (fh !== null) {
        await drain();
        const s = await stat(path).catch(() => null);
        if (s !== null && (s.ino !== ino || s.dev !== dev)) {
          // Rotated: the old file is done once read to its end (its writer has moved on).
          await drain();
          await (fh as FileHandle).close().catch(() => undefined);
          fh = null;
          if (await openCurrent()) {
            opts.onSwitch?.('rotated');
            continue;
          }
        }
      }
      await new Promise<void>((resolve) => {
        // One listener per wait, removed when the timer wins: one added per poll would leak a
        // listener every interval (and Node warns of a leak after 10).
        const onAbort = (): void => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, interval);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  } finally {
    await (fh as FileHandle | null)?.close().catch(() => undefined);
  }
}
