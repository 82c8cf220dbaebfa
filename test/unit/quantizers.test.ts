/** Quantizers are byte-identical to ggml's ggml_quantize_chunk (strict binary32) on the corpus sources. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ggmlType } from '../../src/core/types.ts';
import { quantizerFor, writableTypeIds } from '../../src/core/quant/quantizers.ts';
import { corpusPath, readF32, readJson, TINY_TYPES } from '../helpers/corpus.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const type of TINY_TYPES) {
  const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
  const id = exp.tensors.find((t: any) => t.n_dims === 2).type_id;
  const q = quantizerFor(ggmlType(id)!);
  if (!q) continue;
  test(`${type}: every tensor quantized from its float32 source equals ggml's bytes`, () => {
    for (const t of exp.tensors) {
      if (t.type_id !== id) continue;
      const src = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
      // files of the types ggml quantizes only with an importance matrix were made with the corpus imatrix
      const im = t.quantizer.imatrix ? readF32(corpusPath('gguf', t.quantizer.imatrix.file), t.quantizer.imatrix.offset_bytes, t.ne[0]) : undefined;
      const bytes = q.quantize(src, t.n_elements / t.ne[0], t.ne[0], im);
      assert.equal(bytes.length, t.nbytes);
      assert.equal(sha(bytes), t.data_sha256, `${type} ${t.name}`);
    }
  });
}

test('requant.json: every available path of every writable type is byte-identical', () => {
  const rq = readJson('requant/requant.json');
  const checked: string[] = [];
  for (const entry of rq.types) {
    const q = quantizerFor(ggmlType(entry.type_id)!);
    if (!q) continue;
    for (const t of entry.tensors) {
      const src = readF32(corpusPath('gguf', t.source.file), t.source.offset_bytes, t.source.count);
      const imatrix = readF32(corpusPath('gguf', t.imatrix.file), t.imatrix.offset_bytes, t.imatrix.count);
      for (const p of t.paths) {
        if (!p.available || (p.path !== 'chunk_no_imatrix' && p.path !== 'chunk_imatrix')) continue;
        if (p.path === 'chunk_imatrix' && q.imatrix === 'unsupported') continue;
        const bytes = q.quantize(src, t.nrows, t.n_per_row, p.path === 'chunk_imatrix' ? imatrix : undefined);
        assert.equal(sha(bytes), p.sha256, `${entry.type} ${t.tensor} ${p.path}`);
        checked.push(`${entry.type}/${p.path}`);
      }
    }
  }
  for (const must of ['F16/chunk_no_imatrix', 'F16/chunk_imatrix', 'BF16/chunk_no_imatrix', 'Q8_0/chunk_no_imatrix', 'Q8_0/chunk_imatrix', 'Q4_0/chunk_no_imatrix', 'Q5_1/chunk_no_imatrix', 'Q2_K/chunk_no_imatrix', 'Q2_K/chunk_imatrix', 'Q3_K/chunk_no_imatrix', 'Q3_K/chunk_imatrix', 'Q4_K/chunk_no_imatrix', 'Q4_K/chunk_imatrix', 'Q5_K/chunk_no_imatrix', 'Q5_K/chunk_imatrix', 'Q6_K/chunk_no_imatrix', 'Q6_K/chunk_imatrix', 'TQ1_0/chunk_no_imatrix', 'TQ2_0/chunk_no_imatrix', 'MXFP4/chunk_no_imatrix', 'NVFP4/chunk_no_imatrix', 'Q1_0/chunk_no_imatrix', 'Q2_0/chunk_no_imatrix', 'Q4_0/chunk_imatrix', 'Q4_1/chunk_imatrix', 'Q5_0/chunk_imatrix', 'Q5_1/chunk_imatrix', 'IQ4_NL/chunk_no_imatrix', 'IQ4_NL/chunk_imatrix', 'IQ4_XS/chunk_no_imatrix', 'IQ4_XS/chunk_imatrix', 'IQ2_XXS/chunk_imatrix', 'IQ2_XS/chunk_imatrix', 'IQ2_S/chunk_no_imatrix', 'IQ2_S/chunk_imatrix', 'IQ3_XXS/chunk_no_imatrix', 'IQ3_XXS/chunk_imatrix', 'IQ3_S/chunk_no_imatrix', 'IQ3_S/chunk_imatrix', 'IQ1_S/chunk_imatrix', 'IQ1_M/chunk_no_imatrix', 'IQ1_M/chunk_imatrix']) {
    assert.ok(checked.includes(must), `checked ${must}`);
  }
});
