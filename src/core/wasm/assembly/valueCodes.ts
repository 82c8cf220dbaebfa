// AssemblyScript (part of dist/kernels.wasm): the value patterns of weights with 6-bit and 8-bit codes in groups
// smaller than their 64 or 256 codes (GPTQ int8, also act-order, MLX 6-bit and 8-bit, compressed-tensors int8 groups), where
// counting codes first would not pay: each value's pattern is computed from its code, four lanes at a time
// (common/lanePatterns.ts; in float32 lanes where that gives the same bits, float32Exact), and counted. Zero-point,
// MLX-bias and HQQ formulas (a code's value is a function of the code, not a table).
import { codePattern } from './codeTables';
import {
  bump4, float32Exact, float32Values4, highPair, lowPair, param, patterns4, plainPatterns4, unrounded4,
} from './common/lanePatterns';

// Every counter below takes `plain`: true when the caller has checked that the weight's lanes are plain
// (lanePatterns.ts's plainPatterns4: finite scales and zeros or biases, and for F16 a zero-point formula whose
// every value is zero or in binary16's normal range), whose patterns then take fewer operations.

/** The 16-bit patterns of float32 lanes x, plain or not (a constant in each copy). */
@inline
function lanePatterns(x: v128, dtype: i32, plain: bool): v128 {
  return plain ? plainPatterns4(x, dtype) : patterns4(x, dtype);
}

/** Adds one at the patterns of the four codes q (i32 lanes) through lanes' scales (sa, sb) and zeros (za, zb). */
@inline
function count4(q: v128, sa: v128, sb: v128, za: v128, zb: v128, formula: i32, dtype: i32, plain: bool, even: usize, odd: usize): void {
  bump4(even, odd, lanePatterns(unrounded4(0, lowPair(q), highPair(q), sa, sb, za, zb, formula, dtype), dtype, plain));
}

/** count4 in float32 lanes (float32Exact groups): scale S and zero (or bias) Z as f32x4. */
@inline
function count4f(q: v128, S: v128, Z: v128, formula: i32, dtype: i32, plain: bool, even: usize, odd: usize): void {
  bump4(even, odd, lanePatterns(float32Values4(f32x4.convert_i32x4_u(q), S, Z, formula, dtype, plain), dtype, plain));
}

/**
 * Row-major 8-bit (bits 8: 16 codes per 16 bytes) or 6-bit fields (bits 6: 16 codes per 12 bytes, four 24-bit lanes
 * of four fields): nRows rows of rowBytes bytes at `codes`, cols (a multiple of 16) codes each, groups of groupSize
 * columns (a multiple of 16, or cols); scales and zeros (f64) of (row r, group g) at r · groups + g; counts two
 * tables of 65536. Reads up to 4 bytes past the last row.
 */
export function countValueRows(
  codes: usize, nRows: i32, rowBytes: i32, cols: i32, bits: i32, groupSize: i32, scales: usize, zeros: usize,
  groups: i32, formula: i32, dtype: i32, plain: bool, counts: usize,
): void {
  if (plain) valueRows(true, codes, nRows, rowBytes, cols, bits, groupSize, scales, zeros, groups, formula, dtype, counts);
  else valueRows(false, codes, nRows, rowBytes, cols, bits, groupSize, scales, zeros, groups, formula, dtype, counts);
}

@inline
function valueRows(
  plain: bool, codes: usize, nRows: i32, rowBytes: i32, cols: i32, bits: i32, groupSize: i32, scales: usize,
  zeros: usize, groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  const chunkBytes: usize = bits == 8 ? 16 : 12;
  for (let r = 0; r < nRows; r++) {
    const row = codes + <usize>r * <usize>rowBytes;
    for (let g = 0; g < groups; g++) {
      const s = param(scales, r, groups, g);
      const z = param(zeros, r, groups, g);
      const k0 = g * groupSize;
      const chunks = <usize>((min(cols, k0 + groupSize) - k0) >> 4);
      const at = row + (<usize>(k0 >> 4)) * chunkBytes;
      if (float32Exact(s, z, formula)) valueChunks(true, plain, at, chunks, chunkBytes, bits, s, z, formula, dtype, counts, odd);
      else valueChunks(false, plain, at, chunks, chunkBytes, bits, s, z, formula, dtype, counts, odd);
    }
  }
}

/** The chunks of 16 codes of one group, in float32 lanes or float64 pairs (inFloat32, a constant in each copy). */
@inline
function valueChunks(
  inFloat32: bool, plain: bool, at: usize, chunks: usize, chunkBytes: usize, bits: i32, s: f64, z: f64, formula: i32, dtype: i32,
  even: usize, odd: usize,
): void {
  const S = f64x2.splat(s);
  const Z = f64x2.splat(z);
  const S32 = f32x4.splat(<f32>s);
  const Z32 = f32x4.splat(<f32>z);
  for (const end = at + chunks * chunkBytes; at < end; at += chunkBytes) {
    const v = v128.load(at);
    let q0: v128, q1: v128, q2: v128, q3: v128;
    if (bits == 8) {
      const lo = i16x8.extend_low_i8x16_u(v);
      const hi = i16x8.extend_high_i8x16_u(v);
      q0 = i32x4.extend_low_i16x8_u(lo);
      q1 = i32x4.extend_high_i16x8_u(lo);
      q2 = i32x4.extend_low_i16x8_u(hi);
      q3 = i32x4.extend_high_i16x8_u(hi);
    } else {
      const x = i8x16.swizzle(v, i8x16(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
      const m = i32x4.splat(63);
      q0 = v128.and(x, m);
      q1 = v128.and(i32x4.shr_u(x, 6), m);
      q2 = v128.and(i32x4.shr_u(x, 12), m);
      q3 = i32x4.shr_u(x, 18);
    }
    if (inFloat32) {
      count4f(q0, S32, Z32, formula, dtype, plain, even, odd);
      count4f(q1, S32, Z32, formula, dtype, plain, even, odd);
      count4f(q2, S32, Z32, formula, dtype, plain, even, odd);
      count4f(q3, S32, Z32, formula, dtype, plain, even, odd);
    } else {
      count4(q0, S, S, Z, Z, formula, dtype, plain, even, odd);
      count4(q1, S, S, Z, Z, formula, dtype, plain, even, odd);
      count4(q2, S, S, Z, Z, formula, dtype, plain, even, odd);
      count4(q3, S, S, Z, Z, formula, dtype, plain, even, odd);
    }
  }
}

/**
 * GPTQ 8-bit: pRows packed rows of nRows words (one per output row, 4 codes of consecutive input columns each),
 * starting at the first packed row of group g0; groups of groupSize input columns (a multiple of 4). Four output
 * rows at a time, one a lane (the words of rows n .. n + 3 in a packed row are one vector); the last nRows % 4
 * rows value by value.
 */
export function countGptqValues(
  words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, plain: bool, counts: usize,
): void {
  if (plain) gptqValues(true, words, pRows, nRows, groupSize, g0, scales, zeros, groups, formula, dtype, counts);
  else gptqValues(false, words, pRows, nRows, groupSize, g0, scales, zeros, groups, formula, dtype, counts);
}

@inline
function gptqValues(
  plain: bool, words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize,
  groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  const perGroup = groupSize >> 2;
  const stride = <usize>nRows << 2;
  const m = i32x4.splat(255);
  const whole = nRows & ~3;
  for (let p0 = 0; p0 < pRows; p0 += perGroup) {
    const g = g0 + p0 / perGroup;
    const p1 = min(pRows, p0 + perGroup);
    for (let n = 0; n < whole; n += 4) {
      const r = <usize>n;
      const s0 = param(scales, r, groups, g);
      const s1 = param(scales, r + 1, groups, g);
      const s2 = param(scales, r + 2, groups, g);
      const s3 = param(scales, r + 3, groups, g);
      const z0 = param(zeros, r, groups, g);
      const z1 = param(zeros, r + 1, groups, g);
      const z2 = param(zeros, r + 2, groups, g);
      const z3 = param(zeros, r + 3, groups, g);
      const at = words + ((<usize>p0 * <usize>nRows + r) << 2);
      const exact = float32Exact(s0, z0, formula) && float32Exact(s1, z1, formula) && float32Exact(s2, z2, formula) && float32Exact(s3, z3, formula);
      if (exact) {
        const S = f32x4(<f32>s0, <f32>s1, <f32>s2, <f32>s3);
        const Z = f32x4(<f32>z0, <f32>z1, <f32>z2, <f32>z3);
        for (let p = p0, w = at; p < p1; p++, w += stride) {
          const v = v128.load(w);
          count4f(v128.and(v, m), S, Z, formula, dtype, plain, counts, odd);
          count4f(v128.and(i32x4.shr_u(v, 8), m), S, Z, formula, dtype, plain, counts, odd);
          count4f(v128.and(i32x4.shr_u(v, 16), m), S, Z, formula, dtype, plain, counts, odd);
          count4f(i32x4.shr_u(v, 24), S, Z, formula, dtype, plain, counts, odd);
        }
        continue;
      }
      const sa = f64x2(s0, s1);
      const sb = f64x2(s2, s3);
      const za = f64x2(z0, z1);
      const zb = f64x2(z2, z3);
      for (let p = p0, w = at; p < p1; p++, w += stride) {
        const v = v128.load(w);
        count4(v128.and(v, m), sa, sb, za, zb, formula, dtype, plain, counts, odd);
        count4(v128.and(i32x4.shr_u(v, 8), m), sa, sb, za, zb, formula, dtype, plain, counts, odd);
        count4(v128.and(i32x4.shr_u(v, 16), m), sa, sb, za, zb, formula, dtype, plain, counts, odd);
        count4(i32x4.shr_u(v, 24), sa, sb, za, zb, formula, dtype, plain, counts, odd);
      }
    }
    for (let n = whole; n < nRows; n++) {
      const s = param(scales, <usize>n, groups, g);
      const z = param(zeros, <usize>n, groups, g);
      for (let p = p0; p < p1; p++) {
        const word = load<u32>(words + ((<usize>p * <usize>nRows + <usize>n) << 2));
        for (let i: u32 = 0; i < 32; i += 8) {
          const at = counts + (<usize>codePattern(<i32>((word >>> i) & 255), s, z, formula, dtype) << 2);
          store<i32>(at, load<i32>(at) + 1);
        }
      }
    }
  }
}

/**
 * GPTQ 8-bit in any groups (act-order g_idx, or groups of a size not a multiple of 4): pRows packed rows of nRows
 * words from packed row p0 (4 codes of input columns 4p .. 4p + 3 each); group: the group of every input column
 * (i32, checked in range by the caller); scalesT, zerosT: float32 (group g, output n) at g · rowLength + n, rowLength
 * nRows rounded up to 4, every (n, g) float32Exact (checked by the caller). Four outputs a lane, each field's scales
 * and zeros one load; the last nRows % 4 outputs value by value.
 */
export function countGptqValuesAnyGroups(
  words: usize, p0: i32, pRows: i32, nRows: i32, group: usize, scalesT: usize, zerosT: usize, formula: i32, dtype: i32,
  plain: bool, counts: usize,
): void {
  if (plain) gptqValuesAnyGroups(true, words, p0, pRows, nRows, group, scalesT, zerosT, formula, dtype, counts);
  else gptqValuesAnyGroups(false, words, p0, pRows, nRows, group, scalesT, zerosT, formula, dtype, counts);
}

@inline
function gptqValuesAnyGroups(
  plain: bool, words: usize, p0: i32, pRows: i32, nRows: i32, group: usize, scalesT: usize, zerosT: usize,
  formula: i32, dtype: i32, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  const m = i32x4.splat(255);
  const whole = nRows & ~3;
  const rowBytes = <usize>((nRows + 3) & ~3) << 2;
  for (let p = 0; p < pRows; p++) {
    const columns = group + (<usize>(p0 + p) << 4);
    const t0 = <usize>load<i32>(columns) * rowBytes;
    const t1 = <usize>load<i32>(columns, 4) * rowBytes;
    const t2 = <usize>load<i32>(columns, 8) * rowBytes;
    const t3 = <usize>load<i32>(columns, 12) * rowBytes;
    const row = words + ((<usize>p * <usize>nRows) << 2);
    for (let o: usize = 0, end = <usize>whole << 2; o < end; o += 16) {
      const v = v128.load(row + o);
      count4f(v128.and(v, m), v128.load(scalesT + t0 + o), v128.load(zerosT + t0 + o), formula, dtype, plain, counts, odd);
      count4f(v128.and(i32x4.shr_u(v, 8), m), v128.load(scalesT + t1 + o), v128.load(zerosT + t1 + o), formula, dtype, plain, counts, odd);
      count4f(v128.and(i32x4.shr_u(v, 16), m), v128.load(scalesT + t2 + o), v128.load(zerosT + t2 + o), formula, dtype, plain, counts, odd);
      count4f(i32x4.shr_u(v, 24), v128.load(scalesT + t3 + o), v128.load(zerosT + t3 + o), formula, dtype, plain, counts, odd);
    }
    for (let n = whole; n < nRows; n++) {
      const word = load<u32>(row + (<usize>n << 2));
      for (let j = 0; j < 4; j++) {
        const t = <usize>load<i32>(columns + (<usize>j << 2)) * rowBytes + (<usize>n << 2);
        const q = <i32>((word >>> (<u32>j << 3)) & 255);
        const at = counts + (<usize>codePattern(q, <f64>load<f32>(scalesT + t), <f64>load<f32>(zerosT + t), formula, dtype) << 2);
        store<i32>(at, load<i32>(at) + 1);
      }
    }
  }
}
