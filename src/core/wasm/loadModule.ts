/** Finding and instantiating the WebAssembly modules that scripts/build-wasm.mjs builds into dist/. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function here(): string {
  return typeof __dirname !== 'undefined' ? __dirname : process.cwd();
}

/**
 * The exports of dist/`file`: beside the bundle (dist/*.js), or in dist/ of the repository when running from
 * source. Null when it is missing or does not instantiate; the callers then run their JavaScript code.
 */
export function loadWasmModule<T>(file: string): T | null {
  for (const p of [join(here(), file), join(here(), '..', '..', '..', 'dist', file), join(process.cwd(), 'dist', file)]) {
    if (!existsSync(p)) continue;
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(p)), { env: { abort: () => { throw new Error('wasm abort'); } } });
      return instance.exports as unknown as T;
    } catch {
      return null;
    }
  }
  return null;
}
