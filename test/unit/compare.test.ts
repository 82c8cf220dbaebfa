/** Compare: name matching, the q/k row permutation, and metrics equal to independently computed expectations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/core/formats/openModel.ts';
import { compareModels, compareTensorDetail, pairTensors } from '../../src/core/compare/compare.ts';
import { ggufToHf, hfToGguf, hfRowOf } from '../../src/core/compare/nameMap.ts';
import { buildSafetensorsFile } from '../../src/core/formats/safetensorsWriter.ts';
import { corpusPath, readF32, readJson } from '../helpers/corpus.ts';

const rel = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol * Math.abs(b);

test('name map both ways', () => {
  assert.equal(ggufToHf('blk.12.attn_q.weight'), 'model.layers.12.self_attn.q_proj.weight');
  assert.equal(ggufToHf('token_embd.weight'), 'model.embed_tokens.weight');
  assert.equal(ggufToHf('output.weight'), 'lm_head.weight');
  assert.equal(hfToGguf('model.layers.0.post_attention_layernorm.weight'), 'blk.0.ffn_norm.weight');
  assert.equal(hfToGguf('model.norm.weight'), 'output_norm.weight');
  // Within a head of 8 rows: GGUF rows 0..7 come from HF rows 0,4,1,5,2,6,3,7.
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((r) => hfRowOf(r, 8)),
    [0, 4, 1, 5, 2, 6, 3, 7, 8, 12],
  );
});

for (const type of ['Q8_0', 'F16', 'Q4_0']) {
  test(`GGUF ${type} vs the F32 GGUF of the same source: metrics equal the corpus's error_vs_source`, async () => {
    const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
    const m = await openModel(corpusPath('gguf', exp.file));
    const ref = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
    try {
      const { pairing, tensors } = compareModels(m, ref);
      assert.equal(pairing.pairs.length, 5);
      assert.deepEqual([pairing.missingInModel, pairing.missingInReference, pairing.shapeMismatches], [[], [], []]);
      for (const t of exp.tensors) {
        const got = tensors.find((x) => x.name === t.name)!;
        const want = t.stats.error_vs_source;
        assert.ok(rel(got.rmse, want.rmse) || got.rmse === want.rmse, `${t.name} rmse ${got.rmse} vs ${want.rmse}`);
        assert.equal(got.max_abs, want.max_abs_err, t.name);
      }
    } finally {
      await m.close();
      await ref.close();
    }
  });
}

test('GGUF vs a Hugging Face safetensors checkpoint: names mapped, q/k rows un-permuted', async () => {
  // Build the HF checkpoint the GGUF was "converted" from: HF names, [out, in] shapes, q/k rows in HF order.
  const exp = readJson('gguf/llama-tiny-Q8_0.expected.json');
  const heads: Record<string, number> = { 'blk.0.attn_q.weight': 4, 'blk.0.attn_k.weight': 1 };
  const tensors = exp.tensors.map((t: any) => {
    const values = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
    const rowLength = t.ne[0];
    const rows = t.n_elements / rowLength;
    let hf = values;
    if (heads[t.name]) {
      const headDim = rows / heads[t.name];
      hf = new Float32Array(values.length);
      for (let r = 0; r < rows; r++) hf.set(values.subarray(r * rowLength, (r + 1) * rowLength), hfRowOf(r, headDim) * rowLength);
    }
    return { name: ggufToHf(t.name)!, dtype: 'F32', shape: [...t.ne].reverse(), data: new Uint8Array(hf.buffer) };
  });
  tensors.push({ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [4], data: new Uint8Array(16) });
  const dir = mkdtempSync(join(tmpdir(), 'ql-compare-'));
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, buildSafetensorsFile(tensors, { format: 'pt' }));
  const m = await openModel(corpusPath('gguf', 'llama-tiny-Q8_0.gguf'));
  const ref = await openModel(path);
  try {
    const { pairing, tensors: got } = compareModels(m, ref);
    // llama-tiny has no attn_k; q (4 heads) is permuted, so only a correct un-permutation reproduces the error.
    assert.deepEqual(pairing.missingInModel, ['model.layers.0.self_attn.rotary_emb.inv_freq']);
    assert.equal(pairing.pairs.find((p) => p.name === 'blk.0.attn_q.weight')!.headDim, 64);
    for (const t of exp.tensors) {
      const g = got.find((x) => x.name === t.name)!;
      assert.equal(g.reference_name, ggufToHf(t.name));
      assert.ok(rel(g.rmse, t.stats.error_vs_source.rmse), `${t.name} ${g.rmse} vs ${t.stats.error_vs_source.rmse}`);
      assert.equal(g.max_abs, t.stats.error_vs_source.max_abs_err);
    }
    // And the other way round: HF model against the GGUF reference.
    const back = compareModels(ref, m);
    const q = back.tensors.find((x) => x.name === 'model.layers.0.self_attn.q_proj.weight')!;
    assert.ok(rel(q.rmse, exp.tensors.find((t: any) => t.name === 'blk.0.attn_q.weight').stats.error_vs_source.rmse));
  } finally {
    await m.close();
    await ref.close();
  }
});

test('per-tensor comparison detail: overlaid histograms share bins, error histogram and heatmap cover every value', async () => {
  const exp = readJson('gguf/llama-tiny-Q4_K.expected.json');
  const m = await openModel(corpusPath('gguf', exp.file));
  const ref = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const pair = pairTensors(m, ref).pairs.find((p) => p.name === 'blk.0.ffn_down.weight')!;
    const d = compareTensorDetail(m, ref, pair, { bins: 32, width: 16, height: 8 });
    const t = exp.tensors.find((x: any) => x.name === pair.name);
    assert.ok(rel(d.metrics.rmse, t.stats.error_vs_source.rmse));
    assert.equal(d.values.lo, d.referenceValues.lo);
    assert.equal(d.values.hi, d.referenceValues.hi);
    const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
    assert.equal(total(d.values.counts), t.n_elements);
    assert.equal(total(d.referenceValues.counts), t.n_elements);
    assert.equal(total(d.error.counts), t.n_elements);
    assert.deepEqual([d.heatmap.width, d.heatmap.height, d.heatmap.cells.length], [16, 8, 128]);
    assert.equal(d.heatmap.max, t.stats.error_vs_source.max_abs_err);
  } finally {
    await m.close();
    await ref.close();
  }
});

test('a reference that is another model (cosine about 0) is called out; a quantized copy is not', async () => {
  const { unrelatedReference } = await import('../../src/core/compare/unrelated.ts');
  const { compareModels } = await import('../../src/core/compare/compare.ts');
  const { openModel } = await import('../../src/core/formats/openModel.ts');
  const { corpusPath } = await import('../helpers/corpus.ts');
  const q = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  const f = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    assert.equal(unrelatedReference(compareModels(q, f).tensors), undefined);
  } finally {
    await q.close();
    await f.close();
  }
  assert.match(
    unrelatedReference([{ cosine: 0.01 }, { cosine: -0.02 }, { cosine: 0.9 }])!,
    /median cosine of the 3 compared tensors is 0\.010/,
  );
});
