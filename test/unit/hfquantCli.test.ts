/**
 * The CLI on quantized Hugging Face checkpoints (issue 9), as a user runs it: `info` lists the logical weights with
 * their components, `stats` gives the exact stats of the dequantized weights by logical name, `dequant` writes a
 * logical weight as float32 [out, in]. Every expected value comes from the corpus oracle (expected.json,
 * expected.f32 in test/fixtures/safetensors-quant/<variant>/), never from the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../helpers/bundles.ts';
import { firstBitMismatch, readF32 } from '../helpers/corpus.ts';
import { runJob } from '../../src/worker/jobs.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');
const tmp = mkdtempSync(join(tmpdir(), 'ql-hfcli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Each variant under test and the file the user opens (a single file, an index, a shard, the folder). */
const CASES: [variant: string, file: string][] = [
  ['gptq-v1-4bit-asym-actorder-g128', 'model.safetensors'],
  ['awq-gemm-4bit-g128', 'model.safetensors'],
  ['bnb-nf4-dq-bf16', 'model.safetensors.index.json'],
  ['bnb-nf4-dq-bf16', 'model-00002-of-00002.safetensors'],
  ['fp8-block128-deepseek', 'model-00001-of-00003.safetensors'],
  ['mlx-affine-4bit-g64', 'model.safetensors'],
  // the model folder itself (sharded GPTQ v2: its index)
  ['gptq-v2-4bit-asym-g128', '.'],
];

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bundledCli(), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expected(variant: string) {
  return JSON.parse(readFileSync(join(CORPUS, variant, 'expected.json'), 'utf8'));
}

function relClose(a: number, b: number, tol = 1e-9): boolean {
  return a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/** The CLI's stats of a weight equal the oracle's: counts, min, max, histogram exactly, mean and std to 1e-9. */
function assertStats(got: any, want: any, what: string): void {
  for (const k of ['count', 'nan_count', 'zero_count', 'min', 'max', 'absmax']) assert.equal(got[k], want[k], `${what} ${k}`);
  assert.deepEqual(got.histogram.counts, want.histogram, `${what} histogram`);
  assert.ok(relClose(got.mean, want.mean), `${what} mean ${got.mean} vs ${want.mean}`);
  assert.ok(relClose(got.std, want.std), `${what} std ${got.std} vs ${want.std}`);
}

for (const [variant, file] of CASES) {
  const path = join(CORPUS, variant, file);

  test(`${variant} (${file}): info lists exactly the expected logical weights with their components`, () => {
    const exp = expected(variant);
    const r = run('info', path, '--json');
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    const q = got.quantization;
    assert.ok(q, 'a quantization member');
    const product = (xs: number[]) => xs.reduce((x, y) => x * y, 1);
    const parameters = [...exp.weights, ...exp.unquantized_tensors].reduce((a: number, t: any) => a + product(t.shape), 0);
    assert.equal(got.summary.parameterCount, parameters, 'parameters count the logical weights, not their packed containers');
    assert.deepEqual(q.weights.map((w: any) => w.name).sort(), exp.weights.map((w: any) => w.name).sort());
    assert.deepEqual([...q.plain].sort(), exp.unquantized_tensors.map((u: any) => u.tensor).sort());
    for (const e of exp.weights) {
      const w = q.weights.find((x: any) => x.name === e.name);
      assert.deepEqual(w.shape, e.shape, `${e.name} shape`);
      assert.equal(w.bits, e.bits, `${e.name} bits`);
      assert.deepEqual(
        w.components.map((c: any) => [c.name, c.dtype, c.shape]).sort(),
        e.components.map((c: any) => [c.tensor, c.dtype, c.shape]).sort(),
        `${e.name} components`,
      );
      const bytes = e.components.reduce(
        (a: number, c: any) => a + c.shape.reduce((x: number, y: number) => x * y, 1) * DTYPE_BYTES[c.dtype],
        0,
      );
      assert.equal(w.bytes, bytes, `${e.name} bytes`);
      assert.equal(w.bits_per_weight, (8 * bytes) / e.shape.reduce((x: number, y: number) => x * y, 1), `${e.name} bits per weight`);
      assert.equal(w.error, undefined, `${e.name}: ${w.error}`);
    }

    // the text listing: the format in the header, each weight with its shape, then its components indented under it
    const text = run('info', path);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines.find((l) => l.startsWith('  quantization  ')) ?? '', new RegExp(`^  quantization  ${q.weights[0].format_label}`));
    for (const e of exp.weights) {
      const at = lines.findIndex((l) => l.startsWith(`  ${e.name} `));
      assert.ok(at > 0, `${e.name} listed`);
      assert.ok(lines[at].includes(`[${e.shape.join(', ')}]`), `${e.name} shape shown: ${lines[at]}`);
      const under = lines.slice(at + 1, at + 1 + e.components.length);
      assert.deepEqual(
        under.map((l) => l.trim().split(/\s+/)[1]).sort(),
        e.components.map((c: any) => c.tensor).sort(),
        `${e.name} components under it`,
      );
      for (const l of under) assert.match(l, /^ {4}\S/);
    }
  });

  test(`${variant} (${file}): stats by logical name equal expected.json; plain tensors as they are`, () => {
    const exp = expected(variant);
    const r = run('stats', path, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning:/);
    const got = JSON.parse(r.stdout).tensors;
    assert.deepEqual(
      got.map((t: any) => t.name).sort(),
      [...exp.weights.map((w: any) => w.name), ...exp.unquantized_tensors.map((u: any) => u.tensor)].sort(),
    );
    for (const e of exp.weights) assertStats(got.find((t: any) => t.name === e.name).stats, e.stats, e.name);
    // plain tensors keep today's type names (the ggml spelling of the dtype: F16 -> f16)
    for (const u of exp.unquantized_tensors)
      assert.equal(got.find((t: any) => t.name === u.tensor).type_name, u.dtype.toLowerCase(), `${u.tensor} type`);

    const one = exp.weights[1];
    const only = run('stats', path, '--json', '--tensor', `^${one.name.replace(/\./g, '\\.')}$`);
    assert.equal(only.code, 0, only.stderr);
    const sel = JSON.parse(only.stdout).tensors;
    assert.deepEqual(
      sel.map((t: any) => t.name),
      [one.name],
    );
    assertStats(sel[0].stats, one.stats, one.name);
  });

  test(`${variant} (${file}): dequant writes each logical weight bit-identical to expected.f32`, () => {
    const exp = expected(variant);
    for (const e of exp.weights.filter((w: any) => w.f32_offset !== null)) {
      const out = join(tmp, `${variant}-${e.name}.f32`);
      const r = run('dequant', path, e.name, '-o', out);
      assert.equal(r.code, 0, r.stderr);
      const b = readFileSync(out);
      const got = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      const want = readF32(join(CORPUS, variant, 'expected.f32'), 4 * e.f32_offset, e.f32_count);
      assert.equal(firstBitMismatch(got, want), null, `${e.name} values`);
    }
  });
}

/** Bytes per element of the safetensors dtypes the corpus components use. */
const DTYPE_BYTES: Record<string, number> = { I32: 4, U32: 4, F32: 4, F16: 2, BF16: 2, U8: 1, I8: 1, F8_E4M3: 1 };

/** A copy of the GPTQ act-order variant without one weight's scales: that weight is flagged, the rest works. */
function brokenGptq(): { dir: string; broken: string } {
  const variant = 'gptq-v1-4bit-asym-actorder-g128';
  const src = readFileSync(join(CORPUS, variant, 'model.safetensors'));
  const n = Number(src.readBigUInt64LE(0));
  const header = JSON.parse(src.subarray(8, 8 + n).toString('utf8'));
  const drop = 'model.layers.1.self_attn.k_proj.scales';
  const kept = Object.entries(header).filter(([k]) => k !== drop && k !== '__metadata__') as [string, any][];
  const parts: Buffer[] = [];
  const out: Record<string, unknown> = { __metadata__: header.__metadata__ };
  let at = 0;
  for (const [name, t] of kept) {
    const data = src.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + data.length] };
    parts.push(data);
    at += data.length;
  }
  const json = Buffer.from(JSON.stringify(out));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const dir = join(tmp, 'broken-gptq');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, json, ...parts]));
  for (const f of ['config.json', 'quantize_config.json']) copyFileSync(join(CORPUS, variant, f), join(dir, f));
  return { dir, broken: 'model.layers.1.self_attn.k_proj.weight' };
}

test('a logical weight that cannot be decoded: its one-line error in the listing, one warning in stats (exit 0), the rest exact', () => {
  const exp = expected('gptq-v1-4bit-asym-actorder-g128');
  const { dir, broken } = brokenGptq();
  const path = join(dir, 'model.safetensors');

  const info = run('info', path);
  assert.equal(info.code, 0, info.stderr);
  const lines = info.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ${broken} `));
  assert.ok(at > 0, 'the broken weight is listed');
  assert.match(lines[at + 1], /^ {4}error: model\.layers\.1\.self_attn\.k_proj\.weight: missing component scales/);

  const stats = run('stats', path, '--json');
  assert.equal(stats.code, 0, stats.stderr);
  const warnings = stats.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, stats.stderr);
  assert.match(warnings[0], /^warning: model\.layers\.1\.self_attn\.k_proj\.weight: .*missing component scales/);
  const got = JSON.parse(stats.stdout).tensors;
  assert.match(got.find((t: any) => t.name === broken).error, /missing component scales/);
  for (const e of exp.weights.filter((w: any) => w.name !== broken))
    assertStats(got.find((t: any) => t.name === e.name).stats, e.stats, e.name);

  const dq = run('dequant', path, broken, '-o', join(tmp, 'broken.f32'));
  assert.equal(dq.code, 2);
  assert.match(dq.stderr, /^error: model\.layers\.1\.self_attn\.k_proj\.weight: missing component scales[^\n]*\n$/);
});

test('the worker stats job resolves a logical name to the dequantized weight, a component name to its tensor', async () => {
  const variant = 'awq-gemm-4bit-g128';
  const path = join(CORPUS, variant, 'model.safetensors');
  const e = expected(variant).weights[0];
  const ctx = { onProgress: () => undefined, isCancelled: () => false };
  const r = await runJob({ kind: 'stats', path, tensor: e.name, bins: 64 }, ctx);
  assertStats(r.stats, e.stats, e.name);
  const qweight = e.components.find((c: any) => c.tensor.endsWith('.qweight'));
  const raw = await runJob({ kind: 'stats', path, tensor: qweight.tensor, bins: 64 }, ctx);
  assert.equal(raw.stats.count, qweight.shape[0] * qweight.shape[1]);
  // the group inspector's job: group 0 of row 3, its values those of expected.f32 at its columns
  const want = readF32(join(CORPUS, variant, 'expected.f32'), 4 * e.f32_offset, e.f32_count);
  const g = (await runJob({ kind: 'group', path, tensor: e.name, row: 3, group: 0 }, ctx)).record;
  assert.equal(g.columns.length, e.group_size);
  assert.deepEqual(
    g.values,
    g.columns.map((c) => want[3 * e.shape[1] + c]),
  );
  assert.ok(g.sources.some((s) => s.role === 'qweight') && g.sources.some((s) => s.role === 'scales'));
  await runJob({ kind: 'close', path }, ctx);
});
