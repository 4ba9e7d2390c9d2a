// The I/O shell of the lab PKI: init (write a fresh set), check (days left per certificate,
// seed 002's wording), renew (backups, build in a temp dir, swap per trust tree with rollback).
import { access, constants, copyFile, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeParentsSync } from '../util/files.js';
import { certificateFacts } from '../identity/index.js';
import { err, ok, peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { parseLabConfig, type CertSpec, type LabPkiConfig } from './config.js';
import { generateLabPki } from './generate.js';

const DAY = 86_400_000;
export const LAB_CONFIG_FILE = 'lab.yaml';

export async function loadLabConfig(dir: string): Promise<Result<LabPkiConfig, PeekwallError[]>> {
  const file = join(dir, LAB_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return err([peekwallError('pki/missing-config', `cannot read ${file}: ${(e as Error).message}`, { file })]);
  }
  return parseLabConfig(text, file);
}

export function filesOf(spec: CertSpec): [string, string] {
  return [`${spec.name}.crt.pem`, `${spec.name}.key.pem`];
}

// ---- init ---------------------------------------------------------------------------------

export interface InitResult {
  readonly written: readonly string[];
}

/** Write a fresh set from lab.yaml, valid from `now` (default: lab.yaml's epoch). Refuses to
 * overwrite existing files unless `force` (then use renew, which keeps backups). */
export async function initLabPki(dir: string, o: { now?: Date; force?: boolean } = {}): Promise<Result<InitResult, PeekwallError[]>> {
  const c = await loadLabConfig(dir);
  if (!c.ok) return c;
  if (!o.force) {
    const existing: PeekwallError[] = [];
    for (const spec of c.value.certificates) {
      for (const f of filesOf(spec)) {
        if (await exists(join(dir, f))) existing.push(peekwallError('pki/exists', `${join(dir, f)} exists: use \`peekwall certs renew\` (keeps backups) or --force`));
      }
    }
    if (existing.length) return err(existing);
  }
  const set = await generateLabPki(c.value, o.now ?? c.value.epoch);
  const written: string[] = [];
  try {
    makeParentsSync(dir);
    for (const [f, text] of set.files) {
      // Write then rename: a reader never sees half a file.
      const tmp = join(dir, `.${f}.tmp`);
      await writeFile(tmp, text, { mode: f.endsWith('.key.pem') ? 0o600 : 0o644 });
      await rename(tmp, join(dir, f));
      written.push(f);
    }
  } catch (e) {
    const n = e as NodeJS.ErrnoException;
    const done = written.length ? ` (already written: ${written.join(', ')})` : '';
    return err([peekwallError('pki/unwritable', `cannot write into ${dir}: ${n.code ?? ''} ${n.message}${done}`.replace(/\s+/g, ' '))]);
  }
  return ok({ written });
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

// ---- check --------------------------------------------------------------------------------

export type CheckStatus = 'ok' | 'warning' | 'expired' | 'expected-expired' | 'not-yet-valid' | 'missing' | 'unreadable';

export interface CheckEntry {
  readonly name: string;
  readonly file: string;
  readonly status: CheckStatus;
  readonly daysLeft: number | null;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly subject: string | null;
  /** Seed 002's sentences. */
  readonly message: string;
}

export interface CheckReport {
  readonly now: string;
  readonly warnDays: number;
  readonly certificates: readonly CheckEntry[];
  /** Any expired (not expected), missing, unreadable or not-yet-valid certificate. */
  readonly problem: boolean;
}

/** The days-left sentence, in the wording of seed 002's expiry script. */
export function expiryMessage(notAfter: Date, now: Date, warnDays: number): { status: 'ok' | 'warning' | 'expired'; daysLeft: number; message: string } {
  const ms = notAfter.getTime() - now.getTime();
  if (ms <= 0) {
    const ago = Math.floor(-ms / DAY);
    return { status: 'expired', daysLeft: -ago, message: `The certificate has expired ${ago} days ago.` };
  }
  const daysLeft = Math.floor(ms / DAY);
  if (ms <= warnDays * DAY) {
    return { status: 'warning', daysLeft, message: `The certificate will expire within the next ${warnDays} days! It is ONLY valid for ${daysLeft} more days.` };
  }
  return { status: 'ok', daysLeft, message: `The certificate is valid for more than ${warnDays} days. It is valid for ${daysLeft} more days.` };
}

/** Days left and status of every certificate lab.yaml lists, plus any other *.crt.pem in dir. */
export async function checkLabPki(dir: string, o: { now?: Date; warnDays?: number } = {}): Promise<Result<CheckReport, PeekwallError[]>> {
  const now = o.now ?? new Date();
  const warnDays = o.warnDays ?? 90;
  const c = await loadLabConfig(dir);
  if (!c.ok) return c;
  const entries: CheckEntry[] = [];
  const listed = new Set<string>();
  const one = async (name: string, file: string, expectExpired: boolean) => {
    let text: string;
    try {
      text = await readFile(join(dir, file), 'utf8');
    } catch {
      entries.push({ name, file, status: 'missing', daysLeft: null, notBefore: null, notAfter: null, subject: null, message: `${file} is missing: run \`peekwall certs init\` or \`peekwall certs renew\`.` });
      return;
    }
    const f = certificateFacts(text);
    if (!f.ok) {
      entries.push({ name, file, status: 'unreadable', daysLeft: null, notBefore: null, notAfter: null, subject: null, message: f.error.message });
      return;
    }
    const facts = f.value;
    const base = { name, file, notBefore: facts.notBefore.toISOString(), notAfter: facts.notAfter.toISOString(), subject: facts.subjectDn };
    const e = expiryMessage(facts.notAfter, now, warnDays);
    if (e.status === 'expired') {
      entries.push(
        expectExpired
          ? { ...base, status: 'expected-expired', daysLeft: e.daysLeft, message: `${e.message} (Expected: lab.yaml marks it expectExpired.)` }
          : { ...base, status: 'expired', daysLeft: e.daysLeft, message: `${e.message} Renew it now: \`peekwall certs renew\`.` },
      );
      return;
    }
    if (facts.notBefore.getTime() > now.getTime()) {
      entries.push({ ...base, status: 'not-yet-valid', daysLeft: e.daysLeft, message: `The certificate is not valid before ${facts.notBefore.toISOString()}: check the clock.` });
      return;
    }
    const note = expectExpired ? ' (lab.yaml expects it expired, but it is not.)' : '';
    entries.push({ ...base, status: e.status, daysLeft: e.daysLeft, message: e.message + note });
  };
  for (const spec of c.value.certificates) {
    listed.add(`${spec.name}.crt.pem`);
    await one(spec.name, `${spec.name}.crt.pem`, spec.expectExpired);
  }
  for (const f of (await readdir(dir)).sort()) {
    if (f.endsWith('.crt.pem') && !listed.has(f)) await one(f.slice(0, -'.crt.pem'.length), f, false);
  }
  const problem = entries.some((e) => e.status === 'expired' || e.status === 'missing' || e.status === 'unreadable' || e.status === 'not-yet-valid');
  return ok({ now: now.toISOString(), warnDays, certificates: entries, problem });
}

// ---- renew --------------------------------------------------------------------------------

/** File operations renew uses; tests inject failures (a disk that fails half-way). */
export interface RenewFs {
  rename(from: string, to: string): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
}

const realFs: RenewFs = { rename, copyFile };

export interface RenewResult {
  /** Files replaced by their renewed version (a `.backup` of the old one sits beside each). */
  readonly renewed: readonly string[];
  /** Files left exactly as they were, each with the reason. */
  readonly failed: readonly { readonly file: string; readonly reason: string }[];
  /** Trust trees (root + everything it issued) kept old because one of their files failed. */
  readonly heldTrees: readonly string[];
  readonly backups: readonly string[];
}

/** Can this existing file be replaced? Honour the write bits even as root: an operator who
 * made a file read-only means it. */
async function writable(p: string): Promise<string | null> {
  try {
    const st = await stat(p);
    if (st.isDirectory()) return 'a directory is in the way';
    if ((st.mode & 0o222) === 0) return 'read-only (no write permission bit)';
    await access(p, constants.W_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null; // a new file
    return `not writable (${code ?? (e as Error).message})`;
  }
}

/**
 * Regenerate every CA and re-issue every leaf. Per trust tree (a root CA and everything below
 * it, or a lone self-signed certificate), all-or-nothing: old files are copied to `*.backup`,
 * the new ones are built in a temp directory beside them and swapped in by rename; a file that
 * cannot be written is reported and its whole tree stays old (a new leaf beside an old CA, or
 * the reverse, is a half-renewed set). A swap failing half-way is rolled back from the backups.
 */
export async function renewLabPki(dir: string, o: { now?: Date; fs?: RenewFs } = {}): Promise<Result<RenewResult, PeekwallError[]>> {
  const fs = o.fs ?? realFs;
  const c = await loadLabConfig(dir);
  if (!c.ok) return c;
  const config = c.value;
  // Renewal starts today; backdate an hour so freshly renewed files are valid on skewed clocks.
  const now = o.now ?? new Date(Date.now() - 3_600_000);
  const set = await generateLabPki(config, now);

  // Trust trees: each certificate belongs to the tree of its root.
  const rootOf = new Map<string, string>();
  for (const s of config.certificates) rootOf.set(s.name, s.issuer === 'self' ? s.name : (rootOf.get(s.issuer) as string));
  const trees = new Map<string, string[]>();
  for (const s of config.certificates) {
    const r = rootOf.get(s.name) as string;
    trees.set(r, [...(trees.get(r) ?? []), ...filesOf(s)]);
  }

  const failed: { file: string; reason: string }[] = [];
  const renewed: string[] = [];
  const backups: string[] = [];
  const heldTrees: string[] = [];
  let tmp: string;
  try {
    tmp = await mkdtemp(join(dir, '.renew-'));
  } catch (e) {
    return err([peekwallError('pki/not-writable', `cannot create a temp directory in ${dir}: ${(e as Error).message}; nothing was changed`)]);
  }
  try {
    for (const [f, text] of set.files) await writeFile(join(tmp, f), text, { mode: f.endsWith('.key.pem') ? 0o600 : 0o644 });
    for (const [root, files] of trees) {
      // 1. Preflight: every target of the tree must be replaceable.
      const bad: { file: string; reason: string }[] = [];
      for (const f of files) {
        const why = await writable(join(dir, f));
        if (why) bad.push({ file: f, reason: why });
      }
      // 2. Backups of the old files.
      const backed: string[] = [];
      if (bad.length === 0) {
        for (const f of files) {
          if (!(await exists(join(dir, f)))) continue;
          const why = await writable(join(dir, `${f}.backup`));
          if (why) {
            bad.push({ file: f, reason: `cannot write ${f}.backup: ${why}` });
            break;
          }
          try {
            await fs.copyFile(join(dir, f), join(dir, `${f}.backup`));
            backed.push(f);
          } catch (e) {
            bad.push({ file: f, reason: `cannot write ${f}.backup: ${(e as Error).message}` });
            break;
          }
        }
      }
      if (bad.length) {
        failed.push(...bad);
        heldTrees.push(root);
        continue;
      }
      backups.push(...backed.map((f) => `${f}.backup`));
      // 3. Swap file by file; on failure put back what was already swapped.
      const swapped: string[] = [];
      let failure: { file: string; reason: string } | null = null;
      for (const f of files) {
        try {
          await fs.rename(join(tmp, f), join(dir, f));
          swapped.push(f);
        } catch (e) {
          failure = { file: f, reason: `could not be replaced: ${(e as Error).message}` };
          break;
        }
      }
      if (failure) {
        failed.push(failure);
        heldTrees.push(root);
        for (const f of swapped.reverse()) {
          try {
            if (backed.includes(f)) await copyFile(join(dir, `${f}.backup`), join(dir, f));
            else await rm(join(dir, f), { force: true });
          } catch (e) {
            failed.push({ file: f, reason: `ROLLBACK FAILED, restore it from ${f}.backup: ${(e as Error).message}` });
          }
        }
        continue;
      }
      renewed.push(...swapped);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return ok({ renewed, failed, heldTrees, backups });
}

/** certs/<name>.crt.pem or .key.pem under a certs directory (default: the shipped one). */
export function certFileName(name: string, kind: 'crt' | 'key'): string {
  return `${name}.${kind}.pem`;
}
