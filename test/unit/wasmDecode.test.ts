/**
 * The WebAssembly dequantize kernels (src/core/quant/wasmDecode.ts) give the JavaScript codecs' float32 bits (NaN
 * equals NaN): on every corpus tensor of each type they decode (against ggml's values), on random blocks with every
 * special fp16 scale, and through forEachChunk with chunk sizes and block counts that are multiples of nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecForGgmlId } from '../../src/core/quant/index.ts';
import { wasmDequantize, WASM_DEQUANTIZED_TYPES } from '../../src/core/quant/wasmDecode.ts';
import { wasmKernel } from '../../src/core/wasm/kernels.ts';
import { forEachChunk, readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { ggmlType } from '../../src/core/types.ts';
import { decodeJs } from '../helpers/decodeJs.ts';
import { TINY_TYPES, corpusPath, readBytes, readF32, readJson, firstBitMismatch, type ExpectedTensor } from '../helpers/corpus.ts';
import { rng } from '../helpers/rng.ts';

const TYPES = [...WASM_DEQUANTIZED_TYPES];

/** The kernel's values, directly and through the codec registry (both must run the kernel). */
function decodeWasm(id: number, raw: Uint8Array, nBlocks: number): Float32Array {
  const n = nBlocks * ggmlType(id)!.blockSize;
  const direct = new Float32Array(n);
  assert.ok(wasmDequantize(id, raw, direct, nBlocks), `${ggmlType(id)!.name}: the kernel ran`);
  const viaCodec = new Float32Array(n);
  codecForGgmlId(id)!.dequantize(raw, viaCodec, nBlocks);
  assert.equal(firstBitMismatch(viaCodec, direct), null, 'codec registry = kernel');
  return direct;
}

test('the kernels are loaded (dist/kernels.wasm is built by npm run test:unit)', () => {
  assert.ok(wasmKernel(), 'dist/kernels.wasm');
});

test('every corpus tensor of each kernel type decodes to ggml bits through the kernel and through JavaScript', () => {
  const files = [...TINY_TYPES.map((t) => `llama-tiny-${t}`), 'llama-mix-Q4_K_M', 'edge-cases'];
  const seen = new Set<number>();
  for (const base of files) {
    const expected = readJson(`gguf/${base}.expected.json`);
    for (const t of expected.tensors as ExpectedTensor[]) {
      if (!t.dequant || !WASM_DEQUANTIZED_TYPES.has(t.type_id)) continue;
      const ty = ggmlType(t.type_id)!;
      const raw = readBytes(corpusPath('gguf', expected.file), t.absolute_offset, t.nbytes);
      const want = readF32(corpusPath('gguf', t.dequant.file), t.dequant.offset_bytes, t.dequant.count);
      const nBlocks = t.n_elements / ty.blockSize;
      assert.equal(firstBitMismatch(decodeWasm(t.type_id, raw, nBlocks), want), null, `${base} ${t.name} (${ty.name}) wasm`);
      assert.equal(firstBitMismatch(decodeJs(t.type_id, raw, nBlocks), want), null, `${base} ${t.name} (${ty.name}) js`);
      seen.add(t.type_id);
    }
  }
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [...TYPES].sort((a, b) => a - b),
    'a corpus tensor of every kernel type',
  );
});

/** fp16 patterns that make d or dmin special: ±0, ±Inf, NaNs, subnormals, the largest and smallest normals. */
const SPECIAL_HALVES = [
  0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x3c00,
];

/** Byte offsets of the fp16 fields (d, dmin, m) in a block of each type. */
const HALF_FIELDS: Record<number, number[]> = {
  2: [0],
  3: [0, 2],
  6: [0],
  7: [0, 2],
  8: [0],
  10: [80, 82],
  11: [108],
  12: [0, 2],
  13: [0, 2],
  14: [208],
  20: [0],
  23: [0],
};

/** nBlocks random blocks; the fp16 fields of every other block take the special patterns in turn. */
function randomBlocks(id: number, nBlocks: number, seed: number): Uint8Array {
  const { bytesPerBlock } = ggmlType(id)!;
  const r = rng(seed);
  const raw = new Uint8Array(nBlocks * bytesPerBlock);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
  let s = 0;
  for (let b = 0; b < nBlocks; b += 2) {
    for (const at of HALF_FIELDS[id] ?? []) {
      const h = SPECIAL_HALVES[s++ % SPECIAL_HALVES.length];
      raw[b * bytesPerBlock + at] = h & 0xff;
      raw[b * bytesPerBlock + at + 1] = h >> 8;
    }
  }
  return raw;
}

/** Block counts around the SIMD widths and the kernel's 32768-weight pieces. */
function blockCounts(blockSize: number): number[] {
  const piece = 32768 / blockSize;
  return [1, 2, 3, 5, 7, 9, 17, 31, piece - 1, piece, piece + 1, 2 * piece + 3];
}

for (const id of TYPES) {
  const ty = ggmlType(id)!;
  test(`${ty.name}: random blocks with special fp16 scales, odd block counts, unaligned views: kernel = JavaScript`, () => {
    for (const nBlocks of blockCounts(ty.blockSize)) {
      const raw = randomBlocks(id, nBlocks, 1000 * id + nBlocks);
      const js = decodeJs(id, raw, nBlocks);
      assert.equal(firstBitMismatch(decodeWasm(id, raw, nBlocks), js), null, `${ty.name}, ${nBlocks} blocks`);
      // a source starting at an odd byte, a destination inside a larger array
      const shifted = new Uint8Array(raw.length + 3);
      shifted.set(raw, 3);
      const dst = new Float32Array(js.length + 5).fill(7);
      assert.ok(wasmDequantize(id, shifted.subarray(3), dst.subarray(1, 1 + js.length), nBlocks));
      assert.equal(firstBitMismatch(dst.subarray(1, 1 + js.length), js), null, `${ty.name}, ${nBlocks} blocks, offset views`);
      assert.ok(dst[0] === 7 && dst[js.length + 1] === 7, 'nothing written outside the destination');
    }
  });
}

/**
 * 256 blocks per special d: byte j of block b is (b + 17j) mod 256, so every byte of the block (sub-block scales and
 * mins, fifth bits, codes) takes every value, and every pair of packed 6-bit scale halves occurs; d (and dmin, m)
 * run through SPECIAL_HALVES independently.
 */
test('every byte value at every position, under every special fp16 d and dmin: kernel = JavaScript', () => {
  for (const id of TYPES) {
    const fields = HALF_FIELDS[id];
    if (!fields) continue;
    const { bytesPerBlock, name } = ggmlType(id)!;
    const nBlocks = 256 * SPECIAL_HALVES.length;
    const raw = new Uint8Array(nBlocks * bytesPerBlock);
    for (let b = 0; b < nBlocks; b++) {
      for (let j = 0; j < bytesPerBlock; j++) raw[b * bytesPerBlock + j] = (b + 17 * j) & 0xff;
      fields.forEach((at, f) => {
        const h = SPECIAL_HALVES[(Math.floor(b / 256) + 5 * f) % SPECIAL_HALVES.length];
        raw[b * bytesPerBlock + at] = h & 0xff;
        raw[b * bytesPerBlock + at + 1] = h >> 8;
      });
    }
    const wasm = decodeWasm(id, raw, nBlocks);
    const js = decodeJs(id, raw, nBlocks);
    assert.equal(firstBitMismatch(wasm, js), null, name);
    // NaN signs and payloads too (a NaN min of Q4_1 / Q5_1 kept its sign only in the JavaScript once)
    const a = new Uint32Array(wasm.buffer);
    const b = new Uint32Array(js.buffer);
    const at = a.findIndex((x, i) => x !== b[i]);
    assert.equal(at, -1, `${name}: bits of element ${at}: 0x${a[at]?.toString(16)} in WebAssembly, 0x${b[at]?.toString(16)} in JavaScript`);
  }
});

test('F16 and BF16: every 16-bit pattern (NaN payloads, subnormals, ±0), odd counts: kernel = JavaScript', () => {
  const all = new Uint8Array(2 * 65536 + 2 * 7);
  for (let h = 0; h < 65536 + 7; h++) {
    all[2 * h] = h & 0xff;
    all[2 * h + 1] = (h >> 8) & 0xff;
  }
  for (const id of [1, 30]) {
    for (const n of [1, 3, 7, 8, 9, 15, 65536, 65536 + 7]) {
      const raw = all.subarray(0, 2 * n);
      const js = decodeJs(id, raw, n);
      const wasm = decodeWasm(id, raw, n);
      assert.equal(firstBitMismatch(wasm, js), null, `${ggmlType(id)!.name}, ${n} values`);
      // NaN payloads too: the kernels keep the JavaScript bits exactly
      assert.deepEqual(new Uint32Array(wasm.buffer), new Uint32Array(js.buffer), `${ggmlType(id)!.name}, ${n} values, bits`);
    }
  }
});

test('forEachChunk and readTensorValues: odd chunk sizes and ranges give the JavaScript values', async () => {
  for (const id of TYPES) {
    const ty = ggmlType(id)!;
    const nBlocks = Math.ceil(40000 / ty.blockSize) + 3;
    const raw = randomBlocks(id, nBlocks, 77 + id);
    const n = nBlocks * ty.blockSize;
    const file = buildGgufFile(
      [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
      [{ name: 't', shape: [n], ggmlTypeId: id, nbytes: raw.length, data: raw }],
    );
    const model = await openModelFromSource(new MemoryByteSource(file));
    const tensor = model.tensors[0];
    const js = decodeJs(id, raw, nBlocks);
    for (const chunkElements of [1, 257, 4097, 33000, 1 << 20]) {
      const got = new Float32Array(n);
      forEachChunk(model, tensor, (values, first) => got.set(values, first), { chunkElements });
      assert.equal(firstBitMismatch(got, js), null, `${ty.name}, chunks of ${chunkElements}`);
    }
    const from = 3 * ty.blockSize + 5;
    assert.equal(
      firstBitMismatch(readTensorValues(model, tensor, from, n - from - 11), js.subarray(from, n - 11)),
      null,
      `${ty.name}, readTensorValues`,
    );
  }
});
