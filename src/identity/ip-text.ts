// IPv6 as text, RFC 5952: lower-case hex, the longest run of two or more zero groups written
// '::' (the first one on a tie). Certificates' IP SANs, captures and policy analysis print
// addresses the same way, so the same address always reads the same.
export function ipv6GroupsText(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, z: number) => groups.slice(a, z).map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(0, groups.length);
  return `${hex(0, best)}::${hex(best + bestLen, groups.length)}`;
}
