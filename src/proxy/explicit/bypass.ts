// Interactive Block bypasses: a warning page hands out a one-time "continue" token for
// (client, host); redeeming it lets that client reach that host for a while, with Reason
// 'User Bypass' (FMC's wording). Both maps are bounded and drop expired entries: otherwise a
// long-running proxy (or one client walking through many host names) would grow them for ever.
import { randomBytes } from 'node:crypto';

export const CONTINUE_PATH = '/__peekwall/continue';
/** How long a user's "continue" lasts (FMC's interactive-block bypass timeout default). */
export const BYPASS_MS = 600_000;
const MAX_PENDING = 10_000;

export class Bypasses {
  // key `${clientIp}|${host}` -> expiry
  private readonly granted = new Map<string, number>();
  // token -> { key, url, expires }
  private readonly pending = new Map<string, { key: string; url: string; expires: number }>();

  constructor(private readonly maxGranted = MAX_PENDING) {}

  allowed(key: string, now = Date.now()): boolean {
    const until = this.granted.get(key);
    return until !== undefined && until > now;
  }

  /** A continue link for the warning page of `original` (the URL the user asked for). */
  issue(key: string, original: string): string {
    if (this.pending.size >= MAX_PENDING) {
      const now = Date.now();
      for (const [t, p] of this.pending) if (p.expires < now) this.pending.delete(t);
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    }
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, { key, url: original, expires: Date.now() + BYPASS_MS });
    const u = new URL(original);
    return `${u.protocol}//${u.host}${CONTINUE_PATH}?token=${token}`;
  }

  /** Redeem a token for this (client, host): the URL to go on to, or null (expired, another client's). */
  redeem(token: string, key: string): string | null {
    const p = this.pending.get(token);
    if (p === undefined || p.key !== key || p.expires < Date.now()) return null;
    this.pending.delete(token);
    this.grant(key, Date.now() + BYPASS_MS);
    return p.url;
  }

  /** At the bound, expired grants go first, then the least recently granted. */
  private grant(key: string, until: number): void {
    const max = Math.max(1, this.maxGranted);
    this.granted.delete(key);
    if (this.granted.size >= max) {
      const now = Date.now();
      for (const [k, t] of this.granted) if (t <= now) this.granted.delete(k);
      while (this.granted.size >= max) this.granted.delete(this.granted.keys().next().value as string);
    }
    this.granted.set(key, until);
  }
}
