// Compiles the AssemblyScript kernels in src/core/wasm/assembly/ to dist/kernels.wasm (WebAssembly SIMD).
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
const { error, stderr } = await asc.main([
  'src/core/wasm/assembly/stats.ts',
  '--outFile', 'dist/kernels.wasm',
  '--optimizeLevel', '3',
  '--runtime', 'stub',
  '--noAssert',
  '--enable', 'simd',
  '--exportRuntime',
]);
if (error) {
  console.error(stderr.toString());
  process.exit(1);
}
// The quantizers (dist/quantizers.wasm, src/core/wasm/assembly/quantize.ts), loaded by src/core/quant/wasmQuantizers.ts.
const q = await asc.main(['src/core/wasm/assembly/quantize.ts', '--outFile', 'dist/quantizers.wasm', '--optimizeLevel', '3', '--runtime', 'stub', '--noAssert', '--enable', 'simd']);
if (q.error) {
  console.error(q.stderr.toString());
  process.exit(1);
}
