// The prefilter (`prefilter:`): rules on addresses and ports only, judged before anything
// else — Fastpath and Block end evaluation, Analyze hands the flow on to the access rules.
import type { CompiledPrefilterRule, PrefilterAction } from './compiled.js';
import type { Objects } from './objects.js';
import { forEachItem, listOf, str, word, type Reader } from './reader.js';
import type { YNode } from '../schema/index.js';

export function readPrefilter(r: Reader, objects: Objects, n: YNode | undefined): CompiledPrefilterRule[] {
  const out: CompiledPrefilterRule[] = [];
  forEachItem(n, (rule) => {
    const name = str(rule.get('name')?.value);
    const action = word<PrefilterAction>(rule.get('action')?.value);
    const refs: string[] = [];
    out.push({
      name: name ?? '?',
      action: action ?? 'Analyze',
      src: objects.networkSet(listOf(rule, 'sourceNetworks'), refs),
      dst: objects.networkSet(listOf(rule, 'destinationNetworks'), refs),
      ports: objects.portRanges(listOf(rule, 'destinationPorts'), refs),
      refs,
    });
  });
  return out;
}
