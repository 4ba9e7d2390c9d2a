// `tail -f` for an events file: delivers complete new lines as they are appended.
// Polls the file size (cheap, works on every filesystem, survives the file being created
// later or truncated by rotation) until the signal aborts.
import { open, stat } from 'node:fs/promises';

export async function followLines(
  path: string,
  onLines: (lines: string[]) => void,
  signal: AbortSignal,
  opts: { fromStart?: boolean; intervalMs?: number } = {},
): Promise<void> {
  const interval = opts.intervalMs ?? 250;
  let offset = 0;
  if (!opts.fromStart) {
    offset = await stat(path).then((s) => s.size, () => 0);
  }
  let partial = '';
  while (!signal.aborted) {
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size >= 0 && size < offset) {
      offset = 0; // truncated or rotated: start over
      partial = '';
    }
    if (size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        const text = partial + buf.subarray(0, bytesRead).toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        const lines = parts.filter((l) => l.trim() !== '');
        if (lines.length > 0) onLines(lines);
      } finally {
        await fh.close();
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, interval);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}
