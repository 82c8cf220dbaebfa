/**
 * Exact statistics of a tensor over every value (no sampling), in two streaming passes:
 * pass 1 counts, min/max and the exact Σx and Σx² (exactSum.ts); pass 2 the histogram over [min, max]. mean, std
 * and rms are the correctly rounded float64 of their exact values (std from the exact Σ(x − mean)², computed as
 * (n·Σx² − (Σx)²) / n without rounding, so it is the two-pass value with an exact mean).
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk, forEachRawChunk, isWide, tensorCodec, type Values } from './tensorValues.ts';
import { countingScanner } from './codeCounting.ts';
import type { RepeatedValueSink } from './countingScanner.ts';
import { firstPassWasm, secondPassWasm, WASM_MIN_LENGTH, hasFusedScan, fusedScan } from './wasmStats.ts';
import { wasmKernel } from '../wasm/kernels.ts';
import { addFloat64Bins, DOUBLE_BINS, ExactMoments, SQUARE_HI, SQUARE_LO } from './exactSum.ts';
import { QuantLensError } from '../errors.ts';
import { DEFAULT_CHUNK_ELEMENTS } from './tensorValues.ts';

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
  /** Decode every weight even where counting codes would do (tests compare both paths). */
  generic?: boolean;
}

export const DEFAULT_BINS = 64;
/** Scratch exponent bins of the JavaScript float32 and float64 passes. */
const SUM_BINS_64 = new Float64Array(DOUBLE_BINS);
const SQUARE_BINS_64 = new Float64Array(DOUBLE_BINS);

/** Tensors up to this many elements are decoded once and kept for the second pass (64 MB of float32). */
const KEEP_DECODED_ELEMENTS = 16 << 20;

/** The histogram bin of x: floor(((x − lo) · bins) / (hi − lo)) in float64, in exactly that order, clamped. */
export function binOf(x: number, lo: number, hi: number, bins: number): number {
  if (hi === lo) return 0;
  const b = Math.floor(((x - lo) * bins) / (hi - lo));
  return b < 0 ? 0 : b >= bins ? bins - 1 : b;
}

/** Accumulates the statistics of a stream of values, pass by pass. */
export class StatsAccumulator implements RepeatedValueSink {
  count = 0;
  finite = 0;
  nan = 0;
  posinf = 0;
  neginf = 0;
  zero = 0;
  min = Infinity;
  max = -Infinity;
  /** Σx and Σx² of the finite values, exact. */
  readonly moments = new ExactMoments();
  private counts: Float64Array;

  constructor(readonly bins = DEFAULT_BINS) {
    this.counts = new Float64Array(bins);
  }

  /** Pass 1 over a chunk. */
  addFirstPass(v: Values): void {
    const k = v instanceof Float32Array && v.length >= WASM_MIN_LENGTH ? wasmKernel() : null;
    if (k) {
      const r = firstPassWasm(k, v as Float32Array, this.min, this.max);
      if (r) {
        this.mergeFirstPass(v.length, v.length, r.zero, r.min, r.max, r.moments);
        return;
      }
    }
    // float32 values the kernel does not take (NaN, infinities, a ±0 extreme, a short chunk, or the kernels
    // switched off) go through the float64 loop: the same exact sums and the same extremes
    this.addFirstPassFloat64(v instanceof Float64Array ? v : Float64Array.from(v));
  }

  /** Float64 (and float32) values: the float64 exponent bins of exactSum.ts; zeros, NaN, ±Inf and extreme values one by one. */
  private addFirstPassFloat64(v: Float64Array): void {
    let min = this.min;
    let max = this.max;
    let finite = 0;
    let zero = 0;
    const moments = this.moments;
    const n = v.length;
    let skipped = 0;
    for (let at = 0; at < n; at += 1 << 24) {
      SUM_BINS_64.fill(0);
      SQUARE_BINS_64.fill(0);
      skipped += addFloat64Bins(v.subarray(at, at + (1 << 24)), SUM_BINS_64, SQUARE_BINS_64);
      moments.addDoubleBins(SUM_BINS_64, SQUARE_BINS_64);
    }
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x - x === 0) {
        finite++;
        if (x < min) min = x;
        if (x > max) max = x;
        if (x === 0) zero++;
        else if (skipped && !(Math.abs(x) >= SQUARE_LO && Math.abs(x) <= SQUARE_HI)) moments.add(x);
      } else if (x !== x) this.nan++;
      else if (x > 0) this.posinf++;
      else this.neginf++;
    }
    this.count += n;
    this.finite += finite;
    this.zero += zero;
    this.min = min;
    this.max = max;
  }

  /** Widen the histogram range before pass 2 (several histograms sharing bins). */
  setRange(lo: number, hi: number): void {
    if (this.finite) {
      this.min = Math.min(this.min, lo);
      this.max = Math.max(this.max, hi);
    }
  }

  /** Pass 2 over the same values: the histogram. */
  addSecondPass(v: Values): void {
    const lo = this.min;
    const hi = this.max;
    const bins = this.bins;
    const counts = this.counts;
    const range = hi - lo;
    const last = bins - 1;
    const scale = range > 0 ? bins / range : 0;
    const allFinite = this.finite === this.count;
    const k = allFinite && v instanceof Float32Array && v.length >= WASM_MIN_LENGTH ? wasmKernel() : null;
    if (k) {
      secondPassWasm(k, v as Float32Array, counts, lo, range);
      return;
    }
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (!allFinite && x - x !== 0) continue;
      // bins/range, then the exact formula near a bin edge (see binner)
      const t = (x - lo) * scale;
      let b = Math.floor(t);
      const f = t - b;
      if (f < 1e-7 || f > 1 - 1e-7) b = range === 0 ? 0 : Math.floor(((x - lo) * bins) / range);
      if (b > last) b = last;
      else if (b < 0) b = 0;
      counts[b]++;
    }
  }

  /** Add `count` copies of the value x to pass 2 (code-counting paths); non-finite values are skipped. */
  addSecondPassRepeated(x: number, count: number): void {
    if (x - x !== 0) return;
    this.counts[binOf(x, this.min, this.max, this.bins)] += count;
  }

  /** Add `count` copies of the value x to pass 1 (code-counting paths). */
  addFirstPassRepeated(x: number, count: number): void {
    this.count += count;
    if (x - x === 0) {
      this.finite += count;
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      this.moments.addRepeated(x, count);
      if (x === 0) this.zero += count;
    } else if (x !== x) this.nan += count;
    else if (x > 0) this.posinf += count;
    else this.neginf += count;
  }

  /** Fold in pass-1 totals that a fast path computed for finite values. */
  mergeFirstPass(count: number, finite: number, zero: number, min: number, max: number, moments: ExactMoments): void {
    this.count += count;
    this.finite += finite;
    this.zero += zero;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
    this.moments.addMoments(moments);
  }

  /** Add histogram counts given as `lanes` partial histograms laid end to end (integers, so exact). */
  addHistogramCounts(partials: Float64Array): void {
    const bins = this.bins;
    for (let l = 0; l < partials.length; l += bins) for (let b = 0; b < bins; b++) this.counts[b] += partials[l + b];
  }

  /**
   * A function adding one finite value to the histogram. It multiplies by a precomputed bins/range and falls
   * back to the exact formula when the result lies within 1e-7 of a bin edge, so counts equal binOf's.
   */
  binner(): (x: number) => void {
    const { counts, bins } = this;
    const lo = this.min;
    const range = this.max - lo;
    const scale = bins / range;
    const last = bins - 1;
    if (!(range > 0)) return () => void counts[0]++;
    return (x) => {
      const t = (x - lo) * scale;
      let b = Math.floor(t);
      const f = t - b;
      if (f < 1e-7 || f > 1 - 1e-7) b = Math.floor(((x - lo) * bins) / range);
      counts[b > last ? last : b < 0 ? 0 : b]++;
    };
  }

  /** As binner, adding `c` at once. */
  binnerRepeated(): (x: number, c: number) => void {
    const { counts, bins } = this;
    const lo = this.min;
    const range = this.max - lo;
    const scale = bins / range;
    const last = bins - 1;
    if (!(range > 0)) return (_x, c) => void (counts[0] += c);
    return (x, c) => {
      const t = (x - lo) * scale;
      let b = Math.floor(t);
      const f = t - b;
      if (f < 1e-7 || f > 1 - 1e-7) b = Math.floor(((x - lo) * bins) / range);
      counts[b > last ? last : b < 0 ? 0 : b] += c;
    };
  }

  result(): TensorStats {
    const finite = this.finite;
    const { mean, std, rms } = this.moments.results(finite);
    return {
      count: this.count,
      finite_count: finite,
      nan_count: this.nan,
      posinf_count: this.posinf,
      neginf_count: this.neginf,
      min: finite ? this.min : NaN,
      max: finite ? this.max : NaN,
      mean,
      std,
      rms,
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
  const scanner = options.generic || isWide(tensor) ? undefined : countingScanner(tensor.type.ggmlId, tensorCodec(tensor));
  if (scanner && tensor.nElements > 0) {
    const raw = { chunkElements: options.chunkElements, isCancelled: options.isCancelled };
    const perBlock = tensor.type.blockSize;
    forEachRawChunk(
      model,
      tensor,
      (chunk, nBlocks) => {
        scanner.first(chunk, nBlocks, acc);
        progress(nBlocks * perBlock);
      },
      raw,
    );
    scanner.finishFirst?.(acc);
    if (scanner.secondPassFromMemory) {
      scanner.secondFromMemory!(acc);
      progress(tensor.nElements);
    } else {
      forEachRawChunk(
        model,
        tensor,
        (chunk, nBlocks) => {
          scanner.second(chunk, nBlocks, acc);
          progress(nBlocks * perBlock);
        },
        raw,
      );
    }
    return acc.result();
  }
  if (!options.generic && tensor.nElements > 0 && hasFusedScan(tensor.type.ggmlId)) {
    const { blockSize, bytesPerBlock } = tensor.type;
    const source = model.files[tensor.fileIndex].source;
    const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
    const fused = new StatsAccumulator(acc.bins);
    const ok = fusedScan(
      tensor.type.ggmlId!,
      tensor.nElements / blockSize,
      (firstBlock, target) => {
        const at = tensor.absoluteOffset + firstBlock * bytesPerBlock;
        const got = source.readSync(at, target);
        if (got < target.length)
          throw new QuantLensError('truncated', `tensor ${tensor.name} is cut short: file ends at byte ${at + got}`, at + got, source.name);
      },
      Math.max(1, Math.floor(chunkElements / blockSize)),
      fused,
      progress,
      () => {
        if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${tensor.name}`);
      },
    );
    if (ok) return fused.result();
    done = 0;
  }
  if (tensor.nElements === 0) {
    // nothing to read
  } else if (tensor.nElements <= KEEP_DECODED_ELEMENTS) {
    const all = new (isWide(tensor) ? Float64Array : Float32Array)(tensor.nElements);
    forEachChunk(
      model,
      tensor,
      (v, first) => {
        all.set(v, first);
        acc.addFirstPass(v);
        progress(v.length);
      },
      chunkOptions,
    );
    acc.addSecondPass(all);
    progress(all.length);
  } else {
    forEachChunk(
      model,
      tensor,
      (v) => {
        acc.addFirstPass(v);
        progress(v.length);
      },
      chunkOptions,
    );
    forEachChunk(
      model,
      tensor,
      (v) => {
        acc.addSecondPass(v);
        progress(v.length);
      },
      chunkOptions,
    );
  }
  return acc.result();
}
