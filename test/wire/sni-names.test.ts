// The server_name rules that keep the proxy and the server seeing the same name: exactly one
// host_name entry (a second one, ignored by one side, would let a client show the proxy one
// name and the server another), and RFC 1035 label lengths at their exact boundary (63 bytes
// accepted, 64 refused), in the wire reader and in checkSniName, which applies the reader's
// rule to names typed by a person.
import t from 'tap';
import { checkSniName, ClientHelloReader, readClientHello, type HelloReadResult } from '../../src/wire/index.js';
import { ext, helloMessage, records, sniExt, splitAt, type Ext } from './build.js';

/** A server_name extension carrying the given (type, name) entries, built byte by byte. */
function serverNameList(entries: readonly (readonly [number, string])[]): Ext {
  const body = entries.flatMap(([type, name]) => {
    const n = [...Buffer.from(name, 'latin1')];
    return [type, n.length >> 8, n.length & 0xff, ...n];
  });
  return ext(0, [body.length >> 8, body.length & 0xff, ...body]);
}

const helloWith = (sni: Ext) => records(helloMessage({ extensions: [sni, ext(43, [2, 3, 4])] }));

function outcome(r: HelloReadResult): string {
  if (r.kind === 'hello') return `hello sni=${r.hello.sni}`;
  return 'error' in r ? `${r.kind} ${r.error.code}` : r.kind;
}

t.test('server_name with two host_name entries is refused, whatever their order or names', async (t) => {
  // The builder is right: one entry in the same framing is read.
  t.equal(outcome(readClientHello(helloWith(serverNameList([[0, 'good.example']])))), 'hello sni=good.example');
  for (const pair of [
    ['good.example', 'evil.example'],
    ['evil.example', 'good.example'],
    ['same.example', 'same.example'],
  ] as const) {
    const bytes = helloWith(serverNameList([[0, pair[0]], [0, pair[1]]]));
    const r = readClientHello(bytes);
    t.equal(outcome(r), 'malformed wire/bad-sni', `host_name ${pair[0]} then ${pair[1]}`);
    if ('error' in r) t.match(r.error.message, /two host_name entries/);
    // The same answer when the bytes arrive in pieces (the proxy's path).
    const rd = new ClientHelloReader();
    let last: HelloReadResult = { kind: 'need-more', buffered: 0 };
    for (const c of splitAt(bytes, [3, 50, bytes.length - 7])) last = rd.push(c);
    t.equal(outcome(last), 'malformed wire/bad-sni', `${pair[0]} then ${pair[1]}, in pieces`);
  }
  // Three entries: refused at the second one already.
  t.equal(outcome(readClientHello(helloWith(serverNameList([[0, 'a.example'], [0, 'b.example'], [0, 'c.example']])))), 'malformed wire/bad-sni');
});

/**
 * Why the reader took no name from the server_name it was given, or null when it took one.
 * A name the reader will not use is either a refused hello (wire/bad-sni) or a hello whose
 * `sni` is null with the reason among its anomalies (the reader's lenient mode for odd but
 * well-framed names); either way no policy ever sees it as a name.
 */
function whyNoName(r: HelloReadResult): string | null {
  if (r.kind !== 'hello') return 'error' in r && r.error.code === 'wire/bad-sni' ? r.error.message : `unexpected ${outcome(r)}`;
  if (r.hello.sni !== null) return null;
  const anomalies = (r.hello as { anomalies?: readonly { code: string; detail: string }[] }).anomalies ?? [];
  return anomalies.length > 0 ? anomalies.map((a) => `${a.code}: ${a.detail}`).join('; ') : 'no name and no anomaly';
}

const L63 = 'a'.repeat(63);
const L64 = 'a'.repeat(64);

t.test('SNI labels: 63 bytes accepted, 64 refused, first, middle or last label', async (t) => {
  for (const name of [L63, `${L63}.example`, `www.${L63}.example`, `example.${L63}`, `${L63}.${L63}.${L63}.x`]) {
    t.equal(outcome(readClientHello(helloWith(sniExt(name)))), `hello sni=${name}`, `${name.length}-byte name with a 63-byte label`);
    t.same(checkSniName(name.toUpperCase()), { name, trailingDot: false }, `checkSniName: ${name.length}-byte name with a 63-byte label`);
  }
  for (const name of [L64, `${L64}.example`, `www.${L64}.example`, `example.${L64}`, `example.${L64}.`]) {
    t.match(whyNoName(readClientHello(helloWith(sniExt(name)))), /label longer than 63/, `${name.length}-byte name with a 64-byte label: never a name`);
    t.match(checkSniName(name), /label longer than 63/, `checkSniName: ${name.length}-byte name with a 64-byte label`);
  }
});
