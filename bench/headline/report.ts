// The report: the Markdown tables printed after a run and written into bench/README.md
// (between its markers) with --readme.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { repoRoot } from '../lib/root.js';
import type { BenchResults } from './results.js';

/** A rate as the tables show it: whole numbers from 100 up, two decimals below. */
export function fmt(x: number | null): string {
  if (x === null) return '-';
  return x >= 100 ? String(Math.round(x)) : x.toFixed(2);
}

export function renderTable(r: BenchResults): string {
  const lines: string[] = [];
  lines.push(`| path | target | rate (median) | p50 ms | p99 ms | middlebox CPU µs/op | kernel share | errors |`);
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|`);
  for (const m of r.medians) {
    const p = r.paths.find((x) => x.id === m.path);
    lines.push(
      `| ${m.path} ${p?.title ?? ''} | ${m.target} | ${fmt(m.rate)} ${p?.unit ?? ''} | ${m.p50Ms ?? '-'} | ${m.p99Ms ?? '-'} | ${m.middleboxCpuUsPerOp ?? '-'} | ${m.middleboxSysShare ?? '-'} | ${m.errors} |`,
    );
  }
  lines.push('');
  lines.push(`| ratio (median of per-round ratios) | value | per round | CPU efficiency | goal | met |`);
  lines.push(`|---|---:|---|---:|---:|---|`);
  for (const x of r.ratios) {
    lines.push(
      `| ${x.title} | ${x.value ?? '-'} | ${x.perRound.map((v) => v ?? '-').join(' / ')} | ${x.cpuEfficiency ?? '-'} | ${x.goal === null ? '' : `≥ ${x.goal}`} | ${x.met === null ? '' : x.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

const README_BEGIN = '<!-- bench-results:begin (written by `node dist/bench/run.js --readme`) -->';
const README_END = '<!-- bench-results:end -->';

export function updateReadme(readmePath: string, r: BenchResults, file: string): void {
  const m = r.machine;
  const block = [
    README_BEGIN,
    `Latest run: ${r.date} — \`${r.command}\``,
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}; load average ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd.join(' ')} at end.`,
    `Origin: ${r.upstream.kind} (${r.upstream.cert}, ${r.upstream.keyType}). Peers: ${Object.entries(r.peers).map(([k, v]) => `${k} ${'skipped' in v ? '(skipped)' : v.version}`).join('; ') || 'not measured'}.`,
    `Rounds: ${r.options.rounds} × ${r.options.durationS} s per target, interleaved. Raw data: \`${relative(repoRoot, file)}\`.`,
    '',
    renderTable(r),
    '',
    `Peak RSS (MiB): ${Object.entries(r.peakRssMiB).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    README_END,
  ].join('\n');
  let text = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(README_BEGIN);
  const b = text.indexOf(README_END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + README_END.length);
  else text = `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  writeFileSync(readmePath, text);
}
