/**
 * Exact statistics and error metrics of logical weights, streamed in bounded chunks of rows with the core's
 * accumulators (analysis/tensorStats.ts, analysis/errorMetrics.ts), so they mean what they mean for a GGUF tensor.
 */
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { DEFAULT_BINS, StatsAccumulator, type ScanOptions, type TensorStats } from '../analysis/tensorStats.ts';
import { ErrorAccumulator, type ErrorMetrics } from '../analysis/errorMetrics.ts';
import { readTensorValues } from '../analysis/tensorValues.ts';
import type { ScaleDistribution } from '../analysis/blocks.ts';
import type { LogicalWeight } from './weights.ts';
import { bf16ToNumber, F16_TO_F32 } from '../quant/scalars.ts';
import { ExactMoments, RepeatedFloat32Moments } from '../analysis/exactSum.ts';
import { ValueCounts } from './codeTables.ts';

/** Weights up to this many values are decoded once and kept for the histogram pass (64 MB of float32). */
const KEEP_DECODED = 16 << 20;

/** Exact stats and histogram of a logical weight's dequantized values (two passes, or one decode when small). */
export function logicalWeightStats(w: LogicalWeight, options: ScanOptions = {}): TensorStats {
  const acc = new StatsAccumulator(options.bins ?? DEFAULT_BINS);
  const total = 2 * w.rows * w.cols;
  let done = 0;
  const rowsPerChunk = options.chunkElements ? Math.max(1, Math.floor(options.chunkElements / Math.max(1, w.cols))) : undefined;
  const progress = (n: number) => options.onProgress?.((done += n), total);
  // float16 / bfloat16 values: count their patterns in one pass; every statistic and the histogram follow
  const counts = w.countPatterns(rowsPerChunk, (rows) => progress(2 * rows * w.cols), options.isCancelled);
  if (counts) {
    const value = w.dtype === 'float16' ? (b: number) => F16_TO_F32[b] : bf16ToNumber;
    for (let b = 0; b < 65536; b++) if (counts[b]) acc.addFirstPassRepeated(value(b), counts[b]);
    for (let b = 0; b < 65536; b++) if (counts[b]) acc.addSecondPassRepeated(value(b), counts[b]);
    return acc.result();
  }
  // float32 values of few per row (LLM.int8): each row's distinct values with their counts, once per pass
  const onRows = (rows: number) => progress(rows * w.cols);
  const first = new RepeatedFirstPass(acc);
  // the (value, count) pairs are kept for pass 2 when they are few (at most 256 a row, 8 bytes each)
  const kept = w.rows * Math.min(256, w.cols) <= KEEP_PAIRS ? new ValueCounts() : undefined;
  const firstPass = (p: ValueCounts) => (first.add(p), kept?.append(p));
  if (w.countValues(firstPass, rowsPerChunk, onRows, options.isCancelled)) {
    first.finish();
    const secondPass = repeatedSecondPass(acc);
    if (kept) {
      secondPass(kept);
      progress(w.rows * w.cols);
    } else w.countValues(secondPass, rowsPerChunk, onRows, options.isCancelled);
    return acc.result();
  }
  if (w.rows * w.cols <= KEEP_DECODED) {
    const all = new Float32Array(w.rows * w.cols);
    w.forEachChunk(
      (v, first) => {
        all.set(v, first * w.cols);
        acc.addFirstPass(v);
        progress(v.length);
      },
      rowsPerChunk,
      options.isCancelled,
    );
    acc.addSecondPass(all);
    progress(all.length);
  } else {
    w.forEachChunk((v) => (acc.addFirstPass(v), progress(v.length)), rowsPerChunk, options.isCancelled);
    w.forEachChunk((v) => (acc.addSecondPass(v), progress(v.length)), rowsPerChunk, options.isCancelled);
  }
  return acc.result();
}

/** Pairs summed at a time by RepeatedFloat32Moments.addRun (about one row of LLM.int8's counted codes). */
const RUN_PAIRS = 256;

/** (value, count) pairs up to this many are kept between the passes (64 MB). */
const KEEP_PAIRS = 8 << 20;

/** Pass 2 of counted values: the histogram of the finite ones. */
function repeatedSecondPass(acc: StatsAccumulator): (p: ValueCounts) => void {
  const bin = acc.binnerRepeated();
  return ({ values, counts, size }) => {
    for (let i = 0; i < size; i++) {
      const x = values[i];
      if (x - x === 0) bin(x, counts[i]);
    }
  };
}

/**
 * Pass 1 of float32 values given with their counts, in stream order: what StatsAccumulator.addFirstPassRepeated
 * does, with the exact sums through RepeatedFloat32Moments (the bins, not an expansion sum per value).
 */
class RepeatedFirstPass {
  private readonly moments = new ExactMoments();
  private readonly sums = new RepeatedFloat32Moments(this.moments);
  private count = 0;
  private zero = 0;
  private min = Infinity;
  private max = -Infinity;

  constructor(private readonly acc: StatsAccumulator) {}

  add({ values, counts, size }: ValueCounts): void {
    let { min, max, count, zero } = this;
    for (let from = 0; from < size; from += RUN_PAIRS) {
      const to = Math.min(size, from + RUN_PAIRS);
      let minAbs = Infinity;
      let maxAbs = 0;
      let total = 0;
      let nonFinite = false;
      for (let i = from; i < to; i++) {
        const x = values[i];
        const n = counts[i];
        if (x - x !== 0) {
          nonFinite = true;
          continue;
        }
        count += n;
        if (x < min) min = x;
        if (x > max) max = x;
        if (x === 0) zero += n;
        else {
          const ax = Math.abs(x);
          if (ax < minAbs) minAbs = ax;
          if (ax > maxAbs) maxAbs = ax;
          total += n;
        }
      }
      if (!nonFinite && (total === 0 || this.sums.addRun(values, counts, from, to, minAbs, maxAbs, total))) continue;
      for (let i = from; i < to; i++) {
        const x = values[i];
        if (x - x !== 0)
          this.acc.addFirstPassRepeated(x, counts[i]); // NaN and ±Inf: counted only
        else if (x !== 0) this.sums.add(x, counts[i]);
      }
    }
    this.min = min;
    this.max = max;
    this.count = count;
    this.zero = zero;
  }

  /** Folds the finite values into the accumulator (which has seen only the non-finite ones so far). */
  finish(): void {
    this.sums.flush();
    this.acc.mergeFirstPass(this.count, this.count, this.zero, this.min, this.max, this.moments);
  }
}

/** Stats of the finite values of a group-scale table (a row without a group has NaN there). */
function scaleStats(values: Float64Array, bins: number): TensorStats {
  const finite = values.filter((x) => !Number.isNaN(x));
  const acc = new StatsAccumulator(bins);
  acc.addFirstPass(finite);
  acc.addSecondPass(finite);
  return acc.result();
}

/** The block-scales plot of a logical weight: its group scales (and zero points or MLX biases) from groupScales(). */
export function groupScaleDistribution(w: LogicalWeight, bins = DEFAULT_BINS): ScaleDistribution {
  const g = w.groupScales();
  return {
    d: scaleStats(g.scales, bins),
    ...(g.zeros ? { dmin: scaleStats(g.zeros, bins) } : {}),
    blocks: g.rows * g.groupsPerRow,
    subBlocksPerBlock: 0,
    groups: { rows: g.rows, groupsPerRow: g.groupsPerRow, zeroKind: g.zeroKind },
  };
}

/** Rows [r0, r1) of the reference a weight is compared with, row-major in the weight's logical layout. */
export type ReferenceRows = (r0: number, r1: number) => Float32Array;

/** The reference rows of a plain tensor of the same logical shape (an unquantized checkpoint's weight). */
export function tensorRows(model: Model, tensor: TensorInfo, w: LogicalWeight): ReferenceRows {
  if (tensor.nElements !== w.rows * w.cols)
    throw new QuantLensError('usage', `${tensor.name} has ${tensor.nElements} values, ${w.name} has ${w.rows * w.cols}`);
  return (r0, r1) => readTensorValues(model, tensor, r0 * w.cols, (r1 - r0) * w.cols);
}

/** RMSE, relative RMSE, max abs error ... of a logical weight against a reference, streamed by rows. */
export function compareLogicalWeight(
  w: LogicalWeight,
  reference: ReferenceRows,
  rowsPerChunk?: number,
  isCancelled?: () => boolean,
): ErrorMetrics {
  const acc = new ErrorAccumulator();
  w.forEachChunk((v, first) => acc.add(v, reference(first, first + v.length / w.cols)), rowsPerChunk, isCancelled);
  return acc.result();
}
