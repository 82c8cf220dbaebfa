// AssemblyScript, compiled into dist/quantizers.wasm by scripts/build-wasm.mjs.
// ggml's quantizers (ggml_quantize_chunk) of the simple types, a few operations per weight, four weights at a time
// (WebAssembly SIMD): F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 (with and without an importance matrix), Q8_0, TQ1_0,
// TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0. Each lane does the binary32 operations of ggml's C source in its order; the
// float sums that C takes in order stay in order; C's float -> int conversions are x86's (truncation, and INT_MIN for
// NaN and out of range: the release library's behaviour on those inputs), and the comparisons keep C's NaN rules.
// These are the only implementation of these types' quantizers (tests pin ggml's bytes, edge inputs included).
import { imatrixWeights, lastMin, low8, makeQkx, makeQx } from './quantize';
import * as T from './generated/layout';

const FLT_MAX: f32 = 3.4028234663852886e38;
const INT_MIN = 0x80000000;

// scratch (one block at a time)
const W32: usize = memory.data(32 * 4, 16); // importance weights of a block of 32
const L32: usize = memory.data(32, 16); // codes of a block of 32
const CODES: usize = memory.data(256, 16); // codes of a super-block of 256 (uint8)

@inline function ldf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
@inline function ld4(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}

// ------------------------------------------------------------------------------------------------ conversions

/** GGML_FP32_TO_FP16 (ggml_compute_fp32_to_fp16: round to nearest even; every NaN becomes 0x7e00 with its sign). */
@inline function ggmlF16(f: f32): u32 {
  let base: f32 = (abs<f32>(f) * reinterpret<f32>(0x77800000)) * reinterpret<f32>(0x08800000);
  const w = reinterpret<u32>(f);
  const shl1 = w + w;
  const sign = w & 0x80000000;
  let bias = shl1 & 0xff000000;
  if (bias < 0x71000000) bias = 0x71000000;
  base = reinterpret<f32>((bias >> 1) + 0x07800000) + base;
  const bits = reinterpret<u32>(base);
  const nonsign = ((bits >> 13) & 0x7c00) + (bits & 0x0fff);
  return (sign >> 16) | (shl1 > 0xff000000 ? 0x7e00 : nonsign);
}

/** ggmlF16 of four floats (each lane the same operations), in the low half of each lane. */
@inline function ggmlF16x4(f: v128): v128 {
  const base0 = f32x4.mul(f32x4.mul(f32x4.abs(f), f32x4.splat(reinterpret<f32>(0x77800000))), f32x4.splat(reinterpret<f32>(0x08800000)));
  const shl1 = i32x4.add(f, f);
  const sign = v128.and(f, i32x4.splat(0x80000000));
  const bias = i32x4.max_u(v128.and(shl1, i32x4.splat(0xff000000)), i32x4.splat(0x71000000));
  const bits = f32x4.add(i32x4.add(i32x4.shr_u(bias, 1), i32x4.splat(0x07800000)), base0);
  const nonsign = i32x4.add(v128.and(i32x4.shr_u(bits, 13), i32x4.splat(0x7c00)), v128.and(bits, i32x4.splat(0x0fff)));
  const nan = i32x4.gt_u(shl1, i32x4.splat(0xff000000));
  return v128.or(i32x4.shr_u(sign, 16), v128.bitselect(i32x4.splat(0x7e00), nonsign, nan));
}

/** ggml_compute_fp32_to_bf16: round to nearest even; a NaN keeps its top bits, made quiet. */
@inline function ggmlBf16(u: u32): u32 {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >> 16) | 64) & 0xffff;
  return ((u + (0x7fff + ((u >> 16) & 1))) >> 16) & 0xffff;
}

@inline function ggmlBf16x4(u: v128): v128 {
  const nan = i32x4.gt_u(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const quiet = v128.or(i32x4.shr_u(u, 16), i32x4.splat(64));
  const rounded = i32x4.shr_u(i32x4.add(u, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(u, 16), i32x4.splat(1)))), 16);
  return v128.and(v128.bitselect(quiet, rounded, nan), i32x4.splat(0xffff));
}

/** The low halves of the lanes of a and b: eight u16. */
@inline function low16(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
}

/** C's (int) of a float as x86 does it (cvttss2si): truncation toward zero, INT_MIN for NaN and out of range. */
@inline function cvtt(f: f32): i32 {
  return abs<f32>(f) < <f32>2147483648 ? <i32>f : INT_MIN;
}

@inline function cvtt4(f: v128): v128 {
  const t = i32x4.trunc_sat_f32x4_s(f);
  // trunc_sat gives INT_MAX above the range (no float truncates to INT_MAX) and 0 for NaN; x86 gives INT_MIN
  const bad = v128.or(i32x4.eq(t, i32x4.splat(0x7fffffff)), f32x4.ne(f, f));
  return v128.bitselect(i32x4.splat(INT_MIN), t, bad);
}

/** (int8_t) of an int: its low byte, sign-extended. */
@inline function int8x4(v: v128): v128 {
  return i32x4.shr_s(i32x4.shl(v, 24), 24);
}

/** C's roundf (halves away from zero) of four floats; NaN and ±Inf pass through. */
@inline function roundf4(v: v128): v128 {
  const t = f32x4.trunc(v);
  const half = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(f32x4.splat(1), v128.and(v, i32x4.splat(0x80000000)));
  return f32x4.add(t, v128.and(one, half));
}

@inline function roundf(v: f32): f32 {
  const t = trunc<f32>(v);
  return abs<f32>(v - t) >= <f32>0.5 ? t + copysign<f32>(1, v) : t;
}

// ------------------------------------------------------------------------------------------------ block maxima

/** a > b ? a : b, for operands that are not NaN (a select: f32.max also orders -0 and +0, at a cost) */
@inline function maxOf(a: f32, b: f32): f32 {
  return a > b ? a : b;
}
@inline function minOf(a: f32, b: f32): f32 {
  return a < b ? a : b;
}

/** max over lanes of a vector holding no NaN (of +0 and -0, either) */
@inline function hmax(a: v128): f32 {
  return maxOf(maxOf(f32x4.extract_lane(a, 0), f32x4.extract_lane(a, 1)), maxOf(f32x4.extract_lane(a, 2), f32x4.extract_lane(a, 3)));
}

/** min over lanes of a vector holding no NaN (of +0 and -0, either) */
@inline function hmin(a: v128): f32 {
  return minOf(minOf(f32x4.extract_lane(a, 0), f32x4.extract_lane(a, 1)), minOf(f32x4.extract_lane(a, 2), f32x4.extract_lane(a, 3)));
}

/** `if (amax < fabsf(v)) amax = fabsf(v)` over n weights (a multiple of 4) from 0: NaN never taken. */
@inline function absMax(x: usize, n: i32): f32 {
  let a = f32x4.splat(0);
  for (let j = 0; j < n; j += 4) a = f32x4.pmax(a, f32x4.abs(ld4(x, j)));
  return hmax(a);
}

/**
 * `amax = MAX(amax, fabsf(v))` over n weights from 0, in order: a NaN makes amax NaN and the next weight replaces
 * it, so the result depends on where NaNs are (then it is folded one weight at a time).
 */
function foldMaxAbs(x: usize, n: i32): f32 {
  let a = f32x4.splat(0);
  let nan = i32x4.splat(0);
  for (let j = 0; j < n; j += 4) {
    const v = f32x4.abs(ld4(x, j));
    nan = v128.or(nan, f32x4.ne(v, v));
    a = f32x4.pmax(a, v);
  }
  if (!v128.any_true(nan)) return hmax(a);
  let amax: f32 = 0;
  for (let j = 0; j < n; j++) {
    const v = abs<f32>(ldf(x, j));
    amax = amax > v ? amax : v;
  }
  return amax;
}

/** The first of the 32 weights at x whose magnitude is amax (the weight ggml's symmetric quantizers keep as max). */
@inline function firstOfMagnitude(x: usize, amax: f32): f32 {
  const t = f32x4.splat(amax);
  for (let j = 0; j < 32; j += 4) {
    const m = i32x4.bitmask(f32x4.eq(f32x4.abs(ld4(x, j)), t));
    if (m != 0) return ldf(x, j + <i32>ctz(m));
  }
  return 0;
}

/** The first of the 32 weights at x equal to 0 (+0 or -0). */
@inline function firstZero(x: usize): f32 {
  for (let j = 0; j < 32; j++) if (ldf(x, j) == 0) return ldf(x, j);
  return 0;
}

// ------------------------------------------------------------------------------------------------ F16 / BF16

/** ggml_fp32_to_fp16_row (bf16: ggml_fp32_to_bf16_row_ref) of n weights from x to y. */
function floatRow(bf16: bool, x: usize, n: i32, y: usize): void {
  let i = 0;
  if (bf16) {
    for (; i + 8 <= n; i += 8) v128.store(y + (<usize>i << 1), low16(ggmlBf16x4(ld4(x, i)), ggmlBf16x4(ld4(x, i + 4))));
    for (; i < n; i++) store<u16>(y + (<usize>i << 1), <u16>ggmlBf16(load<u32>(x + (<usize>i << 2))));
  } else {
    for (; i + 8 <= n; i += 8) v128.store(y + (<usize>i << 1), low16(ggmlF16x4(ld4(x, i)), ggmlF16x4(ld4(x, i + 4))));
    for (; i < n; i++) store<u16>(y + (<usize>i << 1), <u16>ggmlF16(ldf(x, i)));
  }
}

// ------------------------------------------------------------------------------------------------ Q4_0 .. Q5_1

/** The codes of a block of 32 as ggml packs them: low nibbles of j and j + 16 in qs[j], bit 4 of each in qh. */
@inline function packNibbles(lo: v128, hi: v128, qs: usize): void {
  v128.store(qs, v128.or(v128.and(lo, i8x16.splat(0x0f)), i8x16.shl(hi, 4)));
}
@inline function highBits(lo: v128, hi: v128): u32 {
  return <u32>i8x16.bitmask(i8x16.shl(lo, 3)) | (<u32>i8x16.bitmask(i8x16.shl(hi, 3)) << 16);
}

/** MIN(top, (int8_t)(x·id + offset)) of the four weights at x + 4j. */
@inline function symmetricCodes(x: usize, j: i32, iv: v128, offset: v128, top: v128): v128 {
  return i32x4.min_s(top, int8x4(cvtt4(f32x4.add(f32x4.mul(ld4(x, j), iv), offset))));
}

/**
 * (int)((x - min)·id + offset) of the 16 weights at x + 4j as bytes, where every value is known to be below 128 and
 * above -129 (or NaN, which truncates to 0 as x86's INT_MIN does to its low byte): there the conversion of x86 is
 * trunc_sat's and (int8_t) keeps the value. The 16 results in order, one per byte (signed narrowing: exact).
 */
@inline function smallCodes16(withMin: bool, x: usize, j: i32, mv: v128, iv: v128, offset: v128): v128 {
  let a = ld4(x, j);
  let b = ld4(x, j + 4);
  let c = ld4(x, j + 8);
  let e = ld4(x, j + 12);
  if (withMin) {
    a = f32x4.sub(a, mv);
    b = f32x4.sub(b, mv);
    c = f32x4.sub(c, mv);
    e = f32x4.sub(e, mv);
  }
  const ia = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(a, iv), offset));
  const ib = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(b, iv), offset));
  const ic = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(c, iv), offset));
  const ie = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(e, iv), offset));
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(ia, ib), i16x8.narrow_i32x4_s(ic, ie));
}

/**
 * The block's f16 scale d at y; its inverse (0 for d = 0), the prologue of ggml's simple quantizers
 * (`const float id = d ? 1.0f/d : 0.0f; y[i].d = GGML_FP32_TO_FP16(d);`).
 */
@inline function storeScale(y: usize, d: f32): f32 {
  store<u16>(y, <u16>ggmlF16(d));
  return d != 0 ? <f32>1 / d : 0;
}

/** The 32 codes of a Q4_0 .. Q5_1 block, the first 16 in lo, the last 16 in hi (one per byte). */
let codesLo = i32x4.splat(0);
let codesHi = i32x4.splat(0);

/** Packs codesLo / codesHi into the block's qs (Q4: both nibbles; Q5: low nibbles, bit 4 of each in qh). */
@inline function packBlock(bits: i32, qs: usize, qh: usize): void {
  if (bits == 4) {
    // y.qs[j] = xi0 | xi1 << 4, all eight bits of each
    v128.store(qs, v128.or(codesLo, i8x16.shl(codesHi, 4)));
  } else {
    packNibbles(codesLo, codesHi, qs);
    store<u32>(qh, highBits(codesLo, codesHi));
  }
}

/**
 * nb blocks of Q4_0 (bits 4) or Q5_0 (bits 5): quantize_row_q4_0_ref / q5_0_ref. d = max / -2^(bits-1), with max
 * the first weight of largest magnitude; code = MIN(2^bits - 1, (int8_t)(x·id + 2^(bits-1) + 0.5)). Every
 * x·id + offset of a block lies within ±amax·|id| of the offset (rounding is monotonic): when that bound is below
 * 128, the codes are trunc_sat's (smallCodes16), else each conversion is x86's (cvtt4, int8x4).
 */
function quantizeSymmetric(bits: i32, x0: usize, nb: i32, y0: usize): void {
  const bytes: usize = bits == 4 ? T.Q4_0_BYTES : T.Q5_0_BYTES;
  const qsAt: usize = bits == 4 ? T.Q4_0_QS : T.Q5_0_QS;
  const half: f32 = bits == 4 ? 8 : 16;
  const offset = f32x4.splat(half + <f32>0.5);
  const top = i32x4.splat(bits == 4 ? 15 : 31);
  const zero = f32x4.splat(0);
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 7);
    const y = y0 + <usize>i * bytes;
    const amax = absMax(x, 32);
    const max: f32 = amax == 0 ? 0 : firstOfMagnitude(x, amax);
    const id = storeScale(y, max / -half);
    const iv = f32x4.splat(id);
    if (amax * abs<f32>(id) + (half + <f32>0.5) < <f32>128) {
      const top8 = i8x16.splat(bits == 4 ? 15 : 31);
      codesLo = i8x16.min_s(top8, smallCodes16(false, x, 0, zero, iv, offset));
      codesHi = i8x16.min_s(top8, smallCodes16(false, x, 16, zero, iv, offset));
    } else {
      codesLo = low8(symmetricCodes(x, 0, iv, offset, top), symmetricCodes(x, 4, iv, offset, top), symmetricCodes(x, 8, iv, offset, top), symmetricCodes(x, 12, iv, offset, top));
      codesHi = low8(symmetricCodes(x, 16, iv, offset, top), symmetricCodes(x, 20, iv, offset, top), symmetricCodes(x, 24, iv, offset, top), symmetricCodes(x, 28, iv, offset, top));
    }
    packBlock(bits, y + qsAt, y + T.Q5_0_QH);
  }
}

/** (int)((x - min)·id + 0.5) of the four weights at x + 4j; Q4_1 then takes MIN(15, (int8_t)·), Q5_1 (uint8_t)·. */
@inline function asymmetricCodes(x: usize, j: i32, mv: v128, iv: v128, clamp15: bool): v128 {
  const t = cvtt4(f32x4.add(f32x4.mul(f32x4.sub(ld4(x, j), mv), iv), f32x4.splat(0.5)));
  return clamp15 ? i32x4.min_s(i32x4.splat(15), int8x4(t)) : t;
}

/**
 * nb blocks of Q4_1 (bits 4) or Q5_1 (bits 5): quantize_row_q4_1_ref / q5_1_ref. min and max start at ±FLT_MAX and
 * take a weight only when it is strictly below / above them (NaN never; of +0 and -0 the first one). Every
 * (x - min)·id + 0.5 of a block lies in [0.5, (max - min)·id + 0.5] (rounding is monotonic): when that is below 128,
 * the codes are trunc_sat's (smallCodes16), else each conversion is x86's (cvtt4, int8x4).
 */
function quantizeAsymmetric(bits: i32, x0: usize, nb: i32, y0: usize): void {
  const bytes: usize = bits == 4 ? T.Q4_1_BYTES : T.Q5_1_BYTES;
  const qsAt: usize = bits == 4 ? T.Q4_1_QS : T.Q5_1_QS;
  const levels: f32 = bits == 4 ? 15 : 31;
  const q4 = bits == 4;
  const half = f32x4.splat(0.5);
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 7);
    const y = y0 + <usize>i * bytes;
    let mn = f32x4.splat(FLT_MAX);
    let mx = f32x4.splat(-FLT_MAX);
    for (let j = 0; j < 32; j += 4) {
      const v = ld4(x, j);
      mn = f32x4.pmin(mn, v);
      mx = f32x4.pmax(mx, v);
    }
    let lo = hmin(mn);
    let hi = hmax(mx);
    if (lo == 0) lo = firstZero(x);
    if (hi == 0) hi = firstZero(x);
    const id = storeScale(y, (hi - lo) / levels);
    store<u16>(y + 2, <u16>ggmlF16(lo));
    const mv = f32x4.splat(lo);
    const iv = f32x4.splat(id);
    if ((hi - lo) * id + <f32>0.5 < <f32>128) {
      codesLo = smallCodes16(true, x, 0, mv, iv, half);
      codesHi = smallCodes16(true, x, 16, mv, iv, half);
      if (q4) {
        codesLo = i8x16.min_s(codesLo, i8x16.splat(15));
        codesHi = i8x16.min_s(codesHi, i8x16.splat(15));
      }
    } else {
      codesLo = low8(asymmetricCodes(x, 0, mv, iv, q4), asymmetricCodes(x, 4, mv, iv, q4), asymmetricCodes(x, 8, mv, iv, q4), asymmetricCodes(x, 12, mv, iv, q4));
      codesHi = low8(asymmetricCodes(x, 16, mv, iv, q4), asymmetricCodes(x, 20, mv, iv, q4), asymmetricCodes(x, 24, mv, iv, q4), asymmetricCodes(x, 28, mv, iv, q4));
    }
    packBlock(bits, y + qsAt, y + T.Q5_1_QH);
  }
}

/**
 * quantize_row_q4_0_impl ... q5_1_impl: with an importance matrix, row by row. sigma2 is the row's mean square
 * (summed in order); per block of 32 the weights qw·sqrt(sigma2 + x²), then make_qx_quants (Q4_0, Q5_0) or
 * make_qkx3_quants with a min (Q4_1, Q5_1), whose codes are packed as the _ref quantizers pack theirs.
 */
function quantizeLegacyImatrix(type: i32, x0: usize, nb: i32, nPerRow: i32, qw: usize, y0: usize): void {
  const bits = type == T.TYPE_Q4_0 || type == T.TYPE_Q4_1 ? 4 : 5;
  const withMin = type == T.TYPE_Q4_1 || type == T.TYPE_Q5_1;
  const bytes: usize = <usize>(bits == 4 ? (withMin ? T.Q4_1_BYTES : T.Q4_0_BYTES) : withMin ? T.Q5_1_BYTES : T.Q5_0_BYTES);
  const perRow = nPerRow >> 5;
  for (let b = 0; b < nb; b += perRow) {
    const row = x0 + (<usize>b << 7);
    let sumX2: f32 = 0;
    for (let j = 0; j < nPerRow; j++) {
      const v = ldf(row, j);
      sumX2 += v * v;
    }
    const sigma2: f32 = sumX2 / <f32>nPerRow;
    for (let ib = 0; ib < perRow; ib++) {
      const x = row + (<usize>ib << 7);
      const y = y0 + <usize>(b + ib) * bytes;
      imatrixWeights(x, qw + (<usize>ib << 7), sigma2, 32, W32);
      let codes: usize; // where the qh and qs fields start
      if (withMin) {
        const d = makeQkx(32, bits == 4 ? 15 : 31, x, W32, L32, <f32>-0.9, <f32>0.05, 36, false, true);
        store<u16>(y, <u16>ggmlF16(d));
        store<u16>(y + 2, <u16>ggmlF16(-lastMin()));
        codes = y + 4;
      } else {
        store<u16>(y, <u16>ggmlF16(makeQx(32, bits == 4 ? 8 : 16, x, L32, W32)));
        codes = y + 2;
      }
      const lo = v128.load(L32);
      const hi = v128.load(L32 + 16);
      if (bits == 4) {
        v128.store(codes, v128.or(lo, i8x16.shl(hi, 4)));
      } else {
        store<u32>(codes, highBits(lo, hi));
        packNibbles(lo, hi, codes + 4);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ Q8_0

/** (int8_t)roundf(x·id) of the four weights at x + 4j (as ggml's int8 store of a float: the low byte of (int)). */
@inline function q8Codes(x: usize, j: i32, iv: v128): v128 {
  return cvtt4(roundf4(f32x4.mul(ld4(x, j), iv)));
}

/** nb blocks of Q8_0: quantize_row_q8_0_ref. d = amax / 127 (amax = MAX(amax, fabsf(v)) in order). */
function quantizeQ8_0(x0: usize, nb: i32, y0: usize): void {
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 7);
    const y = y0 + <usize>i * T.Q8_0_BYTES;
    const iv = f32x4.splat(storeScale(y, foldMaxAbs(x, 32) / <f32>127));
    v128.store(y + T.Q8_0_QS, low8(q8Codes(x, 0, iv), q8Codes(x, 4, iv), q8Codes(x, 8, iv), q8Codes(x, 12, iv)));
    v128.store(y + T.Q8_0_QS + 16, low8(q8Codes(x, 16, iv), q8Codes(x, 20, iv), q8Codes(x, 24, iv), q8Codes(x, 28, iv)));
  }
}

// ------------------------------------------------------------------------------------------------ TQ1_0 / TQ2_0

/** ceil(q · 256 / 243) for every byte q (TQ1_0's packing of five trits into a byte). */
const TRIT_BYTE: usize = memory.data(256, 16);
let tritReady = false;

/**
 * The 256 codes lroundf(x·id) + 1 of a ternary super-block at x into CODES (their low byte: C keeps the int's low
 * bits). lroundf of NaN or of a value out of long's range is LONG_MIN on x86, so those codes are 1.
 */
function ternaryCodes(x: usize, id: f32): void {
  const iv = f32x4.splat(id);
  let wide = i32x4.splat(0);
  for (let j = 0; j < 256; j += 16) {
    const r0 = roundf4(f32x4.mul(ld4(x, j), iv));
    const r1 = roundf4(f32x4.mul(ld4(x, j + 4), iv));
    const r2 = roundf4(f32x4.mul(ld4(x, j + 8), iv));
    const r3 = roundf4(f32x4.mul(ld4(x, j + 12), iv));
    const big = f32x4.splat(2147483648);
    // finite values beyond int's range keep the low bits of a long: done one weight at a time below
    wide = v128.or(wide, v128.or(v128.or(f32x4.ge(f32x4.abs(r0), big), f32x4.ge(f32x4.abs(r1), big)), v128.or(f32x4.ge(f32x4.abs(r2), big), f32x4.ge(f32x4.abs(r3), big))));
    const one = i32x4.splat(1);
    v128.store(CODES + <usize>j, low8(i32x4.add(cvtt4(r0), one), i32x4.add(cvtt4(r1), one), i32x4.add(cvtt4(r2), one), i32x4.add(cvtt4(r3), one)));
  }
  if (!v128.any_true(wide)) return;
  for (let j = 0; j < 256; j++) {
    const r = roundf(ldf(x, j) * id);
    const l: i64 = abs<f32>(r) < reinterpret<f32>(0x5f000000) ? <i64>r : <i64>0x8000000000000000; // 2^63: long's range
    store<u8>(CODES + <usize>j, <u8>(l + 1));
  }
}

/** nb blocks of TQ1_0 (tq1: true) or TQ2_0: quantize_row_tq1_0_ref / tq2_0_ref. d = amax (MAX fold, in order). */
function quantizeTernary(tq1: bool, x0: usize, nb: i32, y0: usize): void {
  if (tq1 && !tritReady) {
    for (let q = 0; q < 256; q++) store<u8>(TRIT_BYTE + <usize>q, <u8>((q * 256 + 242) / 243));
    tritReady = true;
  }
  const bytes: usize = tq1 ? T.TQ1_0_BYTES : T.TQ2_0_BYTES;
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 10);
    const y = y0 + <usize>i * bytes;
    const d = foldMaxAbs(x, 256);
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    ternaryCodes(x, id);
    const C = CODES;
    if (tq1) {
      store<u16>(y + T.TQ1_0_D, <u16>ggmlF16(d));
      // 5 codes per byte: 160 weights in qs[0..32), 80 in qs[32..48), then 16 weights 4 per byte in qh
      for (let m = 0; m < 32; m++) {
        let q: u32 = 0;
        for (let n = 0; n < 5; n++) q = (q * 3 + <u32>load<u8>(C + <usize>(m + n * 32))) & 0xff;
        store<u8>(y + T.TQ1_0_QS + <usize>m, load<u8>(TRIT_BYTE + <usize>q));
      }
      for (let m = 0; m < 16; m++) {
        let q: u32 = 0;
        for (let n = 0; n < 5; n++) q = (q * 3 + <u32>load<u8>(C + <usize>(160 + m + n * 16))) & 0xff;
        store<u8>(y + T.TQ1_0_QS + 32 + <usize>m, load<u8>(TRIT_BYTE + <usize>q));
      }
      for (let j = 0; j < 4; j++) {
        let q: u32 = 0;
        for (let m = 0; m < 4; m++) q = (q * 3 + <u32>load<u8>(C + <usize>(240 + j + m * 4))) & 0xff;
        store<u8>(y + T.TQ1_0_QH + <usize>j, load<u8>(TRIT_BYTE + <usize>((q * 3) & 0xff)));
      }
    } else {
      store<u16>(y + T.TQ2_0_D, <u16>ggmlF16(d));
      const three = i8x16.splat(3);
      for (let j = 0; j < 64; j += 32) {
        for (let m = 0; m < 32; m += 16) {
          const base = C + <usize>(4 * j + m);
          const a = v128.and(v128.load(base), three);
          const b = i8x16.shl(v128.and(v128.load(base + 32), three), 2);
          const c = i8x16.shl(v128.and(v128.load(base + 64), three), 4);
          const e = i8x16.shl(v128.and(v128.load(base + 96), three), 6);
          v128.store(y + T.TQ2_0_QS + <usize>(j + m), v128.or(v128.or(a, b), v128.or(c, e)));
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ MXFP4 / NVFP4

/**
 * best_index_mxfp4(x, e) of four weights: the first of kvalues_mxfp4 · e (0, 1, 2, 3, 4, 6, 8, 12, then 0 and the
 * negatives) nearest to x. The error of level -k at x < 0 is exactly that of level k at |x|, and a negative level
 * never beats level 0 at x > 0 (nor a positive one at x < 0), so the eight levels are searched at |x| and the index
 * moved to the negative half for x < 0. NaN stays at index 0.
 */
@inline function bestFp4(x: v128, e: f32): v128 {
  const ax = f32x4.abs(x);
  let best = i32x4.splat(0);
  let bestErr = ax;
  const e4 = f32x4.splat(e);
  let err = f32x4.abs(f32x4.sub(e4, ax));
  let lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(1), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(2), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(2), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(3), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(3), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(4), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(4), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(6), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(5), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(8), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(6), best, lt);
  bestErr = v128.bitselect(err, bestErr, lt);
  err = f32x4.abs(f32x4.sub(f32x4.mul(f32x4.splat(12), e4), ax));
  lt = f32x4.lt(err, bestErr);
  best = v128.bitselect(i32x4.splat(7), best, lt);
  const negative = v128.and(f32x4.lt(x, f32x4.splat(0)), i32x4.ne(best, i32x4.splat(0)));
  return v128.or(best, v128.and(negative, i32x4.splat(8)));
}

/** ggml_e8m0_to_fp32_half: 2^(e - 128) (the two smallest codes as float32 subnormals). */
@inline function e8m0Half(e: i32): f32 {
  return e < 2 ? reinterpret<f32>(<u32>0x00200000 << e) : reinterpret<f32>(<u32>(e - 1) << 23);
}

/**
 * The E8M0 byte (uint8_t)(floorf(log2f(amax)) - 2 + 127) of amax > 0 (not NaN). floorf(log2f(a)) is a's binary
 * exponent, except where log2f rounds up to the next integer (significands just below 2) and for subnormals: there
 * the float logarithm is taken (the binary64 one rounded to binary32).
 */
function e8m0Of(amax: f32): i32 {
  const bits = reinterpret<u32>(amax);
  const exp = <i32>(bits >> 23);
  if (exp == 255) return 0; // +Inf: (uint8_t)(Inf) is x86's INT_MIN, low byte 0
  let fl: f32;
  if (exp == 0 || (bits & 0x7fffff) >= 0x7f0000) fl = floor<f32>(<f32>Math.log2(<f64>amax));
  else fl = <f32>(exp - 127);
  return cvtt(fl - <f32>2 + <f32>127) & 0xff;
}

/** nb blocks of MXFP4: quantize_row_mxfp4_ref. */
function quantizeMxfp4(x0: usize, nb: i32, y0: usize): void {
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 7);
    const y = y0 + <usize>i * T.MXFP4_BYTES;
    const amax = absMax(x, 32);
    const e = amax > 0 ? e8m0Of(amax) : 0;
    const d = e8m0Half(e);
    store<u8>(y + T.MXFP4_E, <u8>e);
    const lo = low8(bestFp4(ld4(x, 0), d), bestFp4(ld4(x, 4), d), bestFp4(ld4(x, 8), d), bestFp4(ld4(x, 12), d));
    const hi = low8(bestFp4(ld4(x, 16), d), bestFp4(ld4(x, 20), d), bestFp4(ld4(x, 24), d), bestFp4(ld4(x, 28), d));
    v128.store(y + T.MXFP4_QS, v128.or(lo, i8x16.shl(hi, 4)));
  }
}

/** ggml_fp32_to_ue4m3: unsigned E4M3 (bias 7) of x, rounding half up on the mantissa, saturating at 0x7e. */
function ue4m3Of(x: f32): i32 {
  if (!(x > 0)) return 0;
  if (x > <f32>448) x = 448;
  const bits = reinterpret<u32>(x);
  const exp = <i32>((bits >> 23) & 0xff) - 127 + 7;
  if (exp <= 0) {
    const man = min<i32>(7, cvtt(x * <f32>512 + <f32>0.5));
    return man < 1 ? 0 : man;
  }
  if (exp >= 15) return 0x7e;
  let man = <i32>(((bits >> 20) & 7) + ((bits >> 19) & 1));
  let e = exp;
  if (man > 7) {
    man = 0;
    e++;
    if (e >= 15) return 0x7e;
  }
  return (e << 3) | man;
}

/** ggml_ue4m3_to_fp32 of a UE4M3 byte: its value times 0.5 (0 and 0x7f are 0). */
function ue4m3Half(u: i32): f32 {
  if (u == 0 || u == 0x7f) return 0;
  const exp = (u >> 3) & 0xf;
  const man = u & 7;
  const raw: f32 = exp == 0 ? <f32>man * <f32>0.001953125 : (<f32>1 + <f32>man / <f32>8) * reinterpret<f32>(<u32>(exp - 7 + 127) << 23);
  return raw * <f32>0.5;
}

/** nb blocks of NVFP4: quantize_row_nvfp4_ref (four sub-blocks of 16, each with a UE4M3 scale of amax / 6). */
function quantizeNvfp4(x0: usize, nb: i32, y0: usize): void {
  for (let i = 0; i < nb; i++) {
    const y = y0 + <usize>i * T.NVFP4_BYTES;
    for (let s = 0; s < 4; s++) {
      const x = x0 + (<usize>(i * 64 + s * 16) << 2);
      const ue = ue4m3Of(absMax(x, 16) / <f32>6);
      store<u8>(y + T.NVFP4_D + <usize>s, <u8>ue);
      const d = ue4m3Half(ue);
      // qs[8s + j] holds the codes of weights j and j + 8 of the sub-block (the upper eight bytes are not stored)
      const a = bestFp4(ld4(x, 0), d);
      const b = bestFp4(ld4(x, 4), d);
      const c = bestFp4(ld4(x, 8), d);
      const e = bestFp4(ld4(x, 12), d);
      v128.store64_lane(y + T.NVFP4_QS + <usize>(8 * s), v128.or(low8(a, b, a, b), i8x16.shl(low8(c, e, c, e), 4)), 0);
    }
  }
}

// ------------------------------------------------------------------------------------------------ Q1_0 / Q2_0

/** nb blocks of Q1_0: quantize_row_q1_0_ref. d = Σ|x| / 128 (in order); one bit per weight, set where x >= 0. */
function quantizeQ1_0(x0: usize, nb: i32, y0: usize): void {
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 9);
    const y = y0 + <usize>i * T.Q1_0_BYTES;
    let sumAbs: f32 = 0;
    for (let j = 0; j < 128; j++) sumAbs += abs<f32>(ldf(x, j));
    store<u16>(y + T.Q1_0_D, <u16>ggmlF16(sumAbs / <f32>128));
    const zero = f32x4.splat(0);
    for (let j = 0; j < 128; j += 8) {
      const bits = i32x4.bitmask(f32x4.ge(ld4(x, j), zero)) | (i32x4.bitmask(f32x4.ge(ld4(x, j + 4), zero)) << 4);
      store<u8>(y + T.Q1_0_QS + <usize>(j >> 3), <u8>bits);
    }
  }
}

/** nb blocks of Q2_0: quantize_row_q2_0_ref. d = amax (NaN never taken); code (int)roundf(x·id) + 1 clamped to 0..3. */
function quantizeQ2_0(x0: usize, nb: i32, y0: usize): void {
  const one = i32x4.splat(1);
  const three = i32x4.splat(3);
  const zero = i32x4.splat(0);
  // code j of a vector of four weights moves to bits 2j of its lane; the four lanes then add up to the byte
  const shifts = i32x4(1, 4, 16, 64);
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 8);
    const y = y0 + <usize>i * T.Q2_0_BYTES;
    const d = absMax(x, 64);
    const id: f32 = d > 0 ? <f32>1 / d : 0;
    store<u16>(y + T.Q2_0_D, <u16>ggmlF16(d));
    const iv = f32x4.splat(id);
    for (let j = 0; j < 64; j += 4) {
      const q = i32x4.max_s(zero, i32x4.min_s(three, i32x4.add(cvtt4(roundf4(f32x4.mul(ld4(x, j), iv))), one)));
      const m = i32x4.mul(q, shifts);
      store<u8>(y + T.Q2_0_QS + <usize>(j >> 2), <u8>(i32x4.extract_lane(m, 0) | i32x4.extract_lane(m, 1) | i32x4.extract_lane(m, 2) | i32x4.extract_lane(m, 3)));
    }
  }
}

// ------------------------------------------------------------------------------------------------ entry

/**
 * ggml_quantize_chunk of one of the simple types (false for another type): nb blocks from x to y. The importance
 * matrix at qw (0 for none) changes Q4_0, Q4_1, Q5_0 and Q5_1 only (ggml ignores it for the others); with it
 * quantization goes row by row (nPerRow weights).
 */
export function quantizeSimple(type: i32, x: usize, nb: i32, nPerRow: i32, qw: usize, y: usize): bool {
  switch (type) {
    case T.TYPE_F16: floatRow(false, x, nb, y); break;
    case T.TYPE_BF16: floatRow(true, x, nb, y); break;
    case T.TYPE_Q4_0: if (qw) quantizeLegacyImatrix(type, x, nb, nPerRow, qw, y); else quantizeSymmetric(4, x, nb, y); break;
    case T.TYPE_Q5_0: if (qw) quantizeLegacyImatrix(type, x, nb, nPerRow, qw, y); else quantizeSymmetric(5, x, nb, y); break;
    case T.TYPE_Q4_1: if (qw) quantizeLegacyImatrix(type, x, nb, nPerRow, qw, y); else quantizeAsymmetric(4, x, nb, y); break;
    case T.TYPE_Q5_1: if (qw) quantizeLegacyImatrix(type, x, nb, nPerRow, qw, y); else quantizeAsymmetric(5, x, nb, y); break;
    case T.TYPE_Q8_0: quantizeQ8_0(x, nb, y); break;
    case T.TYPE_TQ1_0: quantizeTernary(true, x, nb, y); break;
    case T.TYPE_TQ2_0: quantizeTernary(false, x, nb, y); break;
    case T.TYPE_MXFP4: quantizeMxfp4(x, nb, y); break;
    case T.TYPE_NVFP4: quantizeNvfp4(x, nb, y); break;
    case T.TYPE_Q1_0: quantizeQ1_0(x, nb, y); break;
    case T.TYPE_Q2_0: quantizeQ2_0(x, nb, y); break;
    default: return false;
  }
  return true;
}
