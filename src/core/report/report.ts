/**
 * Reports to take elsewhere: Markdown (for a GitHub issue), JSON and CSV of summary, tensors, stats and errors.
 * Names and values from the file are data, never markup or formulas:
 * - CSV (RFC 4180): a cell holding `"`, `,`, CR or LF is quoted, its quotes doubled; a text cell beginning with
 *   `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so a spreadsheet does not run it as a formula (OWASP);
 *   numbers are written as numbers, negative ones included. Names are otherwise complete.
 * - Markdown: a plain name (letters, digits, `_ . : / + -`) is a code span as before; any other name or value is
 *   text with control characters escaped (`\n`); backslash, backtick, `*`, `_`, `[`, `]`, `#`, `|`, `~` and a
 *   leading `-`, `+` or `=` backslash-escaped; `<`, `>`, `&` as entities, and cut after MAX_MD_TEXT characters with its length shown.
 */
import { basename } from 'node:path';
import type { Model } from '../model.ts';
import type { TensorStats } from '../analysis/tensorStats.ts';
import type { ComparedTensor, UncomparedTensor } from '../compare/compare.ts';
import { summarize, formatBytes, formatCount } from '../analysis/summary.ts';
import { isPlainName, oneLine, showText } from '../errors.ts';
import { listedEntries, logicalSummary, type QuantizedModel } from '../hfquant/open.ts';

export type ReportFormat = 'md' | 'json' | 'csv';

export interface ReportInput {
  model: Model;
  /** A quantized Hugging Face checkpoint's logical weights: listed (with their stats and error) instead of their components. */
  view?: QuantizedModel;
  stats: Map<string, TensorStats>;
  comparison?: { reference: string; tensors: ComparedTensor[]; uncompared?: UncomparedTensor[] };
}

const sig = (x: number | null | undefined, n = 4) =>
  x === null || x === undefined ? '' : Number.isFinite(x) ? Number(x.toPrecision(n)).toString() : String(x);

/** A CSV cell: text made inert (see the file comment) and quoted when RFC 4180 requires it; numbers as they are. */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return String(v);
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Longest name or value written whole into the Markdown report. */
export const MAX_MD_TEXT = 200;

/** A name or value as Markdown text: escaped and cut, so it renders as itself and cannot break a table row. */
export function mdText(text: string): string {
  return showText(text, MAX_MD_TEXT)
    .replace(/[\\`*_[\]#|~]|^[-+=]/g, (c) => `\\${c}`)
    .replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));
}

/** A tensor or file name: a code span when plain (as names always were), else escaped text. */
export function mdName(name: string): string {
  return name.length <= MAX_MD_TEXT && isPlainName(name) ? `\`${name}\`` : mdText(name);
}

/**
 * A report's rows: the tensors, or a quantized checkpoint's logical weights (logical shape, scheme, effective bpw,
 * bytes of all components, the components by role, diagnostics, why it is not decoded) and its plain tensors.
 */
interface ReportEntry {
  name: string;
  type: string;
  shape: number[];
  bits_per_weight: number;
  nbytes: number;
  /** A logical weight's format id, components, diagnostics and why it is not decoded. */
  format?: string;
  components?: { role: string; name: string; dtype: string; shape: number[] }[];
  diagnostics?: string[];
  not_decoded?: string;
}

function reportEntries(model: Model, view: QuantizedModel | undefined): ReportEntry[] {
  const tensor = (t: Model['tensors'][number]): ReportEntry => ({
    name: t.name,
    type: t.type.name,
    shape: t.shape,
    bits_per_weight: t.type.bitsPerWeight,
    nbytes: t.nbytes,
  });
  if (!view) return model.tensors.map(tensor);
  return listedEntries(view).map((e) => {
    const w = e.weight;
    if (!w) return tensor(e.tensor);
    return {
      name: w.name,
      type: w.scheme,
      shape: w.shape,
      bits_per_weight: w.bitsPerWeight,
      nbytes: w.bytes,
      format: w.format.id,
      components: w.components.map((c, i) => ({ role: w.roles[i], name: c.name, dtype: c.dtype ?? c.type.name, shape: c.shape })),
      diagnostics: w.diagnostics,
      ...(w.error ? { not_decoded: oneLine(w.error) } : {}),
    };
  });
}

export function buildReport(input: ReportInput, format: ReportFormat): string {
  const { model, view, stats, comparison } = input;
  const s = view ? logicalSummary(summarize(model), view) : summarize(model);
  const errors = new Map(comparison?.tensors.map((t) => [t.name, t]));
  const compareErrors = new Map(comparison?.uncompared?.map((t) => [t.name, t.error]));
  const rows = reportEntries(model, view).map((t) => ({
    ...t,
    stats: stats.get(t.name),
    error: errors.get(t.name),
    compare_error: compareErrors.get(t.name),
  }));
  if (format === 'json') {
    return (
      JSON.stringify(
        {
          file: model.files.map((f) => basename(f.path)),
          summary: s,
          ...(view ? { quantization: view.summary } : {}),
          reference: comparison?.reference,
          tensors: rows,
        },
        null,
        1,
      ) + '\n'
    );
  }
  if (format === 'csv') {
    const head = [
      'name',
      'type',
      'shape',
      'bits_per_weight',
      'nbytes',
      'min',
      'max',
      'mean',
      'std',
      'rms',
      'absmax',
      'zero_count',
      'nan_count',
      'rmse',
      'rel_rmse',
      'snr_db',
      'max_abs',
      'cosine',
      'compare_error',
      ...(view ? ['format', 'components', 'diagnostics'] : []),
    ];
    const lines = [head.join(',')];
    for (const r of rows) {
      lines.push(
        [
          r.name,
          r.type,
          r.shape.join('x'),
          r.bits_per_weight,
          r.nbytes,
          r.stats?.min,
          r.stats?.max,
          r.stats?.mean,
          r.stats?.std,
          r.stats?.rms,
          r.stats?.absmax,
          r.stats?.zero_count,
          r.stats?.nan_count,
          r.error?.rmse,
          r.error?.rel_rmse,
          r.error?.snr_db,
          r.error?.max_abs,
          r.error?.cosine,
          r.compare_error ?? r.not_decoded,
          ...(view ? [r.format, r.components?.map((c) => `${c.role}=${c.name}`).join(' '), r.diagnostics?.join('; ')] : []),
        ]
          .map(csvCell)
          .join(','),
      );
    }
    return lines.join('\n') + '\n';
  }
  const md: string[] = [];
  md.push(`### ${mdText(s.name ?? basename(model.files[0].path))}`, '');
  md.push(`| | |`, `|---|---|`);
  md.push(`| file | ${model.files.map((f) => mdName(basename(f.path))).join(', ')} |`);
  md.push(`| format | ${s.format} |`);
  if (s.architecture) md.push(`| architecture | ${mdText(s.architecture)} |`);
  if (s.fileType) md.push(`| file type | ${s.fileType} |`);
  if (view) md.push(`| quantization | ${mdText(view.summary)} |`);
  md.push(`| parameters | ${formatCount(s.parameterCount)} |`);
  md.push(`| size | ${formatBytes(s.tensorBytes)} in ${s.tensorCount} tensors, ${s.averageBitsPerWeight.toFixed(3)} bits/weight |`);
  md.push(`| by type | ${s.byType.map((b) => `${b.type} × ${b.tensors}`).join(', ')} |`);
  if (comparison) md.push(`| compared with | ${mdName(comparison.reference)} |`);
  md.push('');
  if (comparison) {
    const ranked = [...comparison.tensors].sort((a, b) => b.rel_rmse - a.rel_rmse);
    md.push(`#### Error against the reference, worst first`, '');
    md.push(`| tensor | type | rel. RMSE | SNR dB | max abs | cosine |`, `|---|---|---:|---:|---:|---:|`);
    for (const t of ranked)
      md.push(
        `| ${mdName(t.name)} | ${mdText(t.type_name)} | ${sig(t.rel_rmse)} | ${sig(t.snr_db)} | ${sig(t.max_abs)} | ${sig(t.cosine, 6)} |`,
      );
    for (const [name, error] of compareErrors) md.push(`| ${mdName(name)} | not compared: ${mdText(error)} | | | | |`);
    md.push('');
  }
  md.push(`#### Tensors`, '');
  md.push(`| tensor | type | shape | bpw | min | max | std |`, `|---|---|---|---:|---:|---:|---:|`);
  for (const r of rows)
    md.push(
      `| ${mdName(r.name)} | ${mdText(r.type)} | ${r.shape.join('×')} | ${sig(r.bits_per_weight)} | ${sig(r.stats?.min)} | ${sig(r.stats?.max)} | ${sig(r.stats?.std)} |`,
    );
  const notes = rows.flatMap((r) =>
    [...(r.not_decoded ? [`not decoded: ${r.not_decoded}`] : []), ...(r.diagnostics ?? [])].map((d) => `- ${mdName(r.name)}: ${mdText(d)}`),
  );
  if (notes.length) md.push('', `#### Notes on logical weights`, '', ...notes);
  return md.join('\n') + '\n';
}
