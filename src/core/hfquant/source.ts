/**
 * Logical weights as value sources (analysis/valueSource.ts) and as comparable entries of a model: compare, the
 * |w| heatmap and what-if stream a weight's dequantized [out, in] rows exactly as they stream a tensor's.
 */
import type { Model, TensorInfo } from '../model.ts';
import { tensorSource, type ValueSource } from '../analysis/valueSource.ts';
import { computeTensorStats, type ScanOptions, type TensorStats } from '../analysis/tensorStats.ts';
import { logicalWeightStats } from './stats.ts';
import type { LogicalWeight } from './weights.ts';
import { listedEntries, type QuantizedModel } from './open.ts';

/** A logical weight's dequantized values, rows of `in` (gpt-oss experts: every leading dimension flattened into rows). */
export function weightSource(w: LogicalWeight): ValueSource {
  return {
    name: w.name,
    typeName: w.scheme,
    float: false,
    shape: w.shape,
    nElements: w.nElements,
    rowLength: Math.max(1, w.cols),
    rows: w.rows,
    // the scheme is complete once the weight is loaded (the first read loads it)
    readRows: (r0, n) => w.decodeRows(r0, r0 + n),
  };
}

/** A model opened with its logical weights, when it is a quantized Hugging Face checkpoint (hfquant/open.ts). */
export interface OpenedModel {
  model: Model;
  view?: QuantizedModel;
}

/**
 * The entries of a model as the streaming views see them, in file order: its tensors, or (a quantized checkpoint)
 * its logical weights, by their logical names, and its plain tensors.
 */
export function valueSources(opened: OpenedModel): ValueSource[] {
  const { model, view } = opened;
  if (!view) return model.tensors.map((t) => tensorSource(model, t));
  return listedEntries(view).map((e) => (e.weight ? weightSource(e.weight) : tensorSource(model, e.tensor)));
}

/** One entry by name: a logical weight (by its logical name) or a tensor (a component's name is its tensor). */
export function valueSourceOf(opened: OpenedModel, name: string): ValueSource | undefined {
  const w = opened.view?.weights.find((x) => x.name === name);
  if (w) return weightSource(w);
  const t = opened.model.tensors.find((x) => x.name === name);
  return t ? tensorSource(opened.model, t) : undefined;
}

/** An entry whose exact stats a report or a dump lists: a tensor, or a logical weight (its dequantized values). */
export interface StatsEntry {
  name: string;
  nElements: number;
  stats(options?: ScanOptions): TensorStats;
}

/** The entries of a model whose stats a report lists, in file order (a quantized checkpoint: logical weights and plain tensors). */
export function statsEntries(opened: OpenedModel): StatsEntry[] {
  const { model, view } = opened;
  const tensor = (t: TensorInfo): StatsEntry => ({
    name: t.name,
    nElements: t.nElements,
    stats: (o) => computeTensorStats(model, t, o),
  });
  if (!view) return model.tensors.map(tensor);
  return listedEntries(view).map((e) => {
    const w = e.weight;
    return w ? { name: w.name, nElements: w.nElements, stats: (o?: ScanOptions) => logicalWeightStats(w, o) } : tensor(e.tensor);
  });
}
