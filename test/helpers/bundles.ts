/**
 * The CLI and the worker thread script as dist/ ships them, bundled from src/ once per test process, so that the
 * unit tests run on a clean checkout without `npm run build` and always test the current sources.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(import.meta.dirname, '..', '..');

let workerScript: string | undefined;
let cliScript: string | undefined;

/** dist/worker.js: the worker thread script. */
export function bundledWorker(): string {
  if (!workerScript) {
    workerScript = join(mkdtempSync(join(tmpdir(), 'ql-worker-')), 'worker.js');
    buildSync({
      entryPoints: [join(ROOT, 'src', 'worker', 'worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: workerScript,
      logLevel: 'silent',
    });
  }
  return workerScript;
}

/** dist/cli.js with its worker beside it, and the WebAssembly modules that `npm run test:unit` builds into dist/. */
export function bundledCli(): string {
  if (!cliScript) {
    const dir = mkdtempSync(join(tmpdir(), 'ql-cli-'));
    buildSync({
      entryPoints: { cli: join(ROOT, 'src', 'cli', 'cli.ts'), worker: join(ROOT, 'src', 'worker', 'worker.ts') },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outdir: dir,
      logLevel: 'silent',
    });
    for (const wasm of ['kernels.wasm', 'quantizers.wasm', 'header.wasm'])
      if (existsSync(join(ROOT, 'dist', wasm))) copyFileSync(join(ROOT, 'dist', wasm), join(dir, wasm));
    cliScript = join(dir, 'cli.js');
  }
  return cliScript;
}

let evalBundleDir: string | undefined;

/**
 * dist/evalChild.js, dist/cli.js and dist/worker.js bundled into a fresh folder under the repository's dist-test/:
 * the evaluation child loads node-llama-cpp with import(), which resolves node_modules from where the bundle is.
 */
export function bundledEvalDir(): string {
  if (!evalBundleDir) {
    mkdirSync(join(ROOT, 'dist-test'), { recursive: true });
    const dir = mkdtempSync(join(ROOT, 'dist-test', 'eval-'));
    buildSync({
      entryPoints: {
        cli: join(ROOT, 'src', 'cli', 'cli.ts'),
        worker: join(ROOT, 'src', 'worker', 'worker.ts'),
        evalChild: join(ROOT, 'src', 'evalChild', 'evalChild.ts'),
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outdir: dir,
      external: ['node-llama-cpp'],
      logLevel: 'silent',
    });
    for (const wasm of ['kernels.wasm', 'quantizers.wasm', 'header.wasm'])
      if (existsSync(join(ROOT, 'dist', wasm))) copyFileSync(join(ROOT, 'dist', wasm), join(dir, wasm));
    evalBundleDir = dir;
  }
  return evalBundleDir;
}
