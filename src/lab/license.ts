// Smart Licensing state, as the simulated cloud (CSSM) keeps it per device and as a device
// mirrors it for `show license`. Pure: every function takes `now`; no I/O, no timers.
// States and periods from seed 003 ("Summary of Registration and Authorization States",
// "FMC Must Maintain Internet Connectivity"): renewal every 30 days, Authorization Expired
// after 90 days without contact, Evaluation for 90 days, then Unregistered.
import { err, ok, peekwallError, type PeekwallError, type Result } from '../util/errors.js';
import { DAY_MS } from './clock.js';

const RENEW_AUTH_INTERVAL_DAYS = 30;
const AUTH_EXPIRES_DAYS = 90;
const EVALUATION_DAYS = 90;
/** ID certificate: valid a year (device-side registration expiry) unless renewed (renew id). */
const ID_VALID_DAYS = 365;

export type LicenseOp = 'register' | 'renew-auth' | 'renew-id' | 'deregister';
export const LICENSE_OPS: readonly LicenseOp[] = ['register', 'renew-auth', 'renew-id', 'deregister'];

export type RegistrationState = 'Unregistered' | 'Registered' | 'Evaluation';
export type AuthorizationState =
  | 'Authorized'
  | 'Authorization Expired'
  | 'Out of Compliance'
  | 'Evaluation'
  | 'N/A';

/** What the cloud remembers about one product instance. Immutable: ops return a new one. */
export interface LicenseRecord {
  readonly device: string;
  /** Start of the evaluation period (first contact / installation). */
  readonly firstSeen: Date;
  readonly registeredAt: Date | null;
  readonly account: string | null;
  /** The account holds the entitlements the device uses (else Out of Compliance). */
  readonly compliant: boolean;
  /** Last successful authorization (register or renew auth). */
  readonly lastAuth: Date | null;
  /** Last ID certificate issue (register or renew id). */
  readonly lastId: Date | null;
}

export interface LicenseStatus {
  readonly registration: RegistrationState;
  readonly authorization: AuthorizationState;
  readonly account: string | null;
  readonly registeredAt: Date | null;
  readonly lastAuth: Date | null;
  /** When the next automatic `renew auth` is due (30 days after the last one). */
  readonly nextAuthRenewal: Date | null;
  /** When authorization expires without contact (90 days after the last one). */
  readonly authExpires: Date | null;
  readonly idExpires: Date | null;
  /** Evaluation only: when the 90 days end. */
  readonly evaluationEnds: Date | null;
}

export interface LabToken {
  readonly token: string;
  readonly account: string;
  readonly expires: Date | null;
  readonly compliant: boolean;
}

const at = (d: Date, days: number): Date => new Date(d.getTime() + days * DAY_MS);

export function newRecord(device: string, firstSeen: Date): LicenseRecord {
  return { device, firstSeen, registeredAt: null, account: null, compliant: false, lastAuth: null, lastId: null };
}

/** The states seed 003's table names, derived from a record and the clock. */
export function licenseStatus(r: LicenseRecord, now: Date): LicenseStatus {
  const base = {
    account: r.account,
    registeredAt: r.registeredAt,
    lastAuth: r.lastAuth,
  };
  if (r.registeredAt === null) {
    const evaluationEnds = at(r.firstSeen, EVALUATION_DAYS);
    const inEval = now.getTime() < evaluationEnds.getTime();
    return {
      ...base,
      registration: inEval ? 'Evaluation' : 'Unregistered',
      authorization: inEval ? 'Evaluation' : 'N/A',
      nextAuthRenewal: null,
      authExpires: null,
      idExpires: null,
      evaluationEnds,
    };
  }
  const lastAuth = r.lastAuth ?? r.registeredAt;
  const authExpires = at(lastAuth, AUTH_EXPIRES_DAYS);
  let authorization: AuthorizationState;
  if (now.getTime() >= authExpires.getTime()) authorization = 'Authorization Expired';
  else authorization = r.compliant ? 'Authorized' : 'Out of Compliance';
  return {
    ...base,
    registration: 'Registered',
    authorization,
    nextAuthRenewal: at(lastAuth, RENEW_AUTH_INTERVAL_DAYS),
    authExpires,
    idExpires: at(r.lastId ?? r.registeredAt, ID_VALID_DAYS),
    evaluationEnds: null,
  };
}

export interface LicenseRequest {
  readonly op: LicenseOp;
  readonly device: string;
  readonly token?: string;
}

/**
 * Apply one request as the cloud does. `tokens` is the lab token table. Errors carry stable
 * codes: lab/invalid-token, lab/token-expired, lab/not-registered, lab/id-expired.
 */
export function applyLicenseOp(
  current: LicenseRecord | undefined,
  req: LicenseRequest,
  now: Date,
  tokens: ReadonlyMap<string, LabToken>,
): Result<LicenseRecord> {
  const r = current ?? newRecord(req.device, now);
  switch (req.op) {
    case 'register': {
      const tok = req.token === undefined ? undefined : tokens.get(req.token.trim());
      if (!tok) {
        return err(peekwallError('lab/invalid-token', 'The token is not valid: no such registration token in the Smart Account.'));
      }
      if (tok.expires && now.getTime() > tok.expires.getTime()) {
        return err(peekwallError('lab/token-expired', `The token expired on ${tok.expires.toISOString().slice(0, 10)}: issue a new token and register again.`));
      }
      return ok({ ...r, registeredAt: now, account: tok.account, compliant: tok.compliant, lastAuth: now, lastId: now });
    }
    case 'renew-auth': {
      if (r.registeredAt === null) return err(notRegistered(req.device));
      const idExp = at(r.lastId ?? r.registeredAt, ID_VALID_DAYS);
      if (now.getTime() >= idExp.getTime()) return err(idExpired(idExp));
      return ok({ ...r, lastAuth: now });
    }
    case 'renew-id': {
      if (r.registeredAt === null) return err(notRegistered(req.device));
      const idExp = at(r.lastId ?? r.registeredAt, ID_VALID_DAYS);
      if (now.getTime() >= idExp.getTime()) return err(idExpired(idExp));
      return ok({ ...r, lastId: now });
    }
    case 'deregister':
      return ok({ ...r, registeredAt: null, account: null, compliant: false, lastAuth: null, lastId: null });
  }
}

function notRegistered(device: string): PeekwallError {
  return peekwallError('lab/not-registered', `Product instance '${device}' is not registered with this Smart Account.`);
}

function idExpired(when: Date): PeekwallError {
  return peekwallError('lab/id-expired', `The ID certificate expired on ${when.toISOString().slice(0, 10)}: register again with a new token.`);
}

/**
 * Parse the lab token file: `TOKEN ACCOUNT EXPIRES(YYYY-MM-DD|never) in-compliance|out-of-compliance`,
 * `#` comments. Returns every problem with its line.
 */
export function parseTokenFile(text: string, file = 'tokens.txt'): Result<Map<string, LabToken>, PeekwallError[]> {
  const out = new Map<string, LabToken>();
  const errors: PeekwallError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/#.*/, '').trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const where = { file, line: i + 1 };
    if (f.length !== 4) {
      errors.push(peekwallError('lab/token-line', `expected 'TOKEN ACCOUNT EXPIRES COMPLIANCE', got ${f.length} fields`, where));
      continue;
    }
    const [token, account, exp, comp] = f;
    let expires: Date | null = null;
    if (exp !== 'never') {
      expires = /^\d{4}-\d{2}-\d{2}$/.test(exp) ? new Date(`${exp}T23:59:59Z`) : new Date(NaN);
      if (Number.isNaN(expires.getTime())) {
        errors.push(peekwallError('lab/token-line', `expiry '${exp}' is not YYYY-MM-DD or 'never'`, where));
        continue;
      }
    }
    if (comp !== 'in-compliance' && comp !== 'out-of-compliance') {
      errors.push(peekwallError('lab/token-line', `compliance '${comp}' is not in-compliance or out-of-compliance`, where));
      continue;
    }
    out.set(token, { token, account, expires, compliant: comp === 'in-compliance' });
  }
  return errors.length ? err(errors) : ok(out);
}
