/**
 * Compare, |w| heatmap and what-if on the logical weights of quantized Hugging Face checkpoints (issue 9): every
 * corpus variant against original/ (test/fixtures/safetensors-quant/). Expected figures come from the corpus:
 * `vs_original` in expected.json (the corpus generator's exact arithmetic), and for the weights whose values
 * expected.f32 holds, a float64 loop here over expected.f32 and the original's bf16 bytes read straight from the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openModelAndWeights } from '../../src/core/hfquant/open.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { compareModels, compareTensorDetail, pairTensors } from '../../src/core/compare/compare.ts';
import { runJob, type JobContext } from '../../src/worker/jobs.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');
const ORIGINAL = join(CORPUS, 'original', 'model.safetensors');
const VARIANTS = readdirSync(CORPUS)
  .filter((v) => v !== 'original' && !v.includes('.'))
  .sort();

function expected(v: string) {
  return JSON.parse(readFileSync(join(CORPUS, v, 'expected.json'), 'utf8'));
}

function relClose(a: number, b: number, tol = 1e-9): boolean {
  return a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/** A bf16 tensor of the original checkpoint widened to float64, read from the file by its header (no Quant Lens code). */
function originalBf16(name: string): Float64Array {
  const file = readFileSync(ORIGINAL);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
  const entry = header[name];
  assert.equal(entry.dtype, 'BF16', name);
  const [start, end] = entry.data_offsets;
  const base = 8 + headerLength + start;
  const out = new Float64Array((end - start) / 2);
  const word = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < out.length; i++) {
    word.setUint32(0, file.readUInt16LE(base + 2 * i) << 16, true);
    out[i] = word.getFloat32(0, true);
  }
  return out;
}

/** rmse, rel_rmse, max |d - o|, cosine and SNR of expected.f32's values of a weight against the original, in float64. */
function referenceMetrics(v: string, e: { f32_offset: number; f32_count: number; name: string }) {
  const f32 = readFileSync(join(CORPUS, v, 'expected.f32'));
  const d = new Float32Array(f32.buffer.slice(f32.byteOffset + 4 * e.f32_offset, f32.byteOffset + 4 * (e.f32_offset + e.f32_count)));
  const o = originalBf16(e.name);
  assert.equal(o.length, d.length, e.name);
  let se = 0,
    so = 0,
    sd = 0,
    dot = 0,
    maxAbs = 0;
  for (let i = 0; i < d.length; i++) {
    const err = d[i] - o[i];
    se += err * err;
    so += o[i] * o[i];
    sd += d[i] * d[i];
    dot += d[i] * o[i];
    maxAbs = Math.max(maxAbs, Math.abs(err));
  }
  const rmse = Math.sqrt(se / d.length);
  const rms = Math.sqrt(so / d.length);
  return { rmse, rel_rmse: rmse / rms, max_abs: maxAbs, cosine: dot / Math.sqrt(so * sd), snr_db: 20 * Math.log10(rms / rmse) };
}

for (const v of VARIANTS.filter((x) => !x.startsWith('gptoss'))) {
  test(`${v}: compare with original/ lists every logical weight with the corpus's error`, async () => {
    const exp = expected(v);
    const opened = await openModelAndWeights(join(CORPUS, v));
    const original = await openModel(ORIGINAL);
    try {
      assert.ok(opened.view, 'opened as a quantized checkpoint');
      const { pairing, tensors, uncompared } = compareModels(opened, original);
      assert.deepEqual(uncompared, []);
      assert.deepEqual(pairing.shapeMismatches, []);
      // only the auxiliary tensors the corpus gives no original (activation scales) are missing from the reference
      const auxiliary = exp.unquantized_tensors
        .filter((u: { original: string | null }) => u.original === null)
        .map((u: { tensor: string }) => u.tensor);
      assert.deepEqual(pairing.missingInReference.sort(), auxiliary.sort());
      for (const e of exp.weights) assert.ok(!pairing.missingInReference.includes(e.name), `${e.name} has its original`);
      const byName = new Map(tensors.map((t) => [t.name, t]));
      for (const e of exp.weights) {
        const got = byName.get(e.name);
        assert.ok(got, `${e.name} compared by its logical name`);
        assert.equal(got.type_name, opened.view.weight(e.name)!.scheme, `${e.name}: its scheme as the type`);
        assert.equal(got.reference_type_name, 'BF16');
        assert.equal(got.count, e.stats.count, `${e.name} count`);
        assert.ok(relClose(got.rmse, e.vs_original.rmse), `${e.name} rmse ${got.rmse} vs ${e.vs_original.rmse}`);
        assert.ok(relClose(got.rel_rmse, e.vs_original.rel_rmse), `${e.name} rel_rmse ${got.rel_rmse} vs ${e.vs_original.rel_rmse}`);
        assert.equal(got.max_abs, e.vs_original.max_abs_err, `${e.name} max abs`);
        if (e.f32_offset !== null) {
          const ref = referenceMetrics(v, e);
          assert.ok(relClose(got.cosine, ref.cosine), `${e.name} cosine ${got.cosine} vs ${ref.cosine}`);
          assert.ok(relClose(got.snr_db!, ref.snr_db), `${e.name} SNR ${got.snr_db} vs ${ref.snr_db}`);
          assert.ok(relClose(got.rmse, ref.rmse), `${e.name} rmse (float64 loop)`);
        }
      }
      // the plain tensors are compared too, as they are
      for (const u of exp.unquantized_tensors) if (u.original) assert.ok(byName.has(u.tensor), `${u.tensor} compared`);
    } finally {
      await opened.model.close();
      await original.close();
    }
  });
}

test("gptoss-mxfp4: its one-expert experts tensors pair with the dense MLP weights of original/ and have the corpus's error", async () => {
  const v = 'gptoss-mxfp4';
  const exp = expected(v);
  const opened = await openModelAndWeights(join(CORPUS, v));
  const original = await openModel(ORIGINAL);
  try {
    const { pairing, tensors, uncompared } = compareModels(opened, original);
    assert.deepEqual(uncompared, []);
    assert.deepEqual(pairing.shapeMismatches, []);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const e of exp.weights) {
      assert.ok(!pairing.missingInReference.includes(e.name), `${e.name} has its original (${e.original_from})`);
      const got = byName.get(e.name);
      assert.ok(got, `${e.name} compared`);
      assert.equal(got.count, e.stats.count, `${e.name} count`);
      assert.ok(relClose(got.rmse, e.vs_original.rmse), `${e.name} rmse ${got.rmse} vs ${e.vs_original.rmse}`);
      assert.ok(relClose(got.rel_rmse, e.vs_original.rel_rmse), `${e.name} rel_rmse ${got.rel_rmse} vs ${e.vs_original.rel_rmse}`);
      assert.equal(got.max_abs, e.vs_original.max_abs_err, `${e.name} max abs`);
    }
    // the dense MLP weights the experts were made of are paired, not left over
    for (const m of ['gate_proj', 'up_proj', 'down_proj'])
      for (const l of [0, 1]) assert.ok(!pairing.missingInModel.includes(`model.layers.${l}.mlp.${m}.weight`), `layer ${l} ${m} paired`);
  } finally {
    await opened.model.close();
    await original.close();
  }
});

test("the dense original against gptoss-mxfp4: its MLP weights pair with the experts tensors (gate and up rows interleaved) and have the corpus's error", async () => {
  const v = 'gptoss-mxfp4';
  const exp = expected(v);
  const original = await openModel(ORIGINAL);
  const opened = await openModelAndWeights(join(CORPUS, v));
  try {
    const { pairing, tensors, uncompared } = compareModels(original, opened);
    assert.deepEqual(uncompared, []);
    assert.deepEqual(pairing.shapeMismatches, []);
    for (const e of exp.weights) {
      assert.ok(!pairing.missingInModel.includes(e.name), `${e.name} has its original (${e.original_from})`);
      const got = tensors.find((t) => t.reference_name === e.name);
      assert.ok(got, `${e.name} compared`);
      assert.equal(got.count, e.stats.count, `${e.name} count`);
      // rmse and max |error| do not depend on the direction; rel_rmse is relative to the reference, here the
      // dequantized values, whose mean square is the corpus's std² + mean²
      assert.ok(relClose(got.rmse, e.vs_original.rmse), `${e.name} rmse ${got.rmse} vs ${e.vs_original.rmse}`);
      assert.equal(got.max_abs, e.vs_original.max_abs_err, `${e.name} max abs`);
      const rms = Math.sqrt(e.stats.std ** 2 + e.stats.mean ** 2);
      assert.ok(relClose(got.rel_rmse, e.vs_original.rmse / rms), `${e.name} rel_rmse ${got.rel_rmse} vs ${e.vs_original.rmse / rms}`);
    }
    // the dense MLP weights are paired, not left over
    for (const m of ['gate_proj', 'up_proj', 'down_proj'])
      for (const l of [0, 1])
        assert.ok(!pairing.missingInReference.includes(`model.layers.${l}.mlp.${m}.weight`), `layer ${l} ${m} paired`);
    const gateUp = pairing.pairs.find((p) => p.reference.name === 'model.layers.0.mlp.experts.gate_up_proj')!;
    assert.equal(gateUp.name, 'model.layers.0.mlp.gate_proj.weight + model.layers.0.mlp.up_proj.weight (rows interleaved)');
  } finally {
    await original.close();
    await opened.model.close();
  }
});

test('the compared-weight detail of a logical weight: overlay, error histogram and |error| heatmap from its dequantized values', async () => {
  const v = 'gptq-v1-4bit-asym-actorder-g128';
  const e = expected(v).weights.find((x: { name: string }) => x.name === 'model.layers.0.mlp.down_proj.weight');
  const opened = await openModelAndWeights(join(CORPUS, v));
  const original = await openModel(ORIGINAL);
  try {
    const pair = pairTensors(opened, original).pairs.find((p) => p.name === e.name)!;
    assert.ok(pair, 'paired by the logical name');
    const d = compareTensorDetail(opened, original, pair, { bins: 32, width: 16, height: 8 });
    const ref = referenceMetrics(v, e);
    assert.ok(relClose(d.metrics.rel_rmse, ref.rel_rmse));
    assert.equal(d.metrics.max_abs, ref.max_abs);
    const sum = (c: number[]) => c.reduce((a, b) => a + b, 0);
    assert.equal(sum(d.values.counts), e.stats.count);
    assert.equal(sum(d.referenceValues.counts), e.stats.count);
    assert.equal(sum(d.error.counts), e.stats.count);
    // the value histograms overlay on one range: the union of the dequantized and the original range
    const o = originalBf16(e.name);
    assert.equal(
      d.values.lo,
      Math.min(
        e.stats.min,
        o.reduce((a, b) => Math.min(a, b)),
      ),
    );
    assert.equal(
      d.values.hi,
      Math.max(
        e.stats.max,
        o.reduce((a, b) => Math.max(a, b)),
      ),
    );
    assert.equal(d.heatmap.width, 16);
    assert.equal(d.heatmap.height, 8);
    assert.equal(d.heatmap.max, ref.max_abs, 'the worst cell holds the largest |error|');
  } finally {
    await opened.model.close();
    await original.close();
  }
});

const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };

/** expected.f32's values of a weight, and its entry in expected.json. */
function expectedValues(v: string, name: string) {
  const e = expected(v).weights.find((x: { name: string }) => x.name === name);
  const f32 = readFileSync(join(CORPUS, v, 'expected.f32'));
  const values = new Float32Array(f32.buffer.slice(f32.byteOffset + 4 * e.f32_offset, f32.byteOffset + 4 * (e.f32_offset + e.f32_count)));
  return { e, values };
}

test('the |w| heatmap of a logical weight (worker job) is max |value| per cell of its dequantized [out, in] values', async () => {
  const v = 'awq-gemm-4bit-g128';
  const name = 'model.layers.0.mlp.down_proj.weight';
  const { e, values } = expectedValues(v, name);
  const [rows, cols] = e.shape;
  const width = 24;
  const height = 10;
  const cells = new Float64Array(width * height);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = Math.floor((r * height) / rows) * width + Math.floor((c * width) / cols);
      cells[i] = Math.max(cells[i], Math.abs(values[r * cols + c]));
    }
  const path = join(CORPUS, v);
  const { heatmap } = await runJob({ kind: 'heatmap', path, tensor: name, width, height }, quiet);
  assert.equal(heatmap.tensor, name);
  assert.deepEqual([heatmap.width, heatmap.height], [width, height]);
  assert.deepEqual(heatmap.cells, Array.from(cells));
  assert.equal(heatmap.max, e.stats.absmax);
  await runJob({ kind: 'close', path }, quiet);
});

test('what-if on a logical weight re-quantizes its dequantized values: rows of `in`, its own output dtype loses nothing', async () => {
  for (const [v, exact] of [
    ['gptq-v1-4bit-sym-g128', 'F16'],
    ['bnb-nf4-dq-bf16', 'BF16'],
  ]) {
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const { e, values } = expectedValues(v, name);
    const path = join(CORPUS, v);
    const { rows } = await runJob({ kind: 'whatIf', path, tensor: name, candidates: [exact, 'Q8_0', 'Q4_K', 'int4-sym-g32'] }, quiet);
    assert.deepEqual(
      rows.map((r) => r.candidate),
      [exact, 'Q8_0', 'Q4_K', 'int4-sym-g32'],
      `${v}: every candidate fits rows of ${e.shape[1]}`,
    );
    const own = rows[0].metrics;
    // the reference library's output dtype holds every dequantized value: a round trip through it is exact
    assert.equal(own.rmse, 0, `${v}: ${exact} of values that are ${e.dtype}`);
    assert.equal(own.count, e.stats.count);
    for (const r of rows) assert.ok(!r.current, 'a logical weight has no ggml type of its own');
    // Q8_0 error is bounded by half a step of absmax/127 per block of 32 along a row of `in`
    let bound = 0;
    for (let b = 0; b < values.length; b += 32) {
      let m = 0;
      for (let i = b; i < b + 32; i++) m = Math.max(m, Math.abs(values[i]));
      bound = Math.max(bound, (m / 127) * 0.5 * (1 + 1e-2));
    }
    assert.ok(rows[1].metrics.max_abs > 0 && rows[1].metrics.max_abs <= bound, `${v}: Q8_0 max abs ${rows[1].metrics.max_abs} <= ${bound}`);
    const err = await runJob({ kind: 'candidateError', path, tensor: name, candidate: 'Q8_0', bins: 16 }, quiet);
    assert.equal(err.stats.count, e.stats.count);
    assert.ok(Math.abs(err.stats.absmax - rows[1].metrics.max_abs) <= 1e-12 * rows[1].metrics.max_abs);
    await runJob({ kind: 'close', path }, quiet);
  }
});
