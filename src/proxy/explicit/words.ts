// HTTP details of the explicit listener, pure: CONNECT targets, Via hops, Host authority, and
// the stable codes for what Node's HTTP parser refuses.

/** `host[:port]` or `[v6][:port]`: lower-cased host and a port (defPort when absent), or null. */
export function splitHostPort(s: string, defPort: number): { host: string; port: number } | null {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    host = s.slice(1, end);
    portText = s[end + 1] === ':' ? s.slice(end + 2) : undefined;
  } else {
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
  }
  const port = portText === undefined || portText === '' ? defPort : Number(portText);
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: host.toLowerCase(), port };
}

/** The stable code for a request Node's HTTP parser refused (llhttp's code, and its reason where one code covers two cases). */
export function parserRefusal(e: NodeJS.ErrnoException & { reason?: string }): string {
  switch (e.code) {
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // Content-Length beside chunked: the request-smuggling shape (CL.TE / TE.CL).
      return /content-length/i.test(e.reason ?? '') ? 'http/length-and-chunked' : 'http/bad-transfer-encoding';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'http/bad-content-length';
    case 'HPE_HEADER_OVERFLOW':
      return 'http/headers-too-large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'http/request-timeout';
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return 'http/bad-header';
    default:
      return 'http/bad-request';
  }
}

/** Via entries, trimmed (comments kept: they are part of how a proxy names itself). */
export function viaHops(via: string | undefined): string[] {
  if (via === undefined || via === '') return [];
  const out: string[] = [];
  for (const part of via.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Does a Host header name the same authority as the request URL (compared as URL parsing spells both)? */
export function sameAuthority(hostHeader: string, url: URL): boolean {
  try {
    const h = new URL(`http://${hostHeader.trim()}/`);
    return h.host === url.host && h.username === '' && h.password === '';
  } catch {
    return false;
  }
}
