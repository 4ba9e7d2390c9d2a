// Issue 20's attacks (bench/attack-proxy.ts, docs/RELIABILITY.md) replayed at a tiny size against
// the real `peekwall run` process of this build, so the script cannot rot and the fixes cannot
// regress unseen. Asserted: the behaviour the script reports — nothing forwarded to the proxy
// itself, refusals each with one event and its named closeReason, no metrics through the proxy,
// the fronted Host never at the origin, every passive-FIN connection ended with its event and
// nothing in CLOSE-WAIT, fds back to each process's baseline. Not asserted: how long anything took.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = 20; // passive-FIN and flood connections
const R = 3; // requests of each kind
const K = 3; // TSID clients
const MAX = 4; // limits.maxConnections for the flood

/** The script's stdout and exit code; a crash (a stack on stderr) fails the test with it. */
function run(args: string[]): Promise<{ out: string; code: number }> {
  const js = fileURLToPath(new URL('../../bench/attack-proxy.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [js, ...args], { timeout: 60_000 }, (e, stdout, stderr) => {
      const code = e ? (e as { code?: unknown }).code : 0;
      if (typeof code !== 'number') return reject(new Error(`attack-proxy: ${e?.message}\n${stderr}`));
      if (stderr.includes('\n    at ')) return reject(new Error(`attack-proxy crashed:\n${stderr.slice(-1500)}`));
      resolve({ out: stdout, code });
    });
  });
}

t.test('every attack of issue 20 is refused or ended, with its events, and leaves no fd behind', async (t) => {
  const { out, code } = await run(['--connections', String(N), '--requests', String(R), '--clients', String(K), '--maxConnections', String(MAX), '--concurrency', '10']);
  const line = (name: string): string => out.split('\n').find((l) => l.startsWith(`${name}: `)) ?? `(no ${name} line in:\n${out})`;

  t.match(line('loop-get'), `status {"403":${R}}; peak `, 'self-loop GET: refused 403');
  t.match(line('loop-get'), `(0 beyond the clients': forwarded to itself); proxy counted ${R} ended; events ${R} {"proxy/self-target":${R}}`, 'nothing forwarded to itself, one proxy/self-target event each');
  t.match(line('loop-connect'), `status {"403":${R}}; 0 tunnels opened; peak `, 'pipelined CONNECTs to itself: refused 403, no tunnel');
  t.match(line('loop-connect'), `(0 beyond the clients'); proxy counted ${R} connections (0 nested hops); events ${R} {"proxy/self-target":${R}}`, 'no nested hop, one proxy/self-target event each');
  t.match(line('admin'), `status GET {"403":${R}} CONNECT {"403":${R}}; metrics leaked to 0; events ${2 * R} {"proxy/self-target":${2 * R}}`, 'the admin port through the proxy: refused, no metrics');
  t.match(line('fronting'), `status {"400":${R}}; origin reached 0 (0 as blocked-vhost.example); events ${R} {"proxy/host-mismatch":${R}}`, 'Host fronting: 400, nothing at the origin, proxy/host-mismatch');
  t.match(line('parser'), `origin reached 0; events ${3 * R} {"http/length-and-chunked":${R},"http/bad-content-length":${R},"http/bad-header":${R}}`, 'parser-refused requests: nothing at the origin, one named event each');
  t.match(line('passive-fin'), `clients closed by the proxy ${N}/${N}; events ${N} `, 'passive FIN: every client closed, one event each');
  t.match(line('passive-fin'), 'CLOSE-WAIT to the origin 0;', 'passive FIN: no upstream left half-open');
  t.match(line('flood'), `maxConnections ${MAX} held, then ${N} connections; refused at once ${N}/${N}; events while held {"proxy/connection-limit":${N}}`, 'over maxConnections: refused, one proxy/connection-limit event each');
  t.match(line('tsid'), `through ${K}/${K}; events ${K} {"Allow https://good.test":${K}} tsid.sessionCheck {"tsid/cert-mismatch":${K}}; POST /tsid/cache/clear: 200 {"cleared":1}`, 'two-faced server: every event marks tsid/cert-mismatch; the cache clears on the admin port');
  t.match(line('tsid'), 'Block with reset https://blocked.test', 'after the clear a fresh probe sees blocked.test');
  t.match(line('tsid-redecide'), `through 0/${K}; events ${K} {"Block with reset https://blocked.test":${K}} tsid.sessionCheck {"tsid/cert-mismatch":${K}}`, 'redecide: judged again on the session certificate, nobody through');

  const attacks = ['loop-get', 'loop-connect', 'admin', 'fronting', 'parser', 'passive-fin', 'flood', 'tsid', 'tsid-redecide'];
  for (const name of attacks) {
    const l = line(name);
    t.match(l, /active 0 \d+ ms after the last client/, `${name}: every connection ended`);
    const fds = /fds (\d+) -> (\d+)/.exec(l);
    t.ok(fds && Number(fds[2]) <= Number(fds[1]), `${name}: fds back to the baseline (${fds?.[1]} -> ${fds?.[2]})`);
  }
  t.same(
    out.split('\n').filter((l) => l.includes('FAIL:')),
    [],
    'no expected behaviour failed',
  );
  t.match(out, /attack-proxy: every expected behaviour held/, 'the script says every expected behaviour held');
  t.equal(code, 0, 'and exits 0');
});
