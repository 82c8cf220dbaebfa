/**
 * The CLI as esbuild.mjs builds it into dist/: CommonJS pieces (scripts/build-cli.mjs), each command loading its own
 * when it runs. Built here into a folder of its own, it gives the corpus's answers for each kind of command, and
 * `info` of a GGUF loads none of the code or Node modules it does not use.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { corpusPath, readJson, readF32, firstBitMismatch } from '../helpers/corpus.ts';
// @ts-expect-error: a JavaScript build script, without types
import { cliBuildOptions } from '../../scripts/build-cli.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
let dir: string;
/** Piece file name -> the source files (relative to the repository) bundled into it. */
const sourcesOf = new Map<string, string[]>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ql-cli-pieces-'));
  const result = await esbuild.build({ ...cliBuildOptions({ outdir: dir, metafile: true }), logLevel: 'silent' });
  for (const [out, meta] of Object.entries(result.metafile!.outputs))
    sourcesOf.set(
      out.split('/').pop()!,
      Object.keys(meta.inputs).map((i) => relative(ROOT, join(process.cwd(), i))),
    );
  for (const wasm of ['kernels.wasm', 'quantizers.wasm', 'header.wasm'])
    if (existsSync(join(ROOT, 'dist', wasm))) copyFileSync(join(ROOT, 'dist', wasm), join(dir, wasm));
  // records, at exit, the CLI's pieces this process loaded and the Node modules it loaded
  writeFileSync(
    join(dir, 'record.cjs'),
    `process.on('exit', () => require('fs').writeFileSync(process.env.QL_RECORD, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));`,
  );
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

/** The CLI in `dir`, with its code cache in dir/code-cache unless `env` says otherwise. */
function run(args: string[], record?: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [...(record ? ['--require', join(dir, 'record.cjs')] : []), join(dir, 'cli.js'), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, QL_RECORD: record ?? '', QUANTLENS_CODE_CACHE: join(dir, 'code-cache'), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the pieces are CommonJS files beside cli.js, cli.js starts with its #! line', () => {
  assert.ok(sourcesOf.size > 3, `${sourcesOf.size} pieces`);
  for (const name of sourcesOf.keys()) {
    const text = readFileSync(join(dir, name), 'utf8');
    assert.doesNotMatch(text, /^\s*(import|export) /m, `${name} has no ES module syntax left`);
  }
  assert.match(readFileSync(join(dir, 'cli.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('info of a GGUF gives the corpus fields and loads no scan, quantizer, Hugging Face or HTTP code', () => {
  const record = join(dir, 'info.json');
  const r = run(['info', corpusPath('gguf', 'llama-tiny-Q4_K.gguf'), '--json'], record);
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const exp = readJson('gguf/llama-tiny-Q4_K.expected.json');
  assert.equal(got.data_offset, exp.data_offset);
  assert.deepEqual(
    got.kv.map((k: any) => k.key),
    exp.kv.map((k: any) => k.key),
  );
  for (const [i, t] of exp.tensors.entries())
    for (const f of ['name', 'ne', 'type_name', 'offset', 'nbytes', 'n_elements'])
      assert.deepEqual(got.tensors[i][f], t[f], `${t.name} ${f}`);

  const { files, builtins } = JSON.parse(readFileSync(record, 'utf8'));
  const loaded = (files as string[]).filter((f) => f.startsWith(dir)).flatMap((f) => sourcesOf.get(f.split('/').pop()!) ?? []);
  assert.ok(loaded.includes('src/core/formats/gguf.ts'), 'the header reader is loaded');
  const unused = loaded.filter((s) =>
    /^src\/core\/(hfquant|quant|requant|eval|compare|report)\/|tensorStats|httpByteSource|syncFetch|workerPool/.test(s),
  );
  assert.deepEqual(unused, []);
  const heavy = (builtins as string[]).filter((m) => /^NativeModule (crypto|worker_threads|http|https)$/.test(m));
  assert.deepEqual(heavy, []);
});

test('stats, dequant and sample run from their pieces with the corpus results', () => {
  const stats = run(['stats', corpusPath('gguf', 'llama-tiny-F16.gguf'), '--json', '--tensor', 'attn_q', '--threads', '1']);
  assert.equal(stats.code, 0, stats.stderr);
  const want = readJson('gguf/llama-tiny-F16.expected.json').tensors.find((x: any) => x.name === 'blk.0.attn_q.weight');
  const got = JSON.parse(stats.stdout).tensors[0];
  assert.deepEqual(got.stats.histogram.counts, want.stats.histogram.counts);
  assert.equal(got.stats.min, want.stats.min);

  const out = join(dir, 'q.f32');
  const dq = run(['dequant', corpusPath('gguf', 'llama-tiny-BF16.gguf'), 'blk.0.attn_q.weight', '-o', out]);
  assert.equal(dq.code, 0, dq.stderr);
  const t = readJson('gguf/llama-tiny-BF16.expected.json').tensors.find((x: any) => x.name === 'blk.0.attn_q.weight');
  const b = readFileSync(out);
  assert.equal(
    firstBitMismatch(
      new Float32Array(b.buffer, b.byteOffset, b.length / 4),
      readF32(corpusPath('gguf', t.dequant.file), t.dequant.offset_bytes, t.dequant.count),
    ),
    null,
  );

  const sample = join(dir, 'sample.gguf');
  const s = run(['sample', sample]);
  assert.equal(s.code, 0, s.stderr);
  const info = run(['info', sample, '--json']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).format, 'gguf');
});

test('a bad file is one error line and exit code 2, a bad command line exit code 1, from the pieces too', () => {
  const bad = run(['info', corpusPath('malformed', 'gguf-bad-magic.gguf')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^error: .*not a GGUF file/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const usage = run(['stats', 'a', 'b']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /^error: stats takes one FILE/);
});

test('V8 code cache: written by the first run, taken by the next; a damaged or foreign cache is compiled afresh', () => {
  const cache = join(dir, 'cache-test');
  const env = { QUANTLENS_CODE_CACHE: cache };
  const model = corpusPath('gguf', 'llama-tiny-Q4_K.gguf');
  const want = readJson('gguf/llama-tiny-Q4_K.expected.json');
  const info = () => {
    const r = run(['info', model, '--json'], undefined, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const got = JSON.parse(r.stdout);
    assert.equal(got.data_offset, want.data_offset);
    assert.deepEqual(
      got.tensors.map((t: any) => [t.name, t.offset, t.nbytes]),
      want.tensors.map((t: any) => [t.name, t.offset, t.nbytes]),
    );
    return r.stdout;
  };
  const files = () => new Map(readdirSync(cache).map((f) => [f, readFileSync(join(cache, f))]));

  const first = info();
  const written = files();
  const main = [...written.keys()].find((f) => f.startsWith('cli-main-'))!;
  const infoPiece = [...written.keys()].find((f) => f.startsWith('cli-infoCommand-'))!;
  assert.ok(main && infoPiece, [...written.keys()].join(' '));
  const mtimes = () => [...written.keys()].map((f) => statSync(join(cache, f)).mtimeMs);
  const taken = () => {
    const before = mtimes();
    assert.equal(info(), first);
    assert.deepEqual(mtimes(), before, 'a cache V8 accepted is not written again');
  };
  taken();

  // bytes flipped in the middle, a file cut short, and another piece's cache (intact, but V8 refuses it here)
  const damaged = Buffer.from(written.get(main)!);
  for (let i = damaged.length >> 1; i < (damaged.length >> 1) + 64; i++) damaged[i] ^= 0x5a;
  writeFileSync(join(cache, main), damaged);
  writeFileSync(join(cache, infoPiece), written.get(infoPiece)!.subarray(0, 3));
  const other = [...written.keys()].find((f) => f !== main && f !== infoPiece)!;
  writeFileSync(join(cache, other), written.get(main)!);
  const bad = files();
  assert.equal(info(), first);
  const rewritten = files();
  for (const f of [main, infoPiece, other]) assert.notDeepEqual(rewritten.get(f), bad.get(f), `${f} is written again`);
  taken();

  // a cache folder that cannot be made, or the cache turned off: the CLI runs all the same
  assert.equal(run(['info', model, '--json'], undefined, { QUANTLENS_CODE_CACHE: join(model, 'not-a-folder') }).stdout, first);
  const home = join(dir, 'xdg');
  const off = run(['info', model, '--json'], undefined, { QUANTLENS_CODE_CACHE: '', XDG_CACHE_HOME: home });
  assert.equal(off.stdout, first);
  assert.equal(existsSync(home), false);
});
