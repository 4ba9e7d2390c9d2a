// An FMC bundle: the REST answers a policy is made of, keyed by resource name. One JSON file
// whose top-level keys are resource names, or a folder with one `<resource>.json` per
// resource (and `<resource>.page-N.json` for further pages). Each resource is either FMC's
// paged answer as it came (`{links, items, paging}`, fetched with ?expanded=true), a list of
// such pages, or the bare `items` list. Pure: it is handed parsed files, it reads nothing.
import { peekwallError, type PeekwallError } from '../../util/errors.js';
import type { FilePos } from '../../policy/index.js';
import type { YNode } from '../../schema/index.js';
import { pathStep } from './json.js';
import { field, fieldText, list, text } from './tree.js';

/** The object kinds (fetched under /object/ by fmc pull). */
export const FMC_OBJECT_RESOURCES = [
  'networks',
  'hosts',
  'ranges',
  'fqdns',
  'networkgroups',
  'urls',
  'urlgroups',
  'protocolportobjects',
  'portobjectgroups',
  'siurllists',
  'sinetworklists',
  'urlcategories',
] as const;

export const FMC_RESOURCES = ['accesspolicies', 'accessrules', 'securityintelligencepolicies', ...FMC_OBJECT_RESOURCES] as const;
export type FmcResource = (typeof FMC_RESOURCES)[number];

/** The key (single file) or file name (folder, `x-peekwall.json`) of peekwall's own additions. */
export const EXTRA_KEY = 'x-peekwall';

const RESOURCE_SET: ReadonlySet<string> = new Set(FMC_RESOURCES);
export const isResource = (k: string): k is FmcResource => RESOURCE_SET.has(k);

/** One item of a resource, with where it stands. */
export interface FmcItem {
  readonly resource: FmcResource;
  readonly node: YNode;
  /** JSON path of the item inside its file, e.g. `$.accessrules.items[3]`. */
  readonly path: string;
  /** The item's name (or id) for messages. */
  readonly label: string;
}

/** A parsed file of the bundle and what it holds. */
export interface BundleFile {
  readonly file: string;
  readonly root: YNode;
  /** Folder bundles: the resource this file holds and its page number (1 for `<r>.json`). */
  readonly resource?: FmcResource | typeof EXTRA_KEY;
  readonly page?: number;
}

export interface Bundle {
  readonly resources: ReadonlyMap<FmcResource, readonly FmcItem[]>;
  /** The `x-peekwall` map, if any. */
  readonly extra: YNode | null;
  readonly files: readonly BundleFile[];
}

/** What an item must carry when fetched with ?expanded=true (without it FMC sends only links, type, id, name). */
const EXPANDED_FIELD: Partial<Record<FmcResource, string>> = {
  accesspolicies: 'defaultAction',
  accessrules: 'action',
  hosts: 'value',
  networks: 'value',
  ranges: 'value',
  fqdns: 'value',
  urls: 'url',
  protocolportobjects: 'protocol',
};
const LIST_ONLY_KEYS = new Set(['links', 'type', 'id', 'name', 'metadata']);

interface Page {
  readonly items: readonly YNode[];
  readonly path: string;
  readonly at: FilePos;
  readonly offset: number | null;
  readonly count: number | null;
  readonly limit: number | null;
  readonly pages: number | null;
  /** Where the page goes: its paging offset, else its page number (folder files). */
  readonly order: number;
}

function num(n: YNode | undefined): number | null {
  const t = text(n);
  const v = t === undefined ? NaN : Number(t);
  return Number.isInteger(v) && v >= 0 ? v : null;
}

function isPage(n: YNode): boolean {
  return n.kind === 'map' && field(n, 'items') !== undefined;
}

/** A resource's value as its pages: a paged answer, a list of them, or a bare items list. */
function pagesOf(resource: string, n: YNode, path: string, errors: PeekwallError[]): Page[] {
  const page = (p: YNode, pp: string): Page | null => {
    const items = field(p, 'items');
    if (items !== undefined && items.kind !== 'seq' && !(items.kind === 'scalar' && items.value === null)) {
      errors.push(peekwallError('fmc/schema', `${resource}: ${pp}.items must be a list, not ${items.kind === 'map' ? 'a map' : 'a scalar'}`, items.at as FilePos));
      return null;
    }
    const paging = field(p, 'paging');
    return {
      items: list(items),
      path: `${pp}.items`,
      at: p.at as FilePos,
      offset: num(field(paging, 'offset')),
      count: num(field(paging, 'count')),
      limit: num(field(paging, 'limit')),
      pages: num(field(paging, 'pages')),
      order: num(field(paging, 'offset')) ?? 0,
    };
  };
  if (n.kind === 'map' && isPage(n)) {
    const p = page(n, path);
    return p ? [p] : [];
  }
  if (n.kind === 'seq' && n.items.length > 0 && n.items.every(isPage)) {
    return n.items.flatMap((p, i) => page(p, path + pathStep(i)) ?? []);
  }
  if (n.kind === 'seq') return [{ items: n.items, path, at: n.at as FilePos, offset: null, count: null, limit: null, pages: null, order: 0 }];
  errors.push(
    peekwallError('fmc/schema', `${resource} (${path}) must be FMC's paged answer {links, items, paging} or its items list, not ${n.kind === 'map' ? 'a map without items' : 'a scalar'}`, n.at as FilePos),
  );
  return [];
}

/** The items of every page in order; a page set FMC says is larger than what was saved is an error. */
function collect(resource: FmcResource, pages: Page[], hint: string, errors: PeekwallError[]): FmcItem[] {
  pages.sort((a, b) => a.order - b.order);
  const items: FmcItem[] = [];
  for (const p of pages) {
    p.items.forEach((node, i) => {
      const label = fieldText(node, 'name') ?? fieldText(node, 'id') ?? `item ${i}`;
      items.push({ resource, node, path: p.path + pathStep(i), label });
    });
  }
  const count = Math.max(-1, ...pages.map((p) => p.count ?? -1));
  if (count >= 0 && items.length < count) {
    const last = pages[pages.length - 1];
    const limit = last.limit ?? (last.items.length || 25);
    const next = (last.offset ?? 0) + last.items.length;
    errors.push(
      peekwallError(
        'fmc/incomplete-paging',
        `${resource}: FMC's paging says ${count} items${last.pages ? ` on ${last.pages} pages` : ''}, the bundle holds ${items.length} from ${pages.length} page(s): ` +
          `fetch the rest (?offset=${next}&limit=${limit}&expanded=true, and so on) and ${hint}`,
        last.at,
      ),
    );
  }
  return items;
}

/** Items fetched without ?expanded=true carry only links, type, id and name: say so once per resource. */
function checkExpanded(resource: FmcResource, items: readonly FmcItem[], errors: PeekwallError[]): void {
  const need = EXPANDED_FIELD[resource];
  if (!need) return;
  for (const it of items) {
    if (it.node.kind !== 'map') {
      errors.push(peekwallError('fmc/schema', `${resource} ${it.path} must be a map (an FMC object), not ${it.node.kind === 'seq' ? 'a list' : 'a scalar'}`, it.node.at as FilePos));
      continue;
    }
    if (field(it.node, need) !== undefined) continue;
    if (it.node.entries.every((e) => LIST_ONLY_KEYS.has(e.key))) {
      errors.push(
        peekwallError('fmc/not-expanded', `${resource} '${it.label}' (${it.path}) has no '${need}': the answer was fetched without ?expanded=true, which returns only links, type, id and name`, it.node.at as FilePos),
      );
      return;
    }
    errors.push(peekwallError('fmc/schema', `${resource} '${it.label}' (${it.path}) has no '${need}'`, it.node.at as FilePos));
  }
}

/**
 * The bundle from its parsed files: one file keyed by resource name, or a folder's files each
 * holding one resource (or one page of it). Unknown top-level keys are warned about once each.
 */
export function assembleBundle(files: readonly BundleFile[], warnings: PeekwallError[]): { ok: true; value: Bundle } | { ok: false; error: PeekwallError[] } {
  const errors: PeekwallError[] = [];
  const pages = new Map<FmcResource, Page[]>();
  const hints = new Map<FmcResource, string>();
  let extra: YNode | null = null;
  for (const f of files) {
    if (f.resource === EXTRA_KEY) {
      extra = f.root;
      continue;
    }
    if (f.resource !== undefined) {
      // A page file without paging (a bare items list) goes by its number.
      const got = pagesOf(f.resource, f.root, '$', errors).map((p) => (p.offset === null ? { ...p, order: (f.page ?? 1) * 1e12 } : p));
      pages.set(f.resource, [...(pages.get(f.resource) ?? []), ...got]);
      hints.set(f.resource, `save each page as ${f.resource}.page-N.json beside ${f.resource}.json`);
      continue;
    }
    if (f.root.kind !== 'map') {
      errors.push(peekwallError('fmc/not-a-bundle', `an FMC bundle is a JSON object keyed by resource names (${FMC_RESOURCES.slice(0, 3).join(', ')}, ...), not a ${f.root.kind === 'seq' ? 'list' : 'scalar'}`, f.root.at as FilePos));
      continue;
    }
    for (const e of f.root.entries) {
      if (e.key === EXTRA_KEY) extra = e.value;
      else if (isResource(e.key)) {
        pages.set(e.key, [...(pages.get(e.key) ?? []), ...pagesOf(e.key, e.value, `$${pathStep(e.key)}`, errors)]);
        hints.set(e.key, `put every page's answer in a list under "${e.key}"`);
      } else {
        warnings.push(peekwallError('fmc/unknown-resource', `'${e.key}' is not a resource peekwall reads (${FMC_RESOURCES.join(', ')}); it is ignored`, e.keyAt as FilePos));
      }
    }
  }
  if (extra !== null && extra.kind !== 'map') {
    errors.push(peekwallError('fmc/schema', `${EXTRA_KEY} must be a map (settings, feeds, urlDatabase, applications, accessPolicy, unsupported)`, extra.at as FilePos));
    extra = null;
  }
  const resources = new Map<FmcResource, readonly FmcItem[]>();
  for (const [r, ps] of pages) {
    const items = collect(r, ps, hints.get(r) ?? '', errors);
    checkExpanded(r, items, errors);
    resources.set(r, items);
  }
  if (errors.length > 0) return { ok: false, error: errors };
  return { ok: true, value: { resources, extra, files } };
}

/** The resource a folder's file holds, from its name: `<resource>.json`, `<resource>.page-N.json`, `x-peekwall.json`. */
export function fileResource(name: string): { resource: FmcResource | typeof EXTRA_KEY; page: number } | null {
  const m = /^([a-z-]+)(?:\.page-(\d{1,6}))?\.json$/.exec(name);
  if (!m) return null;
  if (m[1] === EXTRA_KEY && m[2] === undefined) return { resource: EXTRA_KEY, page: 1 };
  return isResource(m[1]) ? { resource: m[1], page: m[2] === undefined ? 1 : Number(m[2]) } : null;
}

/** True when a JSON tree is an FMC bundle (a map with at least one resource key or x-peekwall). */
export function looksLikeBundle(root: YNode): boolean {
  return root.kind === 'map' && root.entries.some((e) => isResource(e.key) || e.key === EXTRA_KEY);
}
