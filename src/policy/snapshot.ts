// A compiled policy crossing a thread boundary. The policy loader (src/proxy/policy-loader.ts)
// compiles in a worker thread so a reload never stops the event loop; the result comes back
// by postMessage. A structured clone keeps the data and the object graph but drops prototypes
// and copies every value, so: the worker names the large buffers to move instead of copy
// (transferList), and the event loop gives each object its class back (revivePolicy), which
// costs a few hundred objects, whatever the feeds' sizes. Pure: no thread, no I/O here.
import { DomainSet, UrlDatabase } from './domains.js';
import { IpSet } from './ip.js';
import { CompiledPolicy } from './compiled.js';
import { RuleIndex } from './ruleindex.js';
import type { Policy } from './types.js';

/** Buffers under this size are copied: moving one costs more than copying it. */
const MIN_TRANSFER_BYTES = 64 * 1024;

/**
 * The ArrayBuffers under the policy's large typed arrays (hash tables, key bytes, interval
 * bounds, entry texts), for postMessage's transfer list. They are detached from this side:
 * call it on a policy this thread drops right after sending.
 */
export function policyTransferList(policy: Policy): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const stack: unknown[] = [policy];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      if (v.byteLength >= MIN_TRANSFER_BYTES && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      for (const x of v) stack.push(x);
    } else {
      for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return [...out];
}

function freezeDeep<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) freezeDeep(v);
    Object.freeze(o);
  }
  return o;
}

const reviveIps = (s: IpSet | null | undefined): void => void (s && IpSet.revive(s));

/**
 * A policy as postMessage delivered it (a structured clone of a CompiledPolicy), with every
 * object's class restored and what was frozen frozen again. Only for what policyTransferList's
 * sender posted: the shape is trusted, not validated.
 */
export function revivePolicy(clone: unknown): Policy {
  const p = Object.setPrototypeOf(clone, CompiledPolicy.prototype) as CompiledPolicy;
  freezeDeep(p.settings);
  for (const r of p.rules) {
    reviveIps(r.src);
    reviveIps(r.dst);
    if (r.url?.hosts) DomainSet.revive(r.url.hosts);
    Object.freeze(r.selfList);
  }
  for (const r of p.prefilter) {
    reviveIps(r.src);
    reviveIps(r.dst);
  }
  for (const l of p.siLists) reviveIps(l.ips);
  for (const o of p.objects) reviveIps(o.ips);
  DomainSet.revive(p.siUrl);
  DomainSet.revive(p.siDns);
  DomainSet.revive(p.apps);
  UrlDatabase.revive(p.urlDb);
  RuleIndex.revive(p.index);
  return p;
}
