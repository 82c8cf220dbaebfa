// AssemblyScript: the value patterns of quantized codes four lanes at a time, shared by the group counters of
// quantized checkpoints (nibbleGroups.ts, fieldGroups.ts, valueCodes.ts). Lane-wise forms of the scalar arithmetic
// (common/half.ts's f32ToF16 and halfToFloat, codeTables.ts's bf16 and unrounded): the same IEEE operations, so the
// same bits.
import { codeValueFactor, codeValueTable, F16, HQQ_ZERO, MLX_BIAS, SCALED_CODE, ZERO_POINT } from '../codeTables';

/** float32 lanes -> binary16 bits: round to nearest even, subnormals by the FPU's rounding of x + 0.5, NaN quiet. */
@inline
function f16Bits4(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(<i32>0x80000000));
  const a = v128.xor(x, sign);
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  // rebias the exponent (−112 << 23) and round the 13 dropped bits to even (a carry may reach Infinity, as it should)
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(<i32>0xc8000fff)), odd), 13);
  const subnormal = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  const nan = i32x4.gt_s(a, i32x4.splat(0x7f800000));
  const special = v128.or(i32x4.splat(0x7c00), v128.and(nan, v128.or(i32x4.splat(0x200), i32x4.shr_u(v128.and(a, i32x4.splat(0x7fffff)), 13))));
  let o = v128.bitselect(subnormal, normal, i32x4.lt_s(a, i32x4.splat(113 << 23)));
  o = v128.bitselect(special, o, i32x4.ge_s(a, i32x4.splat(143 << 23)));
  return v128.or(o, i32x4.shr_u(sign, 16));
}

/** float32 lanes -> bfloat16 bits (round to nearest even; NaN quiet). */
@inline
function bf16Bits4(x: v128): v128 {
  const rounded = i32x4.shr_u(i32x4.add(x, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1)))), 16);
  const nan = i32x4.gt_u(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(i32x4.shr_u(v128.or(x, i32x4.splat(0x400000)), 16), rounded, nan);
}

/** float32 lanes -> their 16-bit patterns in the output dtype (F16 or BF16), as i32 lanes. */
@inline
export function patterns4(x: v128, dtype: i32): v128 {
  return dtype == F16 ? f16Bits4(x) : bf16Bits4(x);
}

/**
 * patterns4 for plain lanes, where no NaN can arise and, for F16, every lane is zero or in binary16's normal range
 * (2^-14 <= |x| <= 65504): f16Bits4 without its subnormal and special cases, bf16Bits4 without its NaN case; the
 * same bits on such lanes.
 */
@inline
export function plainPatterns4(x: v128, dtype: i32): v128 {
  if (dtype != F16)
    return i32x4.shr_u(i32x4.add(x, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1)))), 16);
  const sign = v128.and(x, i32x4.splat(<i32>0x80000000));
  const a = v128.xor(x, sign);
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(<i32>0xc8000fff)), odd), 13);
  return v128.or(v128.andnot(normal, i32x4.eq(a, i32x4.splat(0))), i32x4.shr_u(sign, 16));
}

/** binary16 bits -> float32 lanes (exact; NaN quiet). */
@inline
function halfValues4(h: v128): v128 {
  const e = v128.and(h, i32x4.splat(0x7c00));
  const m = v128.and(h, i32x4.splat(0x3ff));
  const normal = i32x4.add(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), i32x4.splat(112 << 23));
  const subnormal = f32x4.mul(f32x4.convert_i32x4_u(m), f32x4.splat(5.9604644775390625e-8));
  const special = v128.or(v128.or(i32x4.splat(0x7f800000), i32x4.shl(m, 13)), v128.andnot(i32x4.splat(0x400000), i32x4.eq(m, i32x4.splat(0))));
  let o = v128.bitselect(subnormal, normal, i32x4.eq(e, i32x4.splat(0)));
  o = v128.bitselect(special, o, i32x4.eq(e, i32x4.splat(0x7c00)));
  return v128.or(o, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** Two f64x2 lanes pairs, rounded to float32, as one f32x4. */
@inline
function demote4(a: v128, b: v128): v128 {
  return v128.shuffle<i32>(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5);
}

/** float32 lanes rounded to the output dtype, as float32 values (codeTables.ts's roundTo). */
@inline
export function roundedValues4(x: v128, dtype: i32): v128 {
  const p = patterns4(x, dtype);
  return dtype == F16 ? halfValues4(p) : i32x4.shl(p, 16);
}

/** roundedValues4 of plain lanes (plainPatterns4). */
@inline
export function plainRoundedValues4(x: v128, dtype: i32): v128 {
  const p = plainPatterns4(x, dtype);
  return dtype == F16 ? halfValues4(p) : i32x4.shl(p, 16);
}

/** The f64x2 lanes (0, 1) and (2, 3) of i32 lanes. */
@inline
export function lowPair(q: v128): v128 {
  return f64x2.convert_low_i32x4_s(q);
}
@inline
export function highPair(q: v128): v128 {
  return f64x2.convert_low_i32x4_s(v128.shuffle<i32>(q, q, 2, 3, 0, 1));
}

/**
 * The values of four codes before their last rounding, as codeTables.ts's unrounded: qa and qb hold the codes of
 * lanes (0, 1) and (2, 3) as f64x2, sa / sb and za / zb their scales and zeros (or biases). 'scaled-code' reads
 * the code table at q .. q + 3 instead (codes q .. q + 3 in lane order; the caller's qa, qb are unused).
 */
@inline
export function unrounded4(q: i32, qa: v128, qb: v128, sa: v128, sb: v128, za: v128, zb: v128, formula: i32, dtype: i32): v128 {
  if (formula == SCALED_CODE) {
    const at = codeValueTable() + (<usize>q << 3);
    const a = demote4(f64x2.mul(v128.load(at), sa), f64x2.mul(v128.load(at, 16), sb));
    const factor = codeValueFactor();
    if (factor == 1) return a;
    const F = f64x2.splat(factor);
    return demote4(f64x2.mul(f64x2.promote_low_f32x4(a), F), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), F));
  }
  if (formula == MLX_BIAS) {
    const a = roundedValues4(demote4(f64x2.mul(qa, sa), f64x2.mul(qb, sb)), dtype);
    return demote4(f64x2.add(f64x2.promote_low_f32x4(a), za), f64x2.add(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), zb));
  }
  if (formula == HQQ_ZERO) {
    const a = roundedValues4(demote4(f64x2.sub(qa, za), f64x2.sub(qb, zb)), dtype);
    return demote4(f64x2.mul(f64x2.promote_low_f32x4(a), sa), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), sb));
  }
  return demote4(f64x2.mul(sa, f64x2.sub(qa, za)), f64x2.mul(sb, f64x2.sub(qb, zb)));
}

/**
 * Whether a group's arithmetic may run in float32 lanes with the same bits: a float64 product or sum of two float32
 * values rounded to float32 is the float32 operation's result (float64 has more than 2 · 24 + 2 bits), so when the
 * scale and the zero (or bias) are float32 values, and the zero an integer the codes' differences keep exact.
 */
@inline
export function float32Exact(s: f64, z: f64, formula: i32): bool {
  if (<f64><f32>s != s || <f64><f32>z != z) return false;
  return formula == MLX_BIAS || (formula == ZERO_POINT && Math.floor(z) == z && Math.abs(z) <= 65536);
}

/**
 * The float32 values of codes x (float32 lanes) of a float32Exact group, its scale S and zero (or bias) Z as f32x4:
 * codeTables.ts's unrounded in float32 lanes, the same bits (plain: plainRoundedValues4 for MLX's rounded product).
 */
@inline
export function float32Values4(x: v128, S: v128, Z: v128, formula: i32, dtype: i32, plain: bool): v128 {
  if (formula != MLX_BIAS) return f32x4.mul(S, f32x4.sub(x, Z));
  const product = f32x4.mul(x, S);
  return f32x4.add(plain ? plainRoundedValues4(product, dtype) : roundedValues4(product, dtype), Z);
}

/** The 16-bit patterns of codes q .. q + 3 through one scale s and zero (or bias) z. */
@inline
export function codePatterns4(q: i32, s: f64, z: f64, formula: i32, dtype: i32): v128 {
  // MLX's bias in float32 lanes where that gives the same bits (fewer operations than its float64 pairs with their
  // rounding between; the zero-point formula is as fast in its float64 pairs)
  if (formula == MLX_BIAS && float32Exact(s, z, formula)) {
    const x = f32x4(<f32>q, <f32>(q + 1), <f32>(q + 2), <f32>(q + 3));
    return patterns4(float32Values4(x, f32x4.splat(<f32>s), f32x4.splat(<f32>z), formula, dtype, false), dtype);
  }
  const S = f64x2.splat(s);
  const Z = f64x2.splat(z);
  const qa = f64x2(<f64>q, <f64>(q + 1));
  const qb = f64x2(<f64>(q + 2), <f64>(q + 3));
  return patterns4(unrounded4(q, qa, qb, S, S, Z, Z, formula, dtype), dtype);
}

/** Adds the counts c (i32x4) at the patterns p (i32x4). */
@inline
export function addCounts4(counts: usize, p: v128, c: v128): void {
  const p0 = counts + (<usize>i32x4.extract_lane(p, 0) << 2);
  store<i32>(p0, load<i32>(p0) + i32x4.extract_lane(c, 0));
  const p1 = counts + (<usize>i32x4.extract_lane(p, 1) << 2);
  store<i32>(p1, load<i32>(p1) + i32x4.extract_lane(c, 1));
  const p2 = counts + (<usize>i32x4.extract_lane(p, 2) << 2);
  store<i32>(p2, load<i32>(p2) + i32x4.extract_lane(c, 2));
  const p3 = counts + (<usize>i32x4.extract_lane(p, 3) << 2);
  store<i32>(p3, load<i32>(p3) + i32x4.extract_lane(c, 3));
}

/** Adds one at each of the patterns p (i32x4): a, b are the two tables of 65536 counters taking lanes 0, 2 and 1, 3. */
@inline
export function bump4(a: usize, b: usize, p: v128): void {
  const p0 = a + (<usize>i32x4.extract_lane(p, 0) << 2);
  store<i32>(p0, load<i32>(p0) + 1);
  const p1 = b + (<usize>i32x4.extract_lane(p, 1) << 2);
  store<i32>(p1, load<i32>(p1) + 1);
  const p2 = a + (<usize>i32x4.extract_lane(p, 2) << 2);
  store<i32>(p2, load<i32>(p2) + 1);
  const p3 = b + (<usize>i32x4.extract_lane(p, 3) << 2);
  store<i32>(p3, load<i32>(p3) + 1);
}

/** The scale (or zero) of (row r, group g) of a row-major [rows, groups] f64 table. */
@inline
export function param(table: usize, r: usize, groups: i32, g: i32): f64 {
  return load<f64>(table + ((r * <usize>groups + <usize>g) << 3));
}
