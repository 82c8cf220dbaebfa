/**
 * The WebAssembly quantizers (dist/quantizers.wasm, built from src/core/wasm/assembly/quantize.ts by
 * scripts/build-wasm.mjs): ggml's bytes at native binary32 speed, for the types whose table row says wasmQuantize.
 * They are the only implementation of those types' quantizers.
 */
import { quantizerModule, type QuantizerExports } from '../wasm/kernels.ts';
import { QuantLensError } from '../errors.ts';
import type { TensorType } from '../types.ts';
import { gridSearchTables } from './iquants/gridTables.ts';

/** Weights quantized per kernel call (whole blocks; with an importance matrix whole rows, at least one). */
const CHUNK_WEIGHTS = 1 << 16;

/** Calls that ran in WebAssembly (tests check that the kernels ran). */
export let wasmQuantizeCalls = 0;

/**
 * The input that moduleInput placed in the module's memory (the first allocation after a reset, so always at the
 * same address), and the bytes reserved above it for quantizing it.
 */
let resident: { values: Float32Array; reserved: number } | undefined;

/** The blocks of one kernel call, and the bytes quantizeWasm allocates for them (besides a resident input). */
function chunkLayout(ty: TensorType, nRows: number, nPerRow: number, withImatrix: boolean, copyIn: boolean) {
  const nBlocks = (nRows * nPerRow) / ty.blockSize;
  const chunkWeights = withImatrix
    ? Math.max(1, Math.floor(CHUNK_WEIGHTS / nPerRow)) * nPerRow
    : CHUNK_WEIGHTS - (CHUNK_WEIGHTS % ty.blockSize);
  const chunkBlocks = Math.min(nBlocks, chunkWeights / ty.blockSize);
  const grid = gridSearchTables(ty.ggmlId!);
  const gridBytes = grid ? [grid.pos, grid.map, grid.start, grid.list, grid.coords].reduce((s, a) => s + a.byteLength + 15, 0) : 0;
  const bytes =
    (withImatrix ? nPerRow * 4 + 15 : 0) +
    (copyIn ? chunkBlocks * ty.blockSize * 4 + 15 : 0) +
    chunkBlocks * ty.bytesPerBlock +
    15 +
    gridBytes;
  return { nBlocks, chunkBlocks, grid, bytes };
}

/** Resets the module's allocator, keeping a resident input (returned: its address, or 0 for none). */
function resetKeepingInput(k: QuantizerExports): number {
  k.reset();
  return resident ? k.alloc(resident.values.byteLength) : 0;
}

/** The most bytes moduleInput places in the module (its allocator takes a signed 32-bit size). */
const MODULE_INPUT_MAX_BYTES = 2 ** 31 - 2 ** 26;

/**
 * A Float32Array of nRows · nPerRow weights in the quantizer module's memory, for a caller that reads its weights
 * straight into it (the CLI's quantize reads the input file there): quantizeWasm given this array quantizes it in
 * place, without copying it in. The memory for quantizing it (or a copy of it) to `ty` is reserved with it, so that
 * does not grow the memory, which would detach the array (quantizing a larger input in the meantime can). It holds
 * until the next moduleInput or releaseModuleInput. Undefined where the module's memory cannot hold it all: the
 * caller then keeps the weights in its own memory, and they are copied in chunk by chunk.
 */
export function moduleInput(ty: TensorType, nRows: number, nPerRow: number, withImatrix: boolean): Float32Array | undefined {
  const k = quantizerModule();
  resident = undefined;
  k.reset();
  const n = nRows * nPerRow;
  const reserved =
    ty.caps.wasmQuantize && nPerRow > 0 && nPerRow % ty.blockSize === 0 ? chunkLayout(ty, nRows, nPerRow, withImatrix, true).bytes : 0;
  if (n * 4 + reserved > MODULE_INPUT_MAX_BYTES) return undefined;
  let at: number;
  try {
    at = k.alloc(n * 4);
    k.alloc(reserved); // grows the memory now: nothing allocated for quantizing this input grows it again
  } catch (e) {
    if (outOfWasmMemory(e)) return undefined;
    throw e;
  } finally {
    k.reset();
  }
  resident = { values: new Float32Array(k.memory.buffer, at, n), reserved };
  return resident.values;
}

/** Frees the input of moduleInput (quantizeWasm no longer keeps room for it). */
export function releaseModuleInput(): void {
  resident = undefined;
}

/** The allocator traps when the module's memory cannot grow. */
function outOfWasmMemory(e: unknown): boolean {
  return e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message);
}

/** Receives quantized blocks in order; `bytes` is a view of the module's memory, valid only during the call. */
export type BlockSink = (bytes: Uint8Array) => void;

/**
 * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) in WebAssembly into a new array, or null for a type
 * without a kernel or a shape ggml does not take (as quantizeWasmTo).
 */
export function quantizeWasm(ty: TensorType, src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array | null {
  let out: Uint8Array | undefined;
  let at = 0;
  const taken = quantizeWasmTo(
    ty,
    src,
    nRows,
    nPerRow,
    (bytes) => {
      // every byte is written: no zero-filling, and the allocator may hand back pages already mapped
      out ??= new Uint8Array(Buffer.allocUnsafeSlow(((nRows * nPerRow) / ty.blockSize) * ty.bytesPerBlock).buffer);
      out.set(bytes, at);
      at += bytes.length;
    },
    imatrix,
  );
  return taken ? (out ?? new Uint8Array(0)) : null;
}

/**
 * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) in WebAssembly, handing each chunk's blocks to
 * `write` straight from the module's memory (the CLI writes them to its file from there: nothing is copied out);
 * false for a type without a kernel or a shape ggml does not take (rows that are not whole blocks, an importance
 * matrix shorter than a row). Without an importance matrix every block is quantized on its own, so the weights go
 * through the module in chunks of whole blocks; with one, in chunks of whole rows. Weights of moduleInput are read
 * where they are; others are copied into the module chunk by chunk. `write` may not call the quantizers.
 */
export function quantizeWasmTo(
  ty: TensorType,
  src: Float32Array,
  nRows: number,
  nPerRow: number,
  write: BlockSink,
  imatrix?: Float32Array,
): boolean {
  const { blockSize, bytesPerBlock } = ty;
  if (src === resident?.values && src.buffer !== quantizerModule().memory.buffer)
    throw new Error('quantizeWasm: the module input was detached (the module memory grew since moduleInput)');
  if (!ty.caps.wasmQuantize || nPerRow <= 0 || nPerRow % blockSize !== 0 || src.length !== nRows * nPerRow) return false;
  if (imatrix && imatrix.length < nPerRow) return false;
  const k = quantizerModule();
  const inPlace = src === resident?.values && src.length > 0;
  const { nBlocks, chunkBlocks, grid, bytes } = chunkLayout(ty, nRows, nPerRow, !!imatrix, !inPlace);
  if (inPlace && bytes > resident!.reserved)
    throw new Error(
      `quantizeWasm: ${bytes} bytes needed above the module input, ${resident!.reserved} reserved (moduleInput was for another type or shape)`,
    );
  const base = resetKeepingInput(k);
  try {
    const qw = imatrix ? k.alloc(nPerRow * 4) : 0;
    const x = inPlace ? base : k.alloc(chunkBlocks * blockSize * 4);
    const y = k.alloc(chunkBlocks * bytesPerBlock);
    if (imatrix) new Float32Array(k.memory.buffer, qw, nPerRow).set(imatrix.subarray(0, nPerRow));
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
      const at = inPlace ? x + b * blockSize * 4 : x;
      if (!inPlace) new Float32Array(k.memory.buffer, x, n * blockSize).set(src.subarray(b * blockSize, (b + n) * blockSize));
      k.quantize(ty.ggmlId!, at, n, nPerRow, qw, y);
      if (grid && k.failedBlock() >= 0) {
        const block = b + k.failedBlock();
        throw new QuantLensError(
          'invalid-value',
          `cannot quantize to ${ty.name}: block ${block} (weights ${block * blockSize}..${(block + 1) * blockSize - 1}) cannot be placed on the grid (NaN or infinite weights; ggml aborts on them)`,
        );
      }
      write(new Uint8Array(k.memory.buffer, y, n * bytesPerBlock));
    }
  } catch (e) {
    if (outOfWasmMemory(e))
      throw new QuantLensError('wasm', `out of WebAssembly memory quantizing ${nRows} rows of ${nPerRow} weights to ${ty.name}`);
    throw e;
  } finally {
    resetKeepingInput(k);
  }
  wasmQuantizeCalls++;
  return true;
}
