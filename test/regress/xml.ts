// A small, strict XML 1.0 well-formedness checker for the JUnit reporter's output (no
// dependency): one root element, properly nested and matching tags, quoted attributes without
// '<' and without duplicates, only the five predefined entities and character references,
// no raw '&' or '<' in text, only characters XML 1.0 allows. It returns the decoded tree so a
// test can also check the structure and that hostile text round-trips exactly.

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// eslint-disable-next-line no-control-regex
const ILLEGAL = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function decode(raw: string, where: string): string {
  if (raw.includes('<')) throw new Error(`raw '<' in ${where}`);
  return raw.replace(/&([^;]*);|&/g, (m, body: string | undefined) => {
    if (body === undefined) throw new Error(`bare '&' in ${where}`);
    if (body in ENTITIES) return ENTITIES[body];
    const num = /^#([0-9]+)$/.exec(body) ?? /^#x([0-9A-Fa-f]+)$/.exec(body);
    if (num) {
      const cp = parseInt(num[1], body.startsWith('#x') ? 16 : 10);
      const ch = String.fromCodePoint(cp);
      if (ILLEGAL.test(ch)) throw new Error(`character reference to an illegal character in ${where}`);
      return ch;
    }
    throw new Error(`unknown entity &${body}; in ${where}`);
  });
}

export function parseXml(text: string): XmlElement {
  if (ILLEGAL.test(text)) throw new Error('illegal XML character in document');
  let i = 0;
  const decl = /^<\?xml version="1\.0"( encoding="UTF-8")?\?>\s*/.exec(text);
  if (decl) i = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (stack.length === 0) {
      if (chunk.trim() !== '') throw new Error(`text outside the root element at ${i}`);
    } else {
      stack[stack.length - 1].text += decode(chunk, `text at ${i}`);
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('</', i)) {
      const m = NAME.exec(text.slice(i + 2));
      if (!m) throw new Error(`bad end tag at ${i}`);
      const after = i + 2 + m[0].length;
      const close = /^\s*>/.exec(text.slice(after));
      if (!close) throw new Error(`bad end tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> does not close <${open?.name ?? '(nothing)'}> at ${i}`);
      i = after + close[0].length;
      continue;
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (!m) throw new Error(`bad start tag at ${i}`);
    if (stack.length === 0 && root !== null) throw new Error(`second root element <${m[0]}> at ${i}`);
    let j = i + 1 + m[0].length;
    const attrs: Record<string, string> = Object.create(null);
    for (;;) {
      const ws = /^\s*/.exec(text.slice(j))![0];
      j += ws.length;
      if (text.startsWith('/>', j) || text[j] === '>') break;
      if (ws.length === 0) throw new Error(`attributes must be separated by whitespace at ${j}`);
      const a = /^([A-Za-z_:][A-Za-z0-9_:.-]*)\s*=\s*"([^"]*)"/.exec(text.slice(j));
      if (!a) throw new Error(`bad attribute at ${j}`);
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} at ${j}`);
      attrs[a[1]] = decode(a[2], `attribute ${a[1]}`);
      j += a[0].length;
    }
    const el: XmlElement = { name: m[0], attrs, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1].children.push(el);
    else root = el;
    if (text.startsWith('/>', j)) {
      i = j + 2;
    } else {
      stack.push(el);
      i = j + 1;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error('no root element');
  return root;
}
