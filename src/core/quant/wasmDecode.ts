/**
 * Dequantizing in WebAssembly SIMD (`dequantize` in src/core/wasm/assembly/stats.ts, in dist/kernels.wasm): the
 * same float32 bits as the JavaScript codecs, several times faster. The codec registry (index.ts) wraps the codecs
 * of these types; when the kernels are not loaded (missing module, QUANTLENS_NO_WASM, setWasmEnabled(false)) the
 * JavaScript decoders run.
 */
import type { QuantCodec } from './codec.ts';
import { ggmlType } from '../types.ts';
import { wasmKernel } from '../analysis/wasmStats.ts';

/** ggml type ids the kernel decodes: F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16. */
export const WASM_DEQUANTIZED_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30]);

/**
 * Weights per call into the kernel: the raw bytes are copied into its memory and the values out of it piece by
 * piece, so the module's memory stays small (it never shrinks) and the piece stays in the cache between the copies.
 */
const PIECE_WEIGHTS = 1 << 15;

/**
 * Decodes nBlocks blocks of ggml type `ggmlId` from src into dst with the kernel. Returns false, having written
 * nothing, when the kernels are not loaded or do not decode this type. It frees the kernel module's allocations
 * (reset), as every user of the module does on entry: nothing may hold memory in the module across this call.
 */
export function wasmDequantize(ggmlId: number, src: Uint8Array, dst: Float32Array, nBlocks: number): boolean {
  if (!WASM_DEQUANTIZED_TYPES.has(ggmlId)) return false;
  const k = wasmKernel();
  if (!k) return false;
  const { blockSize, bytesPerBlock } = ggmlType(ggmlId)!;
  const pieceBlocks = Math.max(1, Math.floor(PIECE_WEIGHTS / blockSize));
  k.reset();
  const inPtr = k.alloc(Math.min(pieceBlocks, nBlocks) * bytesPerBlock);
  const outPtr = k.alloc(Math.min(pieceBlocks, nBlocks) * blockSize * 4);
  const memory = k.memory.buffer; // alloc may grow the memory (detaching older views): take it after the allocations
  const input = new Uint8Array(memory, inPtr, Math.min(pieceBlocks, nBlocks) * bytesPerBlock);
  const output = new Float32Array(memory, outPtr, Math.min(pieceBlocks, nBlocks) * blockSize);
  for (let b = 0; b < nBlocks; b += pieceBlocks) {
    const n = Math.min(pieceBlocks, nBlocks - b);
    input.set(src.subarray(b * bytesPerBlock, (b + n) * bytesPerBlock));
    k.dequantize(ggmlId, inPtr, n, outPtr);
    dst.set(n === pieceBlocks ? output : output.subarray(0, n * blockSize), b * blockSize);
  }
  return true;
}

/** The codec with its dequantize run by the kernel when it can (the codec itself for the other types). */
export function withWasmDequantize(ggmlId: number, codec: QuantCodec): QuantCodec {
  if (!WASM_DEQUANTIZED_TYPES.has(ggmlId)) return codec;
  return {
    ...codec,
    dequantize(src, dst, nBlocks) {
      if (!wasmDequantize(ggmlId, src, dst, nBlocks)) codec.dequantize(src, dst, nBlocks);
    },
  };
}
