// The options that say what an FMC bundle cannot (the SI lists' entries, the URL database,
// what to do with conditions a flow cannot show, which access policy), shared by every command
// that reads a policy, so a bundle reads the same under import, trace and lint. A YAML policy
// says all of it itself and ignores them.
import { resolve } from 'node:path';
import { UNSUPPORTED_MODES, type FmcOptions, type UnsupportedMode } from '../sources/index.js';
import { UsageError } from './command.js';

export const FMC_OPTION_SPECS = {
  feeds: { type: 'string' },
  urldb: { type: 'string' },
  unsupported: { type: 'string' },
  'access-policy': { type: 'string' },
} as const;

export const FMC_OPTIONS_USAGE = `FMC bundle options (a YAML policy says these itself; each wins over the bundle's x-peekwall):
  --feeds DIR       Security Intelligence list entries, one <list name>.txt per list
                    (FMC keeps them as uploaded files the REST API does not return)
  --urldb FILE      URL categories and reputations (domain,reputation,category|category)
  --unsupported M   rules with conditions a flow cannot show (zones, users, SGTs, VLAN tags,
                    time ranges, geolocation, application filters, ...): never-match
                    (default) or ignore-condition
  --access-policy NAME  the access policy to read when the bundle holds several`;

/** The FMC options from parsed arguments; paths are made absolute against the working directory. */
export function fmcOptions(v: { feeds?: string; urldb?: string; unsupported?: string; 'access-policy'?: string }, cwd: string): FmcOptions {
  if (v.unsupported !== undefined && !(UNSUPPORTED_MODES as readonly string[]).includes(v.unsupported)) {
    throw new UsageError(`--unsupported must be ${UNSUPPORTED_MODES.join(' or ')}, not '${v.unsupported}'`);
  }
  return {
    ...(v.feeds !== undefined ? { feeds: resolve(cwd, v.feeds) } : {}),
    ...(v.urldb !== undefined ? { urlDatabase: resolve(cwd, v.urldb) } : {}),
    ...(v.unsupported !== undefined ? { unsupported: v.unsupported as UnsupportedMode } : {}),
    ...(v['access-policy'] !== undefined ? { accessPolicy: v['access-policy'] } : {}),
  };
}
