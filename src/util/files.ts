// Reading a user-named file without trusting it: the path may be a FIFO (a read blocks until
// a writer appears), a device (/dev/zero never ends), a directory, or grow while we read.
// Open non-blocking, fstat the opened handle, refuse anything but a regular file, and read at
// most `maxBytes + 1` bytes so a file that grew past the bound is refused too.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname as dirnamePath, resolve as resolvePath } from 'node:path';

export type BoundedReadFailure =
  | { readonly kind: 'not-a-file'; readonly message: string }
  | { readonly kind: 'too-large'; readonly message: string }
  | { readonly kind: 'unreadable'; readonly message: string };

export type BoundedRead =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly failure: BoundedReadFailure };

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function describe(e: unknown): string {
  const n = e as NodeJS.ErrnoException;
  return n.code ? `${n.code}: ${n.message.replace(/^\w+: /, '')}` : String((e as Error).message ?? e);
}

function fail(kind: BoundedReadFailure['kind'], message: string): { readonly ok: false; readonly failure: BoundedReadFailure } {
  return { ok: false, failure: { kind, message } };
}

export type BoundedBytes =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly failure: BoundedReadFailure };

/**
 * The bytes as they are (a DER certificate is not text). One synchronous implementation
 * serves both call styles: the file is a regular file by the time it is read (devices and
 * FIFOs are refused first), and every caller parses what it read synchronously right after,
 * so a thread-pool read would only add a second copy of this logic.
 */
export function readBoundedBytesSync(path: string, maxBytes: number): BoundedBytes {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    return fail('unreadable', describe(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail('not-a-file', 'not a regular file (a device, FIFO or directory)');
    if (st.size > maxBytes) return fail('too-large', `${st.size} bytes, over the ${maxBytes}-byte limit`);
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, st.size + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) return fail('too-large', `grew past the ${maxBytes}-byte limit while being read`);
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) return fail('too-large', `over the ${maxBytes}-byte limit`);
    }
    return { ok: true, bytes: buf.subarray(0, n) };
  } catch (e) {
    return fail('unreadable', describe(e));
  } finally {
    closeSync(fd);
  }
}

/** Synchronous text variant, for loaders that are called from synchronous compile steps. */
export function readBoundedFileSync(path: string, maxBytes: number): BoundedRead {
  const r = readBoundedBytesSync(path, maxBytes);
  return r.ok ? { ok: true, text: r.bytes.toString('utf8') } : r;
}

export async function readBoundedFile(path: string, maxBytes: number): Promise<BoundedRead> {
  return readBoundedFileSync(path, maxBytes);
}

export async function readBoundedBytes(path: string, maxBytes: number): Promise<BoundedBytes> {
  return readBoundedBytesSync(path, maxBytes);
}

/**
 * `mkdir -p` without `{ recursive: true }`: Node's recursive mkdir never returns when the
 * kernel answers ENOENT for a child of an existing directory (e.g. /proc/x under Node 20:
 * it spins at 100 % CPU), and output paths are user input. Walk up to the first existing
 * ancestor (at most 64 levels), then create each missing level once; any error is thrown
 * as it comes (ENOENT, EACCES, ENOTDIR, EEXIST for a file in the way).
 */
export function makeParentsSync(dir: string): void {
  const missing: string[] = [];
  let d = resolvePath(dir);
  for (let i = 0; i < 64; i++) {
    try {
      const st = statSync(d);
      if (!st.isDirectory()) throw Object.assign(new Error(`${d} exists and is not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(d);
      const up = dirnamePath(d);
      if (up === d) break;
      d = up;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]);
    } catch (e) {
      // Made by someone else meanwhile: fine. Anything else is the answer.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(missing[i]).isDirectory()) throw e;
    }
  }
}
