// Public face of the proxy shell: startProxy and its option types. The decision core
// (ConnectionMachine) is exported for replay tests and tools.
export { startProxy } from './proxy.js';
export { loadPolicyInWorker } from './policy-loader.js';
export { ConnectionMachine, type Command, type MachineInit, type ProbeAnswer, type Outcome } from './machine.js';
export { TsidCache, probeOnce, probeOptions } from './probe.js';
export type { AddressMap, HostPort, ListenerConfig, ProxyLimits, ProxyOptions, RunningProxy } from './types.js';
export { parseRunConfig, loadRunConfig, MAX_CONFIG_BYTES, type RunConfig } from './config.js';
