/** Float -> storage conversions and the simplest reference quantizers, bit-exact with ggml's. */
import { F16_TO_F32 } from './scalars.ts';
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary32 -> binary16 bits, round to nearest even (as ggml's GGML_FP32_TO_FP16 on x86 F16C / its scalar fallback). */
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

/**
 * F16 storage of float32 values, converted from their bit patterns in one pass (no per-value scratch writes).
 * Little-endian, as every platform Node and VS Code run on. (F16 and BF16 have a loop each: one loop calling
 * either conversion would not inline it.)
 */
export function encodeF16(src: Float32Array): Uint8Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsOf(bits[i]);
  return new Uint8Array(out.buffer);
}

/** BF16 storage of float32 values, as encodeF16. */
export function encodeBf16(src: Float32Array): Uint8Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = bf16BitsOf(bits[i]);
  return new Uint8Array(out.buffer);
}

/** ggml's quantize_row_q8_0_ref: per 32 weights d = absmax / 127 (stored as f16), q = round(x / d). */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  const nBlocks = src.length / 32;
  const out = new Uint8Array(nBlocks * 34);
  for (let b = 0, x = 0, o = 0; b < nBlocks; b++, x += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[x + j]);
      amax = amax > a ? amax : a; // C's MAX(amax, fabsf(v)), NaN handling included
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16Bits(d);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < 32; j++) out[o + 2 + j] = roundHalfAwayFast(Math.fround(src[x + j] * id));
  }
  return out;
}

/**
 * roundHalfAway for |x| < 2^30 without a sign-dependent branch (the sign of a weight is a coin toss for the branch
 * predictor): floor(x + 0.5) is right except at negative halves, where C's roundf goes one further from zero.
 */
function roundHalfAwayFast(x: number): number {
  const y = x + 0.5;
  const r = Math.floor(y);
  return r === y && x < 0 ? r - 1 : r;
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
