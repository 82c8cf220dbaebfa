/**
 * Exact statistics of a tensor over every value (no sampling), in two streaming passes:
 * pass 1 counts, min/max and the exact Σx and Σx² (exactSum.ts); pass 2 the histogram over [min, max]. mean, std
 * and rms are the correctly rounded float64 of their exact values (std from the exact Σ(x − mean)², computed as
 * (n·Σx² − (Σx)²) / n without rounding, so it is the two-pass value with an exact mean).
 *
 * A huge tensor can be split into row ranges scanned by several threads (rowsFirstPass, then rowsHistogram with
 * the merged range, then statsOfShares): pass-1 totals merge exactly (exact sums, counts, extremes in row order)
 * and histogram counts are integers, so the split scan's stats are identical to one thread's.
 */
import type { Model, TensorInfo } from '../model.ts';
import { forEachChunk, forEachRawChunk, isWide, tensorCodec, type Values } from './tensorValues.ts';
import { countingScanner } from './codeCounting.ts';
import type { CountingScanner, RepeatedValueSink } from './countingScanner.ts';
import {
  firstPassWasm,
  secondPassWasm,
  WASM_MIN_LENGTH,
  hasFusedScan,
  fusedFirstPass,
  fusedSecondPass,
  type FusedBuffers,
} from './wasmStats.ts';
import { wasmKernel } from '../wasm/kernels.ts';
import { addFloat64Bins, DOUBLE_BINS, ExactMoments, SQUARE_HI, SQUARE_LO, type ExactMomentsState } from './exactSum.ts';
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

/** Pass 1 of a share of a tensor as structured-cloneable data (a worker's answer in a split scan). */
export interface FirstPassTotals {
  count: number;
  finite: number;
  nan: number;
  posinf: number;
  neginf: number;
  zero: number;
  /** ±Infinity while no finite value was seen. */
  min: number;
  max: number;
  moments: ExactMomentsState;
}

/**
 * A share's pass 1: its totals, or for a type whose counting scanner keeps everything in one table (F16, BF16:
 * every bit pattern's count) that table, the shares' tables summed giving the whole tensor's stats (statsOfTallies).
 */
export type SharePass = { totals: FirstPassTotals } | { tallies: Float64Array };

/** What pass 2 over a share needs from the whole tensor's pass 1: the histogram's range and whether every value is finite. */
export interface HistogramRange {
  lo: number;
  hi: number;
  allFinite: boolean;
}
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
  /** Pass 2 over a share of a tensor: whether the whole tensor (not just what this accumulator saw) is finite. */
  private wholeAllFinite?: boolean;

  constructor(readonly bins = DEFAULT_BINS) {
    this.counts = new Float64Array(bins);
  }

  /** Every value of the stream is finite (pass 2's kernels skip the NaN/Inf test then). */
  get allFinite(): boolean {
    return this.wholeAllFinite ?? this.finite === this.count;
  }

  firstPassTotals(): FirstPassTotals {
    const { count, finite, nan, posinf, neginf, zero, min, max } = this;
    return { count, finite, nan, posinf, neginf, zero, min, max, moments: this.moments.state() };
  }

  /** Folds in the pass 1 of the next share (shares in row order: of equal extremes the first stays, as in one pass). */
  addFirstPassTotals(t: FirstPassTotals): void {
    this.count += t.count;
    this.finite += t.finite;
    this.nan += t.nan;
    this.posinf += t.posinf;
    this.neginf += t.neginf;
    this.zero += t.zero;
    if (t.min < this.min) this.min = t.min;
    if (t.max > this.max) this.max = t.max;
    this.moments.addState(t.moments);
  }

  histogramRange(): HistogramRange {
    return { lo: this.min, hi: this.max, allFinite: this.allFinite };
  }

  /** Before pass 2 over a share: the histogram's range from the whole tensor's merged pass 1. */
  useHistogramRange(range: HistogramRange): void {
    this.min = range.lo;
    this.max = range.hi;
    this.wholeAllFinite = range.allFinite;
  }

  histogramCounts(): number[] {
    return Array.from(this.counts);
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
    const allFinite = this.allFinite;
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

/** A scan's progress: elements done of `total`, both passes counted. */
class ScanProgress {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly report?: (done: number, total: number) => void,
  ) {}
  add(n: number): void {
    this.done += n;
    this.report?.(this.done, this.total);
  }
  /** Back to `done` (a fast pass that gave up is run again on the careful path). */
  rewind(done: number): void {
    this.done = done;
  }
  get at(): number {
    return this.done;
  }
}

/**
 * Both passes over the blocks [firstBlock, firstBlock + nBlocks) of a tensor on the fastest path its data allows:
 * a counting scanner (F16, BF16), the fused WebAssembly kernels, or decoding then accumulating (kept in memory
 * between the passes when small). Pass 2 may run on a fresh scan of the same blocks (a share of a split scan).
 */
class BlockRangeScan {
  private readonly scanner: CountingScanner | undefined;
  /** The scanner has counted these blocks (pass 2 from memory needs no read). */
  private counted = false;
  private fused: boolean;
  /** The decoded values, kept from pass 1 for pass 2. */
  private kept: Values | undefined;
  /** The fused pass 1's buffers in the module's memory (its raw blocks, when resident, serve pass 2 right after). */
  private fusedKept: FusedBuffers | undefined;

  constructor(
    private readonly model: Model,
    private readonly tensor: TensorInfo,
    private readonly firstBlock: number,
    private readonly nBlocks: number,
    private readonly options: ScanOptions,
    private readonly progress: ScanProgress,
  ) {
    this.scanner = options.generic || isWide(tensor) ? undefined : countingScanner(tensor.type.ggmlId, tensorCodec(tensor));
    this.fused = !this.scanner && !options.generic && nBlocks > 0 && hasFusedScan(tensor.type.ggmlId);
  }

  private get nElements(): number {
    return this.nBlocks * this.tensor.type.blockSize;
  }

  private forEachRaw(onChunk: (raw: Uint8Array, nBlocks: number) => void): void {
    const { chunkElements, isCancelled } = this.options;
    forEachRawChunk(this.model, this.tensor, onChunk, { chunkElements, isCancelled, firstBlock: this.firstBlock, nBlocks: this.nBlocks });
  }

  private forEachValues(onChunk: (values: Values, firstElement: number) => void): void {
    const { chunkElements, isCancelled } = this.options;
    const { blockSize } = this.tensor.type;
    forEachChunk(this.model, this.tensor, onChunk, {
      chunkElements,
      isCancelled,
      first: this.firstBlock * blockSize,
      count: this.nElements,
    });
  }

  /** The fused kernels' reads: blocks relative to this range. */
  private readonly readBlocks = (block: number, target: Uint8Array): void => {
    const { tensor } = this;
    const at = tensor.absoluteOffset + (this.firstBlock + block) * tensor.type.bytesPerBlock;
    const source = this.model.files[tensor.fileIndex].source;
    const got = source.readSync(at, target);
    if (got < target.length)
      throw new QuantLensError('truncated', `tensor ${tensor.name} is cut short: file ends at byte ${at + got}`, at + got, source.name);
  };

  private readonly checkCancelled = (): void => {
    if (this.options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${this.tensor.name}`);
  };

  private get blocksPerChunk(): number {
    return Math.max(1, Math.floor((this.options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS) / this.tensor.type.blockSize));
  }

  /**
   * Pass 1; with `share`, the pass 1 of a share of a split scan, which no pass 2 follows on this scan: nothing is
   * kept for one, and a scanner that keeps one table only counts (tallies() then has everything).
   */
  first(acc: StatsAccumulator, share = false): void {
    if (this.nBlocks === 0) return;
    const perBlock = this.tensor.type.blockSize;
    const progress = this.progress;
    const scanner = this.scanner;
    if (scanner) {
      this.forEachRaw((chunk, n) => {
        scanner.first(chunk, n, acc);
        progress.add(n * perBlock);
      });
      this.counted = true;
      if (!(share && this.tallies())) scanner.finishFirst?.(acc);
      return;
    }
    if (this.fused) {
      const start = progress.at;
      const n = (w: number) => progress.add(w);
      this.fusedKept = fusedFirstPass(
        this.tensor.type.ggmlId!,
        this.nBlocks,
        this.readBlocks,
        this.blocksPerChunk,
        acc,
        n,
        this.checkCancelled,
        !share,
      );
      if (this.fusedKept) return;
      this.fused = false;
      progress.rewind(start);
    }
    const keep = !share && this.nElements <= KEEP_DECODED_ELEMENTS;
    const kept = keep ? new (isWide(this.tensor) ? Float64Array : Float32Array)(this.nElements) : undefined;
    const offset = this.firstBlock * perBlock;
    this.forEachValues((v, first) => {
      kept?.set(v, first - offset);
      acc.addFirstPass(v);
      progress.add(v.length);
    });
    this.kept = kept;
  }

  /** What the counting scanner counted in pass 1, when its pass 2 needs nothing else. */
  tallies(): Float64Array | undefined {
    return this.counted && this.scanner?.secondPassFromMemory ? this.scanner.tallies?.() : undefined;
  }

  /** Pass 2: acc's range (min, max) is the whole tensor's. */
  second(acc: StatsAccumulator): void {
    if (this.nBlocks === 0) return;
    const perBlock = this.tensor.type.blockSize;
    const progress = this.progress;
    const scanner = this.scanner;
    if (scanner) {
      if (!scanner.secondPassFromMemory) {
        this.forEachRaw((chunk, n) => {
          scanner.second(chunk, n, acc);
          progress.add(n * perBlock);
        });
        return;
      }
      // a share's pass 2 on a fresh scan counts its blocks again (its pass-1 additions go nowhere)
      if (!this.counted) {
        const discarded = new StatsAccumulator(acc.bins);
        this.forEachRaw((chunk, n) => scanner.first(chunk, n, discarded));
      }
      scanner.secondFromMemory!(acc);
      progress.add(this.nElements);
      return;
    }
    if (this.fused && acc.allFinite) {
      const n = (w: number) => progress.add(w);
      const kept = this.fusedKept;
      this.fusedKept = undefined;
      fusedSecondPass(this.tensor.type.ggmlId!, this.nBlocks, this.readBlocks, this.blocksPerChunk, acc, n, this.checkCancelled, kept);
      return;
    }
    const kept = this.kept;
    if (kept) {
      this.kept = undefined;
      acc.addSecondPass(kept);
      progress.add(kept.length);
      return;
    }
    this.forEachValues((v) => {
      acc.addSecondPass(v);
      progress.add(v.length);
    });
  }
}

/** Exact stats of one tensor. Synchronous (workers, CLI). Values without a finite value (min, mean...) are NaN. */
export function computeTensorStats(model: Model, tensor: TensorInfo, options: ScanOptions = {}): TensorStats {
  const acc = new StatsAccumulator(options.bins ?? DEFAULT_BINS);
  const progress = new ScanProgress(2 * tensor.nElements, options.onProgress);
  const scan = new BlockRangeScan(model, tensor, 0, tensor.nElements / tensor.type.blockSize, options, progress);
  scan.first(acc);
  scan.second(acc);
  return acc.result();
}

/** Rows [firstRow, firstRow + nRows) of a tensor: one thread's share of a split scan. */
export interface RowRange {
  firstRow: number;
  nRows: number;
}

/**
 * Blocks per row: a row is a contiguous run of the row length (GGUF ne[0], safetensors the last dimension); a
 * tensor whose rows are not whole blocks counts as one row.
 */
function blocksPerRow(tensor: TensorInfo): number {
  const totalBlocks = tensor.nElements / tensor.type.blockSize;
  const rowLength = tensor.ggmlTypeId !== undefined ? tensor.shape[0] : tensor.shape[tensor.shape.length - 1];
  if (!rowLength || rowLength % tensor.type.blockSize !== 0) return totalBlocks;
  return rowLength / tensor.type.blockSize;
}

export function tensorRowCount(tensor: TensorInfo): number {
  const per = blocksPerRow(tensor);
  return per ? tensor.nElements / tensor.type.blockSize / per : 0;
}

/** Up to `parts` shares of whole rows, in order, of sizes differing by at most one row (none empty). */
export function splitRows(tensor: TensorInfo, parts: number): RowRange[] {
  const rows = tensorRowCount(tensor);
  const n = Math.max(1, Math.min(parts, rows));
  return Array.from({ length: n }, (_, i) => {
    const firstRow = Math.floor((i * rows) / n);
    return { firstRow, nRows: Math.floor(((i + 1) * rows) / n) - firstRow };
  });
}

function rangeScan(model: Model, tensor: TensorInfo, rows: RowRange, options: ScanOptions, passes: number): BlockRangeScan {
  const per = blocksPerRow(tensor);
  const rowCount = tensorRowCount(tensor);
  if (
    !Number.isInteger(rows.firstRow) ||
    !Number.isInteger(rows.nRows) ||
    rows.firstRow < 0 ||
    rows.nRows < 0 ||
    rows.firstRow + rows.nRows > rowCount
  )
    throw new QuantLensError('usage', `rows ${rows.firstRow}+${rows.nRows} are outside ${tensor.name}'s ${rowCount} rows`);
  const progress = new ScanProgress(passes * rows.nRows * per * tensor.type.blockSize, options.onProgress);
  return new BlockRangeScan(model, tensor, rows.firstRow * per, rows.nRows * per, options, progress);
}

/** Pass 1 over a share of a tensor's rows. */
export function rowsFirstPass(model: Model, tensor: TensorInfo, rows: RowRange, options: ScanOptions = {}): SharePass {
  const acc = new StatsAccumulator(options.bins ?? DEFAULT_BINS);
  const scan = rangeScan(model, tensor, rows, options, 1);
  scan.first(acc, true);
  const tallies = scan.tallies();
  return tallies ? { tallies } : { totals: acc.firstPassTotals() };
}

/** The merged pass 1 of every share, in row order. */
export function mergedFirstPass(bins: number, shares: FirstPassTotals[]): StatsAccumulator {
  const acc = new StatsAccumulator(bins);
  for (const t of shares) acc.addFirstPassTotals(t);
  return acc;
}

/** Pass 2 over a share of a tensor's rows: its histogram counts over the whole tensor's range. */
export function rowsHistogram(
  model: Model,
  tensor: TensorInfo,
  rows: RowRange,
  range: HistogramRange,
  options: ScanOptions = {},
): number[] {
  const acc = new StatsAccumulator(options.bins ?? DEFAULT_BINS);
  acc.useHistogramRange(range);
  rangeScan(model, tensor, rows, options, 1).second(acc);
  return acc.histogramCounts();
}

/** The stats of a tensor whose shares handed their counting scanner's tables over: both passes from their sum, no read. */
export function statsOfTallies(tensor: TensorInfo, bins: number, tallies: Float64Array[]): TensorStats {
  const scanner = countingScanner(tensor.type.ggmlId, tensorCodec(tensor));
  if (!scanner?.addTallies || !scanner.secondFromMemory) throw new Error(`${tensor.name} has no counting scanner`);
  for (const t of tallies) scanner.addTallies(t);
  const acc = new StatsAccumulator(bins);
  scanner.finishFirst?.(acc);
  scanner.secondFromMemory(acc);
  return acc.result();
}

/** The stats of a tensor scanned in shares: their pass-1 totals and histogram counts, in row order. */
export function statsOfShares(bins: number, shares: FirstPassTotals[], histograms: number[][]): TensorStats {
  const acc = mergedFirstPass(bins, shares);
  for (const h of histograms) acc.addHistogramCounts(Float64Array.from(h));
  return acc.result();
}
