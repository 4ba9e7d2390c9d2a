// The policies peekwall runs with in the bench, written to the bench's temp dir. Every one
// blocks BLOCKED_SNI through a Security Intelligence URL list and allows the rest by the
// default action, so the allowed paths cross SI + rules + default like real traffic does.
//   small         TSID off: SNI paths 1, 2, 6 and the passive TLS 1.2 path 5
//   tsid          TSID on, identity cache on (path 3, warmed before measuring)
//   tsid-nocache  TSID on, cache size 0: one probe per connection (path 4)
//   big           as small plus an SI URL block feed of N generated domains (paths 7, 7n)
import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export type ProxyConfigName = 'small' | 'tsid' | 'tsid-nocache' | 'big';

export interface WrittenPolicy {
  readonly file: string;
  readonly tsid: string;
  readonly siEntries: number;
}

/** N distinct domains, none of which the bench's allowed names fall under. */
export function writeSiFeed(file: string, n: number): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, `# peekwall bench: ${n} generated SI URL entries\n`);
    const batch: string[] = [];
    for (let i = 0; i < n; i++) {
      // Mixed depths and TLDs so the index sees realistic fan-out, not one giant label.
      batch.push(i % 3 === 0 ? `h${i}.si-feed${i % 97}.example` : i % 3 === 1 ? `www.d${i}.net` : `d${i}.org.invalid`);
      if (batch.length === 10_000) {
        writeSync(fd, batch.join('\n') + '\n');
        batch.length = 0;
      }
    }
    if (batch.length) writeSync(fd, batch.join('\n') + '\n');
  } finally {
    closeSync(fd);
  }
}

function policyYaml(o: { name: string; tsid: boolean; cacheEntries: number; blockedSni: string; feed?: string }): string {
  return [
    `name: ${o.name}`,
    'settings:',
    '  tsid:',
    `    enabled: ${o.tsid}`,
    '    profile: snort3-legacy',
    '  tsidCache:',
    `    maxEntries: ${o.cacheEntries}`,
    '    ttlMs: 3600000',
    'securityIntelligence:',
    '  url:',
    '    - name: bench-blocked',
    '      action: block',
    '      entries:',
    `        - ${o.blockedSni}`,
    ...(o.feed ? ['    - name: bench-feed', '      action: block', `      feed: ${o.feed}`] : []),
    'rules: []',
    'defaultAction: Intrusion Prevention',
    '',
  ].join('\n');
}

export function writePolicies(dir: string, names: readonly ProxyConfigName[], o: { blockedSni: string; siEntries: number }): Record<ProxyConfigName, WrittenPolicy> {
  const out = {} as Record<ProxyConfigName, WrittenPolicy>;
  for (const name of names) {
    const file = join(dir, `policy-${name}.yaml`);
    if (name === 'big') {
      writeSiFeed(join(dir, 'si-feed.txt'), o.siEntries);
      writeFileSync(file, policyYaml({ name: 'bench-big', tsid: false, cacheEntries: 10_000, blockedSni: o.blockedSni, feed: 'si-feed.txt' }));
      out[name] = { file, tsid: 'off', siEntries: o.siEntries + 1 };
    } else {
      const tsid = name !== 'small';
      const cacheEntries = name === 'tsid-nocache' ? 0 : 10_000;
      writeFileSync(file, policyYaml({ name: `bench-${name}`, tsid, cacheEntries, blockedSni: o.blockedSni }));
      out[name] = { file, tsid: tsid ? (cacheEntries ? 'on, cache on' : 'on, cache off') : 'off', siEntries: 1 };
    }
  }
  return out;
}

