// Public face of the file formats' reading layer: the one YAML reader (positions on every
// node, hostile-input limits) shared by the policy, the regression suites, the run config and
// the lab PKI config. Pure: it is handed text, it never opens a file.
export {
  readYaml,
  toPlain,
  entryOf,
  locate,
  mergeIntoYaml,
  limitsOf,
  DEFAULT_YAML_LIMITS,
  YAML_FORMATS,
  type FormatName,
  type Pos,
  type YEntry,
  type YNode,
  type YamlLimits,
  type YamlProblem,
} from './yaml.js';
export { compiled, AJV_OPTIONS, ANNOTATIONS, issuesOf, validateTree, factsOf, valueAt, defaultsOf, type IssueWords, type SchemaIssue, type Schema, type Path } from './validate.js';
export { formatSchema, readFormat, schemaFile, inFileOrder, isMapping, type FormatSchema, type SchemaName, type Checked } from './formats.js';
