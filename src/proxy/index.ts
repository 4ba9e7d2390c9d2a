// Public face of the proxy shell: startProxy and its option types, and the proxy's life as a
// service (runProxyService: reload, reopen, drain, workers). The decision core lives in
// src/flow (sans-IO); this folder performs its commands on real sockets.
export { startProxy } from './proxy.js';
export { loadPolicyInWorker } from './policy-loader.js';
export { TsidCache, probeOnce, probeOptions } from './probe.js';
export type { AddressMap, HostPort, ListenerConfig, ProxyLimits, ProxyOptions, RunningProxy } from './types.js';
export { parseRunConfig, loadRunConfig, MAX_CONFIG_BYTES, type RunConfig } from './config.js';
export { runProxyService, type ServiceEnd, type ServiceNotice, type ServiceOptions } from './service.js';
export { CaptureFile, captureComment, type CaptureStats } from './capture.js';
