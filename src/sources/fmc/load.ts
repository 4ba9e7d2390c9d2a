// Reading an FMC bundle from disk (one JSON file, or a folder of `<resource>.json` files) and
// compiling it with the policy compiler. Every file is read bounded and regular-file-only, like
// a YAML policy; the feeds and URL database are read through the same reader, relative to the
// bundle's folder. Errors keep file:line:column in the bundle and gain the JSON path, because a
// saved FMC answer is often a single line.
import { closeSync, constants, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { compilePolicyTree, type FilePos, type Policy } from '../../policy/index.js';
import type { YNode } from '../../schema/index.js';
import { peekwallError, type PeekwallError, type Result } from '../../util/errors.js';
import { readBoundedFileSync } from '../../util/files.js';
import { readFeed } from '../yaml-file.js';
import { assembleBundle, EXTRA_KEY, FMC_RESOURCES, fileResource, looksLikeBundle, type Bundle, type BundleFile } from './bundle.js';
import { parseLocatedJson, pathIndex } from './json.js';
import { mapBundle, type FmcOptions, type MappedPolicy } from './map.js';

/**
 * Largest bundle file read. A 5,000-rule, 50,000-object bundle saved with ?expanded=true is
 * about 40 MB; a folder bundle's files share one budget four times that.
 */
export const MAX_BUNDLE_FILE_BYTES = 64 * 1024 * 1024;
export const MAX_BUNDLE_BYTES = 4 * MAX_BUNDLE_FILE_BYTES;

type Loaded<T> = Result<T, PeekwallError[]>;

function readJsonFile(path: string): Loaded<{ root: YNode; bytes: number }> {
  const read = readBoundedFileSync(path, MAX_BUNDLE_FILE_BYTES);
  if (!read.ok) {
    const f = read.failure;
    const code = f.kind === 'too-large' ? 'fmc/too-large' : 'fmc/unreadable';
    const hint = f.kind === 'too-large' ? ' (a bundle file is at most 64 MiB: save large resources as <resource>.page-N.json files in a bundle folder)' : '';
    return { ok: false, error: [peekwallError(code, `cannot read FMC bundle file (${f.message})${hint}`, { file: path })] };
  }
  const parsed = parseLocatedJson(read.text, path);
  if (!parsed.ok) return { ok: false, error: [parsed.error] };
  return { ok: true, value: { root: parsed.value, bytes: read.text.length } };
}

export interface ReadBundle {
  readonly bundle: Bundle;
  /** The folder feeds and the URL database are relative to: the file's folder, or the bundle folder itself. */
  readonly baseDir: string;
  readonly warnings: readonly PeekwallError[];
}

const RESOURCE_KEY = new RegExp(`"(?:${[...FMC_RESOURCES, EXTRA_KEY].join('|')})"\\s*:`);

/**
 * Whether a path may be an FMC bundle, from a look at it: a folder with a `<resource>.json`,
 * a file that starts with '{' and names a resource ('file'), or one that starts with '{' only
 * ('json': readBundle then says whether it is keyed by resource names; YAML reads JSON too).
 */
export function mayBeFmcBundle(path: string): 'folder' | 'file' | 'json' | null {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return readdirSync(path).some((n) => fileResource(n) !== null) ? 'folder' : null;
    if (!st.isFile()) return null;
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const head = Buffer.alloc(1024);
      const n = readSync(fd, head, 0, head.length, 0);
      const text = head.subarray(0, n).toString('utf8');
      if (!/^\uFEFF?\s*\{/.test(text)) return null;
      // A resource name as a key near the start: a bundle, even if it turns out not to be JSON
      // (a truncated download), so the error is about the bundle and not about YAML.
      return RESOURCE_KEY.test(text) ? 'file' : 'json';
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** Read a bundle file or folder into its resources. */
export function readBundle(path: string): Loaded<ReadBundle> {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    return { ok: false, error: [peekwallError('fmc/unreadable', `cannot read FMC bundle (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path })] };
  }
  const files: BundleFile[] = [];
  const errors: PeekwallError[] = [];
  if (isDir) {
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch (e) {
      return { ok: false, error: [peekwallError('fmc/unreadable', `cannot list the FMC bundle folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path })] };
    }
    let total = 0;
    for (const name of names) {
      const kind = fileResource(name);
      if (!kind) continue;
      const file = join(path, name);
      const got = readJsonFile(file);
      if (!got.ok) {
        errors.push(...got.error);
        continue;
      }
      total += got.value.bytes;
      if (total > MAX_BUNDLE_BYTES) {
        errors.push(peekwallError('fmc/too-large', `the bundle folder's files are over ${MAX_BUNDLE_BYTES} bytes together`, { file }));
        break;
      }
      files.push({ file, root: got.value.root, resource: kind.resource, page: kind.page });
    }
    if (files.length === 0 && errors.length === 0) {
      errors.push(peekwallError('fmc/not-a-bundle', 'the folder holds no <resource>.json file (accesspolicies.json, accessrules.json, hosts.json, ...)', { file: path }));
    }
  } else {
    const got = readJsonFile(path);
    if (!got.ok) return got;
    if (!looksLikeBundle(got.value.root)) {
      return { ok: false, error: [peekwallError('fmc/not-a-bundle', `not an FMC bundle: no key names an FMC resource (${FMC_RESOURCES.join(', ')})`, { file: path, line: 1, column: 1 })] };
    }
    files.push({ file: path, root: got.value.root });
  }
  if (errors.length > 0) return { ok: false, error: errors };
  const warnings: PeekwallError[] = [];
  const b = assembleBundle(files, warnings);
  if (!b.ok) return { ok: false, error: withPaths(b.error, files) };
  return { ok: true, value: { bundle: b.value, baseDir: isDir ? resolve(path) : dirname(resolve(path)), warnings } };
}

/** Append the JSON path to each error that points into a bundle file and does not name one yet. */
function withPaths(errors: readonly PeekwallError[], files: readonly BundleFile[]): PeekwallError[] {
  let index: Map<string, Map<string, string>> | null = null;
  return errors.map((e) => {
    if (e.file === undefined || e.line === undefined || /\$[.[]/.test(e.message)) return e;
    index ??= new Map(files.map((f) => [f.file, pathIndex(f.root)]));
    const p = index.get(e.file)?.get(`${e.line}:${e.column}`);
    return p ? { ...e, message: `${e.message} (at ${basename(e.file)} ${p})` } : e;
  });
}

/** The bundle read and mapped to a policy tree (what import writes as YAML). */
export function readFmcPolicy(path: string, o: FmcOptions = {}, read: Loaded<ReadBundle> = readBundle(path)): Loaded<{ mapped: MappedPolicy; baseDir: string; files: readonly BundleFile[] }> {
  if (!read.ok) return read;
  const m = mapBundle(read.value.bundle, path, o);
  if (!m.ok) return { ok: false, error: withPaths(m.error, read.value.bundle.files) };
  const mapped = { ...m.value, warnings: [...read.value.warnings, ...m.value.warnings] };
  return { ok: true, value: { mapped, baseDir: read.value.baseDir, files: read.value.bundle.files } };
}

/** Read, map and compile an FMC bundle: the same Policy a YAML file gives, errors located in the bundle. */
export function loadFmcBundle(path: string, o: FmcOptions = {}, read?: Loaded<ReadBundle>): Loaded<Policy> {
  const got = readFmcPolicy(path, o, read);
  if (!got.ok) return got;
  const { mapped, baseDir, files } = got.value;
  const compiled = compilePolicyTree(mapped.tree, { file: path, baseDir, readFile: readFeed, warnings: mapped.warnings });
  if (!compiled.ok) return { ok: false, error: withPaths(compiled.error, files) };
  return compiled;
}

export type { FmcOptions, FilePos };
