// The cluster primary's relay of POST /tsid/cache/clear, with stand-in workers: the sum of the
// answers, and a worker that does not answer (silent, exited, its channel closed) said in
// `answered` instead of holding the admin's answer. The real cluster is in e2e/proxy-run.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { tsidClearRelay, type ClearTarget } from '../../src/proxy/cluster.js';

type Behaviour = { answers: number } | 'silent' | 'exits' | 'closed' | 'answers-twice' | 'wrong-id';

/** A stand-in worker that answers the way `b` says, through `hub` as node:cluster would. */
function worker(hub: EventEmitter, id: number, b: Behaviour): ClearTarget {
  return {
    id,
    send(m, _handle, callback) {
      const req = m as { type: string; id: number };
      if (req.type !== 'peekwall:tsid-cache-clear') return true; // not the request: a real worker ignores it
      const answer = (cleared: number, reqId = req.id) => hub.emit('message', { id }, { type: 'peekwall:tsid-cache-cleared', id: reqId, cleared });
      setImmediate(() => {
        if (b === 'closed') return callback(new Error('channel closed'));
        callback(null);
        if (b === 'exits') hub.emit('exit', { id }, 0, null);
        else if (b === 'answers-twice') {
          answer(5);
          answer(5);
        } else if (b === 'wrong-id') answer(9, req.id + 100);
        else if (b !== 'silent') answer(b.answers);
      });
      return true;
    },
  };
}

t.test('every worker answers: the sum, without waiting for the bound', async (t) => {
  const hub = new EventEmitter();
  // A bound this long would time the test out if the relay waited for it.
  const clear = tsidClearRelay(hub, 600_000);
  t.same(await clear([worker(hub, 1, { answers: 3 }), worker(hub, 2, { answers: 4 })]), { cleared: 7, workers: 2, answered: 2 });
  t.same(await clear([]), { cleared: 0, workers: 0, answered: 0 }, 'no workers: answered at once');
  t.equal(hub.listenerCount('message') + hub.listenerCount('exit'), 0, 'the relay leaves no listener behind');
});

t.test('a worker that does not answer within the bound is left out and said', async (t) => {
  const hub = new EventEmitter();
  const clear = tsidClearRelay(hub, 50);
  t.same(await clear([worker(hub, 1, { answers: 3 }), worker(hub, 2, 'silent'), worker(hub, 3, 'wrong-id')]), { cleared: 3, workers: 3, answered: 1 });
  t.equal(hub.listenerCount('message') + hub.listenerCount('exit'), 0);
});

t.test('a worker that exits or whose channel is closed is not waited for; a double answer counts once', async (t) => {
  const hub = new EventEmitter();
  const clear = tsidClearRelay(hub, 600_000);
  const r = await clear([worker(hub, 1, 'exits'), worker(hub, 2, 'closed'), worker(hub, 3, 'answers-twice')]);
  t.same(r, { cleared: 5, workers: 3, answered: 1 });
});
