// What the capture tests share: whether a tool (tshark) is installed, and the part of an event
// that says what the flow was and how it was judged (times and byte counts differ by nature
// between a live connection and its replay).
import { execFileSync } from 'node:child_process';
import type { ConnectionEvent } from '../../src/events/index.js';

export function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const verdictOf = (e: ConnectionEvent) => ({
  srcIp: e.srcIp,
  srcPort: e.srcPort,
  dstIp: e.dstIp,
  dstPort: e.dstPort,
  action: e.action,
  reason: e.reason,
  rule: e.accessControlRule,
  url: e.url,
  sni: e.sni,
  identitySource: e.identitySource,
});
