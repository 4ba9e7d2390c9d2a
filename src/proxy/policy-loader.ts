// Loading a policy without stopping the proxy. Compiling a policy with a 1,000,000-entry
// Security Intelligence feed takes about a second of CPU; on the event loop that second is a
// second in which no connection anywhere is accepted, peeked or relayed (a 9,500,000-entry
// feed stopped everything for many seconds). A worker thread reads, parses and compiles
// instead; its result crosses back with the large typed arrays moved rather than copied, and
// the event loop only gives a few hundred objects their classes back (revivePolicy). The
// worker ends after each load, so the feed's text and the parse garbage live only in its heap
// and only while it runs; reloads are serialised by the caller, so there is one at a time.
import { Worker } from 'node:worker_threads';
import { revivePolicy, type Policy } from '../policy/index.js';
import { peekwallError, type PeekwallError, type Result } from '../util/errors.js';

type WorkerAnswer = { ok: true; value: unknown } | { ok: false; error: PeekwallError[] };

const WORKER = new URL('./policy-worker.js', import.meta.url);

/** The process's flags a worker thread can take: the ones about evaluating a string are left out. */
export function threadFlags(execArgv: readonly string[]): string[] {
  return execArgv.filter((a) => !a.startsWith('--input-type') && a !== '--eval' && a !== '-e' && a !== '--print' && a !== '-p');
}

/**
 * loadPolicyFile(path) in a worker thread: the same policy, or the same file:line:column
 * errors. A loader that fails itself (a bug, out of memory) answers proxy/policy-load-failed.
 */
export function loadPolicyInWorker(path: string): Promise<Result<Policy, PeekwallError[]>> {
  const failed = (why: string): Result<Policy, PeekwallError[]> => ({
    ok: false,
    error: [peekwallError('proxy/policy-load-failed', `the policy could not be loaded: ${why}`, { file: path })],
  });
  return new Promise((resolve) => {
    let answer: Result<Policy, PeekwallError[]> | null = null;
    let worker: Worker;
    try {
      // A thread inherits the process's flags; some make no sense for a file-based thread and
      // make it fail at start (--input-type, which `node --input-type=module -e …` carries).
      // Flags are handed over only when one must go: a list given explicitly is checked, and
      // V8 flags in it (--expose-gc, which the reliability benches run with) are refused.
      const flags = threadFlags(process.execArgv);
      worker = new Worker(WORKER, { workerData: { path }, ...(flags.length !== process.execArgv.length ? { execArgv: flags } : {}) });
    } catch (e) {
      resolve(failed((e as Error).message));
      return;
    }
    worker.once('message', (m: WorkerAnswer) => {
      try {
        answer = m.ok ? { ok: true, value: revivePolicy(m.value) } : { ok: false, error: m.error };
      } catch (e) {
        answer = failed(`the compiled policy did not arrive intact (${(e as Error).message})`);
      }
    });
    worker.once('error', (e: Error) => {
      answer ??= failed(e.message);
    });
    // Answered once the thread is gone, so its heap is freed before the next load starts.
    worker.once('exit', (code) => resolve(answer ?? failed(`the loader thread exited with code ${code}`)));
  });
}
