// A peekwall YAML policy file: read it, and the feeds and URL database it names relative to
// its folder, and hand the texts to the policy compiler. Every read is bounded and
// regular-file-only: a FIFO or /dev/zero in place of the policy or a feed would otherwise
// block the event loop (a reload may run on it) or exhaust memory.
import { dirname, resolve } from 'node:path';
import { MAX_FEED_BYTES, parsePolicy, type Policy } from '../policy/index.js';
import { limitsOf, mergeIntoYaml } from '../schema/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { readBoundedFile, readBoundedFileSync } from '../util/files.js';

/** Reads a feed or URL database for the compiler; a refusal is thrown with its reason as the code. */
export function readFeed(path: string): string {
  const r = readBoundedFileSync(path, MAX_FEED_BYTES);
  if (!r.ok) throw Object.assign(new Error(r.failure.message), { code: r.failure.message });
  return r.text;
}

/**
 * Read and compile a YAML policy file; feeds and the URL database are read relative to it.
 * `settings` (a regression suite's) are merged into the file's own, key by key.
 */
export async function loadYamlPolicyFile(path: string, settings?: Readonly<Record<string, unknown>>): Promise<Result<Policy, PeekwallError[]>> {
  const read = await readBoundedFile(path, limitsOf('policy').maxBytes);
  if (!read.ok) {
    const f = read.failure;
    return f.kind === 'too-large'
      ? { ok: false, error: [peekwallError('policy/too-large', `policy file is ${f.message} (put large lists in .txt feeds)`, { file: path, line: 1, column: 1 })] }
      : { ok: false, error: [peekwallError('policy/unreadable', `cannot read policy file (${f.message})`, { file: path })] };
  }
  // Text that is no mapping is left as it is: the policy loader says what is wrong with it.
  const text = settings && Object.keys(settings).length > 0 ? (mergeIntoYaml(read.text, 'settings', settings) ?? read.text) : read.text;
  return parsePolicy(text, { file: path, baseDir: dirname(resolve(path)), readFile: readFeed });
}
