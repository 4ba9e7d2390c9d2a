// The device's own certificate check (what libcurl + OpenSSL do on an FMC/ASA before curl
// says err code 60), done here because Node's TLS stack verifies against the host's clock and
// the lab needs the DEVICE's clock (seed 003, case 3: a wrong clock breaks registration).
// The TLS handshake runs with rejectUnauthorized:false; this decides afterwards, before a byte
// of the request is sent, from the chain the server presented.
import { X509Certificate } from 'node:crypto';

export interface DeviceVerifyResult {
  readonly ok: boolean;
  /** OpenSSL's verify-error wording, e.g. 'certificate has expired'; 'ok' when fine. */
  readonly reason: string;
  /** Depth in the presented chain where it failed (0 = leaf); -1 when ok. */
  readonly depth: number;
  readonly subject: string;
}

const MAX_DEPTH = 8;

function timeCheck(c: X509Certificate, now: Date): string | null {
  if (now.getTime() < new Date(c.validFrom).getTime()) return 'certificate is not yet valid';
  if (now.getTime() > new Date(c.validTo).getTime()) return 'certificate has expired';
  return null;
}

function issued(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Self-signed as OpenSSL reports it: issuer name == subject name, and its own key verifies it. */
function selfSigned(c: X509Certificate): boolean {
  try {
    return c.issuer === c.subject && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

/** Parse a PEM bundle into X509 certificates (bad blocks are skipped). */
export function parsePemBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  const re = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
  for (const m of pem.match(re) ?? []) {
    try {
      out.push(new X509Certificate(m));
    } catch {
      // not a certificate: ignore, as OpenSSL's bundle loader does
    }
  }
  return out;
}

/**
 * Verify `chain` (leaf first, as presented) against `trust` at `now`, and `name` against the
 * leaf (SAN dNSName, or CN when there are no DNS SANs, as OpenSSL's X509_check_host). In
 * OpenSSL's order: build the chain to a trust anchor, check the host name, then check the
 * validity dates from the anchor down to the leaf (so an expired CA is reported as such).
 */
export function verifyDeviceChain(chain: readonly X509Certificate[], trust: readonly X509Certificate[], name: string, now: Date): DeviceVerifyResult {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'no peer certificate', depth: 0, subject: '' };
  const fail = (reason: string, depth: number, c: X509Certificate): DeviceVerifyResult => ({ ok: false, reason, depth, subject: c.subject.replace(/\n/g, ', ') });
  // 1. Build: leaf -> presented intermediates -> a trusted certificate.
  const path: X509Certificate[] = [leaf];
  const pool = chain.slice(1);
  let current = leaf;
  for (let depth = 0; ; depth++) {
    if (depth >= MAX_DEPTH) return fail('certificate chain too long', depth, current);
    if (trust.some((a) => a.raw.equals(current.raw))) break; // the trusted certificate itself
    const anchor = trust.find((a) => issued(current, a));
    if (anchor) {
      path.push(anchor);
      break;
    }
    const next = pool.find((c) => c !== current && !path.includes(c) && issued(current, c));
    if (!next) {
      if (selfSigned(current)) {
        return fail(depth === 0 ? 'self signed certificate' : 'self signed certificate in certificate chain', depth, current);
      }
      return fail(depth === 0 ? 'unable to get local issuer certificate' : 'unable to get issuer certificate', depth, current);
    }
    path.push(next);
    current = next;
  }
  // 2. The name the client asked for.
  if (!leaf.checkHost(name)) return fail(`Hostname mismatch: ${name} not in certificate`, 0, leaf);
  // 3. Dates, top down.
  for (let depth = path.length - 1; depth >= 0; depth--) {
    const t = timeCheck(path[depth], now);
    if (t) return fail(t, depth, path[depth]);
  }
  return { ok: true, reason: 'ok', depth: -1, subject: leaf.subject.replace(/\n/g, ', ') };
}
