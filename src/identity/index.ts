// Public face of the identity layer: certificate facts, name matching, identity resolution
// (TSID profiles as data) and certificate status. Pure: trust stores are built from texts
// the shell read (sources/).
export type * from './types.js';
export { certificateFacts, certificatesFromPem, pemBlocks } from './facts.js';
export { certificateMatchesName, canonicalIp, dnsNameMatches, ipFamily, type MatchOptions } from './match.js';
export { resolveIdentity, TSID_PROFILES, TSID_PROFILE_SPECS, type IdentityStep, type TsidProfileSpec } from './resolve.js';
export { certificateStatus, trustStoreFromPem, trustStoreFromPemFiles } from './status.js';
export { ipv6GroupsText } from './ip-text.js';
