// Public face of the policy sources: where policies (and the trust stores a run checks
// certificates against) come from. The shell side of policy/ and identity/: these read
// files, the pure folders are handed the texts.
export { loadPolicyFile, type PolicySourceOptions } from './policy-file.js';
export { readFeed } from './yaml-file.js';
export { loadTrustStore } from './trust.js';
export { readFmcPolicy, readBundle, mayBeFmcBundle, MAX_BUNDLE_FILE_BYTES } from './fmc/load.js';
export { UNSUPPORTED_MODES, FMC_ACTIONS, FMC_REPUTATIONS, type UnsupportedMode } from './fmc/rules.js';
export type { FmcOptions, MappedPolicy } from './fmc/map.js';
export { policyYaml } from './fmc/yaml-out.js';
export { exportBundle } from './fmc/export.js';
export { pullBundle, PULL_INPUT_ERRORS, type PullOptions } from './fmc/pull.js';
