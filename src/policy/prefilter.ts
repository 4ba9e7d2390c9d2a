// The prefilter (`prefilter:`): rules on addresses and ports only, judged before anything
// else — Fastpath and Block end evaluation, Analyze hands the flow on to the access rules.
import { PREFILTER_ACTIONS, type CompiledPrefilterRule } from './compiled.js';
import type { Objects } from './objects.js';
import { forEachItem, listOf, oneOf, str, type ItemShape, type Reader } from './reader.js';
import type { YNode } from '../schema/index.js';

const PREFILTER_RULE: ItemShape = {
  map: 'a prefilter rule',
  what: 'prefilter rule',
  keys: ['name', 'action', 'sourceNetworks', 'destinationNetworks', 'destinationPorts'],
  required: ['name', 'action'],
};

export function readPrefilter(r: Reader, objects: Objects, n: YNode | undefined): CompiledPrefilterRule[] {
  const out: CompiledPrefilterRule[] = [];
  forEachItem(r, n, () => 'prefilter must be a list of rules', PREFILTER_RULE, (rule) => {
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
  });
  return out;
}
