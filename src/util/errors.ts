// Errors are values with stable codes (`wire/truncated`, `policy/unknown-object`, ...).
// The core returns them; the shell maps them to user text at the edge. A code never changes
// meaning once shipped: tests, suites and log consumers match on it.

export interface PeekwallError {
  /** Stable, namespaced code: `<module>/<what>`, e.g. `wire/length-overflow`. */
  readonly code: string;
  /** One sentence a network engineer can act on. */
  readonly message: string;
  /** Where, when the error is about a file: `file:line:column` is printed from these. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export type Result<T, E = PeekwallError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err<E = PeekwallError>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}

export function peekwallError(
  code: string,
  message: string,
  where?: { file?: string; line?: number; column?: number },
): PeekwallError {
  return where ? { code, message, ...where } : { code, message };
}

/** `file:line:column: message [code]` — the one shape every file error is printed in. */
export function formatError(e: PeekwallError): string {
  let at = '';
  if (e.file !== undefined) {
    at = e.file;
    if (e.line !== undefined) at += `:${e.line}`;
    if (e.column !== undefined) at += `:${e.column}`;
    at += ': ';
  }
  return `${at}${e.message} [${e.code}]`;
}

/**
 * Thrown only at the shell edge (CLI, loaders) to carry a PeekwallError through async code.
 * The core never throws it; it returns Result values.
 */
export class PeekwallFailure extends Error {
  readonly errors: readonly PeekwallError[];
  constructor(errors: PeekwallError | readonly PeekwallError[]) {
    const list = Array.isArray(errors) ? errors : [errors as PeekwallError];
    super(list.map(formatError).join('\n'));
    this.name = 'PeekwallFailure';
    this.errors = list;
  }
}
