/** Quantizers are byte-identical to ggml's ggml_quantize_chunk (strict binary32) on the corpus sources. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ggmlType } from '../../src/core/types.ts';
import { quantizerFor } from '../../src/core/quant/quantizers.ts';
import { corpusPath, readF32, readJson, TINY_TYPES } from '../helpers/corpus.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const type of TINY_TYPES) {
  const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
  const id = exp.tensors.find((t: any) => t.n_dims === 2).type_id;
  test(`${type}: every tensor quantized from its float32 source equals ggml's bytes`, () => {
    const q = quantizerFor(ggmlType(id)!);
    assert.ok(q, `${type} has a quantizer`);
    for (const t of exp.tensors) {
      if (t.type_id !== id) continue;
      const src = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
      // files of the types ggml quantizes only with an importance matrix were made with the corpus imatrix
      const im = t.quantizer.imatrix
        ? readF32(corpusPath('gguf', t.quantizer.imatrix.file), t.quantizer.imatrix.offset_bytes, t.ne[0])
        : undefined;
      const bytes = q.quantize(src, t.n_elements / t.ne[0], t.ne[0], im);
      assert.equal(bytes.length, t.nbytes);
      assert.equal(sha(bytes), t.data_sha256, `${type} ${t.name}`);
    }
  });
}

/**
 * requant.json has, per type, ggml's bytes for up to four entry points. Quant Lens implements ggml_quantize_chunk
 * (with and without an importance matrix); ggml's from_float_ref entry points are a different function, checked
 * here where their bytes are the same as ggml_quantize_chunk's and skipped, saying so, where they differ.
 */
const requant = readJson('requant/requant.json');
for (const entry of requant.types) {
  for (const t of entry.tensors) {
    const chunk = t.paths.find((p: { path: string }) => p.path === 'chunk_no_imatrix');
    const src = () => readF32(corpusPath('gguf', t.source.file), t.source.offset_bytes, t.source.count);
    const outputs = new Map<boolean, Uint8Array>();
    /** Quant Lens's bytes for this tensor, with or without the importance matrix (each computed once). */
    const quantized = (withImatrix: boolean): Uint8Array => {
      if (!outputs.has(withImatrix)) {
        const q = quantizerFor(ggmlType(entry.type_id)!);
        assert.ok(q, `${entry.type} has a quantizer`);
        const imatrix = withImatrix ? readF32(corpusPath('gguf', t.imatrix.file), t.imatrix.offset_bytes, t.imatrix.count) : undefined;
        outputs.set(withImatrix, q.quantize(src(), t.nrows, t.n_per_row, imatrix));
      }
      return outputs.get(withImatrix)!;
    };
    for (const p of t.paths) {
      const name = `requant.json ${entry.type} ${t.tensor} ${p.path}`;
      if (p.path === 'chunk_no_imatrix' && !p.available) {
        test(`${name}: refused without an importance matrix, as ggml refuses it`, () => {
          const q = quantizerFor(ggmlType(entry.type_id)!);
          assert.ok(q, `${entry.type} has a quantizer`);
          assert.equal(q.requiresImatrix, true);
          assert.throws(() => q.quantize(src(), t.nrows, t.n_per_row), /needs an importance matrix/);
        });
        continue;
      }
      if (!p.available) {
        test(name, { skip: `ggml has no ${p.path} for ${entry.type}, so the corpus has no bytes to compare with` }, () => {});
        continue;
      }
      const fromRef = p.path === 'ref_per_row' || p.path === 'ref_whole_tensor';
      if (fromRef && !(chunk?.available && chunk.sha256 === p.sha256)) {
        test(
          name,
          {
            skip: `ggml's from_float_ref gives other bytes than ggml_quantize_chunk for ${entry.type}; Quant Lens implements ggml_quantize_chunk`,
          },
          () => {},
        );
        continue;
      }
      test(name, () => {
        const bytes = quantized(p.path === 'chunk_imatrix');
        assert.equal(bytes.length, p.nbytes, name);
        assert.equal(sha(bytes), p.sha256, name);
      });
    }
  }
}
