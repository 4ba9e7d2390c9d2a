// Public face of policy regression testing (`peekwall test`).
export type * from './types.js';
export { parseSuite } from './suite.js';
export { loadSuiteFile, loadPolicyVariant, type LoadedSuite, type PolicyCache } from './load.js';
export { evaluateCase } from './run.js';
export { runSuites, type LiveCaseRunner } from './runner.js';
export { comparePolicies, flowFromEvent, type ComparedFlow } from './compare.js';
export { suiteFromEvents } from './generate.js';
export { render, renderText, renderJunit, renderJunitInvalid, renderCompareText, REPORTERS, type JunitOptions, type ReporterName } from './report.js';

/** `--live` runs each case through a real proxy with the lab PKI: loaded only when asked for. */
export async function createLiveRunner(o: import('./live.js').LiveOptions = {}): Promise<import('./live.js').LiveRunner> {
  return (await import('./live.js')).createLiveRunner(o);
}
