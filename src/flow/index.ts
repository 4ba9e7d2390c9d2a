// Public face of the flow core: the per-connection state machine (sans-IO: bytes and facts in,
// commands out) and the verdict -> enforcement map. Pure: no sockets, timers or files.
export {
  type Command,
  type Endpoint,
  type FlowReport,
  type MachineInit,
  type MachineState,
  type Outcome,
  type ProbeAnswer,
  type SessionCheck,
} from './types.js';
export { ConnectionMachine } from './machine.js';
export { enforcementOf, type Enforcement } from './enforce.js';
