// Public face of the Smart Licensing lab: the simulated cloud, the licensing clients, the
// lab clock and the lab's address map. The scenarios (runner.ts) build on these.
export { DAY_MS, LabClock, DeviceClock, type Clock } from './clock.js';
export {
  AUTH_EXPIRES_DAYS,
  EVALUATION_DAYS,
  ID_VALID_DAYS,
  RENEW_AUTH_INTERVAL_DAYS,
  LICENSE_OPS,
  applyLicenseOp,
  licenseStatus,
  newRecord,
  parseTokenFile,
  type AuthorizationState,
  type LabToken,
  type LicenseOp,
  type LicenseRecord,
  type LicenseRequest,
  type LicenseStatus,
  type RegistrationState,
} from './license.js';
export { LAB_CLOUD_HOST, SEED_ADDRESSES, SEED_SERVERS, createAddressMap, type AddressMap, type LabAddressMap } from './addresses.js';
export { CURL_ERRORS, curlCodeFor, curlErrorLine, type CurlCode } from './curl.js';
export { parsePemBundle, verifyDeviceChain, type DeviceVerifyResult } from './verify.js';
export { DDCE_PATH, startCloud, type CloudOptions, type RunningCloud } from './cloud.js';
export {
  LICENSING_HOST,
  LICENSING_URL,
  LicensingDevice,
  fmtDate,
  type CallOutcome,
  type DeviceCommandResult,
  type DeviceOptions,
} from './client.js';
export { LAB_DEVICES, LAB_TOKEN, LabWorld, labPaths, type WorldOptions } from './world.js';
export {
  FMC_RULE,
  REMEDY_POLICIES,
  SCENARIOS,
  SHIPPED_POLICY,
  findScenario,
  loadLabPolicy,
  type LabAct,
  type LabCheck,
  type LabClientResult,
  type LabRun,
  type Scenario,
} from './scenarios.js';
export { renderLabRun } from './render.js';
export { serveLab, type ServeInfo, type ServeOptions } from './serve.js';
