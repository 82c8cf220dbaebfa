/**
 * Exact statistics of a tensor over every value (no sampling), in two streaming passes:
 * pass 1 counts, min/max, sum and sum of squares; pass 2 the histogram over [min, max] and the sum of squared
 * deviations from the mean (so std is the two-pass value, not E[x²] − mean²). float64 accumulation throughout.
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk, forEachRawChunk, isWide, tensorCodec, type Values } from './tensorValues.ts';
import { countingScanner } from './codeCounting.ts';
import { wasmKernel, firstPassWasm, secondPassWasm, WASM_MIN_LENGTH, hasFusedScan, fusedScan } from './wasmStats.ts';
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
    const k = v instanceof Float32Array && v.length >= WASM_MIN_LENGTH ? wasmKernel() : null;
    if (k) {
      const r = firstPassWasm(k, v as Float32Array, this.min, this.max);
      if (r) {
        this.count += v.length;
        this.finite += v.length;
        this.zero += r.zero;
        this.min = r.min;
        this.max = r.max;
        this.sum += r.sum;
        this.sumSq += r.sumSq;
        return;
      }
    }
    if (!this.addFirstPassFinite(v)) this.addFirstPassChecked(v);
  }

  /**
   * The common case, all values finite: four independent accumulators and no classification. Returns false
   * (having changed nothing) when the chunk holds a NaN or an infinity, which leave the sum non-finite.
   */
  private addFirstPassFinite(v: Values): boolean {
    let min = this.min;
    let max = this.max;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    let zero = 0;
    const n = v.length;
    const n4 = n - (n % 4);
    let i = 0;
    for (; i < n4; i += 4) {
      const a = v[i], b = v[i + 1], c = v[i + 2], d = v[i + 3];
      if (a < min) min = a;
      if (a > max) max = a;
      if (b < min) min = b;
      if (b > max) max = b;
      if (c < min) min = c;
      if (c > max) max = c;
      if (d < min) min = d;
      if (d > max) max = d;
      s0 += a; s1 += b; s2 += c; s3 += d;
      q0 += a * a; q1 += b * b; q2 += c * c; q3 += d * d;
      if (a === 0) zero++;
      if (b === 0) zero++;
      if (c === 0) zero++;
      if (d === 0) zero++;
    }
    for (; i < n; i++) {
      const a = v[i];
      if (a < min) min = a;
      if (a > max) max = a;
      s0 += a;
      q0 += a * a;
      if (a === 0) zero++;
    }
    const sum = s0 + s1 + (s2 + s3);
    const sumSq = q0 + q1 + (q2 + q3);
    if (!(sum - sum === 0) || !(sumSq - sumSq === 0)) return false;
    this.count += n;
    this.finite += n;
    this.zero += zero;
    this.min = min;
    this.max = max;
    this.sum += sum;
    this.sumSq += sumSq;
    return true;
  }

  private addFirstPassChecked(v: Values): void {
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

  /** Widen the histogram range before pass 2 (several histograms sharing bins). */
  setRange(lo: number, hi: number): void {
    if (this.finite) {
      this.min = Math.min(this.min, lo);
      this.max = Math.max(this.max, hi);
    }
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
    const scale = range > 0 ? bins / range : 0;
    const allFinite = this.finite === this.count;
    const k = allFinite && v instanceof Float32Array && v.length >= WASM_MIN_LENGTH ? wasmKernel() : null;
    if (k) {
      this.devSq += secondPassWasm(k, v as Float32Array, counts, lo, range, mean);
      return;
    }
    let devSq = 0;
    let devSq1 = 0;
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (!allFinite && x - x !== 0) continue;
      const d = x - mean;
      if (i & 1) devSq1 += d * d;
      else devSq += d * d;
      // bins/range, then the exact formula near a bin edge (see binner)
      const t = (x - lo) * scale;
      let b = Math.floor(t);
      const f = t - b;
      if (f < 1e-7 || f > 1 - 1e-7) b = range === 0 ? 0 : Math.floor(((x - lo) * bins) / range);
      if (b > last) b = last;
      else if (b < 0) b = 0;
      counts[b]++;
    }
    this.devSq += devSq + devSq1;
  }

  /** Add `count` copies of the value x to pass 2 (code-counting paths); non-finite values are skipped. */
  addSecondPassRepeated(x: number, count: number): void {
    if (x - x !== 0) return;
    const d = x - this.mean;
    this.devSq += d * d * count;
    this.counts[binOf(x, this.min, this.max, this.bins)] += count;
  }

  /** Add `count` copies of the value x to pass 1 (code-counting paths). */
  addFirstPassRepeated(x: number, count: number): void {
    this.count += count;
    if (x - x === 0) {
      this.finite += count;
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      this.sum += x * count;
      this.sumSq += x * x * count;
      if (x === 0) this.zero += count;
    } else if (x !== x) this.nan += count;
    else if (x > 0) this.posinf += count;
    else this.neginf += count;
  }

  /** Fold in pass-1 totals that a fast path computed for finite values. */
  mergeFirstPass(count: number, finite: number, zero: number, min: number, max: number, sum: number, sumSq: number): void {
    this.count += count;
    this.finite += finite;
    this.zero += zero;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
    this.sum += sum;
    this.sumSq += sumSq;
  }

  addDevSq(v: number): void {
    this.devSq += v;
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
  const scanner = options.generic || isWide(tensor) ? undefined : countingScanner(tensor.type.ggmlId, tensorCodec(tensor));
  if (scanner && tensor.nElements > 0) {
    const raw = { chunkElements: options.chunkElements, isCancelled: options.isCancelled };
    const perBlock = tensor.type.blockSize;
    forEachRawChunk(model, tensor, (chunk, nBlocks) => {
      scanner.first(chunk, nBlocks, acc);
      progress(nBlocks * perBlock);
    }, raw);
    scanner.finishFirst?.(acc);
    if (scanner.secondPassFromMemory) {
      scanner.secondFromMemory!(acc);
      progress(tensor.nElements);
    } else {
      forEachRawChunk(model, tensor, (chunk, nBlocks) => {
        scanner.second(chunk, nBlocks, acc);
        progress(nBlocks * perBlock);
      }, raw);
    }
    return acc.result();
  }
  if (!options.generic && tensor.nElements > 0 && hasFusedScan(tensor.type.ggmlId)) {
    const { blockSize, bytesPerBlock } = tensor.type;
    const source = model.files[tensor.fileIndex].source;
    const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
    const fused = new StatsAccumulator(acc.bins);
    const ok = fusedScan(
      tensor.type.ggmlId!, bytesPerBlock, blockSize, tensor.nElements / blockSize,
      (firstBlock, target) => {
        const at = tensor.absoluteOffset + firstBlock * bytesPerBlock;
        const got = source.readSync(at, target);
        if (got < target.length) throw new QuantLensError('truncated', `tensor ${tensor.name} is cut short: file ends at byte ${at + got}`, at + got, source.name);
      },
      Math.max(1, Math.floor(chunkElements / blockSize)),
      fused,
      // the generic path keeps tensors up to KEEP_DECODED_ELEMENTS and runs pass 2 over them in one call
      tensor.nElements <= KEEP_DECODED_ELEMENTS,
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
