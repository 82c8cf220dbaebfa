/**
 * The WebAssembly build's generated files are current: the TypeScript bindings of both modules
 * (src/core/wasm/generated/*.d.ts, which src/core/wasm/kernels.ts types the modules with) equal what the
 * AssemblyScript compiles to now (the layout constants are checked in typeTable.test.ts); and a module that does not
 * load is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODULES, bindingsFile, compileModule, type Asc } from '../../scripts/wasmModules.ts';
import { loadWasmModule } from '../../src/core/wasm/loadModule.ts';
import { QuantLensError } from '../../src/core/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');

for (const name of MODULES) {
  test(`${bindingsFile(name)} is the current bindings of dist/${name}.wasm`, async () => {
    // (a specifier TypeScript does not resolve: the package's declarations would bring AssemblyScript's globals in)
    const compiler: string = 'assemblyscript/asc';
    const { default: asc } = (await import(compiler)) as { default: Asc };
    const { bindings } = await compileModule(asc, name, false);
    assert.equal(
      readFileSync(join(ROOT, bindingsFile(name)), 'utf8'),
      bindings,
      `${bindingsFile(name)} is stale: run node scripts/build-wasm.mjs`,
    );
  });
}

test('a module that is missing or does not instantiate is a loud QuantLensError, never a silent other path', () => {
  assert.throws(
    () => loadWasmModule('no-such-module.wasm'),
    (e) => e instanceof QuantLensError && e.code === 'wasm' && /no-such-module\.wasm is missing/.test(e.message),
  );
  // a file in dist/ of the working directory that is not WebAssembly
  const dir = mkdtempSync(join(tmpdir(), 'ql-wasm-'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'bad.wasm'), 'not a module');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    assert.throws(
      () => loadWasmModule('bad.wasm'),
      (e) => e instanceof QuantLensError && e.code === 'wasm' && /does not load/.test(e.message),
    );
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true });
  }
});
