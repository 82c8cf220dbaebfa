/** The quantlens CLI as a user runs it: outputs, files written, exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusPath, readJson, readF32, firstBitMismatch } from '../helpers/corpus.ts';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'cli.ts');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('info --json reports the corpus fields', () => {
  const r = run('info', corpusPath('gguf', 'llama-tiny-Q4_K.gguf'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const exp = readJson('gguf/llama-tiny-Q4_K.expected.json');
  assert.equal(got.format, 'gguf');
  assert.equal(got.gguf_version, exp.gguf_version);
  assert.equal(got.alignment, exp.alignment);
  assert.equal(got.data_offset, exp.data_offset);
  assert.deepEqual(
    got.kv.map((k: any) => k.key),
    exp.kv.map((k: any) => k.key),
  );
  const tokens = got.kv.find((k: any) => k.key === 'tokenizer.ggml.tokens');
  assert.deepEqual(tokens.head, exp.kv.find((k: any) => k.key === 'tokenizer.ggml.tokens').head);
  for (const [i, t] of exp.tensors.entries()) {
    for (const f of ['name', 'ne', 'type_name', 'offset', 'nbytes', 'n_elements', 'bits_per_weight'])
      assert.deepEqual(got.tensors[i][f], t[f], `${t.name} ${f}`);
  }
});

test('info on safetensors uses shape and dtype', () => {
  const r = run('info', corpusPath('safetensors', 'dtypes.safetensors'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.format, 'safetensors');
  assert.deepEqual(got.tensors[0].shape, readJson('safetensors/dtypes.expected.json').tensors[0].shape);
});

test('stats --json has exactly the corpus stats fields and values', () => {
  const r = run('stats', corpusPath('gguf', 'llama-tiny-F16.gguf'), '--json', '--tensor', 'attn_q|norm');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const exp = readJson('gguf/llama-tiny-F16.expected.json');
  assert.deepEqual(
    got.tensors.map((t: any) => t.name),
    ['blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'output_norm.weight'],
  );
  for (const t of got.tensors) {
    const want = exp.tensors.find((x: any) => x.name === t.name).stats;
    const fields = [
      'count',
      'finite_count',
      'nan_count',
      'posinf_count',
      'neginf_count',
      'min',
      'max',
      'mean',
      'std',
      'rms',
      'absmax',
      'zero_count',
      'histogram',
    ];
    assert.deepEqual(Object.keys(t.stats).sort(), [...fields].sort());
    assert.deepEqual(t.stats.histogram.counts, want.histogram.counts);
    assert.equal(t.stats.min, want.min);
  }
});

test('dequant writes raw float32 identical to ggml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-cli-'));
  const out = join(dir, 'q.f32');
  const r = run('dequant', corpusPath('gguf', 'llama-tiny-BF16.gguf'), 'blk.0.attn_q.weight', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  const t = readJson('gguf/llama-tiny-BF16.expected.json').tensors.find((x: any) => x.name === 'blk.0.attn_q.weight');
  const b = readFileSync(out);
  assert.equal(
    firstBitMismatch(
      new Float32Array(b.buffer, b.byteOffset, b.length / 4),
      readF32(corpusPath('gguf', t.dequant.file), t.dequant.offset_bytes, t.dequant.count),
    ),
    null,
  );
});

test('exit codes: 1 for usage, 2 for a bad file with one error line', () => {
  assert.equal(run().code, 1);
  assert.equal(run('frobnicate').code, 1);
  assert.equal(run('stats', corpusPath('gguf', 'llama-tiny-F16.gguf'), '--bins', 'many').code, 1);
  const bad = run('info', corpusPath('malformed', 'gguf-bad-magic.gguf'));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: not a GGUF file: magic is "GGML" at byte 0, expected "GGUF"\n$/);
  const missing = run('info', '/nonexistent/model.gguf');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: cannot open \/nonexistent\/model.gguf: ENOENT\n$/);
  const noTensor = run('dequant', corpusPath('gguf', 'llama-tiny-F16.gguf'), 'nope', '-o', '/tmp/x.f32');
  assert.equal(noTensor.code, 1);
});

test('sample writes a model that opens; dump is stable and has no offsets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-cli-'));
  const out = join(dir, 'sample.gguf');
  assert.equal(run('sample', out).code, 0);
  assert.deepEqual(readdirSync(dir), ['sample.gguf']);
  const a = run('dump', out);
  const b = run('dump', out);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.match(a.stdout, /^quantlens-dump 1\n/);
  assert.match(a.stdout, /-- block 1\nblk\.1\.attn_norm\.weight F32 \[256\]/);
  assert.doesNotMatch(a.stdout, /offset/);
});

test('report formats: markdown table, csv header, json', () => {
  const f = corpusPath('gguf', 'llama-tiny-F16.gguf');
  const ref = corpusPath('gguf', 'llama-tiny-F32.gguf');
  const md = run('report', f, '--compare', ref, '--format', 'md');
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /\| tensor \| type \| rel\. RMSE \| SNR dB \| max abs \| cosine \|/);
  const csv = run('report', f, '--format', 'csv');
  assert.match(csv.stdout.split('\n')[0], /^name,type,shape,bits_per_weight,nbytes,min,max,mean,std/);
  assert.equal(csv.stdout.trim().split('\n').length, 6);
  const json = JSON.parse(run('report', f, '--format', 'json').stdout);
  assert.equal(json.tensors.length, 5);
  assert.equal(run('report', f, '--format', 'xml').code, 1);
});

test("compare --json ranks every tensor with the issue's field names", () => {
  const r = run('compare', corpusPath('gguf', 'llama-tiny-F16.gguf'), corpusPath('gguf', 'llama-tiny-F32.gguf'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const exp = readJson('gguf/llama-tiny-F16.expected.json');
  for (const t of got.tensors) {
    for (const f of ['name', 'rmse', 'rel_rmse', 'snr_db', 'max_abs', 'cosine']) assert.ok(f in t, f);
    assert.equal(t.max_abs, exp.tensors.find((x: any) => x.name === t.name).stats.error_vs_source.max_abs_err);
  }
});

test('requantize --keep-split writes a split input as the same shards, and says which files it wrote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-cli-split-'));
  const out = join(dir, 'mix-Q8.gguf');
  const r = run(
    'requantize',
    corpusPath('gguf', 'llama-mix-Q4_K_M-00002-of-00002.gguf'),
    out,
    '--tensor-type',
    'ffn_down=q8_0',
    '--keep-split',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  const shards = ['mix-Q8-00001-of-00002.gguf', 'mix-Q8-00002-of-00002.gguf'];
  assert.deepEqual(
    got.files,
    shards.map((s) => join(dir, s)),
  );
  assert.equal(got.output, join(dir, shards[0]));
  assert.deepEqual(readdirSync(dir).sort(), shards);
  assert.deepEqual(
    got.changes.map((c: { tensor: string; to: string }) => `${c.tensor} ${c.to}`),
    ['blk.0.ffn_down.weight Q8_0', 'blk.1.ffn_down.weight Q8_0'],
  );
  const info = run('info', join(dir, shards[1]), '--json');
  assert.equal(info.code, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).files.length, 2, 'the written shards open together');
});
