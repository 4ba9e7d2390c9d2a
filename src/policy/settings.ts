// The policy's `settings:` section. A policy states only what it changes; every value it
// leaves out, or gets wrong, is the default from defaults.ts (a wrong value is also an error,
// so the policy is refused: the default only keeps reading going).
import { TSID_PROFILES, type TsidSetting } from '../identity/index.js';
import { DEFAULT_SETTINGS, SETTING_BOUNDS } from './defaults.js';
import { bool, int, oneOf, readSection, type Reader } from './reader.js';
import type { FailMode, OddHelloAction, PolicySettings, TsidSessionCheck, UrlMatchingMode } from './types.js';
import type { YEntry, YNode } from '../schema/index.js';

const SETTINGS_KEYS = ['tsid', 'urlMatching', 'failMode', 'timeouts', 'maxHelloBytes', 'tsidCache', 'oddHellos'];
const TIMEOUT_KEYS = ['peekMs', 'probeMs', 'connectMs', 'idleMs'] as const;
const TSID_CACHE_KEYS = ['maxEntries', 'ttlMs'] as const;
const ODD_HELLO_KEYS = ['sslv2Compat', 'oddSni'] as const;

export function readSettings(r: Reader, n: YNode | undefined): PolicySettings {
  const d = DEFAULT_SETTINGS;
  const settings = readSection(r, n, SETTINGS_KEYS, 'settings');
  if (!settings) return d;
  const { tsid, sessionCheck } = readTsid(r, settings.get('tsid'));
  const urlMatching = settings.get('urlMatching');
  const failMode = settings.get('failMode');
  const timeouts = readEach(r, settings.get('timeouts')?.value, 'settings.timeouts', d.timeouts, TIMEOUT_KEYS, (v, what) =>
    int(r, v, what, SETTING_BOUNDS.timeoutMs),
  );
  const maxHello = settings.get('maxHelloBytes');
  const tsidCache = readEach(r, settings.get('tsidCache')?.value, 'settings.tsidCache', d.tsidCache, TSID_CACHE_KEYS, (v, what, k) =>
    int(r, v, what, k === 'maxEntries' ? SETTING_BOUNDS.tsidCacheEntries : SETTING_BOUNDS.tsidCacheTtlMs),
  );
  const oddHellos = readEach(r, settings.get('oddHellos')?.value, 'settings.oddHellos', d.oddHellos, ODD_HELLO_KEYS, (v, what) =>
    oneOf<OddHelloAction>(r, v, what, ['allow', 'refuse']),
  );
  return {
    tsid,
    urlMatching: (urlMatching && oneOf<UrlMatchingMode>(r, urlMatching.value, 'settings.urlMatching', ['current', 'legacy-substring'])) || d.urlMatching,
    failMode: (failMode && oneOf<FailMode>(r, failMode.value, 'settings.failMode', ['closed', 'open'])) || d.failMode,
    timeouts,
    maxHelloBytes: (maxHello && int(r, maxHello.value, 'settings.maxHelloBytes', SETTING_BOUNDS.maxHelloBytes)) ?? d.maxHelloBytes,
    tsidCache,
    oddHellos,
    tsidSessionCheck: sessionCheck,
  };
}

function readTsid(r: Reader, e: YEntry | undefined): { tsid: TsidSetting; sessionCheck: TsidSessionCheck } {
  const d = DEFAULT_SETTINGS;
  const section = readSection(r, e?.value, ['enabled', 'profile', 'sessionCheck'], 'settings.tsid');
  if (!section) return { tsid: d.tsid, sessionCheck: d.tsidSessionCheck };
  const enabled = section.get('enabled');
  const profile = section.get('profile');
  const check = section.get('sessionCheck');
  const sessionCheck = (check && oneOf<TsidSessionCheck>(r, check.value, 'settings.tsid.sessionCheck', ['off', 'log', 'redecide'])) || d.tsidSessionCheck;
  const tsid = {
    enabled: (enabled && bool(r, enabled.value, 'settings.tsid.enabled')) ?? d.tsid.enabled,
    profile: (profile && oneOf(r, profile.value, 'settings.tsid.profile', TSID_PROFILES)) || d.tsid.profile,
  };
  return { tsid, sessionCheck };
}

/** A section whose keys are read alike: each key's value, or its default when absent or wrong. */
function readEach<K extends string, V>(
  r: Reader,
  n: YNode | undefined,
  what: string,
  defaults: Readonly<Record<K, V>>,
  keys: readonly K[],
  read: (v: YNode, what: string, key: K) => V | null,
): Readonly<Record<K, V>> {
  const section = readSection(r, n, keys, what);
  if (!section) return defaults;
  const out = {} as Record<K, V>;
  for (const k of keys) {
    const e = section.get(k);
    out[k] = (e && read(e.value, `${what}.${k}`, k)) ?? defaults[k];
  }
  return out;
}
