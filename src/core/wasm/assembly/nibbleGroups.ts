// AssemblyScript (part of dist/kernels.wasm): the value patterns of weights with 4-bit codes in contiguous groups
// (GPTQ, AWQ GEMM, compressed-tensors, MLX, bitsandbytes NF4 / FP4, HQQ, NVFP4, MXFP4), counted without decoding a
// value. A (row, group) has at most 16 values: its codes are counted by bit planes straight from the packed words
// (common/codePlanes.ts, as the Q4_K pass 2 counts a sub-block's), 32 at a time, then the float16 / bfloat16
// patterns of its 16 values are computed four at a time (common/lanePatterns.ts) and each added once with its count
// (with one-byte scales, NVFP4 and MXFP4, the codes are summed per scale byte instead and each byte's 16 patterns
// added once at the end: addScaleHistogram). The layouts differ only in where a group's 32-code chunks are and how one is loaded (countGroup's `load`). Groups
// span a multiple of 32 columns (16 for row-major NVFP4: two groups a chunk); the caller
// (src/core/hfquant/codeTables.ts) sends other layouts to the other counters.
import { plane, planePairs, popcnt32x4 } from './common/codePlanes';
import { addCounts4, codePatterns4, param } from './common/lanePatterns';

/**
 * Adds the counts of codes 0..15 of one (row, group), c0 = codes 0-3 ... c3 = codes 12-15 (i32x4), to the i32
 * pattern counts (65536) at the patterns of their values through scale s and zero (or bias) z.
 */
function addGroup(c0: v128, c1: v128, c2: v128, c3: v128, s: f64, z: f64, formula: i32, dtype: i32, counts: usize): void {
  addCounts4(counts, codePatterns4(0, s, z, formula, dtype), c0);
  addCounts4(counts, codePatterns4(4, s, z, formula, dtype), c1);
  addCounts4(counts, codePatterns4(8, s, z, formula, dtype), c2);
  addCounts4(counts, codePatterns4(12, s, z, formula, dtype), c3);
}

/**
 * Counts of codes 4h .. 4h + 3 (h = 0..3: lanes) among 32 codes given by their bit planes: pairs of the low two
 * planes (planePairs(p0, p1)) and of the high two (planePairs(p2, p3)).
 */
@inline
function codeCounts(low: v128, high: v128, h: i32): v128 {
  const select = h == 0 ? v128.shuffle<i32>(high, high, 0, 0, 0, 0) : h == 1 ? v128.shuffle<i32>(high, high, 1, 1, 1, 1) : h == 2 ? v128.shuffle<i32>(high, high, 2, 2, 2, 2) : v128.shuffle<i32>(high, high, 3, 3, 3, 3);
  return popcnt32x4(v128.and(low, select));
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
 * Where a group's counts go. PARAMS: to the pattern counts, through the group's scale and zero (f64 tables at
 * r · groups + g). SCALE_CODES: to a histogram of codes per scale code (256 × 16 i32), at the group's scale code
 * (u8 table at r · groups + g), for addScaleHistogram to turn into patterns once per scale code.
 */
const PARAMS: i32 = 0;
const SCALE_CODES: i32 = 1;

@inline
function finishGroup(
  sink: i32, c0: v128, c1: v128, c2: v128, c3: v128, r: usize, groups: i32, g: i32, scales: usize, zeros: usize,
  formula: i32, dtype: i32, counts: usize,
): void {
  if (sink == SCALE_CODES) {
    const at = counts + (<usize>load<u8>(scales + r * <usize>groups + <usize>g) << 6);
    v128.store(at, i32x4.add(v128.load(at), c0));
    v128.store(at, i32x4.add(v128.load(at, 16), c1), 16);
    v128.store(at, i32x4.add(v128.load(at, 32), c2), 32);
    v128.store(at, i32x4.add(v128.load(at, 48), c3), 48);
  } else addGroup(c0, c1, c2, c3, param(scales, r, groups, g), param(zeros, r, groups, g), formula, dtype, counts);
}

/**
 * Adds the codes counted per scale code (hist: 256 × 16 i32, from countNibbleRows with scale codes) to the pattern
 * counts, through the value of each scale code (values: 256 f64); zeros of 0.
 */
export function addScaleHistogram(hist: usize, values: usize, formula: i32, dtype: i32, counts: usize): void {
  for (let code = 0; code < 256; code++) {
    const at = hist + (<usize>code << 6);
    const c0 = v128.load(at);
    const c1 = v128.load(at, 16);
    const c2 = v128.load(at, 32);
    const c3 = v128.load(at, 48);
    if (!v128.any_true(v128.or(v128.or(c0, c1), v128.or(c2, c3)))) continue;
    addGroup(c0, c1, c2, c3, load<f64>(values + (<usize>code << 3)), 0, formula, dtype, counts);
  }
}

/** How countGroup loads a 32-code chunk. */
/** 16 bytes at `at`: their low nibbles, then their high nibbles. */
const BYTES: i32 = 0;
/** Words at at, at + stride, at + 2 stride, at + 3 stride (GPTQ: one output row in four packed rows), as BYTES. */
const WORDS: i32 = 1;
/** 16 bytes at `at`, then 16 at `at + stride`: nibble bits top .. top − 3 of each byte. */
const PAIRS: i32 = 2;

/** The first `words` (1..3) of gather4's words, the others zero. */
@inline
function gatherSome(at: usize, stride: usize, words: i32): v128 {
  let v = v128.load32_zero(at);
  if (words > 1) v = v128.load32_lane(at + stride, v, 1);
  if (words > 2) v = v128.load32_lane(at + 2 * stride, v, 2);
  return v;
}

/**
 * The counts of one (row r, group g) of `chunks` chunks of 32 codes, the first at `at`, the next `step` bytes on,
 * each loaded as `load` says, added where `sink` says (both constants: each caller's copy keeps only its own).
 * WORDS only: then tailWords (0..3) words more, 8 codes each (a GPTQ group of a multiple of 8 codes, not of 32).
 */
@inline
function countGroup(
  load: i32, at: usize, step: usize, chunks: i32, stride: usize, top: i32, sink: i32, r: usize, groups: i32, g: i32,
  scales: usize, zeros: usize, formula: i32, dtype: i32, counts: usize, tailWords: i32 = 0,
): void {
  let c0 = i32x4.splat(0);
  let c1 = c0;
  let c2 = c0;
  let c3 = c0;
  for (let i = 0, n = chunks + (tailWords > 0 ? 1 : 0); i < n; i++, at += step) {
    const a = load == WORDS ? (i < chunks ? gather4(at, stride) : gatherSome(at, stride, tailWords)) : v128.load(at);
    const h = load == PAIRS ? v128.load(at + stride) : i8x16.shr_u(a, 4);
    const t = load == PAIRS ? top : 7;
    const low = planePairs(plane(a, h, t), plane(a, h, t - 1));
    const high = planePairs(plane(a, h, t - 2), plane(a, h, t - 3));
    c0 = i32x4.add(c0, codeCounts(low, high, 0));
    c1 = i32x4.add(c1, codeCounts(low, high, 1));
    c2 = i32x4.add(c2, codeCounts(low, high, 2));
    c3 = i32x4.add(c3, codeCounts(low, high, 3));
  }
  // the missing words of the tail read as 8 codes 0 each
  if (tailWords > 0) c0 = i32x4.sub(c0, i32x4.replace_lane(i32x4.splat(0), 0, 8 * (4 - tailWords)));
  finishGroup(sink, c0, c1, c2, c3, r, groups, g, scales, zeros, formula, dtype, counts);
}

/**
 * Compressed-tensors, MLX, bitsandbytes, NVFP4 and MXFP4: nRows rows of wordsPerRow u32 words at `words`, 8 codes
 * per word, cols (a multiple of 32) codes each, groups of groupSize columns (a multiple of 32, 16, or cols);
 * scales and zeros (f64) of (row r, group g) at r · groups + g. With byScaleCode, `scales` holds a u8 scale code
 * per (row, group) instead and `counts` is the histogram of addScaleHistogram.
 */
export function countNibbleRows(
  words: usize, nRows: i32, wordsPerRow: i32, cols: i32, groupSize: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize, byScaleCode: bool,
): void {
  if (byScaleCode) nibbleRows(SCALE_CODES, words, nRows, wordsPerRow, cols, groupSize, scales, zeros, groups, formula, dtype, counts);
  else nibbleRows(PARAMS, words, nRows, wordsPerRow, cols, groupSize, scales, zeros, groups, formula, dtype, counts);
}

@inline
function nibbleRows(
  sink: i32, words: usize, nRows: i32, wordsPerRow: i32, cols: i32, groupSize: i32, scales: usize, zeros: usize,
  groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  for (let r = 0; r < nRows; r++) {
    const row = words + ((<usize>r * <usize>wordsPerRow) << 2);
    if (groupSize == 16) {
      pairsOf16(sink, row, r, groups, scales, zeros, formula, dtype, counts);
      continue;
    }
    for (let g = 0; g < groups; g++) {
      const k0 = g * groupSize;
      const chunks = (min(cols, k0 + groupSize) - k0) >> 5;
      countGroup(BYTES, row + (<usize>k0 >> 1), 16, chunks, 0, 7, sink, r, groups, g, scales, zeros, formula, dtype, counts);
    }
  }
}

/**
 * Row r of groups of 16 codes (NVFP4): each 16-byte chunk holds groups 2j (bytes 0-7) and 2j + 1 (bytes 8-15),
 * whose bits in a plane are those of the masks 0x00ff00ff and 0xff00ff00.
 */
@inline
function pairsOf16(sink: i32, row: usize, r: i32, groups: i32, scales: usize, zeros: usize, formula: i32, dtype: i32, counts: usize): void {
  const even = i32x4.splat(0x00ff00ff);
  for (let g = 0; g < groups; g += 2) {
    const a = v128.load(row + (<usize>g << 3));
    const h = i8x16.shr_u(a, 4);
    const low = planePairs(plane(a, h, 7), plane(a, h, 6));
    const high = planePairs(plane(a, h, 5), plane(a, h, 4));
    const first = v128.and(low, even);
    const second = v128.andnot(low, even);
    finishGroup(
      sink, codeCounts(first, high, 0), codeCounts(first, high, 1), codeCounts(first, high, 2), codeCounts(first, high, 3),
      r, groups, g, scales, zeros, formula, dtype, counts,
    );
    finishGroup(
      sink, codeCounts(second, high, 0), codeCounts(second, high, 1), codeCounts(second, high, 2), codeCounts(second, high, 3),
      r, groups, g + 1, scales, zeros, formula, dtype, counts,
    );
  }
}

/**
 * GPTQ: pRows packed rows of nRows words (one per output row, 8 codes of consecutive input columns each, lowest
 * first), starting at the first packed row of group g0; groups of groupSize input columns (a multiple of 8). The
 * four words of row n in packed rows p .. p + 3 are 32 codes of one group; a group's last 1-3 packed rows, a
 * partial chunk.
 */
export function countGptqNibbles(
  words: usize, pRows: i32, nRows: i32, groupSize: i32, g0: i32, scales: usize, zeros: usize, groups: i32,
  formula: i32, dtype: i32, counts: usize,
): void {
  const perGroup = groupSize >> 3;
  const stride = <usize>nRows << 2;
  for (let p0 = 0; p0 < pRows; p0 += perGroup) {
    const g = g0 + p0 / perGroup;
    const rows = min(pRows, p0 + perGroup) - p0;
    const chunks = rows >> 2;
    for (let n = 0; n < nRows; n++) {
      const at = words + ((<usize>p0 * <usize>nRows + <usize>n) << 2);
      countGroup(WORDS, at, stride << 2, chunks, stride, 7, PARAMS, n, groups, g, scales, zeros, formula, dtype, counts, rows & 3);
    }
  }
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
        // nibble j: byte j >> 1 of each word, its low (bits at 7 − k after the shift) or high nibble (3 − k); the
        // two halves of a chunk are batches b and b + 1
        const at = transposed + (<usize>(j >> 1) << 4);
        const top = (j & 1) != 0 ? 3 : 7;
        countGroup(PAIRS, at, 128, batches >> 1, 64, top, PARAMS, n, groups, g, scales, zeros, formula, dtype, counts);
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
      countGroup(PAIRS, row, 32, groupSize >> 5, 16, part == 0 ? 3 : 7, PARAMS, i, 1, 0, scales, zeros, formula, dtype, counts);
    }
  }
}
