/**
 * Exact statistics of a tensor over every value (no sampling), in two streaming passes:
 * pass 1 counts, min/max, sum and sum of squares; pass 2 the histogram over [min, max] and the sum of squared
 * deviations from the mean (so std is the two-pass value, not E[x²] − mean²). float64 accumulation throughout.
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk, isWide, type Values } from './tensorValues.ts';

/** Field names match the corpus's expected.json `stats` objects. */
export interface TensorStats {
  count: number;
  finite_count: number;
  nan_count: number;
  posinf_count: number;
  neginf_count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  rms: number;
  absmax: number;
  zero_count: number;
  /** Null for a tensor without finite values. */
  histogram: Histogram | null;
}

export interface Histogram {
  bins: number;
  lo: number;
  hi: number;
  counts: number[];
}

export interface ScanOptions {
  bins?: number;
  /** Called between chunks with elements done / total (both passes count). */
  onProgress?: (done: number, total: number) => void;
  /** Polled between chunks; when it returns true the scan throws a 'cancelled' QuantLensError. */
  isCancelled?: () => boolean;
  chunkElements?: number;
}

export const DEFAULT_BINS = 64;
/** Tensors up to this many elements are decoded once and kept for the second pass (64 MB of float32). */
const KEEP_DECODED_ELEMENTS = 16 << 20;

/** The histogram bin of x: floor(((x − lo) · bins) / (hi − lo)) in float64, in exactly that order, clamped. */
export function binOf(x: number, lo: number, hi: number, bins: number): number {
  if (hi === lo) return 0;
  const b = Math.floor(((x - lo) * bins) / (hi - lo));
  return b < 0 ? 0 : b >= bins ? bins - 1 : b;
}

/** Accumulates the statistics of a stream of values, pass by pass. */
export class StatsAccumulator {
  count = 0;
  finite = 0;
  nan = 0;
  posinf = 0;
  neginf = 0;
  zero = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  sumSq = 0;
  private devSq = 0;
  private counts: Float64Array;

  constructor(readonly bins = DEFAULT_BINS) {
    this.counts = new Float64Array(bins);
  }

  /** Pass 1 over a chunk. */
  addFirstPass(v: Values): void {
    let min = this.min;
    let max = this.max;
    let sum = 0;
    let sumSq = 0;
    let finite = 0;
    let zero = 0;
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x - x === 0) {
        finite++;
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
        sumSq += x * x;
        if (x === 0) zero++;
      } else if (x !== x) this.nan++;
      else if (x > 0) this.posinf++;
      else this.neginf++;
    }
    this.count += n;
    this.finite += finite;
    this.zero += zero;
    this.min = min;
    this.max = max;
    this.sum += sum;
    this.sumSq += sumSq;
  }

  get mean(): number {
    return this.finite ? this.sum / this.finite : NaN;
  }

  /** Pass 2 over the same values: histogram and squared deviations. */
  addSecondPass(v: Values): void {
    const lo = this.min;
    const hi = this.max;
    const bins = this.bins;
    const counts = this.counts;
    const mean = this.mean;
    const range = hi - lo;
    const last = bins - 1;
    let devSq = 0;
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x - x !== 0) continue;
      const d = x - mean;
      devSq += d * d;
      let b = range === 0 ? 0 : Math.floor(((x - lo) * bins) / range);
      if (b > last) b = last;
      else if (b < 0) b = 0;
      counts[b]++;
    }
    this.devSq += devSq;
  }

  /** Add `count` copies of the finite value x to pass 2 (for code-counting fast paths). */
  addSecondPassRepeated(x: number, count: number): void {
    const d = x - this.mean;
    this.devSq += d * d * count;
    this.counts[binOf(x, this.min, this.max, this.bins)] += count;
  }

  result(): TensorStats {
    const finite = this.finite;
    return {
      count: this.count,
      finite_count: finite,
      nan_count: this.nan,
      posinf_count: this.posinf,
      neginf_count: this.neginf,
      min: finite ? this.min : NaN,
      max: finite ? this.max : NaN,
      mean: this.mean,
      std: finite ? Math.sqrt(this.devSq / finite) : NaN,
      rms: finite ? Math.sqrt(this.sumSq / finite) : NaN,
      absmax: finite ? Math.max(Math.abs(this.min), Math.abs(this.max)) : NaN,
      zero_count: this.zero,
      histogram: finite ? { bins: this.bins, lo: this.min, hi: this.max, counts: Array.from(this.counts) } : null,
    };
  }
}

/** Exact stats of one tensor. Synchronous (workers, CLI). Values without a finite value (min, mean...) are NaN. */
export function computeTensorStats(model: Model, tensor: TensorInfo, options: ScanOptions = {}): TensorStats {
  const acc = new StatsAccumulator(options.bins ?? DEFAULT_BINS);
  const total = 2 * tensor.nElements;
  const chunkOptions = { chunkElements: options.chunkElements, isCancelled: options.isCancelled };
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };
  if (tensor.nElements === 0) {
    // nothing to read
  } else if (tensor.nElements <= KEEP_DECODED_ELEMENTS) {
    const all = new (isWide(tensor) ? Float64Array : Float32Array)(tensor.nElements);
    forEachChunk(model, tensor, (v, first) => {
      all.set(v, first);
      acc.addFirstPass(v);
      progress(v.length);
    }, chunkOptions);
    acc.addSecondPass(all);
    progress(all.length);
  } else {
    forEachChunk(model, tensor, (v) => {
      acc.addFirstPass(v);
      progress(v.length);
    }, chunkOptions);
    forEachChunk(model, tensor, (v) => {
      acc.addSecondPass(v);
      progress(v.length);
    }, chunkOptions);
  }
  return acc.result();
}
