// Hostile file contents, generated (not committed: some are megabytes). Each is something a
// careless loader chokes on: alias bombs, prototype keys, 10 MB lines, binary, deep nesting,
// YAML tags, duplicate keys, NULs. Every loader must refuse each with file:line, never throw.

function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const me = String.fromCharCode(97 + i);
    const prev = String.fromCharCode(96 + i);
    lines.push(`${me}: &${me} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The same bomb, but under keys a loader accepts, so it is expanded by the schema walk. */
function nestedBomb(topKey: string): string {
  const body = billionLaughs()
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `${topKey}:\n  bomb:\n${body}\n`;
}

function binary(n: number): string {
  let s = '';
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += String.fromCharCode(x & 0xff);
  }
  return s;
}

export interface HostileText {
  readonly name: string;
  readonly text: string;
}

export const TEN_MB = 10 * 1024 * 1024;

/** Hostile YAML-ish texts. `topKey` is a key the loader under test knows (bombs hide under it). */
export function hostileYaml(topKey: string): HostileText[] {
  return [
    { name: 'alias bomb (billion laughs)', text: billionLaughs() },
    { name: `alias bomb under '${topKey}'`, text: nestedBomb(topKey) },
    { name: '__proto__ key', text: `__proto__:\n  polluted: yes\n${topKey}: {}\n` },
    { name: `__proto__ under '${topKey}'`, text: `${topKey}:\n  __proto__: {polluted: yes}\n  constructor: {prototype: {polluted: yes}}\n` },
    { name: 'constructor.prototype keys', text: 'constructor:\n  prototype:\n    polluted: yes\n' },
    { name: '10 MB line', text: `${topKey}: "${'x'.repeat(TEN_MB)}"\n` },
    { name: '10 MB line in a comment', text: `# ${'y'.repeat(TEN_MB)}\n${topKey}: {}\n` },
    { name: 'binary garbage', text: binary(64 * 1024) },
    { name: 'NUL bytes', text: `${topKey}: "a\u0000b"\n\u0000\u0000\n` },
    { name: 'deep flow nesting', text: `${topKey}: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n` },
    { name: 'deep block nesting', text: `${topKey}:\n${Array.from({ length: 1500 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')}\n` },
    { name: 'YAML tags', text: `${topKey}: !!js/function "function () { return 1 }"\nx: !custom 1\n` },
    { name: 'duplicate keys', text: `${topKey}: {}\n${topKey}: {}\n` },
    { name: 'a scalar, not a map', text: '42\n' },
    { name: 'empty', text: '' },
    { name: 'unterminated quote', text: `${topKey}: "abc\n` },
  ];
}

/** Hostile line-oriented feed contents (Security Intelligence .txt feeds). */
export function hostileFeeds(): HostileText[] {
  return [
    { name: 'binary feed', text: binary(64 * 1024) },
    { name: '10 MB line feed', text: `${'a'.repeat(TEN_MB)}.com\n` },
    { name: '__proto__ entries', text: '__proto__\nconstructor\nprototype\n__proto__.com\n' },
    { name: 'NUL in an entry', text: 'good.example\nbad\u0000.example\n' },
  ];
}

/** Hostile certificate files (DER bytes or PEM text). */
export function hostileCerts(realPem: string): Array<{ name: string; data: Uint8Array | string }> {
  const der = Buffer.from(realPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  let nested: Buffer = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < 5000; i++) {
    const l = nested.length;
    const hdr = l < 128 ? [0x30, l] : l < 256 ? [0x30, 0x81, l] : l < 65536 ? [0x30, 0x82, l >> 8, l & 255] : [0x30, 0x83, l >> 16, (l >> 8) & 255, l & 255];
    nested = Buffer.concat([Buffer.from(hdr), nested]);
  }
  return [
    { name: 'empty', data: '' },
    { name: 'binary garbage', data: new Uint8Array(Buffer.from(binary(4096), 'latin1')) },
    { name: 'truncated DER', data: new Uint8Array(der.subarray(0, der.length >> 1)) },
    { name: 'DER with a 2 GiB length', data: Uint8Array.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00]) },
    { name: 'ASN.1 nested 5000 deep', data: new Uint8Array(nested) },
    { name: 'PEM with 10 MB of base64', data: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(TEN_MB)}\n-----END CERTIFICATE-----\n` },
    { name: 'PEM without END', data: `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}` },
    // A key-shaped block (random bytes, built here so no key-like text sits in the repository).
    { name: 'a private key, not a certificate', data: ['-----BEGIN', 'PRIVATE KEY-----'].join(' ') + `\n${Buffer.from(binary(48), 'latin1').toString('base64')}\n` + ['-----END', 'PRIVATE KEY-----'].join(' ') + '\n' },
    { name: 'a 10 MB line of text', data: 'x'.repeat(TEN_MB) },
  ];
}
