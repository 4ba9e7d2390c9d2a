// The policy's `settings:` section. A policy states only what it changes; every value it
// leaves out, or gets wrong, is the default from defaults.ts (a wrong value is also an error,
// so the policy is refused: the default only keeps reading going).
import { TSID_PROFILES, type TsidSetting } from '../identity/index.js';
import { DEFAULT_SETTINGS, SETTING_BOUNDS } from './defaults.js';
import { bool, int, oneOf, readSection, type Reader } from './reader.js';
import type {
  FailMode,
  OddHelloAction,
  OddHelloSettings,
  PolicySettings,
  PolicyTimeouts,
  TsidSessionCheck,
  UrlMatchingMode,
} from './types.js';
import type { YEntry, YNode } from './yamltree.js';

const SETTINGS_KEYS = ['tsid', 'urlMatching', 'failMode', 'timeouts', 'maxHelloBytes', 'tsidCache', 'oddHellos'];
const TIMEOUT_KEYS = ['peekMs', 'probeMs', 'connectMs', 'idleMs'] as const;
const ODD_HELLO_KEYS = ['sslv2Compat', 'oddSni'] as const;

export function readSettings(r: Reader, n: YNode | undefined): PolicySettings {
  const d = DEFAULT_SETTINGS;
  const settings = readSection(r, n, SETTINGS_KEYS, 'settings');
  if (!settings) return d;
  const { tsid, sessionCheck } = readTsid(r, settings.get('tsid'));
  const urlMatching = settings.get('urlMatching');
  const failMode = settings.get('failMode');
  const timeouts = readTimeouts(r, settings.get('timeouts'));
  const maxHello = settings.get('maxHelloBytes');
  const tsidCache = readTsidCache(r, settings.get('tsidCache'));
  const oddHellos = readOddHellos(r, settings.get('oddHellos'));
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

function readTimeouts(r: Reader, e: YEntry | undefined): PolicyTimeouts {
  const d = DEFAULT_SETTINGS.timeouts;
  const section = readSection(r, e?.value, TIMEOUT_KEYS, 'settings.timeouts');
  if (!section) return d;
  const ms = (k: (typeof TIMEOUT_KEYS)[number]): number => {
    const v = section.get(k);
    return (v && int(r, v.value, `settings.timeouts.${k}`, SETTING_BOUNDS.timeoutMs)) ?? d[k];
  };
  return { peekMs: ms('peekMs'), probeMs: ms('probeMs'), connectMs: ms('connectMs'), idleMs: ms('idleMs') };
}

function readTsidCache(r: Reader, e: YEntry | undefined): PolicySettings['tsidCache'] {
  const d = DEFAULT_SETTINGS.tsidCache;
  const section = readSection(r, e?.value, ['maxEntries', 'ttlMs'], 'settings.tsidCache');
  if (!section) return d;
  const maxEntries = section.get('maxEntries');
  const ttl = section.get('ttlMs');
  return {
    maxEntries: (maxEntries && int(r, maxEntries.value, 'settings.tsidCache.maxEntries', SETTING_BOUNDS.tsidCacheEntries)) ?? d.maxEntries,
    ttlMs: (ttl && int(r, ttl.value, 'settings.tsidCache.ttlMs', SETTING_BOUNDS.tsidCacheTtlMs)) ?? d.ttlMs,
  };
}

function readOddHellos(r: Reader, e: YEntry | undefined): OddHelloSettings {
  const d = DEFAULT_SETTINGS.oddHellos;
  const section = readSection(r, e?.value, ODD_HELLO_KEYS, 'settings.oddHellos');
  if (!section) return d;
  const action = (k: (typeof ODD_HELLO_KEYS)[number]): OddHelloAction => {
    const v = section.get(k);
    return (v && oneOf<OddHelloAction>(r, v.value, `settings.oddHellos.${k}`, ['allow', 'refuse'])) || d[k];
  };
  return { sslv2Compat: action('sslv2Compat'), oddSni: action('oddSni') };
}
