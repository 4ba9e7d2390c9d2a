// `tail -f` for an events file: delivers complete new lines as they are appended.
// Polls the file size (cheap, works on every filesystem, survives the file being created
// later or truncated by rotation) until the signal aborts.
import { statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** Bytes read per poll at most: a burst of appends is delivered over several polls. */
const MAX_READ = 4 * 1024 * 1024;
/** A "line" without a newline longer than this is not an event line: dropped. */
const MAX_PARTIAL = 1024 * 1024;

export async function followLines(
  path: string,
  onLines: (lines: string[]) => void,
  signal: AbortSignal,
  opts: { fromStart?: boolean; intervalMs?: number } = {},
): Promise<void> {
  const interval = opts.intervalMs ?? 250;
  // Where to start is decided before the first await: lines appended once followLines has
  // been called are delivered, whatever the scheduling (the caller can append right away).
  let offset = 0;
  if (!opts.fromStart) {
    try {
      offset = statSync(path).size;
    } catch {
      offset = 0;
    }
  }
  let partial = '';
  // Reads end anywhere, also inside a multi-byte character: the decoder carries it over.
  let decoder = new StringDecoder('utf8');
  while (!signal.aborted) {
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size >= 0 && size < offset) {
      offset = 0; // truncated or rotated: start over
      partial = '';
      decoder = new StringDecoder('utf8');
    }
    if (size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(Math.min(size - offset, MAX_READ));
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        const text = partial + decoder.write(buf.subarray(0, bytesRead));
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        if (partial.length > MAX_PARTIAL) partial = '';
        const lines = parts.filter((l) => l.trim() !== '');
        if (lines.length > 0) onLines(lines);
      } finally {
        await fh.close();
      }
      if (size > offset) continue; // more to read now, no need to wait
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
}
