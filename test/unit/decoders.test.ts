/** Every corpus tensor decodes bit-identically to ggml's to_float. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import { ggmlType } from '../../src/core/types.ts';
import { TINY_TYPES, corpusPath, readBytes, readF32, readJson, firstBitMismatch, type ExpectedTensor } from '../helpers/corpus.ts';

function checkFile(base: string): void {
  const expected = readJson(`gguf/${base}.expected.json`);
  for (const t of expected.tensors as ExpectedTensor[]) {
    if (!t.dequant) continue;
    const ty = ggmlType(t.type_id)!;
    const codec = codecForGgmlId(t.type_id);
    assert.ok(codec, `${base}: no codec for ${ty.name}`);
    const raw = readBytes(corpusPath('gguf', expected.file), t.absolute_offset, t.nbytes);
    const out = new Float32Array(t.n_elements);
    codec.dequantize(raw, out, t.n_elements / ty.blockSize);
    const want = readF32(corpusPath('gguf', t.dequant.file), t.dequant.offset_bytes, t.dequant.count);
    const mismatch = firstBitMismatch(out, want);
    assert.equal(mismatch, null, `${base} ${t.name} (${ty.name}): ${mismatch}`);
  }
}

for (const type of TINY_TYPES) {
  test(`llama-tiny-${type} decodes bit-identically`, () => checkFile(`llama-tiny-${type}`));
}
test('llama-mix-Q4_K_M decodes bit-identically', () => checkFile('llama-mix-Q4_K_M'));
test('edge-cases decodes bit-identically', () => checkFile('edge-cases'));

test('every block record decodes without throwing and reports d consistent with dequantization', () => {
  for (const type of TINY_TYPES) {
    const expected = readJson(`gguf/llama-tiny-${type}.expected.json`);
    for (const t of expected.tensors as ExpectedTensor[]) {
      const ty = ggmlType(t.type_id)!;
      const codec = codecForGgmlId(t.type_id)!;
      if (!codec.decodeBlock || ty.blockSize === 1) continue;
      const raw = readBytes(corpusPath('gguf', expected.file), t.absolute_offset, t.nbytes);
      const rec = codec.decodeBlock(raw, 0);
      assert.ok(rec.fields.length > 0, `${type}: block record has fields`);
      let covered = 0;
      for (const f of rec.fields) covered += f.size;
      assert.equal(covered, ty.bytesPerBlock, `${type}: fields cover the whole block`);
    }
  }
});
