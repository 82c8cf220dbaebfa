/** Small-float conversions shared by every codec. All results are exact float32 values. */

/** The value of the binary16 unit in the last place of the subnormals: 2^-24. */
const HALF_SUBNORMAL_UNIT = 2 ** -24;

/**
 * binary16 -> binary32 for all 65536 bit patterns, ggml's bits included for NaN: sign and payload kept (shifted
 * into the top mantissa bits) and the quiet bit set, so a signalling NaN such as 0x7d00 becomes the quiet 0x7fe00000
 * (as ggml_fp16_to_fp32 and the x86 F16C conversion do). Built from the bit patterns (exponent rebiased by
 * 127 − 15, mantissa shifted by 13), but for the subnormals, which become normal float32 values: the loop runs once
 * per thread as the module loads, before V8 optimises it, and bit operations take a third of the time that a
 * power of two per pattern took.
 */
export const F16_TO_F32: Float32Array = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) bits[h] = sign | (mant ? 0x7fc00000 : 0x7f800000) | (mant << 13);
    else if (exp) bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else table[h] = (sign ? -mant : mant) * HALF_SUBNORMAL_UNIT;
  }
  return table;
})();

/** The little-endian unsigned 16-bit and 32-bit integers at src[at]. */
export function u16(src: Uint8Array, at: number): number {
  return src[at] | (src[at + 1] << 8);
}
export function u32(src: Uint8Array, at: number): number {
  return (src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24)) >>> 0;
}

/** The float32 value of the little-endian binary16 at src[at]. */
export function f16(src: Uint8Array, at: number): number {
  return F16_TO_F32[src[at] | (src[at + 1] << 8)];
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bfloat16 bits -> float32 value (exact: bf16 is the upper half of binary32). */
export function bf16ToNumber(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0];
}

/** E8M0 (MX shared exponent) byte -> float32 value, as ggml's ggml_e8m0_to_fp32. */
export function e8m0ToNumber(x: number): number {
  // ggml builds the float32 bits directly: exponent field = x (so 0xff gives +Inf), and 0 maps to the subnormal 2^-127.
  return x === 0 ? 2 ** -127 : 2 ** (x - 127);
}

/** OCP FP8 E4M3FN byte -> value (bias 7, no infinities, 0x7f/0xff NaN, max 448). */
export function e4m3ToNumber(x: number): number {
  const sign = x & 0x80 ? -1 : 1;
  const exp = (x >> 3) & 0xf;
  const mant = x & 7;
  if (exp === 0xf && mant === 7) return NaN;
  if (exp === 0) return sign * (mant / 8) * 2 ** -6;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/**
 * A small float code -> value: `expBits` exponent bits with bias `bias`, `mantBits` mantissa bits, sign on top;
 * exponent 0 is subnormal, and there are no infinities or NaNs (the OCP MX element types E2M1, E2M3, E3M2).
 */
export function miniFloatToNumber(x: number, expBits: number, mantBits: number, bias: number): number {
  const sign = (x >> (expBits + mantBits)) & 1 ? -1 : 1;
  const exp = (x >> mantBits) & ((1 << expBits) - 1);
  const mant = x & ((1 << mantBits) - 1);
  if (exp === 0) return sign * (mant / 2 ** mantBits) * 2 ** (1 - bias);
  return sign * (1 + mant / 2 ** mantBits) * 2 ** (exp - bias);
}

/** FP8 E4M3FNUZ / E5M2FNUZ byte -> value (bias 8 / 16, no infinities, no -0: 0x80 is the only NaN). */
export function fnuzToNumber(x: number, expBits: 4 | 5): number {
  if (x === 0x80) return NaN;
  const mantBits = 7 - expBits;
  return miniFloatToNumber(x, expBits, mantBits, 1 << (expBits - 1));
}

/** FP8 E5M2 byte -> value (bias 15, exponent 31 is Inf/NaN). */
export function e5m2ToNumber(x: number): number {
  return F16_TO_F32[x << 8];
}

/** Rounding to binary32, written where ggml's C rounds to float. */
export const fr = Math.fround;

/** ggml's nearest_int: round half to even through the float 1.5·2^23 trick (the argument is a float). */
export function nearestInt(f: number): number {
  return fr(f + 12582912) - 12582912;
}
