// Compiles the AssemblyScript kernels in src/core/wasm/assembly/ (WebAssembly SIMD): kernels.ts (decode and the
// statistics passes) to dist/kernels.wasm, quantizers.ts to dist/quantizers.wasm, header.ts (the GGUF header's string
// walk) to dist/header.wasm. First the layout constants they use
// are generated from the type table (scripts/wasmLayout.ts); then each module's TypeScript bindings are written to
// src/core/wasm/generated/ (scripts/wasmModules.ts). Both generated files are committed; tests fail when stale.
import asc from 'assemblyscript/asc';
import { tsImport } from 'tsx/esm/api';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const { renderLayout, LAYOUT_FILE } = await tsImport('./wasmLayout.ts', import.meta.url);
const { MODULES, bindingsFile, compileModule } = await tsImport('./wasmModules.ts', import.meta.url);

function writeIfChanged(path, text) {
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {}
  if (old !== text) writeFileSync(path, text);
}

writeIfChanged(LAYOUT_FILE, renderLayout());
mkdirSync('dist', { recursive: true });
for (const name of MODULES) {
  try {
    const { wasm, bindings } = await compileModule(asc, name);
    writeFileSync(`dist/${name}.wasm`, wasm);
    writeIfChanged(bindingsFile(name), bindings);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
