// Every subcommand, in the order `peekwall --help` lists them. Names and summaries are
// static so `--help` and every command load only the one module they run: start-up stays
// fast (x509, pino, yaml and the proxy are not loaded for `peekwall hello`).
// Add a line here when you add a src/cli/<name>.ts; test/cli/main.test.ts checks that each
// summary matches the module's own.
import type { Subcommand } from './command.js';

export interface SubcommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Subcommand>;
}

export const subcommands: readonly SubcommandEntry[] = [
  { name: 'lab', summary: 'reproduce the Smart Licensing toos.cisco.com case end to end (scenarios, serve)', load: () => import('./lab.js').then((m) => m.default) },
  { name: 'run', summary: 'run the inline proxy from a config file (reload on SIGHUP, drain on SIGTERM)', load: () => import('./run.js').then((m) => m.default) },
  { name: 'test', summary: 'policy regression suites: expected verdicts, offline and --live, coverage, --compare', load: () => import('./test.js').then((m) => m.default) },
  { name: 'trace', summary: 'evaluate one flow against a policy offline, FTD system-support-trace style', load: () => import('./trace.js').then((m) => m.default) },
  { name: 'diff', summary: 'every class of flows two policies decide differently, with a witness flow each', load: () => import('./diff.js').then((m) => m.default) },
  { name: 'import', summary: 'write an FMC access policy bundle (REST API JSON) as the equivalent YAML policy', load: () => import('./import.js').then((m) => m.default) },
  { name: 'fmc', summary: 'pull an access policy from a live FMC (REST API) as an FMC bundle', load: () => import('./fmc.js').then((m) => m.default) },
  { name: 'export', summary: 'write a YAML policy as an FMC access policy bundle (REST API JSON)', load: () => import('./export.js').then((m) => m.default) },
  { name: 'search', summary: 'one flow a policy decides with an action in a region, or the proof there is none', load: () => import('./search.js').then((m) => m.default) },
  { name: 'lint', summary: 'check a policy: errors, shadowed/redundant rules, object overlap', load: () => import('./lint.js').then((m) => m.default) },
  { name: 'events', summary: 'render connection events as the FMC table (filters, --follow)', load: () => import('./events.js').then((m) => m.default) },
  { name: 'replay', summary: 'replay a pcap/pcapng capture through the policy: the event FMC would log per TCP flow', load: () => import('./replay.js').then((m) => m.default) },
  { name: 'hello', summary: 'decode a captured TLS ClientHello (SNI, ALPN, versions, JA3/JA4)', load: () => import('./hello.js').then((m) => m.default) },
  { name: 'cert', summary: 'certificate facts, the identity each TSID profile derives, status against a trust store', load: () => import('./cert.js').then((m) => m.default) },
  { name: 'certs', summary: 'lab PKI (LAB-ONLY): init, check expiry, renew with backups', load: () => import('./certs.js').then((m) => m.default) },
];
