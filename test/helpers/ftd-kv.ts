// The key/value split the Elastic cisco_ftd integration applies to an FTD message
// (elasticsearch/ingest_pipeline/default.yml: kv with field_split ",(?=[A-za-z1-9\\s]+:)" and
// value_split ":", keys and values trimmed), so tests read our lines as that parser does.
// The character class is theirs verbatim, `A-z` and all.
const FIELD_SPLIT = /,(?=[A-za-z1-9\s]+:)/;

/** The message ID and its pairs; a repeated key keeps every value (a value with `, Word:` shows up as an extra key). */
export function elasticFtdKv(line: string): { id: string; kv: Map<string, string[]> } | null {
  const m = /%FTD-(\d)-(\d{6}):\s?(.*)$/.exec(line);
  if (!m) return null;
  const kv = new Map<string, string[]>();
  for (const part of m[3].split(FIELD_SPLIT)) {
    const at = part.indexOf(':');
    if (at < 0) continue;
    const k = part.slice(0, at).trim();
    const v = part.slice(at + 1).trim();
    kv.set(k, [...(kv.get(k) ?? []), v]);
  }
  return { id: m[2], kv };
}

/** The single value of `key`, or undefined (several values: the line was split wrongly, reported as a list). */
export const one = (kv: Map<string, string[]>, key: string): string | undefined => {
  const v = kv.get(key);
  return v === undefined ? undefined : v.length === 1 ? v[0] : `<${v.length} values: ${v.join(' | ')}>`;
};
