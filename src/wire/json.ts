// A ClientHello as plain JSON (its lists are lazy getters, which JSON.stringify does not see):
// one shape for every reader's hello, the TLS and the SSLv2-format one alike.
import type { ClientHello } from './types.js';

export function helloToJson(h: ClientHello): Record<string, unknown> {
  return {
    recordVersion: h.recordVersion,
    clientVersion: h.clientVersion,
    random: Buffer.from(h.random).toString('hex'),
    sessionId: Buffer.from(h.sessionId).toString('hex'),
    cipherSuites: h.cipherSuites,
    compressionMethods: h.compressionMethods,
    extensions: h.extensions,
    sni: h.sni,
    sniTrailingDot: h.sniTrailingDot,
    sniRaw: h.sniRaw === null ? null : Buffer.from(h.sniRaw).toString('hex'),
    anomalies: h.anomalies,
    alpn: h.alpn,
    supportedVersions: h.supportedVersions,
    supportedGroups: h.supportedGroups,
    signatureAlgorithms: h.signatureAlgorithms,
    signatureAlgorithmsCert: h.signatureAlgorithmsCert,
    keyShareGroups: h.keyShareGroups,
    pskModes: h.pskModes,
    ecPointFormats: h.ecPointFormats,
    ech: h.ech,
    paddingLength: h.paddingLength,
    recordLengths: h.recordLengths,
    handshakeLength: h.handshakeLength,
    totalLength: h.totalLength,
  };
}
