// Reading a capture (or any input) as a stream of chunks, for `replay`, `hello` and `cert`:
// a file or '-' for standard input (`tcpdump -w - | peekwall replay -`). Never read whole:
// captures run to gigabytes, and a pipe may never end.
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { CaptureWalk, sniffCaptureFormat, type CaptureSummary, type FlowConsumer, type FlowStart } from '../capture/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import type { CliIo } from './command.js';

export interface InputChunks {
  /** The first chunk (empty for an empty input), already read: to sniff the format. */
  readonly first: Buffer;
  /** The chunks after the first. */
  readonly rest: AsyncIterator<Buffer>;
  /** The path as given (or 'standard input'). */
  readonly name: string;
  close(): void;
}

/** A large read size: each chunk is handed to the readers in place, so fewer is cheaper. */
const CHUNK_BYTES = 1024 * 1024;

export async function openInput(arg: string, io: CliIo): Promise<InputChunks> {
  let source: AsyncIterable<Buffer | string>;
  let destroy = () => {};
  const file = arg === '-' ? undefined : resolve(io.cwd, arg);
  if (file === undefined) source = io.stdin;
  else {
    const s = createReadStream(file, { highWaterMark: CHUNK_BYTES });
    // Open errors (ENOENT, EACCES, EISDIR) are bad input, not a throw from the loop.
    const opened = await new Promise<Error | null>((ok) => {
      s.once('ready', () => ok(null));
      s.once('error', (e) => ok(e));
    });
    if (opened) {
      s.destroy();
      throw new PeekwallFailure(peekwallError('cli/unreadable', `cannot read ${arg}: ${opened.message}`, { file }));
    }
    source = s;
    destroy = () => s.destroy();
  }
  const it = source[Symbol.asyncIterator]();
  const asBuffer = (c: Buffer | string) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  const rest: AsyncIterator<Buffer> = {
    async next() {
      try {
        const r = await it.next();
        return r.done ? { done: true, value: undefined } : { done: false, value: asBuffer(r.value) };
      } catch (e) {
        throw new PeekwallFailure(peekwallError('cli/unreadable', `cannot read ${arg}: ${(e as Error).message}`, file ? { file } : {}));
      }
    },
  };
  // The first read may be a few bytes from a pipe: gather at least the 4 a format needs.
  let first: Buffer = Buffer.alloc(0);
  while (first.length < 4) {
    const r = await rest.next();
    if (r.done) break;
    first = first.length === 0 ? r.value : Buffer.concat([first, r.value]);
  }
  return { first, rest, name: arg === '-' ? 'standard input' : arg, close: destroy };
}

/** The input starts like a pcap or pcapng file. */
export function isCapture(input: InputChunks): boolean {
  return sniffCaptureFormat(input.first) !== null;
}

/**
 * Walk a whole capture through `open` (one consumer per TCP flow). `drain` runs after each
 * chunk: the place to write what the chunk produced, awaiting the output's back-pressure.
 */
export async function walkCapture(
  input: InputChunks,
  open: (start: FlowStart) => FlowConsumer,
  drain: () => Promise<void> = async () => {},
): Promise<CaptureSummary> {
  const walk = new CaptureWalk(open);
  try {
    let ok = walk.push(input.first);
    await drain();
    while (ok) {
      const r = await input.rest.next();
      if (r.done) break;
      ok = walk.push(r.value);
      await drain();
    }
  } finally {
    input.close();
  }
  const summary = walk.end();
  await drain();
  return summary;
}

/** Write text, waiting when the stream asks to (a slow pipe must not fill memory). */
export async function writeOut(out: Writable, text: string): Promise<void> {
  if (text === '' || out.write(text)) return;
  await new Promise<void>((ok) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', done);
      ok();
    };
    out.once('drain', done);
    out.once('error', done);
    out.once('close', done);
  });
}

/** One line about what the capture held, for the end of a listing. */
export function summaryLine(name: string, s: CaptureSummary): string {
  const skipped = Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
  return `${name}: ${s.format ?? 'unknown format'}${s.format === 'pcapng' ? `, ${s.sections} section(s)` : ''}, ${s.packets} packets, ${s.flows} TCP connection(s)${skipped > 0 ? `, ${skipped} packet(s) not TCP or not decodable` : ''}`;
}
