/**
 * Finding and instantiating the WebAssembly modules that scripts/build-wasm.mjs builds into dist/. WebAssembly is
 * required (the modules ship in the .vsix): a module that is missing or does not instantiate is a loud error, never
 * a silent change of path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuantLensError } from '../errors.ts';

function here(): string {
  return typeof __dirname !== 'undefined' ? __dirname : process.cwd();
}

/** The exports of dist/`file`: beside the bundle (dist/*.js), or in dist/ of the repository when running from source. */
export function loadWasmModule<T>(file: string): T {
  const places = [join(here(), file), join(here(), '..', '..', '..', 'dist', file), join(process.cwd(), 'dist', file)];
  const path = places.find((p) => existsSync(p));
  if (!path)
    throw new QuantLensError(
      'wasm',
      `the WebAssembly module ${file} is missing (looked in ${places.join(', ')}); run node scripts/build-wasm.mjs`,
    );
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), {
      env: {
        abort: () => {
          throw new Error('wasm abort');
        },
      },
    });
    return instance.exports as unknown as T;
  } catch (e) {
    throw new QuantLensError('wasm', `the WebAssembly module ${path} does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
}
