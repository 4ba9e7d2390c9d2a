import t from 'tap';
import { DAY_MS, LabClock, DeviceClock } from '../../src/lab/clock.js';
import { applyLicenseOp, licenseStatus, newRecord, parseTokenFile, type LabToken, type LicenseRecord } from '../../src/lab/license.js';

const T0 = new Date('2025-12-01T09:00:00Z');
const tokens = (): Map<string, LabToken> => {
  const r = parseTokenFile(
    '# lab\nGOOD LabAccount never in-compliance\nOOC LabAccount never out-of-compliance\nOLD LabAccount 2020-01-31 in-compliance\n',
  );
  if (!r.ok) throw new Error('tokens');
  return r.value;
};
const must = (r: ReturnType<typeof applyLicenseOp>): LicenseRecord => {
  if (!r.ok) throw new Error(r.error.code);
  return r.value;
};

t.test('a new device is in Evaluation for 90 days, then Unregistered', async (t) => {
  const clock = new LabClock(T0);
  const r = newRecord('fmc', clock.now());
  t.equal(licenseStatus(r, clock.now()).registration, 'Evaluation');
  t.equal(licenseStatus(r, clock.now()).authorization, 'Evaluation');
  clock.advanceDays(89);
  t.equal(licenseStatus(r, clock.now()).registration, 'Evaluation');
  clock.advanceDays(1);
  const s = licenseStatus(r, clock.now());
  t.equal(s.registration, 'Unregistered');
  t.equal(s.authorization, 'N/A');
  t.same(s.evaluationEnds, new Date(T0.getTime() + 90 * DAY_MS));
});

t.test('register with a valid token: Registered + Authorized, renewal due in 30 days', async (t) => {
  const clock = new LabClock(T0);
  const r = must(applyLicenseOp(undefined, { op: 'register', device: 'fmc', token: 'GOOD' }, clock.now(), tokens()));
  const s = licenseStatus(r, clock.now());
  t.equal(s.registration, 'Registered');
  t.equal(s.authorization, 'Authorized');
  t.equal(s.account, 'LabAccount');
  t.same(s.nextAuthRenewal, new Date(T0.getTime() + 30 * DAY_MS));
  t.same(s.authExpires, new Date(T0.getTime() + 90 * DAY_MS));
});

t.test('90 days without contact: Authorization Expired; a renew auth restores Authorized', async (t) => {
  const clock = new LabClock(T0);
  let r = must(applyLicenseOp(undefined, { op: 'register', device: 'fmc', token: 'GOOD' }, clock.now(), tokens()));
  clock.advanceDays(89);
  t.equal(licenseStatus(r, clock.now()).authorization, 'Authorized');
  clock.advanceDays(1);
  t.equal(licenseStatus(r, clock.now()).authorization, 'Authorization Expired');
  t.equal(licenseStatus(r, clock.now()).registration, 'Registered', 'still registered, as seed 003 says');
  r = must(applyLicenseOp(r, { op: 'renew-auth', device: 'fmc' }, clock.now(), tokens()));
  t.equal(licenseStatus(r, clock.now()).authorization, 'Authorized');
  t.same(licenseStatus(r, clock.now()).nextAuthRenewal, new Date(clock.now().getTime() + 30 * DAY_MS));
});

t.test('a token without entitlements: Registered + Out of Compliance', async (t) => {
  const r = must(applyLicenseOp(undefined, { op: 'register', device: 'asa', token: 'OOC' }, T0, tokens()));
  t.equal(licenseStatus(r, T0).authorization, 'Out of Compliance');
});

t.test('invalid and expired tokens fail with stable codes', async (t) => {
  const a = applyLicenseOp(undefined, { op: 'register', device: 'fmc', token: 'NOPE' }, T0, tokens());
  t.equal(a.ok, false);
  t.equal(!a.ok && a.error.code, 'lab/invalid-token');
  const b = applyLicenseOp(undefined, { op: 'register', device: 'fmc' }, T0, tokens());
  t.equal(!b.ok && b.error.code, 'lab/invalid-token');
  const c = applyLicenseOp(undefined, { op: 'register', device: 'fmc', token: 'OLD' }, T0, tokens());
  t.equal(!c.ok && c.error.code, 'lab/token-expired');
});

t.test('renew before register is refused; deregister returns to evaluation or unregistered', async (t) => {
  const a = applyLicenseOp(undefined, { op: 'renew-auth', device: 'x' }, T0, tokens());
  t.equal(!a.ok && a.error.code, 'lab/not-registered');
  const clock = new LabClock(T0);
  let r = must(applyLicenseOp(undefined, { op: 'register', device: 'x', token: 'GOOD' }, clock.now(), tokens()));
  r = must(applyLicenseOp(r, { op: 'deregister', device: 'x' }, clock.now(), tokens()));
  t.equal(licenseStatus(r, clock.now()).registration, 'Evaluation');
  clock.advanceDays(120);
  t.equal(licenseStatus(r, clock.now()).registration, 'Unregistered');
});

t.test('the ID certificate expires after a year without renew id', async (t) => {
  const clock = new LabClock(T0);
  let r = must(applyLicenseOp(undefined, { op: 'register', device: 'x', token: 'GOOD' }, clock.now(), tokens()));
  clock.advanceDays(200);
  r = must(applyLicenseOp(r, { op: 'renew-id', device: 'x' }, clock.now(), tokens()));
  clock.advanceDays(300);
  t.ok(applyLicenseOp(r, { op: 'renew-auth', device: 'x' }, clock.now(), tokens()).ok, 'renew id extended it');
  clock.advanceDays(100);
  const e = applyLicenseOp(r, { op: 'renew-auth', device: 'x' }, clock.now(), tokens());
  t.equal(!e.ok && e.error.code, 'lab/id-expired');
});

t.test('token file errors name the line', async (t) => {
  const r = parseTokenFile('A B never in-compliance\nA B\nA B 2020-13-99x in-compliance\nA B never maybe\n', 'tok.txt');
  t.equal(r.ok, false);
  if (!r.ok) {
    t.same(r.error.map((e) => e.line), [2, 3, 4]);
    t.ok(r.error.every((e) => e.code === 'lab/token-line' && e.file === 'tok.txt'));
  }
});

t.test('device clocks skew off the lab clock and follow it', async (t) => {
  const lab = new LabClock(T0);
  const dev = new DeviceClock(lab, -365 * DAY_MS);
  t.equal(dev.now().getTime(), T0.getTime() - 365 * DAY_MS);
  lab.advanceDays(1);
  t.equal(dev.now().getTime(), T0.getTime() - 364 * DAY_MS);
});

t.test('a running lab clock ticks with the host clock and still moves on demand', async (t) => {
  const c = new LabClock(T0, { running: true });
  const a = c.now().getTime();
  t.ok(a >= T0.getTime() && a < T0.getTime() + 60_000, 'starts at the given time');
  c.advanceDays(1);
  t.ok(c.now().getTime() >= T0.getTime() + DAY_MS);
  const before = c.now().getTime();
  for (let i = 0; i < 1e6 && c.now().getTime() === before; i++); // bounded spin until it ticks
  t.ok(c.now().getTime() > before, 'it ticks');
});
