// Array.prototype.every is true for an empty array, so `t.ok(xs.every(p))` passes when the
// list it guards came back empty (no events, no clients): exactly when something broke.
// everyOk fails on an empty list and says how many elements it checked.
import type { Test } from 'tap';

export function everyOk<T>(t: Test, xs: readonly T[], pred: (x: T) => boolean, what: string): void {
  t.ok(xs.length > 0 && xs.every(pred), `${what} [${xs.length} checked]`);
}
