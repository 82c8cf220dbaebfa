// AssemblyScript (part of dist/kernels.wasm): the value patterns of weights with 6-bit and 8-bit codes in contiguous
// groups smaller than their 64 or 256 codes (GPTQ int8, MLX 6-bit and 8-bit, compressed-tensors int8 groups), where
// counting codes first would not pay: each value's pattern is computed from its code, four lanes at a time
// (common/lanePatterns.ts), and counted. Zero-point, MLX-bias and HQQ formulas (a code's value is a function of the
// code, not a table).
import { codePattern } from './codeTables';
import { bump4, highPair, lowPair, param, patterns4, unrounded4 } from './common/lanePatterns';

/** Adds one at the patterns of the four codes q (i32 lanes) through lanes' scales (sa, sb) and zeros (za, zb). */
@inline
function count4(q: v128, sa: v128, sb: v128, za: v128, zb: v128, formula: i32, dtype: i32, even: usize, odd: usize): void {
  bump4(even, odd, patterns4(unrounded4(0, lowPair(q), highPair(q), sa, sb, za, zb, formula, dtype), dtype));
}

/**
 * Row-major 8-bit (bits 8: 16 codes per 16 bytes) or 6-bit fields (bits 6: 16 codes per 12 bytes, four 24-bit lanes
 * of four fields): nRows rows of rowBytes bytes at `codes`, cols (a multiple of 16) codes each, groups of groupSize
 * columns (a multiple of 16, or cols); scales and zeros (f64) of (row r, group g) at r · groups + g; counts two
 * tables of 65536. Reads up to 4 bytes past the last row.
 */
export function countValueRows(
  codes: usize, nRows: i32, rowBytes: i32, cols: i32, bits: i32, groupSize: i32, scales: usize, zeros: usize,
  groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  const chunkBytes: usize = bits == 8 ? 16 : 12;
  for (let r = 0; r < nRows; r++) {
    const row = codes + <usize>r * <usize>rowBytes;
    for (let g = 0; g < groups; g++) {
      const S = f64x2.splat(param(scales, r, groups, g));
      const Z = f64x2.splat(param(zeros, r, groups, g));
      const k0 = g * groupSize;
      const chunks = <usize>((min(cols, k0 + groupSize) - k0) >> 4);
      let at = row + (<usize>(k0 >> 4)) * chunkBytes;
      for (const end = at + chunks * chunkBytes; at < end; at += chunkBytes) {
        const v = v128.load(at);
        if (bits == 8) {
          const lo = i16x8.extend_low_i8x16_u(v);
          const hi = i16x8.extend_high_i8x16_u(v);
          count4(i32x4.extend_low_i16x8_u(lo), S, S, Z, Z, formula, dtype, counts, odd);
          count4(i32x4.extend_high_i16x8_u(lo), S, S, Z, Z, formula, dtype, counts, odd);
          count4(i32x4.extend_low_i16x8_u(hi), S, S, Z, Z, formula, dtype, counts, odd);
          count4(i32x4.extend_high_i16x8_u(hi), S, S, Z, Z, formula, dtype, counts, odd);
        } else {
          const x = i8x16.swizzle(v, i8x16(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
          const m = i32x4.splat(63);
          count4(v128.and(x, m), S, S, Z, Z, formula, dtype, counts, odd);
          count4(v128.and(i32x4.shr_u(x, 6), m), S, S, Z, Z, formula, dtype, counts, odd);
          count4(v128.and(i32x4.shr_u(x, 12), m), S, S, Z, Z, formula, dtype, counts, odd);
          count4(i32x4.shr_u(x, 18), S, S, Z, Z, formula, dtype, counts, odd);
        }
      }
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
  formula: i32, dtype: i32, counts: usize,
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
      const sa = f64x2(param(scales, r, groups, g), param(scales, r + 1, groups, g));
      const sb = f64x2(param(scales, r + 2, groups, g), param(scales, r + 3, groups, g));
      const za = f64x2(param(zeros, r, groups, g), param(zeros, r + 1, groups, g));
      const zb = f64x2(param(zeros, r + 2, groups, g), param(zeros, r + 3, groups, g));
      let at = words + ((<usize>p0 * <usize>nRows + r) << 2);
      for (let p = p0; p < p1; p++, at += stride) {
        const v = v128.load(at);
        count4(v128.and(v, m), sa, sb, za, zb, formula, dtype, counts, odd);
        count4(v128.and(i32x4.shr_u(v, 8), m), sa, sb, za, zb, formula, dtype, counts, odd);
        count4(v128.and(i32x4.shr_u(v, 16), m), sa, sb, za, zb, formula, dtype, counts, odd);
        count4(i32x4.shr_u(v, 24), sa, sb, za, zb, formula, dtype, counts, odd);
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
