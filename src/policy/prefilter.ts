// The prefilter (`prefilter:`): rules on addresses and ports only, judged before anything
// else — Fastpath and Block end evaluation, Analyze hands the flow on to the access rules.
import { PREFILTER_ACTIONS, type CompiledPrefilterRule } from './compiled.js';
import type { Objects } from './objects.js';
import { asMap, checkKeys, listOf, oneOf, str, type Reader } from './reader.js';
import type { YNode } from './yamltree.js';

const PREFILTER_KEYS = ['name', 'action', 'sourceNetworks', 'destinationNetworks', 'destinationPorts'];

export function readPrefilter(r: Reader, objects: Objects, n: YNode | undefined): CompiledPrefilterRule[] {
  const out: CompiledPrefilterRule[] = [];
  if (!n) return out;
  if (n.kind !== 'seq') {
    r.error(n.at, 'policy/schema', 'prefilter must be a list of rules');
    return out;
  }
  for (const item of n.items) {
    const entries = asMap(r, item, 'a prefilter rule');
    if (!entries) continue;
    const rule = checkKeys(r, entries, PREFILTER_KEYS, 'prefilter rule', item.at, ['name', 'action']);
    const nameE = rule.get('name');
    const actionE = rule.get('action');
    const name = nameE ? str(r, nameE.value, 'prefilter rule name') : null;
    const action = actionE ? oneOf(r, actionE.value, 'prefilter action', PREFILTER_ACTIONS) : null;
    const refs: string[] = [];
    out.push({
      name: name ?? '?',
      action: action ?? 'Analyze',
      src: objects.networkSet(listOf(r, rule, 'sourceNetworks'), refs),
      dst: objects.networkSet(listOf(r, rule, 'destinationNetworks'), refs),
      ports: objects.portRanges(listOf(r, rule, 'destinationPorts'), refs),
      refs,
    });
  }
  return out;
}
