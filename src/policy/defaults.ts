// Every policy setting's default is written once, as `default` in policies/schemas/policy.schema.json
// (where editors show it too, with the reason for it); the settings here are those values.
// A policy file only states what it changes.
import { defaultsOf, type Schema } from '../schema/index.js';
import { POLICY_SCHEMA } from './schema.js';
import type { DefaultAction, PolicySettings } from './types.js';

/** The `settings:` section as a policy file writes it. */
export interface SettingsSection {
  readonly tsid: { readonly enabled: boolean; readonly profile: PolicySettings['tsid']['profile']; readonly sessionCheck: PolicySettings['tsidSessionCheck'] };
  readonly urlMatching: PolicySettings['urlMatching'];
  readonly failMode: PolicySettings['failMode'];
  readonly timeouts: PolicySettings['timeouts'];
  readonly maxHelloBytes: number;
  readonly tsidCache: PolicySettings['tsidCache'];
  readonly oddHellos: PolicySettings['oddHellos'];
}

const DEFINITIONS = POLICY_SCHEMA.schema().definitions as Record<string, Schema>;
const SECTION_DEFAULTS = defaultsOf(DEFINITIONS.settings) as unknown as SettingsSection;

/** What a policy without `defaultAction:` does with traffic no rule decides. */
export const DEFAULT_ACTION = defaultsOf(POLICY_SCHEMA.schema()).defaultAction as DefaultAction;
/** A rule without `enabled:`. */
export const RULE_ENABLED = defaultsOf(DEFINITIONS.rule).enabled as boolean;

/** The file's section as the engine keeps it (the session check is a TSID setting in the file). */
export function settingsOf(s: SettingsSection): PolicySettings {
  return Object.freeze({
    tsid: Object.freeze({ enabled: s.tsid.enabled, profile: s.tsid.profile }),
    urlMatching: s.urlMatching,
    failMode: s.failMode,
    timeouts: Object.freeze({ ...s.timeouts }),
    maxHelloBytes: s.maxHelloBytes,
    tsidCache: Object.freeze({ ...s.tsidCache }),
    oddHellos: Object.freeze({ ...s.oddHellos }),
    tsidSessionCheck: s.tsid.sessionCheck,
  });
}

export const DEFAULT_SETTINGS: PolicySettings = settingsOf(SECTION_DEFAULTS);

/** The policy's `settings:` (its plain value, any shape) over the defaults, key by key. */
export function readSettings(section: unknown): PolicySettings {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const merge = (d: Record<string, unknown>, v: unknown): Record<string, unknown> => {
    if (!isMap(v)) return d;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(d)) out[k] = isMap(d[k]) ? merge(d[k] as Record<string, unknown>, v[k]) : Object.hasOwn(v, k) && v[k] !== null ? v[k] : d[k];
    return out;
  };
  return settingsOf(merge(SECTION_DEFAULTS as unknown as Record<string, unknown>, section) as unknown as SettingsSection);
}

/** Largest feed / URL database file read (a 1,000,000-domain feed is ~20 MB). */
export const MAX_FEED_BYTES = 256 * 1024 * 1024;
