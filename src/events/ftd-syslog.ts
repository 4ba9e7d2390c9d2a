// Connection events as FTD's own syslog messages, %FTD-1-430002 (connection start) and
// %FTD-1-430003 (connection end), with the keys and value words the SIEM parsers for FTD know
// (Elastic's cisco_ftd integration, SEKOIA, Splunk field extractions): `Key: Value, Key: Value`.
// Pure: the shell passes the host name, the policy name and a per-log counter in.
//
// Those parsers split a message at every `,` followed by `Word:` (Elastic's kv processor:
// field_split `,(?=[A-za-z1-9\s]+:)`), then each pair at its first `:`. So a value never holds a
// comma: URLs get it percent-encoded (as a browser would), other values a `;`.
import type { ConnectionEvent } from './types.js';

export type SyslogStyle = 6 | 7;
export type SyslogRfc = 3164 | 5424;

export interface FtdSyslogOptions {
  /** 7: the 7.x header (EventPriority, DeviceUUID, InstanceID, FirstPacketSecond, ConnectionID, VRFs); 6: pre-7, from AccessControlRuleAction on. */
  readonly style: SyslogStyle;
  /** The syslog header: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD`) or RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST`). */
  readonly rfc: SyslogRfc;
  /** HOSTNAME in the header (the device's name in FTD). */
  readonly hostname: string;
  /** ACPolicy: the policy in force (it changes on reload, so it is asked per event). */
  readonly acPolicy: () => string;
  /** DeviceUUID in the 7.x header. */
  readonly deviceUuid?: string;
  /**
   * InstanceID in the 7.x header: FTD's Snort instance, whose ConnectionIDs are its own. peekwall
   * workers are the instances (each numbers its connections), so the pair stays unique. Default 1.
   */
  readonly instanceId?: number;
}

/** FTD logs to LOCAL4 by default; 430002/430003 are severity 1 (alert): <20*8+1>. */
const PRI = 20 * 8 + 1;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** A made-up but well-formed device UUID: FTD puts its own there. */
const DEFAULT_UUID = '00000000-0000-4000-8000-7065656b7761';

/** No comma, no line break, no leading/trailing space: the value cannot be split or cut. */
export function ftdValue(v: string | number, isUrl = false): string {
  const s = String(v).replace(/[\r\n\t\0]+/g, ' ');
  return (isUrl ? s.replace(/,/g, '%2C').replace(/ /g, '%20') : s.replace(/,/g, ';')).trim();
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function header3164(ms: number, host: string): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `<${PRI}>${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${host}`;
}

/** RFC 5424 HOSTNAME/APP-NAME: printable US-ASCII without spaces, or '-'. */
const token = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '').slice(0, max) || '-';

/** The pairs of one message, in FTD's order. */
function pairs(e: ConnectionEvent, id: '430002' | '430003', o: FtdSyslogOptions, connectionId: number): [string, string][] {
  const out: [string, string][] = [];
  const add = (k: string, v: string | number | undefined | null, isUrl = false) => {
    if (v === undefined || v === null || v === '') return;
    const val = ftdValue(v, isUrl);
    if (val !== '') out.push([k, val]);
  };
  const endMs = Date.parse(e.time);
  const firstMs = endMs - e.durationMs;
  const start = id === '430002';
  if (o.style === 7) {
    add('EventPriority', 'Low');
    add('DeviceUUID', o.deviceUuid ?? DEFAULT_UUID);
    add('InstanceID', o.instanceId ?? 1);
    add('FirstPacketSecond', iso(firstMs));
    add('ConnectionID', connectionId);
  }
  add('AccessControlRuleAction', e.action);
  if (e.reason) add('AccessControlRuleReason', e.reason);
  add('SrcIP', e.srcIp);
  add('DstIP', e.dstIp);
  add('SrcPort', e.srcPort);
  add('DstPort', e.dstPort);
  add('Protocol', e.protocol);
  if (o.style === 7) {
    add('IngressVRF', 'Global');
    add('EgressVRF', 'Global');
  }
  add('ACPolicy', o.acPolicy());
  add('AccessControlRuleName', e.accessControlRule);
  // Security Intelligence: the reason says which feed kind blocked ('IP Block', 'URL Block', 'DNS Block').
  if (e.siCategory) {
    if (e.reason.startsWith('IP ')) {
      add('IPReputationSICategory', e.siCategory);
      add('SecIntMatchingIP', 'Destination');
    } else if (e.reason.startsWith('DNS ')) add('DNSSICategory', e.siCategory);
    else add('URLSICategory', e.siCategory);
  }
  add('User', 'No Authentication Required');
  add('Client', e.client);
  add('ApplicationProtocol', e.applicationProtocol === 'unknown' ? undefined : e.applicationProtocol);
  add('WebApplication', e.webApplication);
  // The connection start carries no counters yet (FTD's 430002 shows zero or none).
  if (!start) {
    add('ConnectionDuration', Math.floor(e.durationMs / 1000));
    add('InitiatorBytes', e.bytesFromClient);
    add('ResponderBytes', e.bytesFromServer);
  }
  if (e.applicationProtocol === 'HTTPS') {
    add('SSLActualAction', 'Do Not Decrypt');
    add('SSLServerCertStatus', e.certStatus);
    add('SSLVersion', e.tlsVersion);
    // The name FTD reads from the ClientHello: only when the identity came from SNI.
    if (e.identitySource === 'sni' && e.sni) add('SSLServerName', e.sni);
  }
  add('URLCategory', e.urlCategory);
  add('URLReputation', e.urlReputation);
  add('URL', e.url, true);
  return out;
}

/**
 * The syslog lines (without line ends) for one connection event: none, 430002, 430003, or both.
 * 430002 when the deciding rule logs at the beginning (blocks: the event's begin phase), 430003
 * when it logs at the end; `fmcLog` (the rule's logging) decides for allows, `fmcLogged` is the
 * fallback. Events without a verdict (inspection failed) are written as FTD writes a flow it
 * could not classify: at the end.
 */
export function ftdSyslogLines(e: ConnectionEvent, o: FtdSyslogOptions, connectionId: number): string[] {
  const ids: ('430002' | '430003')[] = [];
  if (e.phase === 'begin') {
    if (e.fmcLogged !== false) ids.push('430002');
  } else if (e.fmcLog) {
    if (e.fmcLog.beginning) ids.push('430002');
    if (e.fmcLog.end) ids.push('430003');
  } else if (e.fmcLogged !== false) ids.push('430003');
  const host = token(o.hostname, 255);
  return ids.map((id) => {
    const body = `%FTD-1-${id}: ${pairs(e, id, o, connectionId)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`;
    // The start message is stamped with the first packet's time, the end with the event's.
    const ms = id === '430002' ? Date.parse(e.time) - e.durationMs : Date.parse(e.time);
    return o.rfc === 5424 ? `<${PRI}>1 ${new Date(ms).toISOString()} ${host} FTD - ${id} - ${body}` : `${header3164(ms, host)} ${body}`;
  });
}

/** A formatter for the event log: numbers the connections itself (FTD's ConnectionID). */
export function ftdSyslogFormatter(o: FtdSyslogOptions): (e: ConnectionEvent) => string[] {
  let next = 1;
  return (e) => ftdSyslogLines(e, o, next++);
}
