/**
 * Quant Lens's decoders give ggml's float32 bits on the edge cases that the corpus does not hold, against
 * expectations that ggml's own library wrote (test/fixtures/ggml-edge/, see its PROVENANCE.md):
 * every binary16 and bfloat16 pattern (and FP8 E5M2, the top byte of binary16), and for every type with a ggml
 * to_float the edge blocks of scripts/ggml-edge/cases.ts (every special fp16 d and dmin, every E8M0 / UE4M3
 * scale byte, every packed K-quant scale) with all-zero, all-one and random codes (bit for bit, NaN as NaN: see
 * blockHash). The JavaScript codecs and the WebAssembly kernels are each compared with ggml, so a bug they share
 * fails too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { safetensorsOnlyCodecs } from '../../src/core/quant/float/decode.ts';
import { F16_TO_F32 } from '../../src/core/quant/scalars.ts';
import { wasmDequantize, WASM_DEQUANTIZED_TYPES } from '../../src/core/quant/wasmDecode.ts';
import { wasmKernel } from '../../src/core/wasm/kernels.ts';
import { ggmlType } from '../../src/core/types.ts';
import { decodeJs } from '../helpers/decodeJs.ts';
import { blockHash, edgeTypes } from '../../scripts/ggml-edge/cases.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/ggml-edge');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  hashHexDigits: number;
  tables: Record<'f16' | 'bf16', { file: string; sha256: string }>;
  types: Record<string, { ggmlId: number; cases: number; hashes: string }>;
};

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (f: Float32Array) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
const hex8 = (x: number) => x.toString(16).padStart(8, '0');

/** ggml's float32 bits of every pattern of a 16-bit type. */
function ggmlTable(name: 'f16' | 'bf16'): Uint32Array {
  const raw = brotliDecompressSync(readFileSync(join(FIXTURES, expected.tables[name].file)));
  assert.equal(sha256(raw), expected.tables[name].sha256, `${name} table intact`);
  return new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** Every 16-bit pattern, little-endian. */
const ALL_HALVES = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);

function decodeWasm(id: number, raw: Uint8Array, nBlocks: number): Float32Array {
  const out = new Float32Array(nBlocks * ggmlType(id)!.blockSize);
  assert.ok(wasmDequantize(id, raw, out, nBlocks), `${ggmlType(id)!.name}: the kernel ran`);
  return out;
}

/** The patterns whose bits differ from ggml's, as "pattern: got, want" (at most five). */
function tableMismatches(got: Float32Array, want: Uint32Array): string[] {
  const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const out: string[] = [];
  for (let i = 0; i < want.length && out.length < 5; i++)
    if (bits[i] !== want[i]) out.push(`0x${i.toString(16)}: ${hex8(bits[i])}, ggml ${hex8(want[i])}`);
  return out;
}

test('kernels loaded (the WebAssembly half of these tests must run)', () => {
  assert.ok(wasmKernel(), 'dist/kernels.wasm loads (node scripts/build-wasm.mjs)');
});

for (const [name, id] of [
  ['f16', 1],
  ['bf16', 30],
] as const) {
  test(`${name}: every one of the 65536 patterns gives ggml's float32 bits (JavaScript and WebAssembly)`, () => {
    const want = ggmlTable(name);
    assert.deepEqual(tableMismatches(decodeJs(id, ALL_HALVES, 65536), want), [], 'JavaScript codec');
    assert.deepEqual(tableMismatches(decodeWasm(id, ALL_HALVES, 65536), want), [], 'WebAssembly kernel');
    if (name === 'f16') assert.deepEqual(tableMismatches(F16_TO_F32, want), [], 'F16_TO_F32 (block scales of every type)');
  });
}

test("FP8 E5M2 is the top byte of binary16: its 256 values have ggml's binary16 bits", () => {
  const want = ggmlTable('f16');
  const out = new Float32Array(256);
  safetensorsOnlyCodecs.F8_E5M2.dequantize(
    Uint8Array.from({ length: 256 }, (_, b) => b),
    out,
    256,
  );
  assert.deepEqual(
    tableMismatches(
      out,
      Uint32Array.from({ length: 256 }, (_, b) => want[b << 8]),
    ),
    [],
  );
});

test('FP8 E4M3FN: every byte decodes to its value; the NaNs 0x7f and 0xff are quiet and keep sign and payload', () => {
  const out = new Float32Array(256);
  safetensorsOnlyCodecs.F8_E4M3.dequantize(
    Uint8Array.from({ length: 256 }, (_, b) => b),
    out,
    256,
  );
  const bits = new Uint32Array(out.buffer);
  for (let b = 0; b < 256; b++) {
    const e = (b >> 3) & 0xf;
    const m = b & 7;
    const sign = b & 0x80 ? -1 : 1;
    if (e === 15 && m === 7) assert.equal(bits[b], b & 0x80 ? 0xfff00000 : 0x7ff00000, `0x${b.toString(16)}`);
    else assert.equal(out[b], sign * (e ? (8 + m) * 2 ** (e - 10) : m * 2 ** -9), `0x${b.toString(16)}`);
  }
});

const TYPES = edgeTypes();

test('the cases are the ones ggml dequantized (same types, same counts)', () => {
  assert.deepEqual(
    TYPES.map((t) => [t.name, t.cases.length]),
    Object.entries(expected.types).map(([n, e]) => [n, e.cases]),
  );
});

for (const t of TYPES) {
  const paths = WASM_DEQUANTIZED_TYPES.has(t.ggmlId) ? (['JavaScript', 'WebAssembly'] as const) : (['JavaScript'] as const);
  test(`${t.name}: ${t.cases.length} edge blocks give ggml's float32 bits (${paths.join(' and ')})`, () => {
    const want = expected.types[t.name];
    assert.equal(want.ggmlId, t.ggmlId);
    const digits = expected.hashHexDigits;
    for (const path of paths) {
      const wrong: string[] = [];
      // all cases in one call, hashed block by block
      const raw = new Uint8Array(t.cases.length * t.bytesPerBlock);
      t.cases.forEach((c, i) => raw.set(c.bytes, i * t.bytesPerBlock));
      const out = path === 'JavaScript' ? decodeJs(t.ggmlId, raw, t.cases.length) : decodeWasm(t.ggmlId, raw, t.cases.length);
      const per = ggmlType(t.ggmlId)!.blockSize;
      t.cases.forEach((c, i) => {
        const got = blockHash(bytesOf(out.subarray(i * per, (i + 1) * per)));
        if (got !== want.hashes.slice(i * digits, (i + 1) * digits)) wrong.push(c.name);
      });
      assert.deepEqual(wrong.slice(0, 8), [], `${path}: ${wrong.length} of ${t.cases.length} blocks differ from ggml`);
    }
  });
}
