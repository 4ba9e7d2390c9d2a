// Until settings.ts imports src/schema itself: the YAML tree types it reads.
export type { Pos, YEntry, YNode } from '../schema/index.js';
