/**
 * What `info`, `stats` and `dequant` show of a quantized Hugging Face checkpoint (issue 9): its logical weights
 * (GPTQ, AWQ, bitsandbytes, FP8 ... as the core's hfquant groups them) instead of the packed component tensors.
 */
import type { Model, TensorInfo } from '../core/model.ts';
import { oneLine, showText } from '../core/errors.ts';
import { listedEntries, type QuantizedModel } from '../core/hfquant/open.ts';
import type { LogicalWeight } from '../core/hfquant/weights.ts';

/** One row of `stats`: a plain tensor or a logical weight (its stats come from the dequantized values). */
export interface StatsItem {
  name: string;
  /** The tensor's type, or the logical weight's format id (`gptq`, `mlx-affine` ...). */
  typeName: string;
  /** What the text output shows in the type column. */
  shownType: string;
  nElements: number;
  weight?: LogicalWeight;
  tensor?: TensorInfo;
}

const tensorItem = (t: TensorInfo): StatsItem => ({
  name: t.name,
  typeName: t.type.ggmlName ?? t.type.name,
  shownType: t.type.name,
  nElements: t.nElements,
  tensor: t,
});

/** The rows `stats` lists, in file order: the model's tensors, or the view's logical weights and plain tensors. */
export function statsItems(model: Model, view: QuantizedModel | undefined): StatsItem[] {
  if (!view) return model.tensors.map(tensorItem);
  return listedEntries(view).map((e) =>
    e.weight
      ? { name: e.weight.name, typeName: e.weight.format.id, shownType: e.weight.scheme, nElements: e.weight.nElements, weight: e.weight }
      : tensorItem(e.tensor),
  );
}

function bpw(x: number): string {
  return (Number.isFinite(x) ? x.toFixed(3) : '?').padStart(7);
}

/** The `info` lines of the logical weights, each with its components indented under it, then the plain tensors. */
export function logicalInfoLines(view: QuantizedModel): string[] {
  const lines = [
    ...view.detection.warnings.map((w) => `warning: ${w}`),
    `logical weights (${view.weights.length})`,
    `  ${'name'.padEnd(40)} ${'shape'.padEnd(14)} ${'scheme'.padEnd(36)} ${'bpw'.padStart(7)} ${'bytes'.padStart(10)}`,
  ];
  for (const w of view.weights) {
    lines.push(
      `  ${showText(w.name).padEnd(40)} ${`[${w.shape.join(', ')}]`.padEnd(14)} ${w.scheme.padEnd(36)} ${bpw(w.bitsPerWeight)} ${String(w.bytes).padStart(10)}`,
    );
    if (w.error) lines.push(`    error: ${oneLine(w.error)}`);
    for (const [i, c] of w.components.entries()) {
      lines.push(
        `    ${w.roles[i].padEnd(16)} ${showText(c.name).padEnd(48)} ${`[${c.shape.join(', ')}]`.padEnd(14)} ${(c.dtype ?? c.type.name).padEnd(8)} ${String(c.nbytes).padStart(10)}`,
      );
    }
    // after its components: what its data-level checks found
    for (const d of w.diagnostics) lines.push(`    note: ${d}`);
  }
  lines.push('', `plain tensors (${view.plain.length})`);
  for (const t of view.plain)
    lines.push(
      `  ${showText(t.name).padEnd(40)} ${`[${t.shape.join(', ')}]`.padEnd(14)} ${t.type.name.padEnd(36)} ${bpw(t.type.bitsPerWeight)} ${String(t.nbytes).padStart(10)}`,
    );
  return lines;
}

/** `info --json`'s `quantization` member. */
export function logicalInfoJson(view: QuantizedModel) {
  const d = view.detection;
  return {
    summary: view.summary,
    family: d.family ?? null,
    method: d.method ?? null,
    source: d.source ?? null,
    warnings: d.warnings,
    weights: view.weights.map((w) => ({
      name: w.name,
      shape: w.shape,
      format: w.format.id,
      format_label: w.format.label,
      scheme: w.scheme,
      bits: Number.isFinite(w.bits) ? w.bits : null,
      group_size: w.groupSize,
      bits_per_weight: Number.isFinite(w.bitsPerWeight) ? w.bitsPerWeight : null,
      bytes: w.bytes,
      components: w.components.map((c, i) => ({ role: w.roles[i], name: c.name, shape: c.shape, dtype: c.dtype, nbytes: c.nbytes })),
      diagnostics: w.diagnostics,
      ...(w.error ? { error: w.error.message } : {}),
    })),
    plain: view.plain.map((t) => t.name),
  };
}
