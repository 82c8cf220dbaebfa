/**
 * The WebAssembly build's generated files are current: the TypeScript bindings of both modules
 * (src/core/wasm/generated/*.d.ts, which src/core/wasm/kernels.ts types the modules with) equal what the
 * AssemblyScript compiles to now. (The layout constants are checked in typeTable.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODULES, bindingsFile, compileModule, type Asc } from '../../scripts/wasmModules.ts';

const ROOT = join(import.meta.dirname, '..', '..');

for (const name of MODULES) {
  test(`${bindingsFile(name)} is the current bindings of dist/${name}.wasm`, async () => {
    // (a specifier TypeScript does not resolve: the package's declarations would bring AssemblyScript's globals in)
    const compiler: string = 'assemblyscript/asc';
    const { default: asc } = (await import(compiler)) as { default: Asc };
    const { bindings } = await compileModule(asc, name, false);
    assert.equal(readFileSync(join(ROOT, bindingsFile(name)), 'utf8'), bindings, `${bindingsFile(name)} is stale: run node scripts/build-wasm.mjs`);
  });
}
