/**
 * The two WebAssembly modules, as TypeScript sees them: dist/kernels.wasm (decoders and statistics passes,
 * src/core/wasm/assembly/kernels.ts) and dist/quantizers.wasm (quantizers, assembly/quantizers.ts). Both are
 * required and load on first use; a missing module is a QuantLensError('wasm') (loadModule.ts). Types are passed as
 * their ggml ids; the kernels take only types whose row in the type table (src/core/types.ts) names them.
 */
import { loadWasmModule } from './loadModule.ts';

/** The shared bump allocator (assembly/common/memory.ts): `alloc` traps when the memory cannot grow. */
interface Allocator {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  reset(): void;
}

export interface KernelExports extends Allocator {
  dequantize(type: number, src: number, nBlocks: number, dst: number): void;
  firstPassF32(ptr: number, n: number, min: number, max: number): number;
  secondPassF32(ptr: number, n: number, hist: number): void;
  resultMin(): number;
  resultMax(): number;
  resultZero(): number;
  resultBins(): number;
  setBins(lo: number, range: number, bins: number): void;
  countedSecondPass(type: number, src: number, nBlocks: number, hist: number): void;
  decodedFirstPass(type: number, src: number, nBlocks: number, blockBytes: number, blockWeights: number, min: number, max: number): number;
  decodedSecondPass(type: number, src: number, nBlocks: number, blockBytes: number, blockWeights: number, hist: number): void;
  countHalves(src: number, n: number, table: number): void;
}

export interface QuantizerExports extends Allocator {
  quantize(type: number, x: number, nBlocks: number, nPerRow: number, qw: number, y: number): void;
}

let kernels: KernelExports | undefined;
let quantizers: QuantizerExports | undefined;

export function kernelModule(): KernelExports {
  return (kernels ??= loadWasmModule<KernelExports>('kernels.wasm'));
}

export function quantizerModule(): QuantizerExports {
  return (quantizers ??= loadWasmModule<QuantizerExports>('quantizers.wasm'));
}

let referenceOnly = false;

/**
 * Switch the decode and statistics kernels off (true) or on: the tests and the bench compare them with the
 * JavaScript reference decoders and loops, which are what runs while they are off. Nothing else turns them off.
 */
export function setWasmEnabled(on: boolean): void {
  referenceOnly = !on;
}

/** The decode and statistics kernels, or null while setWasmEnabled(false) holds. Throws when the module is missing. */
export function wasmKernel(): KernelExports | null {
  return referenceOnly ? null : kernelModule();
}
