/**
 * The WebAssembly quantizers (dist/quantizers.wasm, built from src/core/wasm/assembly/quantize.ts by
 * scripts/build-wasm.mjs): the same bytes as the JavaScript quantizers (and ggml), at native binary32 speed. When the
 * module is missing, QUANTLENS_NO_WASM is set, or setQuantizerWasmEnabled(false) was called, the JavaScript runs.
 */
import { loadWasmModule } from '../wasm/loadModule.ts';

interface QuantizerExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  reset(): void;
  quantizeQ2K(x: number, nb: number, nPerRow: number, qw: number, y: number): void;
  quantizeQ3K(x: number, nb: number, nPerRow: number, qw: number, y: number): void;
  quantizeQ45K(bits: number, x: number, nb: number, nPerRow: number, qw: number, y: number): void;
  quantizeQ6K(x: number, nb: number, nPerRow: number, qw: number, y: number): void;
  quantizeIQ4(sbs: number, x: number, nb: number, nPerRow: number, qw: number, y: number): void;
}

let module: QuantizerExports | null | undefined;
let enabled = !process.env.QUANTLENS_NO_WASM;

/** Turn the WebAssembly quantizers off or on (tests compare both paths). */
export function setQuantizerWasmEnabled(on: boolean): void {
  enabled = on;
}

function quantizerModule(): QuantizerExports | null {
  if (!enabled) return null;
  if (module === undefined) module = loadWasmModule<QuantizerExports>('quantizers.wasm');
  return module;
}

interface Kernel {
  /** weights per block, bytes per block */
  block: number;
  bytes: number;
  run(k: QuantizerExports, x: number, nb: number, nPerRow: number, qw: number, y: number): void;
}

/** By ggml type id. */
const KERNELS: Record<number, Kernel> = {
  10: { block: 256, bytes: 84, run: (k, x, nb, npr, qw, y) => k.quantizeQ2K(x, nb, npr, qw, y) },
  11: { block: 256, bytes: 110, run: (k, x, nb, npr, qw, y) => k.quantizeQ3K(x, nb, npr, qw, y) },
  12: { block: 256, bytes: 144, run: (k, x, nb, npr, qw, y) => k.quantizeQ45K(4, x, nb, npr, qw, y) },
  13: { block: 256, bytes: 176, run: (k, x, nb, npr, qw, y) => k.quantizeQ45K(5, x, nb, npr, qw, y) },
  14: { block: 256, bytes: 210, run: (k, x, nb, npr, qw, y) => k.quantizeQ6K(x, nb, npr, qw, y) },
  20: { block: 32, bytes: 18, run: (k, x, nb, npr, qw, y) => k.quantizeIQ4(32, x, nb, npr, qw, y) },
  23: { block: 256, bytes: 136, run: (k, x, nb, npr, qw, y) => k.quantizeIQ4(256, x, nb, npr, qw, y) },
};

/** Type ids with a WebAssembly quantizer. */
export const WASM_QUANTIZER_IDS = Object.keys(KERNELS).map(Number);

/** Weights copied into the module per call (whole rows; at least one row). */
const CHUNK_WEIGHTS = 1 << 20;

/** Calls that ran in WebAssembly (tests check that the kernels ran rather than the fallback). */
export let wasmQuantizeCalls = 0;

/**
 * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) in WebAssembly, or null when the JavaScript
 * must run (no module, a type without a kernel, or a shape the kernel does not take).
 */
export function quantizeWasm(ggmlId: number, src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array | null {
  const kernel = KERNELS[ggmlId];
  if (!kernel || nPerRow <= 0 || nPerRow % kernel.block !== 0 || src.length !== nRows * nPerRow) return null;
  if (imatrix && imatrix.length < nPerRow) return null;
  const k = quantizerModule();
  if (!k) return null;
  const rowBytes = (nPerRow / kernel.block) * kernel.bytes;
  const out = new Uint8Array(nRows * rowBytes);
  const rowsPerChunk = Math.max(1, Math.min(nRows, Math.floor(CHUNK_WEIGHTS / nPerRow)));
  k.reset();
  try {
    const qw = imatrix ? k.alloc(nPerRow * 4) : 0;
    const x = k.alloc(rowsPerChunk * nPerRow * 4);
    const y = k.alloc(rowsPerChunk * rowBytes);
    if (imatrix) new Float32Array(k.memory.buffer, qw, nPerRow).set(imatrix.subarray(0, nPerRow));
    for (let r = 0; r < nRows; r += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, nRows - r);
      new Float32Array(k.memory.buffer, x, n * nPerRow).set(src.subarray(r * nPerRow, (r + n) * nPerRow));
      kernel.run(k, x, (n * nPerRow) / kernel.block, nPerRow, qw, y);
      out.set(new Uint8Array(k.memory.buffer, y, n * rowBytes), r * rowBytes);
    }
  } catch (e) {
    // the module's memory could not grow (the JavaScript then runs); anything else is a bug
    if (e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message)) return null;
    throw e;
  } finally {
    k.reset();
  }
  wasmQuantizeCalls++;
  return out;
}
