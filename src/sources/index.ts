// Public face of the policy sources: where policies (and the trust stores a run checks
// certificates against) come from. The shell side of policy/ and identity/: these read
// files, the pure folders are handed the texts.
export { loadPolicyFile, readFeed } from './yaml-file.js';
export { loadTrustStore } from './trust.js';
