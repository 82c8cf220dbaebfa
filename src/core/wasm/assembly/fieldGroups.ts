// AssemblyScript (part of dist/kernels.wasm): the value patterns of weights with 2-bit and 3-bit codes in contiguous
// groups (GPTQ 2-bit and 3-bit, compressed-tensors int2, MLX 2-bit and 3-bit), counted without decoding a value. The codes stay
// in their 32-bit lanes: plane k of a lane is its field bits k (under the mask of the fields' lowest bits), and the
// count of code c is the popcount of the AND of the planes (or their complements) c's bits select. Code 0 is what
// remains of the group's count (so lanes of zero padding count nothing). Each (row, group) then adds the 4 or 8
// patterns of its values once, with their counts (common/lanePatterns.ts).
import { popcnt32x4 } from './common/codePlanes';
import { addCounts4, codePatterns4, param } from './common/lanePatterns';

/** The lowest bits of the sixteen 2-bit fields of a word, and of the eight 3-bit fields of 24 bits. */
const LOW2: i32 = 0x55555555;
const LOW3: i32 = 0x249249;

/** The four lanes of a as one sum. */
@inline
function laneSum(a: v128): i32 {
  const b = i32x4.add(a, v128.shuffle<i32>(a, a, 2, 3, 0, 1));
  return i32x4.extract_lane(b, 0) + i32x4.extract_lane(b, 1);
}

/** The lowest (lo) and highest (hi) bits of the 2-bit fields of v, each at its field's lowest bit. */
@inline
function low2(v: v128): v128 {
  return v128.and(v, i32x4.splat(LOW2));
}
@inline
function high2(v: v128): v128 {
  return v128.and(i32x4.shr_u(v, 1), i32x4.splat(LOW2));
}

/** Lane l of a, b, c and d, as one vector. */
@inline
function laneOf(a: v128, b: v128, c: v128, d: v128, l: i32): v128 {
  const ab = l < 2 ? v128.shuffle<i32>(a, b, 0, 4, 1, 5) : v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const cd = l < 2 ? v128.shuffle<i32>(c, d, 0, 4, 1, 5) : v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  return (l & 1) == 0 ? v128.shuffle<i32>(ab, cd, 0, 1, 4, 5) : v128.shuffle<i32>(ab, cd, 2, 3, 6, 7);
}

/**
 * Row-major 2-bit fields (compressed-tensors int2, MLX 2-bit): nRows rows of wordsPerRow words at `words`, 16
 * codes per word, cols (a multiple of 16) codes each, groups of groupSize columns (a multiple of 16, or cols);
 * scales and zeros (f64) of (row r, group g) at r · groups + g. Reads up to 12 bytes past the last row.
 */
export function countField2Rows(
  words: usize, nRows: i32, wordsPerRow: i32, cols: i32, groupSize: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  for (let r = 0; r < nRows; r++) {
    const row = words + ((<usize>r * <usize>wordsPerRow) << 2);
    for (let g = 0; g < groups; g++) {
      const k0 = g * groupSize;
      const n = min(cols, k0 + groupSize) - k0;
      let w = k0 >> 4;
      const w1 = w + (n >> 4);
      let ones = i32x4.splat(0);
      let twos = ones;
      let threes = ones;
      for (; w < w1; w += 4) {
        let v = v128.load(row + (<usize>w << 2));
        // a last chunk of fewer than four words: the others are zero
        if (w1 - w < 4) v = v128.and(v, i32x4.gt_s(i32x4.splat(w1 - w), i32x4(0, 1, 2, 3)));
        // lane-wise: fields with the low bit (codes 1, 3), the high bit (2, 3), both (3)
        const lo = low2(v);
        const hi = high2(v);
        ones = i32x4.add(ones, popcnt32x4(lo));
        twos = i32x4.add(twos, popcnt32x4(hi));
        threes = i32x4.add(threes, popcnt32x4(v128.and(lo, hi)));
      }
      const n3 = laneSum(threes);
      const n1 = laneSum(ones) - n3;
      const n2 = laneSum(twos) - n3;
      addCounts4(counts, codePatterns4(0, param(scales, r, groups, g), param(zeros, r, groups, g), formula, dtype), i32x4(n - n1 - n2 - n3, n1, n2, n3));
    }
  }
}

/**
 * GPTQ 2-bit: pRows packed rows of nRows words (one per output row, 16 codes of consecutive input columns each),
 * starting at the first packed row of group g0; groups of groupSize input columns (a multiple of 16). Four output
 * rows at a time, one a lane: the words of rows n .. n + 3 in a packed row are one vector. Reads up to 12 bytes
 * past the band.
 */
export function countGptqFields2(
  words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  const perGroup = groupSize >> 4;
  const stride = <usize>nRows << 2;
  for (let p0 = 0; p0 < pRows; p0 += perGroup) {
    const g = g0 + p0 / perGroup;
    const p1 = min(pRows, p0 + perGroup);
    const total = i32x4.splat((p1 - p0) << 4);
    for (let n = 0; n < nRows; n += 4) {
      let ones = i32x4.splat(0);
      let twos = ones;
      let threes = ones;
      let at = words + ((<usize>p0 * <usize>nRows + <usize>n) << 2);
      for (let p = p0; p < p1; p++, at += stride) {
        const v = v128.load(at);
        const lo = low2(v);
        const hi = high2(v);
        ones = i32x4.add(ones, popcnt32x4(lo));
        twos = i32x4.add(twos, popcnt32x4(hi));
        threes = i32x4.add(threes, popcnt32x4(v128.and(lo, hi)));
      }
      // lane l: row n + l's counts of codes 0..3 (ones and twos held the threes too)
      ones = i32x4.sub(ones, threes);
      twos = i32x4.sub(twos, threes);
      const zero = i32x4.sub(i32x4.sub(total, ones), i32x4.add(twos, threes));
      for (let l = 0, rows = min(4, nRows - n); l < rows; l++) {
        const r = <usize>(n + l);
        addCounts4(counts, codePatterns4(0, param(scales, r, groups, g), param(zeros, r, groups, g), formula, dtype), laneOf(zero, ones, twos, threes, l));
      }
    }
  }
}

/** Lane-wise counts of codes 1..7 (at 16 · c; code 0's slot unused) while a group's 3-bit fields are counted. */
const COUNTS3 = memory.data(8 * 16, 16);

/** Adds the lane-wise counts of codes 1..7 among the 3-bit fields of x at the bits of m (their lowest) to COUNTS3. */
@inline
function count3(x: v128, m: v128): void {
  const p0 = v128.and(x, m);
  const p1 = v128.and(i32x4.shr_u(x, 1), m);
  const p2 = v128.and(i32x4.shr_u(x, 2), m);
  const q0 = v128.xor(p0, m);
  const q1 = v128.xor(p1, m);
  const q2 = v128.xor(p2, m);
  const c = COUNTS3;
  v128.store(c, i32x4.add(v128.load(c, 16), popcnt32x4(v128.and(v128.and(p0, q1), q2))), 16);
  v128.store(c, i32x4.add(v128.load(c, 32), popcnt32x4(v128.and(v128.and(q0, p1), q2))), 32);
  v128.store(c, i32x4.add(v128.load(c, 48), popcnt32x4(v128.and(v128.and(p0, p1), q2))), 48);
  v128.store(c, i32x4.add(v128.load(c, 64), popcnt32x4(v128.and(v128.and(q0, q1), p2))), 64);
  v128.store(c, i32x4.add(v128.load(c, 80), popcnt32x4(v128.and(v128.and(p0, q1), p2))), 80);
  v128.store(c, i32x4.add(v128.load(c, 96), popcnt32x4(v128.and(v128.and(q0, p1), p2))), 96);
  v128.store(c, i32x4.add(v128.load(c, 112), popcnt32x4(v128.and(v128.and(p0, p1), p2))), 112);
}

/** Lane-wise count of code c (1..7) in COUNTS3. */
@inline
function counted3(c: i32): v128 {
  return v128.load(COUNTS3 + (<usize>c << 4));
}

/**
 * Row-major 3-bit fields (MLX 3-bit): nRows rows of wordsPerRow words at `words`, cols (a multiple of 32) codes
 * each, groups of groupSize columns (a multiple of 32, or cols). Every 12 bytes are 32 codes: four 24-bit lanes of
 * eight fields. Reads up to 4 bytes past the last row.
 */
export function countField3Rows(
  words: usize, nRows: i32, wordsPerRow: i32, cols: i32, groupSize: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  const m = i32x4.splat(LOW3);
  for (let r = 0; r < nRows; r++) {
    const row = words + ((<usize>r * <usize>wordsPerRow) << 2);
    for (let g = 0; g < groups; g++) {
      const k0 = g * groupSize;
      const n = min(cols, k0 + groupSize) - k0;
      memory.fill(COUNTS3, 0, 8 * 16);
      for (let at = row + <usize>((k0 >> 5) * 12), end = at + <usize>((n >> 5) * 12); at < end; at += 12)
        count3(i8x16.swizzle(v128.load(at), i8x16(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1)), m);
      const n1 = laneSum(counted3(1));
      const n2 = laneSum(counted3(2));
      const n3 = laneSum(counted3(3));
      const n4 = laneSum(counted3(4));
      const n5 = laneSum(counted3(5));
      const n6 = laneSum(counted3(6));
      const n7 = laneSum(counted3(7));
      const s = param(scales, r, groups, g);
      const z = param(zeros, r, groups, g);
      addCounts4(counts, codePatterns4(0, s, z, formula, dtype), i32x4(n - n1 - n2 - n3 - n4 - n5 - n6 - n7, n1, n2, n3));
      addCounts4(counts, codePatterns4(4, s, z, formula, dtype), i32x4(n4, n5, n6, n7));
    }
  }
}

/**
 * GPTQ 3-bit: pRows packed rows of nRows words, each output row's codes a little-endian stream of 3-bit fields
 * over its words in packed rows 0, 1, 2, ...: packed rows 3t .. 3t + 2 hold its codes 32t .. 32t + 31 (10 fields in
 * the first word, one across the first two, 10 in the second, one across the last two, 10 in the last). Starts at
 * the first packed row of group g0; groups of groupSize input columns (a multiple of 32). Four output rows at a
 * time, one a lane. Reads up to 12 bytes past the band.
 */
export function countGptqFields3(
  words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  const perGroup = (groupSize >> 5) * 3;
  const stride = <usize>nRows << 2;
  // the ten whole fields of a word (at bits 0, 3, ... 27 once aligned), and the two across words (bits 0 and 3)
  const ten = i32x4.splat(0x09249249);
  const two = i32x4.splat(9);
  for (let p0 = 0; p0 < pRows; p0 += perGroup) {
    const g = g0 + p0 / perGroup;
    const p1 = min(pRows, p0 + perGroup);
    const total = i32x4.splat(((p1 - p0) / 3) << 5);
    for (let n = 0; n < nRows; n += 4) {
      memory.fill(COUNTS3, 0, 8 * 16);
      let at = words + ((<usize>p0 * <usize>nRows + <usize>n) << 2);
      for (let p = p0; p < p1; p += 3, at += 3 * stride) {
        const a = v128.load(at);
        const b = v128.load(at + stride);
        const c = v128.load(at + 2 * stride);
        count3(a, ten);
        count3(i32x4.shr_u(b, 1), ten);
        count3(i32x4.shr_u(c, 2), ten);
        // field 10: bits 30-31 of a and bit 0 of b; field 21: bit 31 of b and bits 0-1 of c
        const across = v128.or(
          v128.or(i32x4.shr_u(a, 30), i32x4.shl(v128.and(b, i32x4.splat(1)), 2)),
          i32x4.shl(v128.or(i32x4.shr_u(b, 31), i32x4.shl(v128.and(c, i32x4.splat(3)), 1)), 3),
        );
        count3(across, two);
      }
      const c1 = counted3(1);
      const c2 = counted3(2);
      const c3 = counted3(3);
      const c4 = counted3(4);
      const c5 = counted3(5);
      const c6 = counted3(6);
      const c7 = counted3(7);
      const c0 = i32x4.sub(total, i32x4.add(i32x4.add(i32x4.add(c1, c2), i32x4.add(c3, c4)), i32x4.add(i32x4.add(c5, c6), c7)));
      for (let l = 0, rows = min(4, nRows - n); l < rows; l++) {
        const r = <usize>(n + l);
        const s = param(scales, r, groups, g);
        const z = param(zeros, r, groups, g);
        addCounts4(counts, codePatterns4(0, s, z, formula, dtype), laneOf(c0, c1, c2, c3, l));
        addCounts4(counts, codePatterns4(4, s, z, formula, dtype), laneOf(c4, c5, c6, c7, l));
      }
    }
  }
}
