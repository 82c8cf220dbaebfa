/**
 * The .vsix as `npm run package` (and so the README's `npm run demo`) builds it: a linux-x64 package that carries
 * the llama.cpp CPU runtime of Evaluate on Outputs… (node-llama-cpp and @node-llama-cpp/linux-x64) and none of the
 * sources, GPU builds or node-llama-cpp's llama.cpp source bundle. Unpacked into an empty folder outside the
 * checkout, its own CLI evaluates a tiny model through its own copy of the runtime.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyLlama, writeTinyLlama } from '../helpers/tinyLlama.ts';
import { runtimeStatus } from '../../src/node/evalClient.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const VSIX = join(ROOT, 'dist', 'quant-lens.vsix');

function hasUnzip(): boolean {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const status = runtimeStatus(ROOT);
const skip = status !== true ? `skipped: ${status}` : !hasUnzip() ? 'skipped: no unzip on this machine' : false;

let dir: string;
let entries: string[];

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ql-vsix-'));
  execFileSync('npm', ['run', 'package'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  entries = execFileSync('unzip', ['-Z1', VSIX], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .split('\n')
    .filter(Boolean);
  execFileSync('unzip', ['-q', VSIX, '-d', join(dir, 'unpacked')]);
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

test('the .vsix is for linux-x64 and carries the bundles, the kernels and the CPU runtime', { skip }, () => {
  const manifest = readFileSync(join(dir, 'unpacked', 'extension.vsixmanifest'), 'utf8');
  assert.match(manifest, /TargetPlatform="linux-x64"/);
  // the localised strings: package.json's (package.nls.json) and the extension host's English bundle
  for (const f of ['package.json', 'package.nls.json', 'l10n/bundle.l10n.json'])
    assert.ok(entries.includes(`extension/${f}`), `${f} is in the package`);
  for (const f of [
    'extension.js',
    'worker.js',
    'webview.js',
    'webview.css',
    'cli.js',
    'evalChild.js',
    'kernels.wasm',
    'quantizers.wasm',
    'header.wasm',
  ])
    assert.ok(entries.includes(`extension/dist/${f}`), `dist/${f} is in the package`);
  for (const f of [
    'node-llama-cpp/package.json',
    'node-llama-cpp/dist/index.js',
    '@node-llama-cpp/linux-x64/package.json',
    '@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node',
  ])
    assert.ok(entries.includes(`extension/node_modules/${f}`), `node_modules/${f} is in the package`);
});

test('the .vsix leaves out sources, tests, GPU builds and the llama.cpp source bundle, and stays small', { skip }, () => {
  const unwanted = entries.filter((e) =>
    /^extension\/(src|test|webview|bench|scripts|tools)\/|gitRelease\.bundle$|node_modules\/(typescript|@typescript)\/|@node-llama-cpp\/linux-(x64-|arm)|\.map$|\.d\.ts$/.test(
      e,
    ),
  );
  assert.deepEqual(unwanted, []);
  const mb = statSync(VSIX).size / 1e6;
  // node-llama-cpp's own figure for the CPU runtime is about 15 MB zipped; the GPU builds alone are about 730 MB
  assert.ok(mb < 20, `the .vsix is ${mb.toFixed(1)} MB`);
});

test("the unpacked extension's CLI evaluates through its own runtime", { skip }, async () => {
  const tiny = makeTinyLlama();
  const f32 = join(dir, 'f32.gguf');
  const q4 = join(dir, 'q4_0.gguf');
  writeFileSync(f32, writeTinyLlama(tiny));
  const model = await openModel(f32);
  try {
    await writeRequantized(model, planRequantize(model, [parseTensorTypeRule('.*=Q4_0')]), q4);
  } finally {
    await model.close();
  }
  const cli = join(dir, 'unpacked', 'extension', 'dist', 'cli.js');
  // the unpacked folder is outside the checkout: node-llama-cpp can only resolve from the package itself
  const run = (m: string) =>
    JSON.parse(
      execFileSync(process.execPath, [cli, 'eval', m, '--reference', f32, '--ctx', '64', '--chunks', '2', '--threads', '1', '--json'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NODE_PATH: '', QUANTLENS_LLAMA_RUNTIME: '' },
      }),
    ) as { kld: { mean: number }; sameTop: number; scored: number };
  const self = run(f32);
  assert.equal(self.kld.mean, 0);
  assert.equal(self.sameTop, 1);
  assert.equal(self.scored, 2 * (64 - 1 - 32));
  const quantized = run(q4);
  assert.ok(quantized.kld.mean > 0, `Q4_0 KLD ${quantized.kld.mean}`);
});
