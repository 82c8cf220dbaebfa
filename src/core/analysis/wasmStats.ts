/**
 * The WebAssembly SIMD kernels (dist/kernels.wasm, built from src/core/wasm/assembly/ by scripts/build-wasm.mjs)
 * for the two statistics passes over float32 values. They compute exactly what the JavaScript loops compute (the
 * exact sums of exactSum.ts, the same histogram); when the module is missing, or QUANTLENS_NO_WASM is set, the
 * JavaScript loops run.
 */
import { loadWasmModule } from '../wasm/loadModule.ts';
import { EXPONENT_BINS, ExactMoments } from './exactSum.ts';

interface KernelExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  reset(): void;
  firstPassF32(ptr: number, n: number, min: number, max: number): number;
  secondPassF32(ptr: number, n: number, hist: number): void;
  resultMin(): number;
  resultMax(): number;
  resultZero(): number;
  resultBins(): number;
  setBins(lo: number, range: number, bins: number): void;
  q4kSecondPass(src: number, nBlocks: number, hist: number): void;
  iq4xsSecondPass(src: number, nBlocks: number, hist: number): void;
  decodedFirstPass(type: number, src: number, nBlocks: number, blockBytes: number, blockWeights: number, min: number, max: number): number;
  countHalves(src: number, n: number, table: number): void;
  dequantize(type: number, src: number, nBlocks: number, dst: number): void;
  decodedSecondPass(type: number, src: number, nBlocks: number, blockBytes: number, blockWeights: number, hist: number): void;
}

let kernel: KernelExports | null | undefined;
let enabled = !process.env.QUANTLENS_NO_WASM;

/** Turn the kernels off (tests compare both paths). */
export function setWasmEnabled(on: boolean): void {
  enabled = on;
}

export function wasmKernel(): KernelExports | null {
  if (!enabled) return null;
  if (kernel === undefined) kernel = loadWasmModule<KernelExports>('kernels.wasm');
  return kernel;
}

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

interface FusedKernel {
  /** Pass 1 over n blocks at src (results via resultMin(), resultBins() ...); 0 when a value is not finite. */
  first(k: KernelExports, src: number, n: number, min: number, max: number): number;
  /** Pass 2 over n blocks at src into the four int32 partial histograms at hist. */
  second(k: KernelExports, src: number, n: number, hist: number): void;
}

/** Decodes weight by weight in the kernel and scans the decoded values as the generic path does. */
function decoded(type: number, blockBytes: number, blockWeights: number): FusedKernel {
  return {
    first: (k, src, n, min, max) => k.decodedFirstPass(type, src, n, blockBytes, blockWeights, min, max),
    second: (k, src, n, hist) => k.decodedSecondPass(type, src, n, blockBytes, blockWeights, hist),
  };
}

/**
 * Decoders fused with both passes in WebAssembly, by ggml type id. Q4_K and IQ4_XS count the codes of each
 * sub-block in pass 2 instead (the same counts).
 */
const FUSED: Record<number, FusedKernel> = {
  8: decoded(8, 34, 32),
  12: { first: decoded(12, 144, 256).first, second: (k, src, n, hist) => k.q4kSecondPass(src, n, hist) },
  14: decoded(14, 210, 256),
  23: { first: decoded(23, 136, 256).first, second: (k, src, n, hist) => k.iq4xsSecondPass(src, n, hist) },
};

/** Completed fused scans (tests check that the kernels ran rather than the fallback). */
export let fusedScansDone = 0;

export function hasFusedScan(ggmlId: number | undefined): boolean {
  return ggmlId !== undefined && ggmlId in FUSED && !!wasmKernel();
}

export interface FusedScanTarget {
  min: number;
  max: number;
  bins: number;
  mergeFirstPass(count: number, finite: number, zero: number, min: number, max: number, moments: ExactMoments): void;
  addHistogramCounts(counts: Float64Array): void;
}

/**
 * Both passes over a tensor's raw blocks with decode fused into the WebAssembly kernels, chunk by chunk as the
 * generic path runs them (so a per-weight kernel's results are identical). Returns false, having changed nothing,
 * when the data needs the careful path (NaN/Inf or ±0 extremes): the caller then scans generically.
 */
export function fusedScan(
  ggmlId: number,
  bytesPerBlock: number,
  blockSize: number,
  nBlocksTotal: number,
  readChunk: (firstBlock: number, target: Uint8Array) => void,
  blocksPerChunk: number,
  acc: FusedScanTarget,
  onProgress: (weights: number) => void,
  isCancelled: () => void,
): boolean {
  const k = wasmKernel()!;
  const f = FUSED[ggmlId];
  k.reset();
  const chunkBlocks = Math.min(blocksPerChunk, nBlocksTotal, Math.max(1, Math.floor(PIECE_VALUES / blockSize)));
  const src = k.alloc(chunkBlocks * bytesPerBlock);
  const bins = acc.bins;
  const hist = k.alloc(4 * bins * 4);
  const mem = () => new Uint8Array(k.memory.buffer);
  // pass 1 (merged into acc only once every chunk has passed)
  const moments = new ExactMoments();
  let min = acc.min;
  let max = acc.max;
  let zero = 0;
  for (let b = 0; b < nBlocksTotal; b += chunkBlocks) {
    isCancelled();
    const n = Math.min(chunkBlocks, nBlocksTotal - b);
    readChunk(b, mem().subarray(src, src + n * bytesPerBlock));
    if (!f.first(k, src, n, min, max)) return false;
    min = k.resultMin();
    max = k.resultMax();
    if (min === 0 || max === 0) return false;
    zero += k.resultZero();
    addKernelBins(k, moments);
    onProgress(n * blockSize);
  }
  const count = nBlocksTotal * blockSize;
  acc.mergeFirstPass(count, count, zero, min, max, moments);
  // pass 2: four int32 partial histograms, emptied into `counts` after every chunk (so they cannot overflow)
  k.setBins(acc.min, acc.max - acc.min, bins);
  const counts = new Float64Array(bins);
  new Int32Array(k.memory.buffer, hist, 4 * bins).fill(0);
  for (let b = 0; b < nBlocksTotal; b += chunkBlocks) {
    isCancelled();
    const n = Math.min(chunkBlocks, nBlocksTotal - b);
    readChunk(b, mem().subarray(src, src + n * bytesPerBlock));
    f.second(k, src, n, hist);
    const h = new Int32Array(k.memory.buffer, hist, 4 * bins);
    for (let i = 0; i < bins; i++) counts[i] += h[i] + h[bins + i] + h[2 * bins + i] + h[3 * bins + i];
    h.fill(0);
    onProgress(n * blockSize);
  }
  acc.addHistogramCounts(counts);
  fusedScansDone++;
  return true;
}
