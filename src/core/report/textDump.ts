/**
 * A model as stable, diffable text (the "Quant Lens dump"): header, metadata, tensors grouped by block, stats
 * when they have been computed. No offsets or file paths beyond the file name, so two dumps diff well.
 * Grammar: syntaxes/quantlens-dump.tmLanguage.json. Sections start with "== ", groups with "-- ".
 */
import { basename } from 'node:path';
import type { Model } from '../model.ts';
import type { TensorStats } from '../analysis/tensorStats.ts';
import { summarize, formatCount } from '../analysis/summary.ts';
import { describeValue } from '../analysis/metadataJson.ts';
import { blockOf } from '../analysis/quantMap.ts';

export const DUMP_HEADER = 'quantlens-dump 1';

function g(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x);
}

export function statsLine(s: TensorStats): string {
  const special = s.nan_count + s.posinf_count + s.neginf_count ? ` nan=${s.nan_count} +inf=${s.posinf_count} -inf=${s.neginf_count}` : '';
  return `min=${g(s.min)} max=${g(s.max)} mean=${g(s.mean)} std=${g(s.std)} rms=${g(s.rms)} zeros=${s.zero_count}${special}`;
}

export function dumpModel(model: Model, stats?: Map<string, TensorStats>): string {
  const s = summarize(model);
  const lines: string[] = [DUMP_HEADER];
  const kv = (k: string, v: string | number | undefined) => {
    if (v !== undefined) lines.push(`${k.padEnd(14)}${v}`);
  };
  kv('file', model.files.map((f) => basename(f.path)).join(', '));
  kv('format', s.format);
  kv('architecture', s.architecture);
  kv('name', s.name);
  kv('file_type', s.fileType);
  kv('parameters', `${s.parameterCount} (${formatCount(s.parameterCount)})`);
  kv('tensors', s.tensorCount);
  kv('bits/weight', s.averageBitsPerWeight.toFixed(4));
  kv('by_type', s.byType.map((b) => `${b.type}:${b.tensors}`).join(' '));
  lines.push('', `== metadata (${model.metadata.length})`);
  for (const m of model.metadata) lines.push(`${m.key} ${m.type} ${describeValue(m.value, 200)}`);
  lines.push('', `== tensors (${model.tensors.length})`);
  const groups = new Map<string, typeof model.tensors>();
  for (const t of model.tensors) {
    const b = blockOf(t.name);
    const key = b ? `block ${b.block}` : 'global';
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const [group, tensors] of groups) {
    lines.push(`-- ${group}`);
    for (const t of tensors) {
      const bpw = Number.isFinite(t.type.bitsPerWeight) ? `${t.type.bitsPerWeight.toFixed(4)} bpw` : '? bpw';
      lines.push(`${t.name} ${t.type.name} [${t.shape.join(', ')}] ${bpw} ${t.nbytes} bytes`);
      const st = stats?.get(t.name);
      if (st) lines.push(`    stats ${statsLine(st)}`);
    }
  }
  return lines.join('\n') + '\n';
}
