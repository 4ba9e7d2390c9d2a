// Public face of capture/: pcap and pcapng in, TCP flows reassembled per direction, each flow
// replayed through the proxy's own machine (src/flow) and readers (src/wire). Pure: the shell
// pushes the file's bytes as it reads them (CaptureWalk.push) and gets results by callback;
// nothing here opens a file, and no capture is ever held whole.
//
//   const replay = new Replay({ policy }, (r) => print(r));
//   const walk = new CaptureWalk(replay.open);
//   for await (const chunk of stream) if (!walk.push(chunk)) break;
//   const summary = walk.end();   // problems: capture/truncated, capture/unknown-link-type, ...
export {
  CaptureReader,
  sniffCaptureFormat,
  CAPTURE_ERROR_CODES,
  MAX_RECORD_BYTES,
  type CaptureFormat,
  type CapturedPacket,
  type CaptureErrorCode,
} from './formats.js';
export { decodeFrame, LINK_TYPES, type TcpSegment, type SkipReason } from './decode.js';
export {
  TcpTracker,
  type Endpoint,
  type FlowConsumer,
  type FlowStart,
  type FlowStats,
  type GapInfo,
  type PacketMeta,
  type Side,
  type SideEnd,
  type TrackerOptions,
} from './tcp.js';
export { CaptureWalk, type CaptureSummary } from './walk.js';
export { Replay, REPLAY_CODES, type FlowResult, type ReplayOptions, type CertificateOrigin } from './replay.js';
export { peekFlows, type PeekResult, type PeekOptions } from './peek.js';
export {
  CaptureRing,
  flowBlocks,
  pcapngHeader,
  ipBytes,
  PROBE_INTERFACE_NAME,
  FLOW_INTERFACE_NAME,
  type RecordedFlow,
  type RecordedChunk,
} from './writer.js';
