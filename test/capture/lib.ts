// Running captures through capture/ in-process: bytes in (in chosen chunk sizes), results out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureWalk, peekFlows, Replay, type CaptureSummary, type FlowResult, type PeekResult, type ReplayOptions } from '../../src/capture/index.js';
import { fromRoot } from '../../src/util/paths.js';

export const capturesDir = fromRoot('test', 'fixtures', 'captures');

export function readCapture(name: string): Buffer {
  return readFileSync(join(capturesDir, name));
}

export function captureExpect(name: string): CaptureExpect {
  return JSON.parse(readFileSync(join(capturesDir, name.replace(/\.pcap(ng)?$/, '.json')), 'utf8')) as CaptureExpect;
}

export interface CaptureExpect {
  file: string;
  linkType: string;
  packets: number;
  flows: {
    stream: number;
    client?: { ip: string; port: number };
    server?: { ip: string; port: number };
    helloFrame?: number;
    sni?: string | null;
    alpn?: string[];
    clientVersion?: string;
    supportedVersions?: string[];
    ja3?: string;
    ja3Full?: string;
    serverVersion?: string;
    certificate?: { frame: number; chainLength: number; subjectCn: string[]; issuerCn: string[]; dnsSans: string[]; sha256: string };
  }[];
}

function push(walk: CaptureWalk, bytes: Uint8Array, chunk: number): CaptureSummary {
  for (let o = 0; o < bytes.length; o += chunk) if (!walk.push(bytes.subarray(o, o + chunk))) break;
  return walk.end();
}

export function peekAll(bytes: Uint8Array, chunk = bytes.length || 1): { flows: PeekResult[]; summary: CaptureSummary } {
  const flows: PeekResult[] = [];
  const summary = push(new CaptureWalk(peekFlows((r) => flows.push(r))), bytes, chunk);
  flows.sort((a, b) => a.stream - b.stream);
  return { flows, summary };
}

export function replayAll(bytes: Uint8Array, opts: ReplayOptions, chunk = bytes.length || 1): { flows: FlowResult[]; summary: CaptureSummary } {
  const flows: FlowResult[] = [];
  const run = new Replay(opts, (r) => flows.push(r));
  const summary = push(new CaptureWalk(run.open), bytes, chunk);
  flows.sort((a, b) => a.stream - b.stream);
  return { flows, summary };
}
