/**
 * The literal vectors of the decoding spec (../shared/docs/safetensors-quant-formats.md §10.2) and layouts the corpus
 * does not exercise (MLX 3/5-bit, compressed-tensors asymmetric with act-order, bitsandbytes FP4 with an odd tail),
 * each written as a tiny safetensors model and decoded through openQuantizedModel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSafetensorsFile, type SafetensorsTensorOut } from '../../src/core/formats/safetensorsWriter.ts';
import { openQuantizedModel } from '../../src/core/hfquant/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'hfquant-vec-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
async function open(config: object, tensors: SafetensorsTensorOut[]) {
  const d = join(tmp, `m${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'config.json'), JSON.stringify(config));
  writeFileSync(join(d, 'model.safetensors'), buildSafetensorsFile(tensors));
  return openQuantizedModel(d);
}
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const bf16 = (xs: number[]) => bytes(Uint16Array.from(xs.map((x) => new Uint32Array(Float32Array.from([x]).buffer)[0] >>> 16)));

test('AWQ GEMM interleave: word 0x7b0f335c holds columns 0..7 = [12, 15, 5, 0, 3, 11, 3, 7]', async () => {
  const q = await open({ quantization_config: { quant_method: 'awq', bits: 4, group_size: 8, version: 'gemm' } }, [
    { name: 'a.qweight', dtype: 'I32', shape: [8, 1], data: bytes(Uint32Array.from({ length: 8 }, (_, k) => (k === 0 ? 0x7b0f335c : 0))) },
    { name: 'a.qzeros', dtype: 'I32', shape: [1, 1], data: new Uint8Array(4) },
    { name: 'a.scales', dtype: 'F16', shape: [1, 8], data: bytes(Uint16Array.from({ length: 8 }, () => 0x3c00)) },
  ]);
  try {
    const w = q.weights[0];
    assert.deepEqual(w.shape, [8, 8]);
    const v = w.decode();
    assert.deepEqual(
      Array.from({ length: 8 }, (_, c) => v[c * 8]),
      [12, 15, 5, 0, 3, 11, 3, 7],
    );
    assert.deepEqual(
      Array.from({ length: 8 }, (_, c) => w.inspectGroup(c, 0).codes[0]),
      [12, 15, 5, 0, 3, 11, 3, 7],
    );
  } finally {
    await q.close();
  }
});

const ct = (weights: object, format = 'pack-quantized') => ({
  quantization_config: { quant_method: 'compressed-tensors', format, config_groups: { group_0: { targets: ['Linear'], weights } } },
});

test('compressed-tensors pack_to_int32 vectors: int4 [1,2,3,4] = 52137, [-8..-1] = 1985229328; int8 [1,2,3,4] = -2071756159', async () => {
  const q = await open(ct({ num_bits: 4, strategy: 'channel', symmetric: true }), [
    { name: 'a.weight_packed', dtype: 'I32', shape: [2, 1], data: bytes(Int32Array.from([52137, 1985229328])) },
    { name: 'a.weight_scale', dtype: 'BF16', shape: [2, 1], data: bf16([1, 1]) },
    { name: 'a.weight_shape', dtype: 'I32', shape: [2], data: bytes(Int32Array.from([2, 8])) },
  ]);
  try {
    assert.deepEqual(Array.from(q.weights[0].decode()), [1, 2, 3, 4, -8, -8, -8, -8, -8, -7, -6, -5, -4, -3, -2, -1]);
  } finally {
    await q.close();
  }
  const q8 = await open(ct({ num_bits: 8, strategy: 'channel', symmetric: true }), [
    { name: 'b.weight_packed', dtype: 'I32', shape: [2, 1], data: bytes(Int32Array.from([-2071756159, 50462976])) },
    { name: 'b.weight_scale', dtype: 'BF16', shape: [2, 1], data: bf16([1, 1]) },
    { name: 'b.weight_shape', dtype: 'I64', shape: [2], data: bytes(BigInt64Array.from([2n, 4n])) },
  ]);
  try {
    assert.deepEqual(Array.from(q8.weights[0].decode()), [1, 2, 3, 4, -128, -127, -126, -125]);
  } finally {
    await q8.close();
  }
});

test('compressed-tensors int4 asymmetric with act-order: zero points packed along N, weight_g_idx groups', async () => {
  // N = 8, K = 8, two groups of 4 chosen by g_idx; zero point of (n, g) = n - g - 2 (signed), stored + 8, 8 per word
  const codes = Array.from({ length: 64 }, (_, i) => (i * 7) % 16); // stored (signed + 8)
  const packed = new Int32Array(8);
  for (let r = 0; r < 8; r++) for (let k = 0; k < 8; k++) packed[r] |= codes[r * 8 + k] << (4 * k);
  const zp = new Int32Array(2); // [ceil(8/8), 2]
  for (let g = 0; g < 2; g++) for (let r = 0; r < 8; r++) zp[g] |= (r - g - 2 + 8) << (4 * r);
  const gidx = [1, 0, 0, 1, 1, 0, 1, 0];
  const q = await open(ct({ num_bits: 4, strategy: 'group', group_size: 4, symmetric: false, actorder: 'group' }), [
    { name: 'c.weight_packed', dtype: 'I32', shape: [8, 1], data: bytes(packed) },
    { name: 'c.weight_scale', dtype: 'BF16', shape: [8, 2], data: bf16(Array.from({ length: 16 }, (_, i) => 2 ** -(i % 3))) },
    { name: 'c.weight_zero_point', dtype: 'I32', shape: [1, 2], data: bytes(zp) },
    { name: 'c.weight_g_idx', dtype: 'I32', shape: [8], data: bytes(Int32Array.from(gidx)) },
    { name: 'c.weight_shape', dtype: 'I64', shape: [2], data: bytes(BigInt64Array.from([8n, 8n])) },
  ]);
  try {
    const w = q.weights[0];
    assert.equal(w.scheme, 'compressed-tensors int4 asym g4 act-order');
    const want = Array.from({ length: 64 }, (_, i) => {
      const [r, k] = [Math.floor(i / 8), i % 8];
      const g = gidx[k];
      return (codes[i] - 8 - (r - g - 2)) * 2 ** -((r * 2 + g) % 3);
    });
    assert.deepEqual(Array.from(w.decode()), want);
    assert.deepEqual(w.inspectGroup(3, 1).columns, [0, 3, 4, 6]);
  } finally {
    await q.close();
  }
});

test('MLX 3-bit and 5-bit: a continuous LSB-first bitstream over each row, bias added after the scaled code', async () => {
  for (const bits of [3, 5]) {
    const K = 32;
    const words = (K * bits) / 32;
    const codes = Array.from({ length: 2 * K }, (_, i) => (i * 11 + 3) % (1 << bits));
    const w = new Uint32Array(2 * words);
    codes.forEach((c, i) => {
      const [r, k] = [Math.floor(i / K), i % K];
      for (let b = 0; b < bits; b++) if ((c >> b) & 1) w[r * words + ((k * bits + b) >>> 5)] |= 1 << ((k * bits + b) & 31);
    });
    const q = await open({ quantization: { group_size: 32, bits, mode: 'affine' } }, [
      { name: 'm.weight', dtype: 'U32', shape: [2, words], data: bytes(w) },
      { name: 'm.scales', dtype: 'BF16', shape: [2, 1], data: bf16([-0.5, 2]) },
      { name: 'm.biases', dtype: 'BF16', shape: [2, 1], data: bf16([3, -1]) },
    ]);
    try {
      const v = q.weights[0];
      assert.equal(v.scheme, `MLX affine ${bits}-bit g32`);
      assert.deepEqual(
        Array.from(v.decode()),
        codes.map((c, i) => (i < K ? c * -0.5 + 3 : c * 2 - 1)),
      );
    } finally {
      await q.close();
    }
  }
});

test('gpt-oss MXFP4: byte 0x2F at scale byte 128 gives -12 then 2; bitsandbytes FP4 with an odd element count', async () => {
  const blocks = new Uint8Array(16);
  blocks[0] = 0x2f;
  const q = await open({ quantization_config: { quant_method: 'mxfp4' } }, [
    { name: 'l.experts.down_proj_blocks', dtype: 'U8', shape: [1, 1, 1, 16], data: blocks },
    { name: 'l.experts.down_proj_scales', dtype: 'U8', shape: [1, 1, 1], data: Uint8Array.from([128]) },
  ]);
  try {
    const w = q.weight('l.experts.down_proj')!;
    assert.deepEqual(w.shape, [1, 1, 32]);
    assert.deepEqual(Array.from(w.decode().subarray(0, 3)), [-12, 2, 0]);
  } finally {
    await q.close();
  }
  // 3 x 3 = 9 codes, high nibble first, blocksize 4 (last block partial), quant_map from the file
  const map = Float32Array.from({ length: 16 }, (_, i) => (i - 8) / 8);
  const state = new TextEncoder().encode(JSON.stringify({ quant_type: 'fp4', blocksize: 4, dtype: 'float16', shape: [3, 3] }));
  const qb = await open({ quantization_config: { quant_method: 'bitsandbytes', load_in_4bit: true } }, [
    { name: 'b.weight', dtype: 'U8', shape: [5, 1], data: Uint8Array.from([0x0f, 0x19, 0x8a, 0x7c, 0x30]) },
    { name: 'b.weight.absmax', dtype: 'F32', shape: [3], data: bytes(Float32Array.from([1, 2, 4])) },
    { name: 'b.weight.quant_map', dtype: 'F32', shape: [16], data: bytes(map) },
    { name: 'b.weight.quant_state.bitsandbytes__fp4', dtype: 'U8', shape: [state.length], data: state },
  ]);
  try {
    const w = qb.weights[0];
    const codes = [0x0, 0xf, 0x1, 0x9, 0x8, 0xa, 0x7, 0xc, 0x3];
    assert.deepEqual(
      Array.from(w.decode()),
      codes.map((c, i) => map[c] * [1, 2, 4][Math.floor(i / 4)]),
    );
    assert.equal(w.dtype, 'float16');
    // row 1 is elements 3..5: blocks 0 (element 3) and 1 (elements 4, 5)
    assert.deepEqual(w.inspectGroup(1, 0).columns, [0]);
    assert.deepEqual(w.inspectGroup(1, 1).columns, [1, 2]);
    assert.equal(w.inspectGroup(1, 1).scale, 2);
  } finally {
    await qb.close();
  }
});
