export type * from './types.js';
export { buildConnectionEvent, type EventInput } from './build.js';
export { flowEvent, refusalEvent, type Refusal, type ShellFacts } from './flow.js';
export { createEventLog, type EventLog, type EventLogOptions } from './log.js';
export { followLines, type FollowOptions } from './follow.js';
export { parseEventLines, filterEvents, eventFilterErrors, EVENT_ACTIONS, type EventFilter } from './parse.js';
export { columnWidths, renderEventRows, renderEventsTable, type TableOptions } from './table.js';
export { ftdSyslogFormatter, ftdSyslogLines, ftdValue, type FtdSyslogOptions, type SyslogRfc, type SyslogStyle } from './ftd-syslog.js';
export { parseNetDestination, tcpTarget, udpTarget, type NetDestination } from './net-targets.js';
