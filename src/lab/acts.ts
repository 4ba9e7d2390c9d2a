// The lab's act harness: an act loads a policy into a fresh proxy in the lab world, lets the
// devices run their command (`license smart renew auth` unless the act says otherwise),
// collects the events peekwall logged meanwhile, and checks them and the devices' results
// against what the field case predicts. The scenarios (scenarios.ts) are written in these
// terms; the checks several scenarios share live here too.
import type { ConnectionEvent } from '../events/index.js';
import type { TsidProfile } from '../identity/index.js';
import { overrideTsid, type Policy } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';
import { peekwallError, PeekwallFailure } from '../util/errors.js';
import { fromRoot } from '../util/paths.js';
import type { DeviceCommandResult, LicensingDevice } from './client.js';
import { LAB_DEVICES, LabWorld, type WorldOptions } from './world.js';

export interface LabClientResult {
  readonly device: string;
  readonly command: string;
  readonly ok: boolean;
  readonly output: string;
}

export interface LabCheck {
  readonly what: string;
  readonly ok: boolean;
}

export interface LabAct {
  readonly title: string;
  readonly policy: string;
  readonly tsid: { readonly enabled: boolean; readonly profile: string };
  readonly events: ConnectionEvent[];
  readonly clients: LabClientResult[];
  /** What the field case predicts for this act. */
  readonly expected: string;
  readonly checks: LabCheck[];
  readonly ok: boolean;
  /** Extra text for people (e.g. a device's `show license`). */
  readonly notes: string[];
  /** The act's capture (--capture), written. */
  readonly capture?: string;
}

export interface LabRun {
  readonly scenario: string;
  readonly title: string;
  readonly seed: string;
  readonly acts: LabAct[];
  readonly explanation: string;
  readonly ok: boolean;
}

export interface Scenario {
  readonly name: string;
  readonly seed: string;
  readonly summary: string;
  run(o: ScenarioOptions): Promise<LabRun>;
}

export interface ScenarioOptions {
  /** Device call deadline in ms (curl timeout); the lab keeps it short. */
  readonly timeoutMs?: number;
  /** Folder holding certs/ and policies/lab/tokens.txt (default: the package root). */
  readonly root?: string;
  /** Record each act as pcapng (world.ts actCapturePath names the files). */
  readonly capture?: string;
}

export async function loadLabPolicy(rel: string, tsid?: boolean, profile?: TsidProfile): Promise<Policy> {
  const r = await loadPolicyFile(fromRoot(rel));
  if (!r.ok) throw new PeekwallFailure(r.error);
  if (tsid === undefined && profile === undefined) return r.value;
  return overrideTsid(r.value, { ...(tsid !== undefined ? { enabled: tsid } : {}), ...(profile ? { profile } : {}) });
}

export const isBlock = (e: ConnectionEvent): boolean => /Block/.test(e.action);

/** Every event satisfies `pred`, and there is at least one per device. */
export function everyEvent(events: readonly ConnectionEvent[], what: string, pred: (e: ConnectionEvent) => boolean, min = LAB_DEVICES.length): LabCheck {
  return { what, ok: events.length >= min && events.every(pred) };
}

function clientResult(r: DeviceCommandResult): LabClientResult {
  return { device: r.device, command: r.command, ok: r.ok, output: r.output };
}

/** One act as a scenario writes it; runAct plays it. */
export interface ActSpec {
  readonly title: string;
  readonly policy: string;
  readonly tsid?: boolean;
  readonly profile?: TsidProfile;
  readonly expected: string;
  /** Default: every device runs `license smart renew auth`, one after another. */
  readonly run?: (devices: LicensingDevice[]) => Promise<DeviceCommandResult[]>;
  readonly expectEvents?: number;
  readonly checks: (events: ConnectionEvent[], clients: DeviceCommandResult[]) => LabCheck[];
  readonly notes?: (w: LabWorld) => string[];
}

export async function renewAll(devices: LicensingDevice[]): Promise<DeviceCommandResult[]> {
  const out: DeviceCommandResult[] = [];
  // One after another: the events table then reads in the devices' order, like the seed.
  for (const d of devices) out.push(await d.renewAuth());
  return out;
}

export async function runAct(w: LabWorld, a: ActSpec): Promise<LabAct> {
  const policy = await loadLabPolicy(a.policy, a.tsid, a.profile);
  await w.startProxy(policy);
  const { value: clients, events } = await w.collect(() => (a.run ?? renewAll)(w.devices), a.expectEvents ?? w.devices.length);
  const checks = a.checks(events, clients);
  const capture = w.flushCapture();
  return {
    title: a.title,
    policy: a.policy,
    tsid: { enabled: policy.settings.tsid.enabled, profile: policy.settings.tsid.profile },
    events,
    clients: clients.map(clientResult),
    expected: a.expected,
    checks,
    ok: checks.every((c) => c.ok),
    notes: a.notes?.(w) ?? [],
    ...(capture !== null ? { capture } : {}),
  };
}

/** The world options every scenario passes on from its caller. */
export function worldOptions(o: ScenarioOptions): Partial<WorldOptions> {
  return { ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.root ? { root: o.root } : {}), ...(o.capture ? { capture: o.capture } : {}) };
}

export async function withWorld<T>(o: WorldOptions, fn: (w: LabWorld) => Promise<T>): Promise<T> {
  const w = new LabWorld(o);
  try {
    await w.startCloud();
    return await fn(w);
  } finally {
    await w.close();
  }
}

/**
 * Register every device straight with the cloud (not through peekwall) before the story:
 * `license smart renew auth` is for registered devices. Done "now" on the lab clock, so the
 * devices' dates line up with the events' (freshly made lab certificates start today).
 */
async function registered(w: LabWorld): Promise<void> {
  const r = await w.registerAllDirect();
  const bad = r.find((x) => !x.ok);
  if (bad) {
    throw new PeekwallFailure(peekwallError('lab/setup', `${bad.device} could not register directly with the lab cloud: ${bad.detail}`));
  }
}

/** A lab world whose devices are registered (every scenario but one starts there). */
export function withRegisteredWorld<T>(o: WorldOptions, fn: (w: LabWorld) => Promise<T>): Promise<T> {
  return withWorld(o, async (w) => {
    await registered(w);
    return fn(w);
  });
}

/** A scenario's report: it passes when every act showed what it should. */
export function labRun(name: string, title: string, seed: string, acts: LabAct[], explanation: string): LabRun {
  return { scenario: name, title, seed, acts, explanation, ok: acts.every((a) => a.ok) };
}

// --- checks several scenarios share ------------------------------------------------------

/** The device's call failed on the way (a curl error), not by the cloud's answer. */
export const transportFailure = (c: DeviceCommandResult): boolean => !c.ok && c.curl !== null;

/** The firewall allowed everything and the device refused the certificate itself (curl 60). */
export const certFailure = (reason: RegExp) => (ev: ConnectionEvent[], cl: DeviceCommandResult[]): LabCheck[] => [
  everyEvent(ev, 'the firewall allowed every licensing flow (the failure is the device\'s own check)', (e) => !isBlock(e)),
  { what: 'every device fails with err code 60', ok: cl.length > 0 && cl.every((c) => c.curl === 60) },
  { what: `the device's reason matches /${reason.source}/`, ok: cl.length > 0 && cl.every((c) => reason.test(c.detail)) },
];

/** The field case's outcome: the firewall blocks the licensing flows and renew auth fails. */
export const blockedRenewals = (ev: ConnectionEvent[], cl: DeviceCommandResult[]): LabCheck[] => [
  everyEvent(ev, 'every licensing flow is blocked', isBlock),
  { what: 'every device fails renew auth with a transport error (CH-LIB-ERROR)', ok: cl.length > 0 && cl.every(transportFailure) },
];

/** A remedy's outcome: nothing blocked and every device renews. */
export const okRenewals = (ev: ConnectionEvent[], cl: DeviceCommandResult[]): LabCheck[] => [
  everyEvent(ev, 'no licensing flow is blocked', (e) => !isBlock(e)),
  { what: 'every device renews its authorization', ok: cl.length > 0 && cl.every((c) => c.ok) },
];
