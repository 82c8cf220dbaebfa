/**
 * Every variant of the safetensors-quant oracle corpus (test/fixtures/safetensors-quant/, a copy of
 * ../shared/corpus/safetensors-quant; see its README.md): detection, the logical weights and their components,
 * bit-exact dequantized values against expected.f32, exact stats and the error against original/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openQuantizedModel, type QuantizedModel } from '../../src/core/hfquant/open.ts';
import type { LogicalWeight } from '../../src/core/hfquant/weights.ts';
import { compareLogicalWeight, logicalWeightStats } from '../../src/core/hfquant/stats.ts';
import { setWasmEnabled } from '../../src/core/wasm/kernels.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { firstBitMismatch } from '../helpers/corpus.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');
const VARIANTS = readdirSync(CORPUS)
  .filter((v) => v !== 'original' && !v.includes('.'))
  .sort();

/** Family the configuration of each variant must be detected as. */
const FAMILY: Record<string, string> = {
  gptq: 'gptq',
  awq: 'awq',
  bnb: 'bitsandbytes',
  fp8: 'fp8',
  ct: 'compressed-tensors',
  modelopt: 'modelopt',
  gptoss: 'mxfp4',
  mlx: 'mlx',
  hqq: 'hqq',
};

function expected(v: string) {
  return JSON.parse(readFileSync(join(CORPUS, v, 'expected.json'), 'utf8'));
}

function relClose(a: number, b: number, tol = 1e-9): boolean {
  return a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

let original: Awaited<ReturnType<typeof openModel>> | undefined;
async function originalValues(name: string): Promise<Float32Array> {
  original ??= await openModel(join(CORPUS, 'original', 'model.safetensors'));
  const t = original.tensors.find((x) => x.name === name);
  assert.ok(t, `original has ${name}`);
  return readTensorValues(original, t);
}

/** The original counterpart of a logical weight (gpt-oss: gate and up rows interleaved, one expert). */
async function originalOf(v: string, w: LogicalWeight): Promise<Float32Array> {
  if (v.startsWith('gptoss') && w.name.endsWith('gate_up_proj')) {
    const base = w.name.replace(/experts\.gate_up_proj$/, '');
    const gate = await originalValues(`${base}gate_proj.weight`);
    const up = await originalValues(`${base}up_proj.weight`);
    const K = w.shape[2];
    const out = new Float32Array(gate.length * 2);
    for (let i = 0; i < gate.length / K; i++) {
      out.set(gate.subarray(i * K, (i + 1) * K), 2 * i * K);
      out.set(up.subarray(i * K, (i + 1) * K), (2 * i + 1) * K);
    }
    return out;
  }
  if (v.startsWith('gptoss')) return originalValues(w.name.replace(/experts\.down_proj$/, 'down_proj.weight'));
  return originalValues(w.name);
}

// the WebAssembly kernels (code tables, pattern counting) and the JavaScript reference they replace, each against
// the reference library's values
for (const [path, kernels] of [
  ['WebAssembly kernels', true],
  ['JavaScript reference', false],
] as const)
  for (const v of VARIANTS) {
    test(`${v} (${path}): detection, logical weights, bit-exact values, stats, error vs original`, async () => {
      const exp = expected(v);
      const q: QuantizedModel = await openQuantizedModel(join(CORPUS, v));
      setWasmEnabled(kernels);
      try {
        assert.equal(q.detection.family, FAMILY[v.split('-')[0]], q.summary);
        assert.deepEqual(q.weights.map((w) => w.name).sort(), exp.weights.map((w: any) => w.name).sort(), 'logical weight names');
        assert.deepEqual(q.plain.map((t) => t.name).sort(), exp.unquantized_tensors.map((u: any) => u.tensor).sort(), 'plain tensors');
        const f32 = readFileSync(join(CORPUS, v, 'expected.f32'));
        for (const e of exp.weights) {
          const w = q.weight(e.name)!;
          assert.ok(w, e.name);
          assert.equal(w.error, undefined, `${e.name}: ${w.error?.message}`);
          assert.deepEqual(w.shape, e.shape, `${e.name} shape`);
          assert.equal(w.dtype, e.dtype, `${e.name} dtype`);
          assert.equal(w.bits, e.bits, `${e.name} bits`);
          assert.deepEqual(
            w.components.map((c) => [c.name, c.dtype, c.shape]).sort(),
            e.components.map((c: any) => [c.tensor, c.dtype, c.shape]).sort(),
            `${e.name} components`,
          );
          for (const c of e.components)
            assert.equal(
              q.model.files[w.components.find((x) => x.name === c.tensor)!.fileIndex].path.split('/').pop(),
              c.file,
              `${c.tensor} file`,
            );
          const values = w.decode();
          if (e.f32_offset !== null) {
            const want = new Float32Array(
              f32.buffer.slice(f32.byteOffset + 4 * e.f32_offset, f32.byteOffset + 4 * (e.f32_offset + e.f32_count)),
            );
            assert.equal(firstBitMismatch(values, want), null, `${e.name} values`);
          }
          const s = logicalWeightStats(w, { chunkElements: 10000 });
          const es = e.stats;
          assert.equal(s.count, es.count, `${e.name} count`);
          assert.equal(s.nan_count, es.nan_count, `${e.name} nan_count`);
          assert.equal(s.zero_count, es.zero_count, `${e.name} zero_count`);
          assert.equal(s.min, es.min, `${e.name} min`);
          assert.equal(s.max, es.max, `${e.name} max`);
          assert.equal(s.absmax, es.absmax, `${e.name} absmax`);
          assert.deepEqual(s.histogram!.counts, es.histogram, `${e.name} histogram`);
          assert.ok(relClose(s.mean, es.mean), `${e.name} mean ${s.mean} vs ${es.mean}`);
          assert.ok(relClose(s.std, es.std), `${e.name} std ${s.std} vs ${es.std}`);
          const o = await originalOf(v, w);
          assert.equal(o.length, values.length);
          const m = compareLogicalWeight(w, (r0, r1) => o.subarray(r0 * w.cols, r1 * w.cols), 37);
          assert.equal(m.max_abs, e.vs_original.max_abs_err, `${e.name} max_abs_err`);
          assert.ok(relClose(m.rmse, e.vs_original.rmse), `${e.name} rmse ${m.rmse} vs ${e.vs_original.rmse}`);
          assert.ok(relClose(m.rel_rmse, e.vs_original.rel_rmse), `${e.name} rel_rmse`);
        }
      } finally {
        setWasmEnabled(true);
        await q.close();
      }
    });
  }

test('close the original checkpoint', async () => {
  await original?.close();
});
