/**
 * The WebAssembly modules, as TypeScript sees them: dist/kernels.wasm (decoders and statistics passes,
 * src/core/wasm/assembly/kernels.ts), dist/quantizers.wasm (quantizers, assembly/quantizers.ts) and dist/header.wasm
 * (the GGUF header's string walk, assembly/header.ts). All are required and load on first use; a missing module is a QuantLensError('wasm') (loadModule.ts). Types are passed as
 * their ggml ids; the kernels take only types whose row in the type table (src/core/types.ts) names them.
 */
import { loadWasmModule } from './loadModule.ts';
import type { instantiate as instantiateKernels } from './generated/kernels.js';
import type { instantiate as instantiateQuantizers } from './generated/quantizers.js';
import type { instantiate as instantiateHeader } from './generated/header.js';

/** The exports of each module, as generated from the AssemblyScript (generated/*.d.ts). */
export type KernelExports = Awaited<ReturnType<typeof instantiateKernels>>;
export type QuantizerExports = Awaited<ReturnType<typeof instantiateQuantizers>>;
export type HeaderExports = Awaited<ReturnType<typeof instantiateHeader>>;

let kernels: KernelExports | undefined;
let quantizers: QuantizerExports | undefined;
let header: HeaderExports | undefined;

export function kernelModule(): KernelExports {
  return (kernels ??= loadWasmModule<KernelExports>('kernels.wasm'));
}

export function quantizerModule(): QuantizerExports {
  return (quantizers ??= loadWasmModule<QuantizerExports>('quantizers.wasm'));
}

export function headerModule(): HeaderExports {
  return (header ??= loadWasmModule<HeaderExports>('header.wasm'));
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
