// The text files a policy names besides itself: Security Intelligence feeds (one entry a
// line) and the URL database (`domain,reputation,Category|Category`). The policy engine
// never opens them: the caller hands it a reader, and errors inside a file point into it.
import { MAX_FEED_BYTES } from './defaults.js';
import { parseDomainEntry, UrlDatabase } from './domains.js';
import { str, type Reader } from './reader.js';
import type { Pos, YNode } from '../schema/index.js';

/** How the policy's feeds and URL database are found. */
export interface AuxFiles {
  /**
   * The policy's folder: relative feed names are joined to it. Give an absolute one; a
   * relative one leaves the joined names relative too.
   */
  readonly baseDir: string;
  /** Reads a feed or URL database file (path already joined). Without it feeds are errors. */
  readonly readFile?: (path: string) => string;
}

/** `name` joined to `dir` with '.' and '..' folded (POSIX names; an absolute name is kept as it is). */
export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/')) return name;
  const absolute = dir.startsWith('/');
  const parts: string[] = [];
  for (const seg of `${dir}/${name}`.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') parts.push(seg);
    else if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else if (!absolute) parts.push('..');
  }
  const joined = parts.join('/');
  return absolute ? `/${joined}` : joined || '.';
}

/** Iterate the non-empty, non-comment lines of a feed: (trimmed text, 1-based line). */
export function forEachFeedLine(text: string, visit: (entry: string, line: number) => void): void {
  let pos = 0;
  let line = 0;
  const n = text.length;
  while (pos <= n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    line++;
    let a = pos;
    let b = nl;
    while (a < b && text.charCodeAt(a) <= 32) a++;
    while (b > a && text.charCodeAt(b - 1) <= 32) b--;
    if (a < b && text.charCodeAt(a) !== 35 /* # */) {
      // Inline comments: 'example.com   # typo-squat of example.org'
      // (scan only this line: indexOf would search the rest of a 20 MB feed per line)
      for (let k = a; k < b; k++) {
        if (text.charCodeAt(k) === 35) {
          b = k;
          while (b > a && text.charCodeAt(b - 1) <= 32) b--;
          break;
        }
      }
      visit(text.slice(a, b), line);
    }
    pos = nl + 1;
  }
}

/** The text of the file the policy names `rel` (at `at`), or null after recording why not. */
export function readAuxFile(r: Reader, files: AuxFiles, rel: string, at: Pos, what: string): { text: string; path: string } | null {
  if (!files.readFile) {
    r.error(at, 'policy/no-reader', `${what} '${rel}' cannot be read: no file reader given (use loadPolicyFile)`);
    return null;
  }
  const path = joinPath(files.baseDir, rel);
  try {
    const text = files.readFile(path);
    if (text.length > MAX_FEED_BYTES) {
      r.error(at, 'policy/feed-too-large', `${what} '${rel}' is larger than ${MAX_FEED_BYTES} bytes`);
      return null;
    }
    return { text, path };
  } catch (e) {
    const code = (e as { code?: string }).code;
    r.error(at, 'policy/feed-unreadable', `${what} '${rel}' cannot be read (${code ?? (e as Error).message})`);
    return null;
  }
}

/** URL database records from `text` (the file `file`) into `db`. */
export function parseUrlDatabase(r: Reader, text: string, file: string, db: UrlDatabase): void {
  forEachFeedLine(text, (entry, line) => {
    const at = { line, column: 1 };
    const parts = entry.split(',');
    if (parts.length !== 3) {
      r.error(at, 'policy/urldb-format', `URL database line must be 'domain,reputation,category|category'`, file);
      return;
    }
    const d = parseDomainEntry(parts[0]);
    const rep = Number(parts[1].trim());
    const cats = parts[2].split('|').map((s) => s.trim()).filter((s) => s.length > 0);
    if (typeof d === 'string' || d.wildcard || d.path !== null || d.exact) {
      r.error(at, 'policy/urldb-format', `URL database domain ${typeof d === 'string' ? d : `'${parts[0]}' must be a plain domain`}`, file);
      return;
    }
    if (!Number.isInteger(rep) || rep < 0 || rep > 5) {
      r.error(at, 'policy/urldb-format', `URL database reputation must be 0-5, not '${parts[1].trim()}'`, file);
      return;
    }
    if (cats.length === 0) {
      r.error(at, 'policy/urldb-format', 'URL database record needs at least one category', file);
      return;
    }
    db.set(d.host, { categories: Object.freeze(cats), reputation: rep as 0 | 1 | 2 | 3 | 4 | 5 });
  });
}

/** The policy's `urlDatabase:` file, read and parsed; empty when the policy names none. */
export function readUrlDatabase(r: Reader, files: AuxFiles, n: YNode | undefined): UrlDatabase {
  const db = new UrlDatabase();
  const rel = str(n);
  const got = n && rel ? readAuxFile(r, files, rel, n.at, 'URL database') : null;
  if (got) parseUrlDatabase(r, got.text, got.path, db);
  return db;
}
