/**
 * Compare a model with a reference (its source checkpoint, or another quantization): entries matched by name
 * (and by the llama.cpp <-> Hugging Face name map; a gpt-oss experts tensor of one expert with the dense MLP weights
 * it was made of, either side), reconstruction metrics per entry, streamed in bounded memory.
 * An entry is a value source (analysis/valueSource.ts): a tensor, or a logical weight of a quantized Hugging Face
 * checkpoint (a side opened with its hfquant view), compared by its logical name on its dequantized [out, in] values.
 */
import type { Model } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import type { ValueSource } from '../analysis/valueSource.ts';
import { valueSources, type OpenedModel } from '../hfquant/source.ts';
import { ErrorAccumulator, type ErrorMetrics } from '../analysis/errorMetrics.ts';
import { StatsAccumulator, type Histogram } from '../analysis/tensorStats.ts';
import { metadataValue } from '../analysis/summary.ts';
import { denseExpertParts, ggufToHf, hfToGguf, permutedKind, hfRowOf } from './nameMap.ts';

export interface TensorPair {
  name: string;
  tensor: ValueSource;
  reference: ValueSource;
  /** Rows of the reference are permuted per head of this many rows (q/k from a HF checkpoint). */
  headDim?: number;
}

export interface Pairing {
  pairs: TensorPair[];
  /** In the model, no counterpart in the reference. */
  missingInReference: string[];
  /** In the reference, no counterpart in the model. */
  missingInModel: string[];
  /** Matched by name but of different shapes. */
  shapeMismatches: { name: string; shape: number[]; referenceShape: number[] }[];
}

/** A side of a comparison: a model, or a model opened with its logical weights (openModelAndWeights). */
export type CompareSide = Model | OpenedModel;

function sideOf(side: CompareSide): OpenedModel {
  return 'tensors' in side ? { model: side } : side;
}

/** The model of a side. */
export function modelOf(side: CompareSide): Model {
  return sideOf(side).model;
}

function num(model: Model, key: string): number | undefined {
  const v = metadataValue(model, key);
  return typeof v === 'number' ? v : undefined;
}

/** Pair the entries of `model` (its tensors, or its logical weights and plain tensors) with those of `reference`. */
export function pairTensors(modelSide: CompareSide, referenceSide: CompareSide): Pairing {
  const model = modelOf(modelSide);
  const reference = modelOf(referenceSide);
  const refEntries = valueSources(sideOf(referenceSide));
  const refByName = new Map(refEntries.map((t) => [t.name, t]));
  const used = new Set<string>();
  const pairs: TensorPair[] = [];
  const missingInReference: string[] = [];
  const shapeMismatches: Pairing['shapeMismatches'] = [];
  const arch = metadataValue(model, 'general.architecture') ?? metadataValue(reference, 'general.architecture');
  const crossFormat = model.format !== reference.format;
  const modelEntries = valueSources(sideOf(modelSide));
  const fromDense = denseModelPairs(modelEntries, refEntries);
  for (const t of modelEntries) {
    const dense = fromDense.get(t.name);
    if (dense === null) continue; // a part of a dense pair, paired at its first part
    if (dense) {
      used.add(dense.reference.name);
      pairs.push(dense);
      continue;
    }
    const mapped = crossFormat ? (model.format === 'gguf' ? ggufToHf(t.name) : hfToGguf(t.name)) : undefined;
    const named = refByName.get(t.name) ?? (mapped ? refByName.get(mapped) : undefined);
    const experts = named ? undefined : denseExperts(t, refByName);
    const ref = named ?? experts?.source;
    if (!ref) {
      missingInReference.push(t.name);
      continue;
    }
    used.add(ref.name);
    for (const part of experts?.parts ?? []) used.add(part);
    const a = t.shape;
    const b = ref.shape;
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      shapeMismatches.push({ name: t.name, shape: a, referenceShape: b });
      continue;
    }
    let headDim: number | undefined;
    const ggufSide = model.format === 'gguf' ? model : reference;
    const ggufName = model.format === 'gguf' ? t.name : ref.name;
    const kind = crossFormat ? permutedKind(ggufName) : undefined;
    if (kind && typeof arch === 'string') {
      const heads =
        kind === 'q'
          ? num(ggufSide, `${arch}.attention.head_count`)
          : (num(ggufSide, `${arch}.attention.head_count_kv`) ?? num(ggufSide, `${arch}.attention.head_count`));
      const rows = a[0];
      if (heads && rows % heads === 0 && (rows / heads) % 2 === 0) headDim = rows / heads;
    }
    pairs.push({ name: t.name, tensor: t, reference: ref, headDim });
  }
  const missingInModel = refEntries.filter((t) => !used.has(t.name)).map((t) => t.name);
  return { pairs, missingInReference, missingInModel, shapeMismatches };
}

/**
 * A dense model against a gpt-oss reference (the reverse of denseExperts): each one-expert experts tensor of the
 * reference pairs with the model's MLP weights it was made of, gate and up rows interleaved for gate_up_proj. By the
 * name of the model's first part: its pair; the other parts: null (paired there); absent: not such a part.
 */
function denseModelPairs(modelEntries: ValueSource[], refEntries: ValueSource[]): Map<string, TensorPair | null> {
  const modelByName = new Map(modelEntries.map((t) => [t.name, t]));
  const byPart = new Map<string, TensorPair | null>();
  for (const r of refEntries) {
    if (modelByName.has(r.name)) continue;
    const dense = denseExperts(r, modelByName);
    if (!dense || dense.parts.some((part) => byPart.has(part))) continue;
    if (dense.source.shape.some((d, i) => d !== r.shape[i])) continue; // left to the name match (a shape mismatch)
    dense.parts.forEach((part, i) => byPart.set(part, i ? null : { name: dense.source.name, tensor: dense.source, reference: r }));
  }
  return byPart;
}

/**
 * The counterpart of a gpt-oss experts tensor of one expert ([1, out, in]) among dense entries (byName): its MLP
 * weights (denseExpertParts), gate and up rows interleaved for gate_up_proj; undefined when they are not all there.
 */
function denseExperts(t: ValueSource, byName: Map<string, ValueSource>): { source: ValueSource; parts: string[] } | undefined {
  const dense = denseExpertParts(t.name);
  if (!dense || t.shape.length !== 3 || t.shape[0] !== 1) return undefined;
  if ('down' in dense) {
    const down = byName.get(dense.down);
    return down && { source: { ...down, shape: [1, ...down.shape] }, parts: [down.name] };
  }
  const gate = byName.get(dense.gate);
  const up = byName.get(dense.up);
  if (!gate || !up || gate.shape.length !== 2 || up.shape.join() !== gate.shape.join()) return undefined;
  const [rows, rowLength] = gate.shape;
  const source: ValueSource = {
    ...gate,
    name: `${gate.name} + ${up.name} (rows interleaved)`,
    shape: [1, 2 * rows, rowLength],
    nElements: 2 * gate.nElements,
    rows: 2 * rows,
    readRows(r0, n) {
      const out = new Float32Array(n * rowLength);
      if (n === 0) return out;
      const first = r0 >> 1;
      const count = ((r0 + n - 1) >> 1) - first + 1;
      const halves = [gate.readRows(first, count), up.readRows(first, count)];
      for (let r = r0; r < r0 + n; r++) {
        const from = ((r >> 1) - first) * rowLength;
        out.set(halves[r & 1].subarray(from, from + rowLength), (r - r0) * rowLength);
      }
      return out;
    },
  };
  return { source, parts: [gate.name, up.name] };
}

const CHUNK_WEIGHTS = 1 << 20;

/**
 * Calls `onChunk(values, referenceValues, firstRow, nRows)` over the pair in chunks of whole rows, the reference
 * rows brought into the model's order (q/k heads from a Hugging Face checkpoint are un-permuted).
 */
export function forEachPairedChunk(
  modelSide: CompareSide,
  _reference: CompareSide,
  pair: TensorPair,
  onChunk: (values: Float32Array, referenceValues: Float32Array, firstRow: number, nRows: number, rowLength: number) => void,
  isCancelled?: () => boolean,
): void {
  const model = modelOf(modelSide);
  const rowLength = pair.tensor.rowLength;
  const rows = pair.tensor.rows;
  const unit = pair.headDim ?? 1;
  const step = Math.max(unit, Math.floor(CHUNK_WEIGHTS / Math.max(1, rowLength) / unit) * unit);
  for (let r = 0; r < rows; r += step) {
    if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while comparing ${pair.name}`);
    const n = Math.min(step, rows - r);
    const mine = pair.tensor.readRows(r, n);
    let ref = pair.reference.readRows(r, n);
    if (pair.headDim) {
      // Rows r..r+n are whole heads; bring the reference rows into the model's order.
      const fromHf = model.format === 'gguf';
      const permuted = new Float32Array(ref.length);
      for (let i = 0; i < n; i++) {
        const j = hfRowOf(i, pair.headDim);
        if (fromHf) permuted.set(ref.subarray(j * rowLength, (j + 1) * rowLength), i * rowLength);
        else permuted.set(ref.subarray(i * rowLength, (i + 1) * rowLength), j * rowLength);
      }
      ref = permuted;
    }
    onChunk(mine, ref, r, n, rowLength);
  }
}

/** Reconstruction metrics of pair.tensor against pair.reference over every value. */
export function compareTensor(model: CompareSide, reference: CompareSide, pair: TensorPair, isCancelled?: () => boolean): ErrorMetrics {
  const acc = new ErrorAccumulator();
  forEachPairedChunk(model, reference, pair, (mine, ref) => acc.add(mine, ref), isCancelled);
  return acc.result();
}

export interface TensorComparisonDetail {
  name: string;
  metrics: ErrorMetrics;
  /** Histograms of the model's and the reference's values over the same bins. */
  values: Histogram;
  referenceValues: Histogram;
  /** Histogram of (model − reference). */
  error: Histogram;
  /**
   * max |model − reference| per cell of a height × width grid over the tensor's `rows` rows of `columns` values:
   * cell (x, y) covers rows [⌈y·rows/height⌉, ⌈(y+1)·rows/height⌉), columns likewise (as the |w| heatmap's).
   */
  heatmap: { width: number; height: number; cells: number[]; max: number; rows: number; columns: number };
}

/** Everything the editor shows for one compared tensor: overlaid histograms, error histogram, error heatmap. */
export function compareTensorDetail(
  model: CompareSide,
  reference: CompareSide,
  pair: TensorPair,
  options: { bins?: number; width?: number; height?: number; isCancelled?: () => boolean } = {},
): TensorComparisonDetail {
  const bins = options.bins ?? 64;
  const mineAcc = new StatsAccumulator(bins);
  const refAcc = new StatsAccumulator(bins);
  const errAcc = new StatsAccumulator(bins);
  const metrics = new ErrorAccumulator();
  const diff = (a: Float32Array, b: Float32Array) => Float64Array.from(a, (x, i) => x - b[i]);
  forEachPairedChunk(
    model,
    reference,
    pair,
    (mine, ref) => {
      mineAcc.addFirstPass(mine);
      refAcc.addFirstPass(ref);
      errAcc.addFirstPass(diff(mine, ref));
      metrics.add(mine, ref);
    },
    options.isCancelled,
  );
  // The value histograms share one range so they overlay.
  const lo = Math.min(mineAcc.min, refAcc.min);
  const hi = Math.max(mineAcc.max, refAcc.max);
  mineAcc.setRange(lo, hi);
  refAcc.setRange(lo, hi);
  let width = 0,
    height = 0,
    rows = 0,
    columns = 0,
    cells = new Float64Array(0);
  forEachPairedChunk(
    model,
    reference,
    pair,
    (mine, ref, firstRow, nRows, rowLength) => {
      if (!cells.length) {
        rows = pair.tensor.nElements / rowLength;
        columns = rowLength;
        width = Math.max(1, Math.min(options.width ?? 128, rowLength));
        height = Math.max(1, Math.min(options.height ?? 128, rows));
        cells = new Float64Array(width * height);
      }
      mineAcc.addSecondPass(mine);
      refAcc.addSecondPass(ref);
      const d = diff(mine, ref);
      errAcc.addSecondPass(d);
      for (let i = 0; i < d.length; i++) {
        const r = firstRow + Math.floor(i / rowLength);
        const c = i % rowLength;
        const cell = Math.floor((r * height) / rows) * width + Math.floor((c * width) / rowLength);
        const a = Math.abs(d[i]);
        if (a > cells[cell]) cells[cell] = a;
      }
    },
    options.isCancelled,
  );
  const empty = { bins, lo: 0, hi: 0, counts: [] as number[] };
  let max = 0;
  for (const v of cells) if (Number.isFinite(v) && v > max) max = v;
  return {
    name: pair.name,
    metrics: metrics.result(),
    values: mineAcc.result().histogram ?? empty,
    referenceValues: refAcc.result().histogram ?? empty,
    error: errAcc.result().histogram ?? empty,
    heatmap: { width, height, cells: Array.from(cells), max, rows, columns },
  };
}

export interface ComparedTensor extends ErrorMetrics {
  name: string;
  reference_name: string;
  type_name: string;
  reference_type_name: string;
}

/** A paired tensor that could not be compared: one side cannot be decoded (an unknown type, a short read ...). */
export interface UncomparedTensor {
  name: string;
  reference_name: string;
  /** The one-line reason. */
  error: string;
}

/** A model compared with a reference: per-tensor error, and what could not be paired. */
export interface Comparison {
  reference: string;
  tensors: ComparedTensor[];
  /** Paired tensors that could not be decoded, with the reason. */
  uncompared: UncomparedTensor[];
  missingInReference: string[];
  missingInModel: string[];
  shapeMismatches: Pairing['shapeMismatches'];
}

/** One pair's row: its metrics, or why it cannot be compared (a cancelled comparison still throws). */
export function comparePair(
  model: CompareSide,
  reference: CompareSide,
  p: TensorPair,
  isCancelled?: () => boolean,
): { compared: ComparedTensor } | { uncompared: UncomparedTensor } {
  try {
    const m = compareTensor(model, reference, p, isCancelled);
    return {
      compared: {
        name: p.name,
        reference_name: p.reference.name,
        type_name: p.tensor.typeName,
        reference_type_name: p.reference.typeName,
        ...m,
      },
    };
  } catch (e) {
    if (!(e instanceof QuantLensError) || e.code === 'cancelled') throw e;
    return { uncompared: { name: p.name, reference_name: p.reference.name, error: e.message } };
  }
}

export function compareModels(
  model: CompareSide,
  reference: CompareSide,
  /** `filter` picks tensors by name: a RegExp, or a Set's lookalike `{ test }`. */
  options: {
    filter?: { test(name: string): boolean };
    isCancelled?: () => boolean;
    onProgress?: (done: number, total: number, name: string) => void;
  } = {},
): { pairing: Pairing; tensors: ComparedTensor[]; uncompared: UncomparedTensor[] } {
  const pairing = pairTensors(model, reference);
  const pairs = pairing.pairs.filter((p) => !options.filter || options.filter.test(p.name));
  const tensors: ComparedTensor[] = [];
  const uncompared: UncomparedTensor[] = [];
  for (const [i, p] of pairs.entries()) {
    const row = comparePair(model, reference, p, options.isCancelled);
    if ('compared' in row) tensors.push(row.compared);
    else uncompared.push(row.uncompared);
    options.onProgress?.(i + 1, pairs.length, p.name);
  }
  return { pairing, tensors, uncompared };
}
