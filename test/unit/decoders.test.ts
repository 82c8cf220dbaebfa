/** Every corpus tensor decodes bit-identically to ggml's to_float. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import type { BlockRecord } from '../../src/core/quant/codec.ts';
import { ggmlType } from '../../src/core/types.ts';
import { TINY_TYPES, corpusPath, readBytes, readF32, readJson, firstBitMismatch, type ExpectedTensor } from '../helpers/corpus.ts';

function checkFile(base: string): void {
  const expected = readJson(`gguf/${base}.expected.json`);
  for (const t of expected.tensors as ExpectedTensor[]) {
    assert.ok(t.dequant, `${base} ${t.name}: the corpus has ggml's values for it`);
    const ty = ggmlType(t.type_id)!;
    const codec = codecForGgmlId(t.type_id);
    assert.ok(codec, `${base}: no codec for ${ty.name}`);
    const raw = readBytes(corpusPath('gguf', expected.file), t.absolute_offset, t.nbytes);
    const out = new Float32Array(t.n_elements);
    codec.dequantize(raw, out, t.n_elements / ty.blockSize);
    const want = readF32(corpusPath('gguf', t.dequant!.file), t.dequant!.offset_bytes, t.dequant!.count);
    const mismatch = firstBitMismatch(out, want);
    assert.equal(mismatch, null, `${base} ${t.name} (${ty.name}): ${mismatch}`);
  }
}

for (const type of TINY_TYPES) {
  test(`llama-tiny-${type} decodes bit-identically`, () => checkFile(`llama-tiny-${type}`));
}
test('llama-mix-Q4_K_M decodes bit-identically', () => checkFile('llama-mix-Q4_K_M'));
test('edge-cases decodes bit-identically', () => checkFile('edge-cases'));

for (const f of ['llama-tiny-Q8_0.v2', 'llama-mix-Q4_K_M-00001-of-00002', 'llama-mix-Q4_K_M-00002-of-00002']) {
  test(`${f} decodes bit-identically`, () => checkFile(f));
}

/** IEEE binary16 bits as a number, written out here so the expectation does not come from the decoders. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const u16 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const halfAt = (at: number) => (block: Uint8Array) => halfToNumber(u16(block, at));

/**
 * Where each type keeps its block scale d (and its minimum dmin), from ggml's block structs (ggml-common.h):
 * an fp16 at a byte offset, the E8M0 exponent of MXFP4, IQ1_M's fp16 spread over the top nibbles of its four
 * 16-bit scale words, or null for NVFP4, which has one E4M3 scale per 16 weights and no block-wide d.
 */
const BLOCK_SCALES: Record<string, { d: ((block: Uint8Array) => number) | null; dmin?: (block: Uint8Array) => number }> = {
  Q4_0: { d: halfAt(0) },
  Q4_1: { d: halfAt(0), dmin: halfAt(2) },
  Q5_0: { d: halfAt(0) },
  Q5_1: { d: halfAt(0), dmin: halfAt(2) },
  Q8_0: { d: halfAt(0) },
  Q2_K: { d: halfAt(80), dmin: halfAt(82) },
  Q3_K: { d: halfAt(108) },
  Q4_K: { d: halfAt(0), dmin: halfAt(2) },
  Q5_K: { d: halfAt(0), dmin: halfAt(2) },
  Q6_K: { d: halfAt(208) },
  IQ2_XXS: { d: halfAt(0) },
  IQ2_XS: { d: halfAt(0) },
  IQ3_XXS: { d: halfAt(0) },
  IQ1_S: { d: halfAt(0) },
  IQ4_NL: { d: halfAt(0) },
  IQ3_S: { d: halfAt(0) },
  IQ2_S: { d: halfAt(0) },
  IQ4_XS: { d: halfAt(0) },
  IQ1_M: {
    d: (b) => {
      const sc = [0, 1, 2, 3].map((i) => u16(b, 48 + 2 * i));
      return halfToNumber((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    },
  },
  TQ1_0: { d: halfAt(52) },
  TQ2_0: { d: halfAt(64) },
  MXFP4: { d: (b) => 2 ** (b[0] - 127) },
  NVFP4: { d: null },
  Q1_0: { d: halfAt(0) },
  Q2_0: { d: halfAt(0) },
};

/** Types whose weights are exactly fround(d * q) for the signed codes the block record lists as `qs`. */
const D_TIMES_CODE = new Set(['Q4_0', 'Q5_0', 'Q8_0']);

// the block types among the corpus's per-type files, by ggml's own table
const GGML_BLOCK_SIZE = new Map<string, number>(
  readJson('ggml-types.json').map((t: { name: string; blck_size: number }) => [t.name.toUpperCase(), t.blck_size]),
);
for (const type of TINY_TYPES.filter((ty) => GGML_BLOCK_SIZE.get(ty)! > 1)) {
  test(`${type}: every block record covers the block and reports the d and dmin of its bytes`, () => {
    const expected = readJson(`gguf/llama-tiny-${type}.expected.json`);
    const scales = BLOCK_SCALES[type];
    assert.ok(scales, `${type}: the test knows where its block scale lives`);
    const tensors = (expected.tensors as ExpectedTensor[]).filter((t) => ggmlType(t.type_id)?.name === type);
    assert.ok(tensors.length > 0, `${type}: the file has tensors of its type`);
    for (const t of tensors) {
      const ty = ggmlType(t.type_id)!;
      const codec = codecForGgmlId(t.type_id);
      assert.ok(codec?.decodeBlock, `${type}: the codec decodes single blocks`);
      const raw = readBytes(corpusPath('gguf', expected.file), t.absolute_offset, t.nbytes);
      const ggmlValues = readF32(corpusPath('gguf', t.dequant!.file), t.dequant!.offset_bytes, t.dequant!.count);
      for (let b = 0; b < t.nbytes / ty.bytesPerBlock; b++) {
        const where = `${type} ${t.name} block ${b}`;
        const offset = b * ty.bytesPerBlock;
        const block = raw.subarray(offset, offset + ty.bytesPerBlock);
        const rec: BlockRecord = codec.decodeBlock(raw, offset);
        let covered = 0;
        for (const f of rec.fields) covered += f.size;
        assert.equal(covered, ty.bytesPerBlock, `${where}: fields cover the whole block`);
        assert.equal(rec.d, scales.d ? scales.d(block) : undefined, `${where}: d`);
        assert.equal(rec.dmin, scales.dmin?.(block), `${where}: dmin`);
        if (!D_TIMES_CODE.has(type)) continue;
        const codes = rec.fields.find((f) => f.name === 'qs')!.values;
        const weights = ggmlValues.subarray(b * ty.blockSize, (b + 1) * ty.blockSize);
        assert.deepEqual(
          codes.map((q) => Math.fround(rec.d! * q)),
          Array.from(weights),
          `${where}: ggml's weights are d times the codes`,
        );
      }
    }
  });
}
