// Public face of policy regression testing (`peekwall test`).
export type * from './types.js';
export { EXPECT_FIELDS } from './types.js';
export { parseSuite, MAX_CASES } from './suite.js';
export {
  loadSuiteFile,
  loadPolicyVariant,
  parsePolicyWithSettings,
  resolveCertPath,
  shortPath,
  type LoadedSuite,
  type PolicyCache,
} from './load.js';
export { evaluateCase, runCase, diffExpect, diffActual, flowOf, tsidOf, identityOf, actualOf, negotiatedVersion, hostOfUrl, type Evaluated } from './run.js';
export { runSuites, runOffline, buildReport, type LiveCaseRunner } from './runner.js';
export { computeCoverage } from './coverage.js';
export { comparePolicies, flowFromEvent, type ComparedFlow, type VerdictChange, type CompareReport } from './compare.js';
export { suiteFromEvents, type GeneratedSuite } from './generate.js';
export {
  render,
  renderText,
  renderTap,
  renderJunit,
  renderJson,
  renderCompareText,
  failureDetail,
  xmlEscape,
  REPORTERS,
  type ReporterName,
} from './report.js';
