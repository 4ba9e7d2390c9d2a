// Certificate status as a decryption-policy condition and an operator log line: build the
// path from the leaf to a trusted root by key identifiers (AKI -> SKI, never by names), verify
// every signature, then validity dates against an injected clock, then the name. Pure:
// trust stores are built from texts the shell read (sources/trust.ts).
import { err, ok, peekwallError, type Result } from '../util/errors.js';
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { certificatesFromPem, nodeCert, pemBlocks, signedBy, certificateFacts, MAX_BUNDLE_CERTIFICATES } from './facts.js';
import { signedParts } from './der.js';
import { certificateMatchesName } from './match.js';
import type { CertificateFacts, CertificateStatus, CertificateStatusResult, TrustStore } from './types.js';

/** Longest path walked: real chains are 2-4 deep; this bounds hostile loops. */
const MAX_DEPTH = 8;

function trustStoreOf(certs: readonly CertificateFacts[], source: string): TrustStore {
  const bySki = new Map<string, CertificateFacts[]>();
  const fingerprints = new Set<string>();
  for (const c of certs) {
    fingerprints.add(c.sha256);
    if (c.ski) {
      const l = bySki.get(c.ski);
      if (l) l.push(c);
      else bySki.set(c.ski, [c]);
    }
  }
  return { certificates: certs, bySki, fingerprints, source, keyCache: new Map() };
}

/** A trust store from a PEM bundle (one or more CERTIFICATE blocks; other blocks ignored). */
export function trustStoreFromPem(text: string, source = 'PEM bundle'): Result<TrustStore> {
  const r = certificatesFromPem(text);
  if (!r.ok) return err(peekwallError('identity/bad-trust-store', `${source}: ${r.error.message}`));
  return ok(trustStoreOf(r.value, source));
}

/**
 * A trust store from several PEM files (a directory like openssl's CApath), read in order
 * through `read`: every certificate in every file is trusted, files holding only keys add
 * nothing. `source` names the whole (the directory). More than `maxCertificates` in all is
 * refused, so a hostile directory cannot grow the process.
 */
export function trustStoreFromPemFiles(
  source: string,
  files: readonly string[],
  read: (file: string) => Result<string>,
  maxCertificates: number = MAX_BUNDLE_CERTIFICATES,
): Result<TrustStore> {
  const bad = (m: string) => err(peekwallError('identity/bad-trust-store', m));
  const certs: CertificateFacts[] = [];
  for (const file of files) {
    const text = read(file);
    if (!text.ok) return text;
    for (const der of pemBlocks(text.value, 'CERTIFICATE', maxCertificates + 1 - certs.length)) {
      if (certs.length === maxCertificates) return bad(`${source}: more than ${maxCertificates} certificates in the directory`);
      const c = certificateFacts(der);
      if (!c.ok) return bad(`${file}: ${c.error.message}`);
      certs.push(c.value);
    }
  }
  if (certs.length === 0) return bad(`${source}: no certificate in any *.pem/*.crt/*.cer file`);
  return ok(trustStoreOf(certs, source));
}

// Signature algorithms checked directly (hash name for crypto.verify; null = the key decides);
// anything else (RSA-PSS, DSA, ...) goes through Node's X509Certificate.verify.
const DIRECT: Readonly<Record<string, { hash: string | null; ecdsa: boolean }>> = {
  '1.2.840.113549.1.1.5': { hash: 'sha1', ecdsa: false },
  '1.2.840.113549.1.1.11': { hash: 'sha256', ecdsa: false },
  '1.2.840.113549.1.1.12': { hash: 'sha384', ecdsa: false },
  '1.2.840.113549.1.1.13': { hash: 'sha512', ecdsa: false },
  '1.2.840.10045.4.3.2': { hash: 'sha256', ecdsa: true },
  '1.2.840.10045.4.3.3': { hash: 'sha384', ecdsa: true },
  '1.2.840.10045.4.3.4': { hash: 'sha512', ecdsa: true },
  '1.3.101.112': { hash: null, ecdsa: false },
};

/** Does `issuer`'s key verify `child`'s signature? Direct crypto.verify over the TBS bytes
 * (cheap), with Node's X509 parser as the fallback for unusual algorithms. */
function issuedBy(child: CertificateFacts, issuer: CertificateFacts, keys?: Map<string, KeyObject | null>): boolean {
  try {
    const c = signedParts(child.der);
    const how = DIRECT[c.sigOid];
    if (how) {
      let key = keys?.get(issuer.sha256);
      if (key === undefined) {
        try {
          key = createPublicKey({ key: Buffer.from(signedParts(issuer.der).spki), format: 'der', type: 'spki' });
        } catch {
          key = null;
        }
        keys?.set(issuer.sha256, key);
      }
      if (key === null) return false;
      return cryptoVerify(how.hash, c.tbs, how.ecdsa ? { key, dsaEncoding: 'der' } : key, c.signature);
    }
  } catch {
    return false;
  }
  const a = nodeCert(child.der);
  const b = nodeCert(issuer.der);
  return a !== null && b !== null && signedBy(a, b);
}

// OpenSSL's verify error texts, as Expressway and curl print them (seed 004).
const OPENSSL_TEXT: Readonly<Record<Exclude<CertificateStatus, 'valid' | 'server-mismatch'>, string>> = {
  'self-signed': 'self signed certificate',
  'invalid-issuer': 'unable to get local issuer certificate',
  'invalid-signature': 'certificate signature failure',
  expired: 'certificate has expired',
  'not-yet-valid': 'certificate is not yet valid',
};

interface Verdict {
  status: CertificateStatus;
  depth: number;
  detail: string;
  error?: string;
}

function label(c: CertificateFacts): string {
  return c.subjectDn || `serial ${c.serial}`;
}

/** Walk leaf -> root. Returns the trust verdict and the path (leaf first). */
function buildPath(chain: readonly CertificateFacts[], trust: TrustStore): { v: Verdict | null; path: CertificateFacts[] } {
  // Keys of trusted certificates persist in the store; others live for this call only.
  const keys = new Map<string, KeyObject | null>();
  const cache = trust.keyCache as Map<string, KeyObject | null>;
  const keyFor = (c: CertificateFacts) => (trust.fingerprints.has(c.sha256) ? cache : keys);
  const path: CertificateFacts[] = [chain[0]];
  const supplied = chain.slice(1);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const cur = path[depth];
    if (trust.fingerprints.has(cur.sha256)) return { v: null, path }; // anchored
    // Candidates by key identifier: trusted roots first, then what the server sent.
    const pool: CertificateFacts[] = [];
    if (cur.aki) {
      for (const c of trust.bySki.get(cur.aki) ?? []) pool.push(c);
      for (const c of supplied) if (c.ski === cur.aki) pool.push(c);
    } else {
      // No AKI: any key that verifies the signature (still not a name match).
      for (const c of trust.certificates) pool.push(c);
      for (const c of supplied) pool.push(c);
    }
    let issuer: CertificateFacts | null = null;
    let badSig: CertificateFacts | null = null;
    for (const c of pool) {
      if (c.sha256 === cur.sha256) continue;
      if (issuedBy(cur, c, keyFor(c))) {
        issuer = c;
        break;
      }
      if (cur.aki) badSig = badSig ?? c;
    }
    if (!issuer) {
      if (cur.selfSigned) {
        return depth === 0
          ? { v: { status: 'self-signed', depth, detail: `the server certificate ${label(cur)} is self-signed and not trusted`, error: OPENSSL_TEXT['self-signed'] }, path }
          : { v: { status: 'invalid-issuer', depth, detail: `the chain ends at ${label(cur)}, a self-signed certificate that is not trusted`, error: 'self signed certificate in certificate chain' }, path };
      }
      if (badSig) {
        return { v: { status: 'invalid-signature', depth, detail: `${label(cur)} names key ${cur.aki} as its issuer but that key does not verify its signature`, error: OPENSSL_TEXT['invalid-signature'] }, path };
      }
      return { v: { status: 'invalid-issuer', depth, detail: `no trusted certificate or supplied intermediate has key ${cur.aki ?? '(no AKI)'} that issued ${label(cur)}`, error: OPENSSL_TEXT['invalid-issuer'] }, path };
    }
    if (!issuer.isCa && !trust.fingerprints.has(issuer.sha256)) {
      return { v: { status: 'invalid-issuer', depth: depth + 1, detail: `${label(issuer)} issued ${label(cur)} but is not a CA (basicConstraints)`, error: 'invalid CA certificate' }, path };
    }
    path.push(issuer);
  }
  return { v: { status: 'invalid-issuer', depth: MAX_DEPTH, detail: `no trusted root within ${MAX_DEPTH} certificates`, error: 'certificate chain too long' }, path };
}

/**
 * Status of a server's chain (leaf first, as sent) against a trust store, at `now` (default:
 * the wall clock; tests inject it). `name` is the name the client used (SNI or host), `ip` the
 * server address for the log line. Order of checks, as OpenSSL's: trust path, signatures,
 * dates, then the name.
 */
export function certificateStatus(o: {
  chain: readonly CertificateFacts[];
  trust: TrustStore;
  name?: string;
  ip?: string;
  now?: Date;
}): CertificateStatusResult {
  const now = o.now ?? new Date();
  const leaf = o.chain[0];
  const server = o.name ?? o.ip ?? leaf?.cn ?? 'unknown';
  const failed = (v: Verdict): CertificateStatusResult => ({
    status: v.status,
    depth: v.depth,
    detail: v.detail,
    logLine: `Core server certificate verification failed for (${server}). Action=Terminate Error=${v.error ?? v.status} server=${server}(${o.ip ?? '-'}) depth=${v.depth}`,
  });
  if (!leaf) return failed({ status: 'invalid-issuer', depth: 0, detail: 'the server sent no certificate', error: 'no certificate presented' });
  const { v, path } = buildPath(o.chain, o.trust);
  if (v) return failed(v);
  const t = now.getTime();
  for (let depth = 0; depth < path.length; depth++) {
    const c = path[depth];
    if (c.notAfter.getTime() < t) {
      return failed({ status: 'expired', depth, detail: `${label(c)} expired on ${c.notAfter.toISOString()}`, error: OPENSSL_TEXT.expired });
    }
    if (c.notBefore.getTime() > t) {
      return failed({ status: 'not-yet-valid', depth, detail: `${label(c)} is valid only from ${c.notBefore.toISOString()}`, error: OPENSSL_TEXT['not-yet-valid'] });
    }
  }
  if (o.name !== undefined && o.name.length > 0 && !certificateMatchesName(leaf, o.name)) {
    return {
      status: 'server-mismatch',
      depth: 0,
      detail: `${o.name} is not among the certificate's names (SAN, or CN when there is no SAN)`,
      logLine: `SNI (${o.name}) not in certificate. Action=Terminate`,
    };
  }
  return { status: 'valid', depth: 0, detail: `chain of ${path.length} builds to trusted ${label(path[path.length - 1])}`, logLine: null };
}
