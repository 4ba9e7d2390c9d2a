// Trust stores from disk: a PEM bundle file, or a directory like openssl's CApath. The files
// are read here; identity/ turns their texts into a trust store.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { trustStoreFromPem, trustStoreFromPemFiles, type TrustStore } from '../identity/index.js';
import { err, ok, peekwallError, type Result } from '../util/errors.js';
import { readBoundedFileSync } from '../util/files.js';

const CERT_EXT = ['.pem', '.crt', '.cer'];
/** One trust-store file: 2,000 PEM certificates are ~4 MiB. */
const MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Load a trust store from a PEM bundle file, or from a directory like openssl's CApath: every
 * certificate in every *.pem/*.crt/*.cer file is trusted (files holding only keys are skipped).
 * For the lab, trust `certs/lab-ca.crt.pem` rather than the whole certs/ directory, which also
 * holds the untrusted CA and self-signed certificates on purpose.
 */
export async function loadTrustStore(pathOrDir: string, limits: { maxCertificates?: number } = {}): Promise<Result<TrustStore>> {
  const bad = (m: string) => err(peekwallError('identity/bad-trust-store', m));
  let st;
  try {
    st = await stat(pathOrDir);
  } catch (e) {
    return bad(`cannot read trust store ${pathOrDir}: ${(e as Error).message}`);
  }
  // Every file is read bounded and regular-only: a FIFO or /dev/zero named as a trust store
  // must be refused, not hang or grow the process (docs/RELIABILITY.md §2).
  const readPem = (file: string): Result<string> => {
    const r = readBoundedFileSync(file, MAX_TRUST_FILE_BYTES);
    return r.ok ? ok(r.text) : bad(`cannot read trust store file ${file}: ${r.failure.message}`);
  };
  if (!st.isDirectory()) {
    const text = readPem(pathOrDir);
    return text.ok ? trustStoreFromPem(text.value, pathOrDir) : text;
  }
  let files: string[];
  try {
    files = (await readdir(pathOrDir)).filter((f) => CERT_EXT.some((e) => f.endsWith(e))).sort();
  } catch (e) {
    return bad(`cannot read trust store ${pathOrDir}: ${(e as Error).message}`);
  }
  return trustStoreFromPemFiles(pathOrDir, files.map((f) => join(pathOrDir, f)), readPem, limits.maxCertificates);
}
