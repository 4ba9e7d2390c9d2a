// Lab addresses: every socket binds on a loopback alias that keeps the seed's numbers
// readable (Linux routes all of 127.0.0.0/8 to lo, so no root and no interface setup), and
// events show the seed addresses through this map, marked as mapped.

/** Seed (field) address -> lab loopback alias. */
const SEED_ADDRESSES: Readonly<Record<string, string>> = {
  '72.163.4.38': '127.163.4.38', // tools.cisco.com (server 1)
  '173.37.145.8': '127.37.145.8', // tools.cisco.com (server 2)
  '10.12.1.8': '127.12.1.8', // FMC
  '10.10.42.2': '127.10.42.2', // ASA / router
  '10.10.81.2': '127.10.81.2', // ASA / router
  '192.0.2.10': '127.0.2.10', // explicit proxy (seed 003 shows PROXY_SRV:192.0.xx.xx)
};

/** Where the simulated licensing cloud itself listens (behind the proxy). */
export const LAB_CLOUD_HOST = '127.100.0.1';
/** The seed's licensing servers, in the order DNS returns them. */
export const SEED_SERVERS: readonly string[] = ['72.163.4.38', '173.37.145.8'];

/** The proxy's view (apis.md): real loopback -> seed address; identity for unmapped ones. */
export interface AddressMap {
  toSeed(ip: string): string;
}

export interface LabAddressMap extends AddressMap {
  /** Seed -> lab alias; identity for unmapped ones. */
  toLab(ip: string): string;
  isMapped(ip: string): boolean;
  readonly pairs: readonly { seed: string; lab: string }[];
}

export function createAddressMap(seedToLab: Readonly<Record<string, string>> = SEED_ADDRESSES): LabAddressMap {
  const toLab = new Map<string, string>();
  const toSeed = new Map<string, string>();
  for (const [seed, lab] of Object.entries(seedToLab)) {
    toLab.set(seed, lab);
    toSeed.set(lab, seed);
  }
  const strip = (ip: string): string => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);
  return {
    toSeed: (ip) => toSeed.get(strip(ip)) ?? ip,
    toLab: (ip) => toLab.get(ip) ?? ip,
    isMapped: (ip) => toSeed.has(strip(ip)),
    pairs: [...toLab].map(([seed, lab]) => ({ seed, lab })),
  };
}
