// The formats' JSON Schemas are files in policies/schemas/, the one description of each format
// (editors read the same files through the `# yaml-language-server: $schema=` line of the
// shipped YAML). They come in as JSON modules, so this folder opens no file: the policy engine,
// which must stay free of I/O, reads its defaults and bounds from its schema like any format.
// The policy's validator is generated from its schema ahead of time (see AJV_OPTIONS).
import { peekwallError, type PeekwallError } from '../util/errors.js';
import { compiled, errorsOf, validateTree, type IssueWords, type Schema } from './validate.js';
import { policy as policyValidator } from './validators.generated.js';
import { readYaml, type FormatName, type YamlLimits, type YNode } from './yaml.js';
import labPki from '../../policies/schemas/lab-pki.schema.json' with { type: 'json' };
import policy from '../../policies/schemas/policy.schema.json' with { type: 'json' };
import runConfig from '../../policies/schemas/run-config.schema.json' with { type: 'json' };
import suite from '../../policies/schemas/suite.schema.json' with { type: 'json' };

export type SchemaName = 'run-config' | 'suite' | 'lab-pki' | 'policy';

const DOCS: Readonly<Record<SchemaName, Schema>> = { 'run-config': runConfig, suite, 'lab-pki': labPki, policy };


/** Where a schema lives in the package, as the shipped YAML files' modelines name it. */
export function schemaFile(name: SchemaName): string {
  return `policies/schemas/${name}.schema.json`;
}

export interface FormatSchema {
  readonly name: SchemaName;
  /** The schema document. */
  readonly schema: () => Schema;
  readonly validate: (data: unknown) => ReturnType<ReturnType<typeof compiled>>;
}

/** A format's schema and its validator (compiled on first use, never per file, where not generated). */
export function formatSchema(name: SchemaName): FormatSchema {
  const doc = DOCS[name];
  return { name, schema: () => doc, validate: name === 'policy' ? errorsOf(policyValidator) : compiled(doc) };
}

export type Checked =
  | { readonly ok: true; readonly tree: YNode; readonly data: unknown; readonly errors: PeekwallError[] }
  | { readonly ok: false; readonly error: PeekwallError[] };

/**
 * Read a file of a format and validate it against its schema. A file the YAML reader refuses is
 * refused with the reader's errors alone (what is left of it would only add noise); otherwise
 * the tree, its plain value with the schema's defaults, and the schema's errors in file order,
 * for the format's semantic checks to add to.
 */
export function readFormat(
  text: string,
  file: string,
  format: FormatName,
  schema: FormatSchema,
  words: IssueWords,
  limits?: Partial<YamlLimits>,
): Checked {
  const y = readYaml(text, file, format, limits);
  if (!y.ok) return y;
  if (y.errors.length > 0) return { ok: false, error: y.errors };
  let v: ReturnType<typeof validateTree>;
  try {
    v = validateTree(schema.validate, schema.schema(), y.value, file, words);
  } catch (e) {
    // A validator that throws (none should): a refusal that says so, never a crash.
    return { ok: false, error: [peekwallError('schema/unavailable', `cannot check the file against ${schemaFile(schema.name)}: ${(e as Error).message}`, { file })] };
  }
  return { ok: true, tree: y.value, data: v.data, errors: v.errors };
}

/** Errors sorted by line and column (stable: one position keeps its order of discovery). */
export function inFileOrder(errors: PeekwallError[]): PeekwallError[] {
  return errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** A YAML mapping's plain value (semantic checks run on data the schema may have refused). */
export const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
