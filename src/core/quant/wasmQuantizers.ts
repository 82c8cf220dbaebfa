/**
 * The WebAssembly quantizers (dist/quantizers.wasm, built from src/core/wasm/assembly/quantize.ts by
 * scripts/build-wasm.mjs): ggml's bytes at native binary32 speed, for the types whose table row says wasmQuantize.
 * They are the only implementation of those types' quantizers.
 */
import { quantizerModule } from '../wasm/kernels.ts';
import { QuantLensError } from '../errors.ts';
import type { TensorType } from '../types.ts';
import { gridSearchTables } from './iquants/gridTables.ts';

/** Weights copied into the module per call (whole blocks; with an importance matrix whole rows, at least one). */
const CHUNK_WEIGHTS = 1 << 16;

/** Calls that ran in WebAssembly (tests check that the kernels ran). */
export let wasmQuantizeCalls = 0;

/**
 * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) in WebAssembly, or null for a type without a
 * kernel or a shape ggml does not take (rows that are not whole blocks, an importance matrix shorter than a row).
 * Without an importance matrix every block is quantized on its own, so the weights go through the module in chunks
 * of whole blocks; with one, in chunks of whole rows.
 */
export function quantizeWasm(ty: TensorType, src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array | null {
  const { blockSize, bytesPerBlock } = ty;
  if (!ty.caps.wasmQuantize || nPerRow <= 0 || nPerRow % blockSize !== 0 || src.length !== nRows * nPerRow) return null;
  if (imatrix && imatrix.length < nPerRow) return null;
  const k = quantizerModule();
  const nBlocks = src.length / blockSize;
  const out = new Uint8Array(nBlocks * bytesPerBlock);
  const chunkWeights = imatrix ? Math.max(1, Math.floor(CHUNK_WEIGHTS / nPerRow)) * nPerRow : CHUNK_WEIGHTS - (CHUNK_WEIGHTS % blockSize);
  const chunkBlocks = Math.min(nBlocks, chunkWeights / blockSize);
  k.reset();
  try {
    const qw = imatrix ? k.alloc(nPerRow * 4) : 0;
    const x = k.alloc(chunkBlocks * blockSize * 4);
    const y = k.alloc(chunkBlocks * bytesPerBlock);
    if (imatrix) new Float32Array(k.memory.buffer, qw, nPerRow).set(imatrix.subarray(0, nPerRow));
    const grid = gridSearchTables(ty.ggmlId!);
    if (grid) {
      const at = [grid.pos, grid.map, grid.start, grid.list, grid.coords].map((a) => {
        const p = k.alloc(a.byteLength);
        new Uint8Array(k.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
        return p;
      });
      k.setGrid(at[0], at[1], at[2], at[3], at[4]);
    }
    for (let b = 0; b < nBlocks; b += chunkBlocks) {
      const n = Math.min(chunkBlocks, nBlocks - b);
      new Float32Array(k.memory.buffer, x, n * blockSize).set(src.subarray(b * blockSize, (b + n) * blockSize));
      k.quantize(ty.ggmlId!, x, n, nPerRow, qw, y);
      if (grid && k.failedBlock() >= 0) {
        const block = b + k.failedBlock();
        throw new QuantLensError(
          'invalid-value',
          `cannot quantize to ${ty.name}: block ${block} (weights ${block * blockSize}..${(block + 1) * blockSize - 1}) cannot be placed on the grid (NaN or infinite weights; ggml aborts on them)`,
        );
      }
      out.set(new Uint8Array(k.memory.buffer, y, n * bytesPerBlock), b * bytesPerBlock);
    }
  } catch (e) {
    // the allocator traps when the module's memory cannot grow
    if (e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message)) {
      throw new QuantLensError('wasm', `out of WebAssembly memory quantizing ${nRows} rows of ${nPerRow} weights to ${ty.name}`);
    }
    throw e;
  } finally {
    k.reset();
  }
  wasmQuantizeCalls++;
  return out;
}
