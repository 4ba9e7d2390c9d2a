// The pages the explicit listener answers with: FMC's block page and its Interactive Block
// warning page. Everything that came from the network (URLs, rule names) is escaped.
import type * as http from 'node:http';
import type { Verdict } from '../../policy/index.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function blockPage(res: http.ServerResponse, v: Verdict): void {
  res.writeHead(403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
  res.end(
    `<!doctype html><title>Blocked</title><h1>Access denied</h1>` +
      `<p>Blocked by rule <b>${escapeHtml(v.rule)}</b>${v.reason ? ` (${escapeHtml(v.reason)})` : ''}.</p>\n`,
  );
}

/** The warning page; `continueLink` lets the user through (see Bypasses). */
export function warningPage(res: http.ServerResponse, v: Verdict, original: string, continueLink: string): void {
  res.writeHead(403, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    `<!doctype html><title>Warning</title><h1>This site may violate policy</h1>` +
      `<p>Access to <b>${escapeHtml(original)}</b> matched rule <b>${escapeHtml(v.rule)}</b>.</p>` +
      `<p><a id="continue" href="${escapeHtml(continueLink)}">Continue</a> if you have a business reason.</p>\n`,
  );
}
