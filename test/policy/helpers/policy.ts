// Shared helpers for the policy tests: compile YAML text with an in-memory file system.
import { parsePolicy, type Flow, type FlowIdentity, type Policy } from '../../../src/policy/index.js';
import { formatError, type PeekwallError } from '../../../src/util/errors.js';

export function compile(yaml: string, files: Record<string, string> = {}): { policy?: Policy; errors: PeekwallError[] } {
  const r = parsePolicy(yaml, {
    file: 'test.yaml',
    baseDir: '/virtual',
    readFile: (p: string) => {
      const key = p.replace(/^\/virtual\//, '');
      if (!(key in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return files[key];
    },
  });
  return r.ok ? { policy: r.value, errors: [] } : { errors: r.error };
}

export function mustCompile(yaml: string, files: Record<string, string> = {}): Policy {
  const r = compile(yaml, files);
  if (!r.policy) throw new Error(`policy did not compile:\n${r.errors.map(formatError).join('\n')}`);
  return r.policy;
}

export function flow(o: Partial<Flow> = {}): Flow {
  return { srcIp: '10.0.0.1', srcPort: 40722, dstIp: '192.0.2.10', dstPort: 443, protocol: 'tcp', scheme: 'https', sni: null, ...o };
}

export function named(name: string | null, source: FlowIdentity['source'] = 'sni'): FlowIdentity {
  return { name, source };
}

/** Rules that allow by a URL list, then block everything (default action Block). */
export function urlPolicy(entries: string[], mode: 'current' | 'legacy-substring' = 'current'): Policy {
  return mustCompile(`
settings: {urlMatching: ${mode}}
rules:
  - name: ALLOW_URLS
    action: Allow
    urls: {literals: [${entries.map((e) => JSON.stringify(e)).join(', ')}]}
defaultAction: Block all traffic
`);
}
