/**
 * Dequantizing in WebAssembly SIMD (`dequantize` in src/core/wasm/assembly/decode.ts, in dist/kernels.wasm): the
 * same float32 bits as the JavaScript codecs, several times faster. The codec registry (index.ts) wraps the codecs
 * of the types whose table row says wasmDecode; the JavaScript decoders are their reference (and decode single
 * blocks for the block inspector), run only while setWasmEnabled(false) holds.
 */
import type { QuantCodec } from './codec.ts';
import { ggmlType, typesWith, type GgmlType, type TensorType } from '../types.ts';
import { wasmKernel } from '../wasm/kernels.ts';

/** ggml types the kernel decodes (the wasmDecode capability of the type table). */
export const WASM_DEQUANTIZED_TYPES: ReadonlySet<GgmlType> = new Set(typesWith('wasmDecode'));

/**
 * Weights per call into the kernel: the raw bytes are copied into its memory and the values out of it piece by
 * piece, so the module's memory stays small (it never shrinks) and the piece stays in the cache between the copies.
 */
const PIECE_WEIGHTS = 1 << 15;

/**
 * Decodes nBlocks blocks of ggml type `ggmlId` from src into dst with the kernel. Returns false, having written
 * nothing, when the kernels are switched off or do not decode this type. It frees the kernel module's allocations
 * (reset), as every user of the module does on entry: nothing may hold memory in the module across this call.
 */
export function wasmDequantize(ggmlId: GgmlType, src: Uint8Array, dst: Float32Array, nBlocks: number): boolean {
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

/** The codec with its dequantize run by the kernel (the codec itself for the types the kernel does not decode). */
export function withWasmDequantize(ty: TensorType, codec: QuantCodec): QuantCodec {
  if (!ty.caps.wasmDecode) return codec;
  const id = ty.ggmlId!;
  return {
    ...codec,
    dequantize(src, dst, nBlocks) {
      if (!wasmDequantize(id, src, dst, nBlocks)) codec.dequantize(src, dst, nBlocks);
    },
  };
}
