// The CLI's esbuild options (esbuild.mjs builds it into dist/; test/unit/cliPieces.test.ts into a folder of its own).
//
// The CLI is bundled in pieces, so that a command loads only what it uses (`quantlens info` of a GGUF: the header
// reader, not the scans, quantizers and Hugging Face formats). esbuild splits only ES modules, so it splits the CLI
// at each `await import()` into OUTDIR/cli-main-HASH.js and shared chunks OUTDIR/cli-*-HASH.js, and each piece is
// then converted to CommonJS, its import() calls becoming require(): CommonJS loads faster than Node's ES module
// loader, and every piece sits beside cli.js, so __dirname still finds worker.js, evalChild.js and the .wasm modules.
// OUTDIR/cli.js is src/cli/launcher.ts, which runs the pieces with V8's code cache (each piece's name carries a
// hash of its content: the cache of one build's piece is never taken for another's).
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI's pieces and their source maps in OUTDIR (cli.js, cli-main-XXXXXXXX.js, cli-chunk-XXXXXXXX.js ...). */
export const CLI_PIECE = /^cli(-[\w-]+)?\.js(\.map)?$/;

const LAUNCHER = fileURLToPath(new URL('../src/cli/launcher.ts', import.meta.url));

/** Converts the split ES module output to CommonJS files in outdir, removing the pieces of an earlier build. */
function commonJsPieces(outdir, production, target) {
  return {
    name: 'cli-pieces',
    setup(build) {
      build.onEnd(async (result) => {
        if (result.errors.length) return;
        const written = new Set();
        for (const file of result.outputFiles) {
          const name = basename(file.path);
          const cjs = await esbuild.transform(file.text, {
            format: 'cjs',
            platform: 'node',
            target,
            supported: { 'dynamic-import': false },
            minify: production,
            sourcemap: production ? false : 'external',
            sourcefile: name,
          });
          writeFileSync(join(outdir, name), cjs.code + (cjs.map ? `//# sourceMappingURL=${name}.map\n` : ''));
          written.add(name);
          if (cjs.map) {
            writeFileSync(join(outdir, `${name}.map`), cjs.map);
            written.add(`${name}.map`);
          }
        }
        const main = [...written].find((name) => /^cli-main-\w+\.js$/.test(name));
        const launcher = await esbuild.transform(readFileSync(LAUNCHER, 'utf8'), {
          loader: 'ts',
          format: 'cjs',
          platform: 'node',
          target,
          minify: production,
          define: { CLI_MAIN: JSON.stringify(main) },
          banner: '#!/usr/bin/env node',
        });
        writeFileSync(join(outdir, 'cli.js'), launcher.code);
        written.add('cli.js');
        // the chunks' names carry a hash of their content: an earlier build's would stay and ship in the .vsix
        for (const old of readdirSync(outdir)) if (CLI_PIECE.test(old) && !written.has(old)) rmSync(join(outdir, old));
      });
    },
  };
}

/** esbuild options for the CLI in pieces in `outdir`; `metafile` adds which sources each piece holds. */
export function cliBuildOptions({ outdir, production = false, target = 'es2022', metafile = false }) {
  return {
    entryPoints: { 'cli-main': fileURLToPath(new URL('../src/cli/cli.ts', import.meta.url)) },
    entryNames: '[name]-[hash]',
    bundle: true,
    outdir,
    platform: 'node',
    format: 'esm',
    splitting: true,
    chunkNames: 'cli-[name]-[hash]',
    target,
    minify: production,
    // inline, so that the conversion to CommonJS carries the map through to the .ts sources
    sourcemap: production ? false : 'inline',
    logLevel: 'warning',
    write: false,
    metafile,
    // node-llama-cpp (ESM-only, native) is loaded at run time by the evaluation child, never bundled
    external: ['vscode', 'node-llama-cpp'],
    plugins: [commonJsPieces(outdir, production, target)],
  };
}
