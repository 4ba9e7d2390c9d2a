// The lab's notion of time. Licensing is all about calendars (30-day renewals, 90-day
// expiry, 90-day evaluation, certificate validity), and a lab must show a year pass in a
// second. So nothing in src/lab/ reads Date.now() directly: the cloud and every device take
// a clock, and tests move it. No global state: each lab run builds its own clocks.

export const DAY_MS = 86_400_000;

export interface Clock {
  now(): Date;
}

/**
 * A movable clock shared by the simulated cloud and, by default, the devices. Stopped by
 * default (scenarios and tests are deterministic); `running: true` ticks with the host clock
 * from `start` on (serve, where people send requests over minutes).
 */
export class LabClock implements Clock {
  #ms: number;
  readonly #running: boolean;
  constructor(start: Date = new Date(), o: { running?: boolean } = {}) {
    this.#running = o.running ?? false;
    // Running: #ms is the offset from the host clock; stopped: the time itself.
    this.#ms = this.#running ? start.getTime() - Date.now() : start.getTime();
  }
  now(): Date {
    return new Date(this.#running ? Date.now() + this.#ms : this.#ms);
  }
  set(to: Date): void {
    this.#ms = this.#running ? to.getTime() - Date.now() : to.getTime();
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
  advanceDays(days: number): void {
    this.#ms += days * DAY_MS;
  }
}

/**
 * A device's own clock: the lab clock plus a skew (seed 003, case 3: a device whose time is
 * wrong fails certificate checks with curl err code 60). Positive skew = the device runs fast.
 */
export class DeviceClock implements Clock {
  readonly #base: Clock;
  #skewMs: number;
  constructor(base: Clock, skewMs = 0) {
    this.#base = base;
    this.#skewMs = skewMs;
  }
  get skewMs(): number {
    return this.#skewMs;
  }
  setSkew(ms: number): void {
    this.#skewMs = ms;
  }
  now(): Date {
    return new Date(this.#base.now().getTime() + this.#skewMs);
  }
}
