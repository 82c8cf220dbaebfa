/** Plain element types: floats and integers, one element per "block". Integers are plain casts (ggml has no to_float for them). */
import type { QuantCodec } from '../codec.ts';
import { F16_TO_F32, e4m3ToNumber, e5m2ToNumber, fnuzToNumber, miniFloatToNumber } from '../scalars.ts';
import { GgmlType } from '../../types.ts';

function viewOf<T>(ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }, src: Uint8Array, n: number): T {
  // Typed-array views need aligned offsets; copy when the source is not aligned.
  if (src.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(src.buffer, src.byteOffset, n);
  const copy = src.slice(0, n * ctor.BYTES_PER_ELEMENT);
  return new ctor(copy.buffer, 0, n);
}

const f32: QuantCodec = {
  dequantize(src, dst, n) {
    dst.set(viewOf(Float32Array, src, n));
  },
};

const f16: QuantCodec = {
  dequantize(src, dst, n) {
    for (let i = 0, j = 0; i < n; i++, j += 2) dst[i] = F16_TO_F32[src[j] | (src[j + 1] << 8)];
  },
};

const bf16: QuantCodec = {
  dequantize(src, dst, n) {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0, j = 0; i < n; i++, j += 2) bits[i] = ((src[j] | (src[j + 1] << 8)) << 16) >>> 0;
  },
};

const f64: QuantCodec = {
  dequantize(src, dst, n) {
    dst.set(viewOf(Float64Array, src, n));
  },
};

const i8: QuantCodec = {
  dequantize(src, dst, n) {
    dst.set(new Int8Array(src.buffer, src.byteOffset, n));
  },
};
const i16: QuantCodec = {
  dequantize(src, dst, n) {
    dst.set(viewOf(Int16Array, src, n));
  },
};
const i32: QuantCodec = {
  dequantize(src, dst, n) {
    dst.set(viewOf(Int32Array, src, n));
  },
};
const i64: QuantCodec = {
  dequantize(src, dst, n) {
    const v = viewOf(BigInt64Array, src, n);
    for (let i = 0; i < n; i++) dst[i] = Number(v[i]);
  },
};

export const floatCodecs: Partial<Record<GgmlType, QuantCodec>> = {
  [GgmlType.F32]: f32,
  [GgmlType.F16]: f16,
  [GgmlType.BF16]: bf16,
  [GgmlType.F64]: f64,
  [GgmlType.I8]: i8,
  [GgmlType.I16]: i16,
  [GgmlType.I32]: i32,
  [GgmlType.I64]: i64,
};

function lookupCodec(table: Float32Array): QuantCodec {
  return {
    dequantize(src, dst, n) {
      for (let i = 0; i < n; i++) dst[i] = table[src[i]];
    },
  };
}
const byteTable = (f: (b: number) => number) => Float32Array.from({ length: 256 }, (_, b) => f(b));

/** E4M3FN with its NaNs (0x7f, 0xff) quiet and keeping sign and payload, as ggml's binary16 conversion treats NaN. */
const E4M3_TABLE = (() => {
  const table = byteTable(e4m3ToNumber);
  const bits = new Uint32Array(table.buffer);
  bits[0x7f] = 0x7ff00000;
  bits[0xff] = 0xfff00000;
  return table;
})();

/** 4-bit codes, two per byte, low nibble first (torch float4_e2m1fn_x2, as MXFP4 and NVFP4 pack them). */
function nibbleCodec(table: Float32Array): QuantCodec {
  return {
    dequantize(src, dst, nBlocks) {
      for (let i = 0; i < nBlocks; i++) {
        dst[2 * i] = table[src[i] & 15];
        dst[2 * i + 1] = table[src[i] >> 4];
      }
    },
  };
}

/** 6-bit codes, four per three bytes, as one little-endian bit stream (first code in the lowest bits). */
function sixBitCodec(table: Float32Array): QuantCodec {
  return {
    dequantize(src, dst, nBlocks) {
      for (let i = 0; i < nBlocks; i++) {
        const w = src[3 * i] | (src[3 * i + 1] << 8) | (src[3 * i + 2] << 16);
        for (let j = 0; j < 4; j++) dst[4 * i + j] = table[(w >> (6 * j)) & 63];
      }
    },
  };
}

const codeTable = (bits: number, f: (code: number) => number) => Float32Array.from({ length: 1 << bits }, (_, c) => f(c));

/** safetensors dtypes that ggml has no id for, keyed by dtype name. */
export const safetensorsOnlyCodecs: Record<string, QuantCodec> = {
  U8: lookupCodec(byteTable((b) => b)),
  BOOL: lookupCodec(byteTable((b) => (b ? 1 : 0))),
  F8_E4M3: lookupCodec(E4M3_TABLE),
  F8_E5M2: lookupCodec(byteTable(e5m2ToNumber)),
  F8_E8M0: lookupCodec(byteTable((b) => (b === 0xff ? NaN : 2 ** (b - 127)))),
  F8_E4M3FNUZ: lookupCodec(byteTable((b) => fnuzToNumber(b, 4))),
  F8_E5M2FNUZ: lookupCodec(byteTable((b) => fnuzToNumber(b, 5))),
  F4: nibbleCodec(codeTable(4, (c) => miniFloatToNumber(c, 2, 1, 1))),
  F6_E2M3: sixBitCodec(codeTable(6, (c) => miniFloatToNumber(c, 2, 3, 1))),
  F6_E3M2: sixBitCodec(codeTable(6, (c) => miniFloatToNumber(c, 3, 2, 3))),
  U16: { dequantize: (src, dst, n) => dst.set(viewOf(Uint16Array, src, n)) },
  U32: { dequantize: (src, dst, n) => dst.set(viewOf(Uint32Array, src, n)) },
  U64: {
    dequantize(src, dst, n) {
      const v = viewOf(BigUint64Array, src, n);
      for (let i = 0; i < n; i++) dst[i] = Number(v[i]);
    },
  },
};
