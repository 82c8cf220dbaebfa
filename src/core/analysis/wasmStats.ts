/**
 * The statistics passes over float32 values in WebAssembly SIMD (src/core/wasm/assembly/stats.ts, in
 * dist/kernels.wasm). They compute exactly what the JavaScript loops of tensorStats.ts compute (the exact sums of
 * exactSum.ts, the same histogram); the JavaScript loops remain the careful path (NaN, infinities, ±0 extremes,
 * float64 values, short chunks) and the reference the tests compare with.
 */
import { wasmKernel, type KernelExports } from '../wasm/kernels.ts';
import { EXPONENT_BINS, ExactMoments } from './exactSum.ts';
import { ggmlType, traits, type GgmlType } from '../types.ts';

/** Minimum chunk length worth the copy into the module's memory. */
export const WASM_MIN_LENGTH = 1024;

/** Values per kernel call: its exponent bins are exact below 2^28 values, and its memory stays small. */
const PIECE_VALUES = 1 << 22;

export interface FirstPassResult {
  min: number;
  max: number;
  zero: number;
  moments: ExactMoments;
}

/** Folds the kernel's exponent bins of its last pass 1 into `moments`. */
function addKernelBins(k: KernelExports, moments: ExactMoments): void {
  moments.addBins(new Float64Array(k.memory.buffer, k.resultBins(), EXPONENT_BINS));
}

/** Pass 1 in WebAssembly, or null when the JavaScript path must run (NaN/Inf present, or a ±0 extreme). */
export function firstPassWasm(k: KernelExports, v: Float32Array, min: number, max: number): FirstPassResult | null {
  const moments = new ExactMoments();
  let zero = 0;
  k.reset();
  const ptr = k.alloc(Math.min(v.length, PIECE_VALUES) * 4);
  for (let at = 0; at < v.length; at += PIECE_VALUES) {
    const piece = v.subarray(at, at + PIECE_VALUES);
    new Float32Array(k.memory.buffer, ptr, piece.length).set(piece);
    if (!k.firstPassF32(ptr, piece.length, min, max)) return null;
    min = k.resultMin();
    max = k.resultMax();
    zero += k.resultZero();
    addKernelBins(k, moments);
  }
  // the JavaScript loop keeps the first of equal extremes; ±0 is the one case where that is visible
  if (min === 0 || max === 0) return null;
  return { min, max, zero, moments };
}

/** Pass 2 in WebAssembly: adds to `counts`. */
export function secondPassWasm(k: KernelExports, v: Float32Array, counts: Float64Array, lo: number, range: number): void {
  k.reset();
  const ptr = k.alloc(v.length * 4);
  const bins = counts.length;
  const hist = k.alloc(4 * bins * 4);
  new Float32Array(k.memory.buffer, ptr, v.length).set(v);
  new Int32Array(k.memory.buffer, hist, 4 * bins).fill(0);
  k.setBins(lo, range, bins);
  k.secondPassF32(ptr, v.length, hist);
  // four int32 partial histograms (lane i % 4); a call holds fewer than 2^31 values
  const h = new Int32Array(k.memory.buffer, hist, 4 * bins);
  for (let b = 0; b < bins; b++) counts[b] += h[b] + h[bins + b] + h[2 * bins + b] + h[3 * bins + b];
}

/** Completed fused scans, counted at the end of their pass 2 (tests check that the kernels ran rather than the fallback). */
export let fusedScansDone = 0;

/** The type's table row has a fused scan (and the kernels are on). */
export function hasFusedScan(ggmlId: GgmlType | undefined): boolean {
  return ggmlId !== undefined && (ggmlType(ggmlId)?.caps.wasmFusedScan ?? false) !== false && !!wasmKernel();
}

export interface FusedScanTarget {
  min: number;
  max: number;
  bins: number;
  mergeFirstPass(count: number, finite: number, zero: number, min: number, max: number, moments: ExactMoments): void;
  addHistogramCounts(counts: Float64Array): void;
}

/** Reads the blocks [firstBlock, firstBlock + target.length / bytesPerBlock) of the scanned range into target. */
export type BlockReader = (firstBlock: number, target: Uint8Array) => void;

/**
 * Raw blocks of at most this many bytes stay in the module's memory from pass 1 to pass 2 (the range is read once).
 * A pass that no other follows on the same blocks (a share of a split scan) reads chunk after chunk into one
 * buffer instead, which the read leaves in the CPU's cache for the kernel.
 */
const RESIDENT_BYTES = 32 << 20;

/**
 * The module's buffers of a fused scan: raw blocks at src (one chunk, or with `resident` the whole range, which
 * pass 1 reads and pass 2 reuses) and four int32 partial histograms at hist.
 */
export interface FusedBuffers {
  chunkBlocks: number;
  src: number;
  hist: number;
  resident: boolean;
}

/** The buffers for nBlocksTotal blocks, the whole range resident if `keep` asks for it and RESIDENT_BYTES allow. */
function fusedBuffers(
  k: KernelExports,
  ggmlId: GgmlType,
  nBlocksTotal: number,
  blocksPerChunk: number,
  bins: number,
  keep: boolean,
): FusedBuffers {
  const { bytesPerBlock, blockSize } = traits(ggmlId);
  k.reset();
  const chunkBlocks = Math.min(blocksPerChunk, nBlocksTotal, Math.max(1, Math.floor(PIECE_VALUES / blockSize)));
  const resident = keep && nBlocksTotal * bytesPerBlock <= RESIDENT_BYTES;
  const src = k.alloc((resident ? nBlocksTotal : chunkBlocks) * bytesPerBlock);
  const hist = k.alloc(4 * bins * 4);
  return { chunkBlocks, src, hist, resident };
}

/** The address of the n blocks from block b of the range, read there by readChunk unless `read` is false. */
function chunkAt(
  k: KernelExports,
  buffers: FusedBuffers,
  bytesPerBlock: number,
  b: number,
  n: number,
  readChunk: BlockReader,
  read: boolean,
): number {
  const at = buffers.src + (buffers.resident ? b * bytesPerBlock : 0);
  if (read) readChunk(b, new Uint8Array(k.memory.buffer, at, n * bytesPerBlock));
  return at;
}

/**
 * Pass 1 over nBlocksTotal raw blocks inside the WebAssembly kernels (from the codes, or decoding), chunk by chunk
 * as the generic path runs them (the sums are exact, so the results are identical); merged into acc once every chunk has
 * passed. Returns the buffers (for fusedSecondPass, when resident and no other kernel runs in between), or
 * undefined, having changed nothing, when the data needs the careful path (NaN/Inf or ±0 extremes): the caller
 * then scans generically.
 */
export function fusedFirstPass(
  ggmlId: GgmlType,
  nBlocksTotal: number,
  readChunk: BlockReader,
  blocksPerChunk: number,
  acc: FusedScanTarget,
  onProgress: (weights: number) => void,
  isCancelled: () => void,
  /** Pass 2 follows on the same blocks: keep them resident for it where they fit. */
  keepForSecondPass: boolean,
): FusedBuffers | undefined {
  const k = wasmKernel()!;
  const { bytesPerBlock, blockSize } = traits(ggmlId);
  const buffers = fusedBuffers(k, ggmlId, nBlocksTotal, blocksPerChunk, acc.bins, keepForSecondPass);
  const moments = new ExactMoments();
  let min = acc.min;
  let max = acc.max;
  let zero = 0;
  for (let b = 0; b < nBlocksTotal; b += buffers.chunkBlocks) {
    isCancelled();
    const n = Math.min(buffers.chunkBlocks, nBlocksTotal - b);
    const src = chunkAt(k, buffers, bytesPerBlock, b, n, readChunk, true);
    if (!k.blocksFirstPass(ggmlId, src, n, bytesPerBlock, blockSize, min, max)) return undefined;
    min = k.resultMin();
    max = k.resultMax();
    if (min === 0 || max === 0) return undefined;
    zero += k.resultZero();
    addKernelBins(k, moments);
    onProgress(n * blockSize);
  }
  const count = nBlocksTotal * blockSize;
  acc.mergeFirstPass(count, count, zero, min, max, moments);
  return buffers;
}

/**
 * Pass 2 (the histogram over [acc.min, acc.max]) over raw blocks of finite values, fused as fusedFirstPass: counts
 * the codes of each sub-block, or scans the decoded weights as pass 1 does; the four int32 partial histograms are
 * emptied into acc after every chunk (so they cannot overflow). With `kept`, pass 1's resident buffers (no kernel
 * ran since), the blocks are not read again.
 */
export function fusedSecondPass(
  ggmlId: GgmlType,
  nBlocksTotal: number,
  readChunk: BlockReader,
  blocksPerChunk: number,
  acc: FusedScanTarget,
  onProgress: (weights: number) => void,
  isCancelled: () => void,
  kept?: FusedBuffers,
): void {
  const k = wasmKernel()!;
  const { bytesPerBlock, blockSize, caps } = traits(ggmlId);
  const second =
    caps.wasmFusedScan === 'codes'
      ? (src: number, n: number, hist: number) => k.countedSecondPass(ggmlId, src, n, hist)
      : (src: number, n: number, hist: number) => k.decodedSecondPass(ggmlId, src, n, bytesPerBlock, blockSize, hist);
  const bins = acc.bins;
  const buffers = kept?.resident ? kept : fusedBuffers(k, ggmlId, nBlocksTotal, blocksPerChunk, bins, false);
  const { chunkBlocks, hist } = buffers;
  k.setBins(acc.min, acc.max - acc.min, bins);
  const counts = new Float64Array(bins);
  new Int32Array(k.memory.buffer, hist, 4 * bins).fill(0);
  for (let b = 0; b < nBlocksTotal; b += chunkBlocks) {
    isCancelled();
    const n = Math.min(chunkBlocks, nBlocksTotal - b);
    second(chunkAt(k, buffers, bytesPerBlock, b, n, readChunk, buffers !== kept), n, hist);
    const h = new Int32Array(k.memory.buffer, hist, 4 * bins);
    for (let i = 0; i < bins; i++) counts[i] += h[i] + h[bins + i] + h[2 * bins + i] + h[3 * bins + i];
    h.fill(0);
    onProgress(n * blockSize);
  }
  acc.addHistogramCounts(counts);
  fusedScansDone++;
}
