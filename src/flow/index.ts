// Public face of the flow core: the per-connection state machine (sans-IO: bytes and facts in,
// commands out), its nouns, and the verdict -> enforcement map. Pure: no sockets, timers or files.
export type * from './types.js';
export { ConnectionMachine } from './machine.js';
export { enforcementOf, type Enforcement } from './enforce.js';
