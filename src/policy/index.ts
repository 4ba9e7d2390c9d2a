// Public face of the policy engine. Pure: it is handed the policy's text and a reader for
// the feeds and URL database it names; sources/ opens the files.
export type * from './types.js';
export { parsePolicy, compilePolicyTree, DEFAULT_ACTIONS, type ParseOptions } from './compile.js';
export { overrideTsid } from './compiled.js';
export { RULE_ACTIONS, isBlockAction } from './rules.js';
export { evaluate, tsidFor, traceLines } from './evaluate.js';
export { lintPolicy } from './lint.js';
export { diffPolicies, diffWithProbe, type DiffChange, type DiffReport, type DiffOptions, type DiffProbe } from './analysis/diff.js';
export { searchPolicy, reputationLevel, ACTION_WORDS, type SearchQuery, type SearchResult } from './analysis/search.js';
export { policyTransferList, revivePolicy } from './snapshot.js';
export { DEFAULT_SETTINGS, MAX_FEED_BYTES } from './defaults.js';
export { parseDomainEntry, REPUTATION_LABELS } from './domains.js';
export { parseNetwork, parseAddress } from './ip.js';
export type { FilePos } from './reader.js';
