// Compiles the AssemblyScript kernels in src/core/wasm/assembly/ (WebAssembly SIMD): kernels.ts (decode and the
// statistics passes) to dist/kernels.wasm, quantizers.ts to dist/quantizers.wasm. The layout constants they use
// are generated first from the type table (scripts/wasmLayout.ts).
import asc from 'assemblyscript/asc';
import { tsImport } from 'tsx/esm/api';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const { renderLayout, LAYOUT_FILE } = await tsImport('./wasmLayout.ts', import.meta.url);
const layout = renderLayout();
let old = '';
try { old = readFileSync(LAYOUT_FILE, 'utf8'); } catch {}
if (old !== layout) writeFileSync(LAYOUT_FILE, layout);

mkdirSync('dist', { recursive: true });
for (const [entry, out] of [['kernels', 'kernels'], ['quantizers', 'quantizers']]) {
  const { error, stderr } = await asc.main([
    `src/core/wasm/assembly/${entry}.ts`,
    '--outFile', `dist/${out}.wasm`,
    '--optimizeLevel', '3',
    '--runtime', 'stub',
    '--noAssert',
    '--enable', 'simd',
  ]);
  if (error) {
    console.error(stderr.toString());
    process.exit(1);
  }
}
