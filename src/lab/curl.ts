// How a Smart Licensing agent reports a failed call: the FMC/ASA call-home library wraps
// libcurl and logs curl's code with curl_easy_strerror()'s text (seed 003):
//   CH-LIB-ERROR: ch_pf_curl_send_msg[494], failed to perform, err code 60, err string "..."
// The strings are libcurl 7.x's (the devices ship 7.x; newer libcurl words some differently,
// e.g. "Could not resolve hostname"), so the lab prints the ones the field logs show.

export const CURL_ERRORS = {
  5: "Couldn't resolve proxy name", // CURLE_COULDNT_RESOLVE_PROXY
  6: "Couldn't resolve host name", // CURLE_COULDNT_RESOLVE_HOST
  7: "Couldn't connect to server", // CURLE_COULDNT_CONNECT
  28: 'Timeout was reached', // CURLE_OPERATION_TIMEDOUT
  35: 'SSL connect error', // CURLE_SSL_CONNECT_ERROR: reset/alert during the handshake
  52: 'Server returned nothing (no headers, no data)', // CURLE_GOT_NOTHING
  55: 'Failed sending data to the peer', // CURLE_SEND_ERROR
  56: 'Failure when receiving data from the peer', // CURLE_RECV_ERROR (also a refused CONNECT)
  60: 'SSL peer certificate or SSH remote key was not OK', // CURLE_PEER_FAILED_VERIFICATION (7.62+)
} as const;

export type CurlCode = keyof typeof CURL_ERRORS;

export function curlErrorLine(code: CurlCode): string {
  return `CH-LIB-ERROR: ch_pf_curl_send_msg[494], failed to perform, err code ${code}, err string "${CURL_ERRORS[code]}"`;
}

/** The trace line the agent logs for certificate failures (seed 003, case 3). */
export function curlCertIssueLine(url: string): string {
  return `CH-LIB-TRACE: ch_pf_curl_is_cert_issue[514], cert issue checking, ret 60, url ${url}`;
}

/**
 * Map what a socket/TLS layer reported to curl's code. `phase` says how far the call got:
 * errors during connect, during the TLS handshake, or after it (request/response).
 */
export function curlCodeFor(e: { code?: string; message?: string } | null, phase: 'proxy' | 'connect' | 'handshake' | 'transfer', timedOut: boolean): CurlCode {
  if (timedOut) return 28;
  const code = e?.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
    return phase === 'handshake' || phase === 'transfer' ? 35 : 7;
  }
  if (code === 'ETIMEDOUT') return 28;
  switch (phase) {
    case 'proxy':
      return 56; // a proxy that resets or refuses the CONNECT
    case 'connect':
      return 7;
    case 'handshake':
      return 35; // reset, EOF or alert before the handshake finished
    case 'transfer':
      return e === null ? 52 : 56;
  }
}
