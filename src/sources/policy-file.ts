// The one entry point for "read the policy at this path": a peekwall YAML policy, or an FMC
// bundle (a JSON file keyed by FMC resource names, or a folder of `<resource>.json` files),
// told apart by content, not by name. Every command and the reload thread read policies here,
// so a bundle works wherever a policy does.
import type { Policy } from '../policy/index.js';
import type { PeekwallError, Result } from '../util/errors.js';
import { loadFmcBundle, mayBeFmcBundle, readBundle } from './fmc/load.js';
import type { FmcOptions } from './fmc/map.js';
import { loadYamlPolicyFile } from './yaml-file.js';

/**
 * What an FMC bundle does not say (TSID, SI list entries, URL database, ...); a YAML policy
 * says it all itself. `settings` (a regression suite's) apply to both.
 */
export type PolicySourceOptions = FmcOptions;

/** Read and compile the policy at `path`, a YAML file or an FMC bundle. */
export async function loadPolicyFile(path: string, o: PolicySourceOptions = {}): Promise<Result<Policy, PeekwallError[]>> {
  const maybe = mayBeFmcBundle(path);
  if (maybe === 'folder' || maybe === 'file') return loadFmcBundle(path, o);
  if (maybe === 'json') {
    // JSON that is no bundle (a policy written as a YAML flow map, or JSON keyed by the
    // policy format's own keys) is a YAML policy: YAML reads JSON.
    const r = readBundle(path);
    if (r.ok || !r.error.every((e) => e.code === 'fmc/not-a-bundle' || e.code === 'fmc/not-json')) return loadFmcBundle(path, o, r);
  }
  return loadYamlPolicyFile(path, o.settings);
}
