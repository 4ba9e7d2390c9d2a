// The policy loader's thread (see policy-loader.ts): reads, parses and compiles one policy
// file with loadPolicyFile, exactly as the event loop would, and posts the result back with
// the large buffers moved, not copied. Then it ends, and its heap (the feed texts, the
// parse tree, the builders' garbage) goes with it.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { policyTransferList } from '../policy/index.js';
import { loadPolicyFile } from '../sources/index.js';

// The compile is background work: on a busy machine (2 cores, clients, other processes) this
// thread took CPU from the event loop beside it, and connections waited for a reload they do
// not need. Ten steps nicer, the event loop wins whenever it has work. Linux names this
// thread in /proc/thread-self, and setpriority on a thread id moves that thread only;
// elsewhere the thread keeps the process's priority.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + 10));
} catch {
  // no /proc, or not allowed: a little more contention, nothing else
}

const { path } = workerData as { path: string };
const r = await loadPolicyFile(path);
if (r.ok) parentPort?.postMessage({ ok: true, value: r.value }, policyTransferList(r.value));
else parentPort?.postMessage({ ok: false, error: r.error });
