// The policy's flavour of the one YAML reader (src/schema), where the policy modules import it.
import { readYaml as read } from '../schema/index.js';
export { DEFAULT_YAML_LIMITS, type Pos, type YEntry, type YNode } from '../schema/index.js';
export const readYaml = (text: string, file: string) => read(text, file, 'policy');
