/**
 * The arithmetic the reference libraries do, emulated exactly: torch computes an fp16/bf16 operation in float32
 * and rounds the result to nearest-even (so "op in fp16" is `roundF16(Math.fround(exact op))`), and the small
 * float code tables (E2M1, E4M3, E8M0). `Math.f16round` and `Float16Array` are not used (older Electron/Node).
 */
import { F16_TO_F32, e4m3ToNumber } from '../quant/scalars.ts';
import { f32ToBf16, f32ToF16Bits } from '../quant/encode.ts';

/** float32 -> binary16 bits, round to nearest even (the core's encoder, also ggml's conversion). */
export { f32ToF16Bits };

/** A module-local reference: through the import binding every lookup would be a property access. */
const HALF = F16_TO_F32;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const toF16Bits = f32ToF16Bits;
const toBf16Bits = f32ToBf16;

/** x rounded to float32, then to binary16 (RNE), as a number. */
export function roundF16(x: number): number {
  return HALF[toF16Bits(x)];
}

/** x rounded to float32, then to bfloat16 (RNE, torch's float->bfloat16), as a number. NaN stays NaN. */
export function roundBf16(x: number): number {
  return bf16BitsToNumber(toBf16Bits(x));
}

/** bfloat16 bits -> value. */
export function bf16BitsToNumber(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return f32[0];
}

export type OutputDtype = 'float16' | 'bfloat16' | 'float32';

/** The rounding of one reference output dtype. */
export function rounderFor(dtype: OutputDtype): (x: number) => number {
  return dtype === 'float16' ? roundF16 : dtype === 'bfloat16' ? roundBf16 : Math.fround;
}

/** torch dtype names (`torch.bfloat16`, `bfloat16`, `float16`, `half`, `float32`) and safetensors dtypes -> output dtype. */
export function outputDtypeOf(name: string | undefined, fallback: OutputDtype = 'bfloat16'): OutputDtype {
  const n = (name ?? '').replace(/^torch\./, '').toLowerCase();
  if (n === 'float16' || n === 'half' || n === 'f16' || n === 'fp16') return 'float16';
  if (n === 'bfloat16' || n === 'bf16') return 'bfloat16';
  if (n === 'float32' || n === 'float' || n === 'f32' || n === 'fp32') return 'float32';
  return fallback;
}

/** FP4 E2M1 code -> value, with code 8 = -0 (compressed-tensors, transformers, gpt-oss, MLX). */
export const E2M1 = Float32Array.from([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]);
/** ModelOpt's table: code 8 is +0 (its `e2m1_values` lists 0 for both signs). */
export const E2M1_MODELOPT = Float32Array.from([0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, -0.5, -1, -1.5, -2, -3, -4, -6]);

/** E4M3FN byte -> value (NaN for 0x7f/0xff). */
export const E4M3 = Float32Array.from({ length: 256 }, (_, b) => e4m3ToNumber(b));

/** E8M0 exponent byte -> 2^(e-127), computed as ldexp does (255 gives 2^128 = Infinity in float32). */
export function e8m0(e: number): number {
  return 2 ** (e - 127);
}

/**
 * Value i of the continuous little-endian bitstream of b-bit fields over 32-bit words (LSB first, values may
 * straddle two words): the layout of GPTQ (all widths), compressed-tensors and MLX.
 */
export function streamField(words: Uint32Array | Int32Array, i: number, b: number, base = 0): number {
  const bit = i * b;
  const w = base + (bit >>> 5);
  const s = bit & 31;
  let v = words[w] >>> s;
  if (s + b > 32) v |= words[w + 1] << (32 - s);
  return v & ((1 << b) - 1);
}
