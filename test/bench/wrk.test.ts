// bench/lib/wrk.ts reads wrk's text report. The two reports below are real wrk 4.1.0 output
// (Debian 4.1.0-3+b2), captured against a local Node https server: one all-200, one all-500.
import t from 'tap';
import { parseWrk, wrkTimeMs } from '../../bench/lib/wrk.js';

const ALL_200 = `Running 1s test @ https://localhost:35069/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.07ms    2.85ms  27.36ms   94.49%
    Req/Sec    15.46k     6.21k   22.76k    60.00%
  Latency Distribution
     50%  156.00us
     75%  665.00us
     90%    2.55ms
     99%   17.49ms
  15463 requests in 1.01s, 1.87MB read
Requests/sec:  15340.43
Transfer/sec:      1.86MB
`;

const ALL_500 = `Running 1s test @ https://localhost:35069/bad
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   475.61us    0.92ms   7.81ms   88.00%
    Req/Sec    15.98k     6.21k   25.04k    72.73%
  Latency Distribution
     50%   77.00us
     75%  270.00us
     90%    1.65ms
     99%    4.25ms
  17487 requests in 1.10s, 2.43MB read
  Non-2xx or 3xx responses: 17487
Requests/sec:  15953.56
Transfer/sec:      2.22MB
`;

t.test('wrk time units', async (t) => {
  t.equal(wrkTimeMs('156.00us'), 0.156);
  t.equal(wrkTimeMs('17.49ms'), 17.49);
  t.equal(wrkTimeMs('1.01s'), 1010);
  t.equal(wrkTimeMs('2m'), 120_000);
  t.equal(wrkTimeMs('fast'), null);
});

t.test('a report: requests over the measured duration, p50/p99 from the latency distribution', async (t) => {
  const r = parseWrk(ALL_200, 1);
  if (typeof r === 'string') throw new Error(r);
  t.equal(r.ops, 15463);
  t.equal(r.durationS, 1.01);
  t.equal(Math.round(r.rate), Math.round(15463 / 1.01));
  t.equal(r.p50Ms, 0.156);
  t.equal(r.p99Ms, 17.49);
  t.equal(r.errors, 0);
});

t.test('non-2xx responses are errors, not operations', async (t) => {
  const r = parseWrk(ALL_500, 1);
  if (typeof r === 'string') throw new Error(r);
  t.equal(r.ops, 0);
  t.equal(r.rate, 0);
  t.equal(r.errors, 17487);
});

t.test('output without a summary line is an error message, not numbers', async (t) => {
  const r = parseWrk('unable to connect to localhost:1 Connection refused\n', 1);
  t.type(r, 'string');
  t.match(r, /no "N requests in T" line/);
});
