// One build for every entry point: extension host, worker, CLI, benchmark (node, CommonJS) and the webview (browser, IIFE).
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, cpSync } from 'node:fs';
import { cliBuildOptions } from './scripts/build-cli.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const nodeEntries = [
  { in: 'src/extension/extension.ts', out: 'extension' },
  { in: 'src/worker/worker.ts', out: 'worker' },
  { in: 'bench/bench.ts', out: 'bench' },
  // the evaluation child process: loads node-llama-cpp (external) at run time
  { in: 'src/evalChild/evalChild.ts', out: 'evalChild' },
].filter((e) => existsSync(e.in));

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', target: 'es2022' };

const builds = nodeEntries.map((e) => ({
  ...common,
  entryPoints: { [e.out]: e.in },
  outdir: 'dist',
  platform: 'node',
  format: 'cjs',
  // node-llama-cpp (ESM-only, native) is loaded at run time by the evaluation child, never bundled
  external: ['vscode', 'node-llama-cpp'],
}));

// the CLI in pieces (dist/cli.js and dist/cli-*.js), each command loading only what it uses: scripts/build-cli.mjs
builds.push(cliBuildOptions({ outdir: 'dist', production, target: common.target }));

if (existsSync('webview/main.ts')) {
  builds.push({
    ...common,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    loader: { '.ttf': 'file', '.css': 'css' },
  });
}

mkdirSync('dist', { recursive: true });
// WebAssembly SIMD kernels (dist/kernels.wasm), loaded by the core when present.
await import('./scripts/build-wasm.mjs');
if (existsSync('node_modules/@vscode/codicons/dist')) {
  cpSync('node_modules/@vscode/codicons/dist/codicon.css', 'dist/codicon.css');
  cpSync('node_modules/@vscode/codicons/dist/codicon.ttf', 'dist/codicon.ttf');
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
