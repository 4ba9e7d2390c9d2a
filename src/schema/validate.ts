// Validating a located YAML tree against a format's JSON Schema (ajv), and turning each ajv
// error into an issue that knows where it stands in the file: the value's position, the key's
// for an unknown key, the map's for a missing one. Each format words its issues itself
// (its codes are stable once shipped); the schema supplies the facts: `errorMessage` (what a
// valid value looks like, also shown by editors), `errorCode` (the format's code for it) and
// `title` (what the value is called).
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { locate, toPlain, type Pos, type YNode } from './yaml.js';

export type Schema = { readonly [k: string]: unknown };
export type Path = readonly (string | number)[];

export interface SchemaIssue {
  /** ajv's keyword: type, required, additionalProperties, enum, minimum, pattern, ... */
  readonly keyword: string;
  /** The value in question; for a missing or unknown key, that key's path. */
  readonly path: Path;
  /** The name the value goes by: the last map key on its path ('' for the whole file). */
  readonly key: string;
  readonly value: unknown;
  readonly at: Pos;
  /** The schema the value failed (for a missing key, the one it would have had). */
  readonly schema: Schema;
  /** For unknown and missing keys: the schema of the map they are in. */
  readonly parent?: Schema;
  readonly params: Readonly<Record<string, unknown>>;
  /** ajv's own words, for a schema that carries none. */
  readonly ajvMessage: string;
}

/** A format's words for its issues; `data` is the whole file's value, for context. */
export type IssueWords = (i: SchemaIssue, data: unknown) => { code: string; message: string } | null;

// Annotations our schemas carry besides standard JSON Schema; ajv's strict mode refuses
// keywords it does not know, which keeps typos in the schemas from passing silently.
export const ANNOTATIONS = ['errorMessage', 'errorCode'] as const;

/**
 * How every validator is made: by the engine below on first use, or ahead of time for the
 * policy (validators.generated.ts, by test/schema/generate.ts). Loading ajv and compiling the
 * policy schema cost ~0.1 s of CPU, which every command that reads a policy and every reload
 * would pay; the generated code loads in milliseconds, and test/schema fails when it no longer
 * matches the schema. The other formats are read once, at start.
 */
export const AJV_OPTIONS = Object.freeze({
  allErrors: true, // every problem of the file in one run
  verbose: true, // errors carry their schema: its errorMessage, errorCode and title
  ownProperties: true, // `constructor` and friends are never found on a prototype
  useDefaults: true, // defaults are written once, in the schema
  allowUnionTypes: true,
  strict: true,
  // A `then: {required: [x]}` names a property its parent schema defines.
  strictRequired: false,
  // test/schema checks the schemas against the JSON Schema meta-schema.
  validateSchema: false,
  logger: false,
} satisfies Options);

let shared: Ajv | null = null;

/**
 * One validator engine per process, loaded on first use: importing ajv costs tens of
 * milliseconds, which every command that never reads a config file would otherwise pay.
 */
function engine(): Ajv {
  if (shared) return shared;
  const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new AjvClass(AJV_OPTIONS);
  for (const keyword of ANNOTATIONS) ajv.addKeyword({ keyword, schemaType: 'string' });
  shared = ajv;
  return ajv;
}

/**
 * A compiled validator per schema, made on first use: compiling costs milliseconds, validating
 * microseconds, so a process compiles each schema once whatever number of files it reads. The
 * engine and these memos are the only state here, and they never change what a call returns.
 */
export function compiled(schema: Schema): (data: unknown) => readonly ErrorObject[] {
  let validate: ValidateFunction | null = null;
  return (data) => {
    validate ??= engine().compile(schema);
    return validate(data) ? [] : (validate.errors ?? []);
  };
}

/** A validator as ajv generates it: true, or false with its errors on the function. */
export type GeneratedValidator = ((data: unknown) => boolean) & { errors?: readonly ErrorObject[] | null };

/** A generated validator as a function from data to its errors. */
export function errorsOf(validate: GeneratedValidator): (data: unknown) => readonly ErrorObject[] {
  return (data) => (validate(data) ? [] : (validate.errors ?? []));
}

/** `#/definitions/x` references within one schema, followed. */
function deref(root: Schema, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let hops = 0; typeof cur.$ref === 'string' && hops < 16; hops++) {
    const parts = (cur.$ref as string).replace(/^#\//, '').split('/');
    let next: unknown = root;
    for (const p of parts) next = (next as Record<string, unknown> | undefined)?.[p.replace(/~1/g, '/').replace(/~0/g, '~')];
    cur = (next as Schema | undefined) ?? {};
  }
  return cur;
}

/** A JSON pointer as map keys and list indexes (indexes where the data holds a list). */
function pathOf(pointer: string, data: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let cur = data;
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step = Array.isArray(cur) ? Number(seg) : seg;
    out.push(step);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[step] : undefined;
  }
  return out;
}

/** The plain value at a path, undefined where the path leaves the data. */
export function valueAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const step of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[step] : undefined;
  return cur;
}

const lastKey = (path: Path): string => {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string;
  return '';
};

// Errors that only say "a sub-schema failed": the sub-schema's own errors say what.
const WRAPPERS = new Set(['if', 'anyOf', 'oneOf', 'allOf', 'not', 'propertyNames']);

/** ajv's errors as located issues, in file order. */
export function issuesOf(root: Schema, errors: readonly ErrorObject[], data: unknown, tree: YNode): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  for (const e of errors) {
    if (WRAPPERS.has(e.keyword)) continue;
    const base = pathOf(e.instancePath, data);
    const params = e.params as Record<string, unknown>;
    const parentSchema = (e.parentSchema ?? {}) as Schema;
    let path: Path = base;
    let schema = parentSchema;
    let parent: Schema | undefined;
    let at: Pos;
    if (e.keyword === 'required') {
      const key = String(params.missingProperty);
      path = [...base, key];
      parent = parentSchema;
      schema = deref(root, (parentSchema.properties as Record<string, Schema> | undefined)?.[key]);
      at = locate(tree, path).at;
    } else if (e.keyword === 'additionalProperties' || e.propertyName !== undefined) {
      path = [...base, String(e.propertyName ?? params.additionalProperty)];
      parent = e.keyword === 'additionalProperties' ? parentSchema : undefined;
      const l = locate(tree, path);
      at = l.keyAt ?? l.at;
    } else {
      at = locate(tree, path).at;
    }
    out.push({ keyword: e.keyword, path, key: lastKey(path), value: valueAt(data, path), at, schema, ...(parent ? { parent } : {}), params, ajvMessage: e.message ?? e.keyword });
  }
  return out.sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
}

/**
 * Validate a tree: its plain value (defaults filled in) and the format's errors, once each
 * (a value failing two keywords of one schema with one errorMessage is one problem).
 */
export function validateTree(
  validate: (data: unknown) => readonly ErrorObject[],
  root: Schema,
  tree: YNode,
  file: string,
  words: IssueWords,
): { data: unknown; errors: PeekwallError[] } {
  const data = toPlain(tree);
  const errors: PeekwallError[] = [];
  const seen = new Set<string>();
  for (const issue of issuesOf(root, validate(data), data, tree)) {
    const w = words(issue, data);
    if (!w) continue;
    const k = `${issue.at.line}:${issue.at.column}:${w.code}:${w.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    errors.push(peekwallError(w.code, w.message, { file, ...issue.at }));
  }
  return { data, errors };
}

/** The schema's facts about an issue: errorMessage, errorCode, title, and the allowed keys or values. */
export function factsOf(i: SchemaIssue): { expected?: string; code?: string; title?: string; allowed: readonly string[] } {
  const s = i.schema;
  const props = (i.parent?.properties ?? {}) as Record<string, unknown>;
  const allowed = i.keyword === 'enum' ? ((i.params.allowedValues as unknown[]) ?? []).map(String) : Object.keys(props);
  return {
    ...(typeof s.errorMessage === 'string' ? { expected: s.errorMessage } : {}),
    ...(typeof s.errorCode === 'string' ? { code: s.errorCode } : {}),
    ...(typeof s.title === 'string' ? { title: s.title } : {}),
    allowed,
  };
}

/**
 * The defaults an object schema's properties declare, nested as the object is: a property
 * with a `default` gives it, one with properties of its own gives theirs. For a format whose
 * code needs every default without a file (the policy's settings).
 */
export function defaultsOf(s: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    if ('default' in p) out[k] = p.default;
    else if (p.properties) out[k] = defaultsOf(p);
  }
  return out;
}
