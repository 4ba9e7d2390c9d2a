// Public face of the Smart Licensing lab: the scenarios `peekwall lab` runs, their report, and
// `peekwall lab serve` (a cloud and devices to drive by hand). The lab clock and a licensing
// device are exported for tests that drive a served lab from outside.
export { LabClock } from './clock.js';
export { LicensingDevice } from './client.js';
export { SCENARIOS, findScenario } from './scenarios.js';
export { renderLabRun } from './render.js';
export { serveLab, type ServeInfo } from './serve.js';
