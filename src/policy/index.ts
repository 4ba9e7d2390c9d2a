// Public face of the policy engine (pure: the only file access is loadPolicyFile, which
// reads the policy, its feeds and its URL database).
export type * from './types.js';
export { parsePolicy, loadPolicyFile, overrideTsid, RULE_ACTIONS, DEFAULT_ACTIONS } from './load.js';
export { evaluate, tsidFor, traceLines } from './evaluate.js';
export { lintPolicy } from './lint.js';
export { policyTransferList, revivePolicy } from './snapshot.js';
export { DEFAULT_SETTINGS } from './defaults.js';
export { parseDomainEntry, REPUTATION_LABELS } from './domains.js';
export { parseNetwork, parseAddress } from './ip.js';
