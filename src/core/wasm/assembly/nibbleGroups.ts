// AssemblyScript (part of dist/kernels.wasm): the value patterns of weights with 4-bit codes in contiguous groups
// (GPTQ, AWQ GEMM, compressed-tensors, MLX, bitsandbytes NF4 / FP4, HQQ), counted without decoding a value. A (row,
// group) has at most 16 values: its codes are counted by bit planes straight from the packed words
// (common/codePlanes.ts, as the Q4_K pass 2 counts a sub-block's), then the float16 / bfloat16 patterns of its 16
// values are computed four at a time and each added once with its count. Groups span a multiple of 32 columns; the
// caller (src/core/hfquant/codeTables.ts) sends other layouts to the per-value counters of codeTables.ts.
import { codeValueFactor, codeValueTable, F16, HQQ_ZERO, MLX_BIAS, SCALED_CODE } from './codeTables';
import { plane, planePairs, popcnt32x4 } from './common/codePlanes';

// ----------------------------------------------------------- the 16 values of a group, four lanes at a time
// Lane-wise forms of the scalar arithmetic (common/half.ts's f32ToF16 and halfToFloat, codeTables.ts's bf16 and
// unrounded): the same IEEE operations, so the same bits.

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

@inline
function patterns4(x: v128, dtype: i32): v128 {
  return dtype == F16 ? f16Bits4(x) : bf16Bits4(x);
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

/**
 * The values of codes q .. q + 3 before their last rounding, as codeTables.ts's unrounded: qa and qb hold the codes
 * (q, q + 1) and (q + 2, q + 3) as f64x2.
 */
@inline
function unrounded4(q: i32, qa: v128, qb: v128, s: f64, z: f64, formula: i32, dtype: i32): v128 {
  const S = f64x2.splat(s);
  const Z = f64x2.splat(z);
  if (formula == SCALED_CODE) {
    const at = codeValueTable() + (<usize>q << 3);
    const a = demote4(f64x2.mul(v128.load(at), S), f64x2.mul(v128.load(at, 16), S));
    const F = f64x2.splat(codeValueFactor());
    return demote4(f64x2.mul(f64x2.promote_low_f32x4(a), F), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), F));
  }
  if (formula == MLX_BIAS) {
    const a = roundedValues4(demote4(f64x2.mul(qa, S), f64x2.mul(qb, S)), dtype);
    return demote4(f64x2.add(f64x2.promote_low_f32x4(a), Z), f64x2.add(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), Z));
  }
  if (formula == HQQ_ZERO) {
    const a = roundedValues4(demote4(f64x2.sub(qa, Z), f64x2.sub(qb, Z)), dtype);
    return demote4(f64x2.mul(f64x2.promote_low_f32x4(a), S), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(a, a, 2, 3, 0, 1)), S));
  }
  return demote4(f64x2.mul(S, f64x2.sub(qa, Z)), f64x2.mul(S, f64x2.sub(qb, Z)));
}

/** float32 lanes rounded to the output dtype, as float32 values (codeTables.ts's roundTo). */
@inline
function roundedValues4(x: v128, dtype: i32): v128 {
  const p = patterns4(x, dtype);
  return dtype == F16 ? halfValues4(p) : i32x4.shl(p, 16);
}

/** Adds the counts c (i32x4) at the patterns p (i32x4). */
@inline
function addCounts4(counts: usize, p: v128, c: v128): void {
  const p0 = counts + (<usize>i32x4.extract_lane(p, 0) << 2);
  store<i32>(p0, load<i32>(p0) + i32x4.extract_lane(c, 0));
  const p1 = counts + (<usize>i32x4.extract_lane(p, 1) << 2);
  store<i32>(p1, load<i32>(p1) + i32x4.extract_lane(c, 1));
  const p2 = counts + (<usize>i32x4.extract_lane(p, 2) << 2);
  store<i32>(p2, load<i32>(p2) + i32x4.extract_lane(c, 2));
  const p3 = counts + (<usize>i32x4.extract_lane(p, 3) << 2);
  store<i32>(p3, load<i32>(p3) + i32x4.extract_lane(c, 3));
}

/**
 * Adds the counts of codes 0..15 of one (row, group), c0 = codes 0-3 ... c3 = codes 12-15 (i32x4), to the i32
 * pattern counts (65536) at the patterns of their values through scale s and zero (or bias) z.
 */
function addGroup(c0: v128, c1: v128, c2: v128, c3: v128, s: f64, z: f64, formula: i32, dtype: i32, counts: usize): void {
  addCounts4(counts, patterns4(unrounded4(0, f64x2(0, 1), f64x2(2, 3), s, z, formula, dtype), dtype), c0);
  addCounts4(counts, patterns4(unrounded4(4, f64x2(4, 5), f64x2(6, 7), s, z, formula, dtype), dtype), c1);
  addCounts4(counts, patterns4(unrounded4(8, f64x2(8, 9), f64x2(10, 11), s, z, formula, dtype), dtype), c2);
  addCounts4(counts, patterns4(unrounded4(12, f64x2(12, 13), f64x2(14, 15), s, z, formula, dtype), dtype), c3);
}

/** The group (s, z) of (row r, group g) and its counts, to addGroup. */
@inline
function addRowGroup(c0: v128, c1: v128, c2: v128, c3: v128, scales: usize, zeros: usize, at: usize, formula: i32, dtype: i32, counts: usize): void {
  addGroup(c0, c1, c2, c3, load<f64>(scales + (at << 3)), load<f64>(zeros + (at << 3)), formula, dtype, counts);
}

/**
 * Counts of codes 4h .. 4h + 3 (h = 0..3: lanes) among 32 codes given by their bit planes: pairs of the low two
 * planes (planePairs(p0, p1)) and of the high two (planePairs(p2, p3)).
 */
@inline
function codeCounts0(low: v128, high: v128): v128 {
  return popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 0, 0, 0, 0)));
}
@inline
function codeCounts1(low: v128, high: v128): v128 {
  return popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 1, 1, 1, 1)));
}
@inline
function codeCounts2(low: v128, high: v128): v128 {
  return popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 2, 2, 2, 2)));
}
@inline
function codeCounts3(low: v128, high: v128): v128 {
  return popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 3, 3, 3, 3)));
}

/**
 * Compressed-tensors, MLX and bitsandbytes: nRows rows of wordsPerRow u32 words at `words`, 8 codes per word, cols
 * (a multiple of 32) codes each, groups of groupSize columns (a multiple of 32, or cols); scales and zeros (f64)
 * of (row r, group g) at r · groups + g.
 */
export function countNibbleRows(
  words: usize, nRows: i32, wordsPerRow: i32, cols: i32, groupSize: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  for (let r = 0; r < nRows; r++) {
    const row = words + ((<usize>r * <usize>wordsPerRow) << 2);
    for (let g = 0; g < groups; g++) {
      const k1 = min(cols, (g + 1) * groupSize);
      let c0 = i32x4.splat(0);
      let c1 = c0;
      let c2 = c0;
      let c3 = c0;
      for (let k = g * groupSize; k < k1; k += 32) {
        // 32 codes in 16 bytes: low nibbles and high nibbles (their order within the group does not matter)
        const a = v128.load(row + (<usize>k >> 1));
        const h = i8x16.shr_u(a, 4);
        const low = planePairs(plane(a, h, 7), plane(a, h, 6));
        const high = planePairs(plane(a, h, 5), plane(a, h, 4));
        c0 = i32x4.add(c0, codeCounts0(low, high));
        c1 = i32x4.add(c1, codeCounts1(low, high));
        c2 = i32x4.add(c2, codeCounts2(low, high));
        c3 = i32x4.add(c3, codeCounts3(low, high));
      }
      addRowGroup(c0, c1, c2, c3, scales, zeros, <usize>r * <usize>groups + <usize>g, formula, dtype, counts);
    }
  }
}

/**
 * GPTQ: pRows packed rows of nRows words (one per output row, 8 codes of consecutive input columns each, lowest
 * first), starting at the first packed row of group g0; groups of groupSize input columns (a multiple of 32), pRows
 * a multiple of 4. The four words of row n in packed rows p .. p + 3 are 32 codes of one group.
 */
export function countGptqNibbles(
  words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  const perGroup = groupSize >> 3;
  const stride = <usize>nRows << 2;
  for (let p0 = 0; p0 < pRows; p0 += perGroup) {
    const g = g0 + p0 / perGroup;
    const p1 = min(pRows, p0 + perGroup);
    for (let n = 0; n < nRows; n++) {
      let c0 = i32x4.splat(0);
      let c1 = c0;
      let c2 = c0;
      let c3 = c0;
      for (let p = p0; p < p1; p += 4) {
        const at = words + ((<usize>p * <usize>nRows + <usize>n) << 2);
        let a = v128.load32_zero(at);
        a = v128.load32_lane(at + stride, a, 1);
        a = v128.load32_lane(at + 2 * stride, a, 2);
        a = v128.load32_lane(at + 3 * stride, a, 3);
        const h = i8x16.shr_u(a, 4);
        const low = planePairs(plane(a, h, 7), plane(a, h, 6));
        const high = planePairs(plane(a, h, 5), plane(a, h, 4));
        c0 = i32x4.add(c0, codeCounts0(low, high));
        c1 = i32x4.add(c1, codeCounts1(low, high));
        c2 = i32x4.add(c2, codeCounts2(low, high));
        c3 = i32x4.add(c3, codeCounts3(low, high));
      }
      addRowGroup(c0, c1, c2, c3, scales, zeros, <usize>n * <usize>groups + <usize>g, formula, dtype, counts);
    }
  }
}

/** Four words at `at`, `at + stride`, ... as one vector. */
@inline
function gather4(at: usize, stride: usize): v128 {
  let v = v128.load32_zero(at);
  v = v128.load32_lane(at + stride, v, 1);
  v = v128.load32_lane(at + 2 * stride, v, 2);
  return v128.load32_lane(at + 3 * stride, v, 3);
}

/**
 * AWQ GEMM: kRows input columns of W words (words[k · W + c] holds the 4-bit codes of output rows 8c + j', nibble
 * j belonging to row 8c + ((order >> 4j) & 7)), starting at the first input of group g0; groups of groupSize
 * inputs (a multiple of 32), kRows a multiple of 32. `transposed` is scratch of groupSize · 4 bytes: the words of
 * one column c for a group, regrouped so that bytes b of 16 inputs sit in one vector (the two nibbles of byte b
 * are rows of nibbles 2b and 2b + 1).
 */
export function countAwqNibbles(
  words: usize, kRows: i32, W: i32, nRows: i32, groupSize: i32, g0: i32, order: u32, scales: usize, zeros: usize,
  groups: i32, formula: i32, dtype: i32, transposed: usize, counts: usize,
): void {
  const stride = <usize>W << 2;
  for (let k0 = 0; k0 < kRows; k0 += groupSize) {
    const g = g0 + k0 / groupSize;
    const batches = min(groupSize, kRows - k0) >> 4;
    for (let c = 0; c < W; c++) {
      for (let b = 0; b < batches; b++) {
        const at = words + ((<usize>(k0 + 16 * b) * <usize>W + <usize>c) << 2);
        const v0 = gather4(at, stride);
        const v1 = gather4(at + 4 * stride, stride);
        const v2 = gather4(at + 8 * stride, stride);
        const v3 = gather4(at + 12 * stride, stride);
        const x01 = v128.shuffle<u8>(v0, v1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
        const y01 = v128.shuffle<u8>(v0, v1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
        const x23 = v128.shuffle<u8>(v2, v3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
        const y23 = v128.shuffle<u8>(v2, v3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
        const t = transposed + (<usize>b << 6);
        v128.store(t, v128.shuffle<u8>(x01, x23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
        v128.store(t, v128.shuffle<u8>(x01, x23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 16);
        v128.store(t, v128.shuffle<u8>(y01, y23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), 32);
        v128.store(t, v128.shuffle<u8>(y01, y23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 48);
      }
      for (let j = 0; j < 8; j++) {
        const n = (c << 3) + <i32>((order >>> (<u32>j << 2)) & 7);
        if (n >= nRows) continue;
        // nibble j: byte j >> 1 of each word, its low (bits at 7 − k after the shift) or high nibble (3 − k)
        const byte = <usize>(j >> 1) << 4;
        const top = (j & 1) != 0 ? 3 : 7;
        let c0 = i32x4.splat(0);
        let c1 = c0;
        let c2 = c0;
        let c3 = c0;
        for (let b = 0; b < batches; b += 2) {
          const a = v128.load(transposed + (<usize>b << 6) + byte);
          const h = v128.load(transposed + (<usize>(b + 1) << 6) + byte);
          const low = planePairs(plane(a, h, top), plane(a, h, top - 1));
          const high = planePairs(plane(a, h, top - 2), plane(a, h, top - 3));
          c0 = i32x4.add(c0, codeCounts0(low, high));
          c1 = i32x4.add(c1, codeCounts1(low, high));
          c2 = i32x4.add(c2, codeCounts2(low, high));
          c3 = i32x4.add(c3, codeCounts3(low, high));
        }
        addRowGroup(c0, c1, c2, c3, scales, zeros, <usize>n * <usize>groups + <usize>g, formula, dtype, counts);
      }
    }
  }
}

/**
 * HQQ 4bit_u8 along axis 1 (one group of groupSize codes, a multiple of 32, per view row): nPacked packed rows of
 * groupSize bytes from packed row `first`; packed row j holds view row j in its high nibbles and view row j + h in
 * its low nibbles. View row i's scale and zero are at i (groups of them).
 */
export function countHqqNibbles(
  packed: usize, first: i32, nPacked: i32, groupSize: i32, h: i32, groups: i32, scales: usize, zeros: usize,
  formula: i32, dtype: i32, counts: usize,
): void {
  for (let j = 0; j < nPacked; j++) {
    const row = packed + <usize>j * <usize>groupSize;
    for (let part = 0; part < 2; part++) {
      const i = first + j + part * h;
      if (i >= groups) continue;
      const top = part == 0 ? 3 : 7;
      let c0 = i32x4.splat(0);
      let c1 = c0;
      let c2 = c0;
      let c3 = c0;
      for (let k = 0; k < groupSize; k += 32) {
        const a = v128.load(row + <usize>k);
        const b = v128.load(row + <usize>k, 16);
        const low = planePairs(plane(a, b, top), plane(a, b, top - 1));
        const high = planePairs(plane(a, b, top - 2), plane(a, b, top - 3));
        c0 = i32x4.add(c0, codeCounts0(low, high));
        c1 = i32x4.add(c1, codeCounts1(low, high));
        c2 = i32x4.add(c2, codeCounts2(low, high));
        c3 = i32x4.add(c3, codeCounts3(low, high));
      }
      addRowGroup(c0, c1, c2, c3, scales, zeros, <usize>i, formula, dtype, counts);
    }
  }
}
