// AssemblyScript entry of dist/quantizers.wasm (scripts/build-wasm.mjs): ggml's quantizers, with the shared
// allocator. Their TypeScript side is src/core/quant/wasmQuantizers.ts.
export * from './common/memory';
export { quantize } from './quantize';
