/**
 * Float -> storage conversions of single values (binary16, bfloat16), bit-exact with ggml's scalar ones for finite
 * values, and whole rows through the WebAssembly kernels (the one implementation of ggml's row conversions).
 */
import { F16_TO_F32 } from './scalars.ts';
import { quantizeWasm } from './wasmQuantizers.ts';
import { GgmlType, traits } from '../types.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * binary32 -> binary16 bits, round to nearest even (x86 F16C's conversion: a NaN keeps its top payload bits, where
 * ggml's scalar GGML_FP32_TO_FP16, which ggml_quantize_chunk uses, writes 0x7e00).
 */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return f16BitsOf(u32[0]);
}

/** f32ToF16Bits on the binary32 bit pattern `b`. */
function f16BitsOf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** Store x as binary16 at out[at] and return the float value stored (GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(x))). */
export function putF16(out: Uint8Array, at: number, x: number): number {
  const h = f32ToF16Bits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
  return F16_TO_F32[h];
}

/** C's roundf: halves away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** One row of float32 values through the type's WebAssembly quantizer (ggml_quantize_chunk). */
function throughKernel(id: GgmlType, src: Float32Array): Uint8Array {
  return src.length === 0 ? new Uint8Array(0) : quantizeWasm(traits(id), src, 1, src.length)!;
}

/** F16 storage of float32 values, as ggml writes them (ggml_fp32_to_fp16_row, in WebAssembly). */
export function encodeF16(src: Float32Array): Uint8Array {
  return throughKernel(GgmlType.F16, src);
}

/** BF16 storage of float32 values, as ggml writes them (ggml_fp32_to_bf16_row_ref, in WebAssembly). */
export function encodeBf16(src: Float32Array): Uint8Array {
  return throughKernel(GgmlType.BF16, src);
}

/** Q8_0 blocks of float32 values (a whole number of blocks of 32), as ggml_quantize_chunk writes them. */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  return throughKernel(GgmlType.Q8_0, src);
}

/** ggml_compute_fp32_to_bf16: round to nearest even; NaN becomes a quiet NaN with the sign kept. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  return bf16BitsOf(u32[0]);
}

/** f32ToBf16 on the binary32 bit pattern `u`. */
function bf16BitsOf(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}
