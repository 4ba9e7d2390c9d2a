// Public face of the lab PKI (certs/): declarative lab.yaml, generation with @peculiar/x509 +
// WebCrypto, expiry check in seed 002's words, renewal with backups and no half-renewed set.
import { join } from 'node:path';
import { fromRoot } from '../util/paths.js';
import { certFileName } from './files.js';

export { parseLabConfig, type CertSpec, type KeySpec, type LabPkiConfig } from './config.js';
export { generateLabPki, encodeName, type GeneratedSet } from './generate.js';
export {
  initLabPki,
  checkLabPki,
  renewLabPki,
  loadLabConfig,
  expiryMessage,
  filesOf,
  LAB_CONFIG_FILE,
  type CheckEntry,
  type CheckReport,
  type CheckStatus,
  type InitResult,
  type RenewFs,
  type RenewResult,
} from './files.js';

/** The shipped lab PKI directory. */
export const LAB_CERTS_DIR = fromRoot('certs');

/** Path of a lab certificate or key: labCertPath('smart-licensing', 'crt') -> <root>/certs/smart-licensing.crt.pem */
export function labCertPath(name: string, kind: 'crt' | 'key', dir: string = LAB_CERTS_DIR): string {
  return join(dir, certFileName(name, kind));
}
