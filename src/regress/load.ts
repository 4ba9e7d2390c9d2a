// The shell part of regression testing: reading suite files, their policies (with the suite's
// settings overrides) and their certificates. Everything after loading is pure.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { certificateFacts, type CertificateFacts } from '../identity/index.js';
import { parsePolicy, type Policy } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import { parseSuite } from './suite.js';
import type { Located, ResolvedCase, SuiteSpec } from './types.js';
import { DEFAULT_YAML_LIMITS, mergeIntoYaml } from '../schema/index.js';

export interface LoadedSuite {
  readonly spec: SuiteSpec;
  readonly policy: Policy;
  /** Absolute path of the policy file. */
  readonly policyPath: string;
  readonly cases: readonly ResolvedCase[];
}

type Loaded<T> = Result<T, PeekwallError[]>;

async function readText(path: string, code: string, what: string, at?: Partial<Located>): Promise<Loaded<string>> {
  try {
    // Refuse devices and FIFOs (a read would block or never end) and oversized files,
    // before reading anything into memory.
    const st = await stat(path);
    if (!st.isFile()) {
      return { ok: false, error: [peekwallError(`${code}`, `${what} ${path} is not a regular file`, at ?? { file: path })] };
    }
    if (st.size > DEFAULT_YAML_LIMITS.maxBytes) {
      return { ok: false, error: [peekwallError(`${code}-too-large`, `${what} ${path} is larger than ${DEFAULT_YAML_LIMITS.maxBytes} bytes`, at ?? { file: path })] };
    }
    return { ok: true, value: await readFile(path, 'utf8') };
  } catch (e) {
    return { ok: false, error: [peekwallError(code, `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, at ?? { file: path })] };
  }
}

/**
 * Merge `overrides` into the policy text's top-level `settings:` mapping (deeply, key by key)
 * and compile. The policy's own loader validates the result, so a suite can override exactly
 * what a policy file can say, with the same spelling.
 */
export function parsePolicyWithSettings(
  text: string,
  file: string,
  overrides: Readonly<Record<string, unknown>> | null,
  readFile?: (path: string) => string,
): Result<Policy, PeekwallError[]> {
  const opts = { file, baseDir: dirname(file), ...(readFile ? { readFile } : {}) };
  if (!overrides || Object.keys(overrides).length === 0) return parsePolicy(text, opts);
  // Text that is no mapping: the policy loader says what is wrong with it.
  return parsePolicy(mergeIntoYaml(text, 'settings', overrides) ?? text, opts);
}

/** Cache of compiled policies by file and overrides, shared by the suites of one run. */
export type PolicyCache = Map<string, Promise<Loaded<Policy>>>;

export function loadPolicyVariant(
  path: string,
  overrides: Readonly<Record<string, unknown>> | null,
  cache: PolicyCache = new Map(),
): Promise<Loaded<Policy>> {
  const key = `${path}\0${JSON.stringify(overrides ?? {})}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      // A suite may name any path: refuse devices and FIFOs before the policy loader reads
      // (a folder may be an FMC bundle). The loader applies the suite's settings to a YAML
      // policy and an FMC bundle alike.
      const st = await stat(path).catch(() => null);
      if (st && !st.isFile() && !st.isDirectory()) {
        return { ok: false, error: [peekwallError('suite/policy-unreadable', `policy ${path} is not a regular file`, { file: path })] };
      }
      return loadPolicyFile(path, overrides ? { settings: overrides } : {});
    })();
    cache.set(key, p);
  }
  return p;
}

/**
 * A case's certificate file: relative to the suite's directory, else relative to the package
 * root (so shipped suites can say `certs/smart-licensing.crt.pem` for the lab PKI).
 */
export function resolveCertPath(ref: string, suiteDir: string, root: string = repoRoot): string {
  if (isAbsolute(ref)) return ref;
  const local = resolve(suiteDir, ref);
  if (existsSync(local)) return local;
  const fromRoot = resolve(root, ref);
  return existsSync(fromRoot) ? fromRoot : local;
}

/** Read, validate and resolve one suite. Errors carry file:line:column. */
export async function loadSuiteFile(
  path: string,
  o: { cache?: PolicyCache; /** How messages name the suite (default: path relative to the cwd). */ display?: string } = {},
): Promise<Loaded<LoadedSuite>> {
  const cache = o.cache ?? new Map();
  const file = resolve(path);
  const text = await readText(file, 'suite/unreadable', 'suite', { file: o.display ?? shortPath(file) });
  if (!text.ok) return text;
  const parsed = parseSuite(text.value, o.display ?? shortPath(file));
  if (!parsed.ok) return parsed;
  const spec = parsed.value;
  const dir = dirname(file);
  const policyPath = resolve(dir, spec.policy);
  const errors: PeekwallError[] = [];

  // Every policy the suite names (its own, and cases' own), compiled once with the suite's
  // settings applied; a policy that does not load is reported once, at its first mention.
  const policies = new Map<string, Policy | null>();
  const policyFor = async (ref: string, at: Located): Promise<Policy | null> => {
    const abs = resolve(dir, ref);
    if (policies.has(abs)) return policies.get(abs) ?? null;
    let out: Policy | null = null;
    const base = await loadPolicyVariant(abs, null, cache);
    if (!base.ok) {
      errors.push(peekwallError('suite/bad-policy', `policy ${ref} does not load (errors follow)`, at), ...base.error);
    } else if (spec.settings) {
      const v = await loadPolicyVariant(abs, spec.settings, cache);
      if (v.ok) out = v.value;
      else errors.push(peekwallError('suite/bad-settings', `the suite's settings make policy ${ref} invalid (errors follow)`, spec.settingsAt ?? at), ...v.error);
    } else {
      out = base.value;
    }
    policies.set(abs, out);
    return out;
  };
  const policy = await policyFor(spec.policy, spec.policyAt);

  const certs = new Map<string, Promise<Result<CertificateFacts> | { ok: false; error: PeekwallError }>>();
  const cases: ResolvedCase[] = [];
  const badCerts = new Set<string>();
  for (const c0 of spec.cases) {
    const compiled = c0.policy === undefined ? policy : await policyFor(c0.policy, c0.at);
    if (!compiled) continue;
    const c = { ...c0, compiled, policyPath: resolve(dir, c0.policy ?? spec.policy) };
    const cert = c.flow.cert;
    if (!cert) {
      cases.push({ ...c, certificate: null, certPath: null });
      continue;
    }
    const certAt = c.at;
    if (cert.kind === 'inline') {
      const f = certificateFacts(cert.pem);
      if (f.ok) cases.push({ ...c, certificate: f.value, certPath: null });
      else errors.push(peekwallError('suite/bad-cert', `case '${c.name}': inline certificate: ${f.error.message}`, certAt));
      continue;
    }
    const certPath = resolveCertPath(cert.ref, dir);
    let p = certs.get(certPath);
    if (!p) {
      p = (async () => {
        const t = await readText(certPath, 'suite/cert-unreadable', 'certificate file', certAt);
        if (!t.ok) return { ok: false as const, error: t.error[0] };
        return certificateFacts(t.value);
      })();
      certs.set(certPath, p);
    }
    const f = await p;
    if (f.ok) {
      cases.push({ ...c, certificate: f.value, certPath });
    } else if (!badCerts.has(certPath)) {
      // Once per file, at its first use: a missing certificate is one problem, not N.
      badCerts.add(certPath);
      const lookedIn = isAbsolute(cert.ref) ? '' : ` (looked beside the suite and in ${repoRoot})`;
      errors.push({ ...f.error, code: f.error.code.startsWith('suite/') ? f.error.code : 'suite/bad-cert', message: `case '${c.name}': certificate ${cert.ref}${lookedIn}: ${f.error.message}`, ...certAt });
    }
  }
  if (errors.length > 0 || !policy) return { ok: false, error: errors };
  return { ok: true, value: { spec, policy, policyPath, cases } };
}

/** Paths in messages: relative to the working directory when inside it (shorter, stable in CI). */
export function shortPath(abs: string, cwd: string = process.cwd()): string {
  const r = relative(cwd, abs);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : abs;
}
