// AssemblyScript (part of dist/kernels.wasm): the value patterns of GPTQ 2-, 3- and 4-bit weights in any groups
// (act-order g_idx, as desc_act writes it, or contiguous groups of a size the group counters do not take), counted
// without decoding a value. A value's pattern depends only on its output row n, its group g and its code, so only
// the count of each code per (n, g) is needed, whatever the order of the columns. Packed row p of qweight holds
// input columns 32p / bits .. of every output, the same columns (so the same groups) for every n: 16 outputs at a
// time, the 16 codes of one field position go into one-hot u8 counters of their group (lane = output), then each
// (n, g)'s code counts are added once through its scale and zero (common/lanePatterns.ts).
import { codePatterns4, param } from './common/lanePatterns';

/** Input columns a group may take before its u8 counters are emptied (each adds at most one to a counter). */
const MAX_PENDING: i32 = 255;

/**
 * A unit of packed rows whose fields do not straddle its end: one packed row of 32 / bits fields (2, 4 bits), or
 * three of 32 fields (3 bits: the stream of each output's 3-bit fields restarts at a word every 96 bits).
 */
@inline
function unitRows(bits: i32): i32 {
  return bits == 3 ? 3 : 1;
}
@inline
function unitFields(bits: i32): i32 {
  return (32 * unitRows(bits)) / bits;
}

/**
 * The byte offset of the counters of group g, outputs 16b .. 16b + 15: 2^bits codes × 16 lanes (u8). A block's
 * counters of every group are together (groups × 16 · 2^bits bytes), so counting a block stays in the first-level
 * cache.
 */
@inline
function blockAt(counters: usize, g: i32, groups: i32, b: i32, bits: i32): usize {
  return counters + ((<usize>b * <usize>groups + <usize>g) << (4 + bits));
}

/**
 * GPTQ 2-, 3- or 4-bit: pRows packed rows of nRows words from packed row p0 (words[(p − p0) · nRows + n]; each
 * output's codes a little-endian stream of bits-bit fields down its words), p0 and pRows whole units; group: the
 * group of every input column (i32, checked in range by the caller); pending: input columns counted per group since
 * its counters were last emptied (i32, groups); counters: ceil(nRows / 16) × groups × 16 · 2^bits bytes, zero at the
 * start. The units are counted in runs after which no group has more than MAX_PENDING columns pending; a group that
 * would pass it is emptied into counts first (flushActOrderGroup). The caller empties every group at the end
 * (flushActOrderGroups).
 */
export function countGptqActOrder(
  words: usize, p0: i32, pRows: i32, nRows: i32, bits: i32, group: usize, pending: usize, counters: usize,
  scales: usize, zeros: usize, groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  if (bits == 2) countActOrder(words, p0, pRows, nRows, 2, group, pending, counters, scales, zeros, groups, formula, dtype, counts);
  else if (bits == 3) countActOrder(words, p0, pRows, nRows, 3, group, pending, counters, scales, zeros, groups, formula, dtype, counts);
  else countActOrder(words, p0, pRows, nRows, 4, group, pending, counters, scales, zeros, groups, formula, dtype, counts);
}

/** countGptqActOrder for a constant bits. */
@inline
function countActOrder(
  words: usize, p0: i32, pRows: i32, nRows: i32, bits: i32, group: usize, pending: usize, counters: usize,
  scales: usize, zeros: usize, groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  const U = unitRows(bits);
  const F = unitFields(bits);
  let s0 = 0;
  while (s0 < pRows) {
    let s1 = s0;
    for (; s1 < pRows; s1 += U) {
      const columns = group + (<usize>(((p0 + s1) / U) * F) << 2);
      let fits = true;
      for (let j = 0; j < F; j++) {
        const seen = pending + (<usize>load<i32>(columns + (<usize>j << 2)) << 2);
        store<i32>(seen, load<i32>(seen) + 1);
        if (load<i32>(seen) > MAX_PENDING) fits = false;
      }
      if (fits) continue;
      for (let j = 0; j < F; j++) {
        const seen = pending + (<usize>load<i32>(columns + (<usize>j << 2)) << 2);
        store<i32>(seen, load<i32>(seen) - 1);
      }
      if (s1 > s0) break;
      // the run is empty: empty the groups this unit would overflow, then take it
      for (let j = 0; j < F; j++) {
        const g = load<i32>(columns + (<usize>j << 2));
        const seen = pending + (<usize>g << 2);
        if (load<i32>(seen) + F > MAX_PENDING) {
          flushActOrderGroup(nRows, bits, g, counters, scales, zeros, groups, formula, dtype, counts);
          store<i32>(seen, 0);
        }
      }
      s1 -= U;
    }
    countRun(words, p0, s0, s1, nRows, bits, group, counters, groups);
    s0 = s1;
  }
}

/**
 * Field j of a unit for four outputs' lanes: of v, the unit's one word (2, 4 bits: no field straddles), else read
 * from the word it starts in at `at` (and the next, `stride` bytes on, when it runs into it).
 */
@inline
function fieldLanes(v: v128, at: usize, stride: usize, j: i32, bits: i32): v128 {
  const bit = j * bits;
  const sh = <u32>(bit & 31);
  const mask = i32x4.splat((1 << bits) - 1);
  if (unitRows(bits) == 1) return v128.and(i32x4.shr_u(v, sh), mask);
  const w = at + <usize>(bit >> 5) * stride;
  let x = i32x4.shr_u(v128.load(w), sh);
  if (sh + <u32>bits > 32) x = v128.or(x, i32x4.shl(v128.load(w + stride), 32 - sh));
  return v128.and(x, mask);
}

/** Field j of a unit of one output (its word at `at`, the unit's next words `stride` bytes apart). */
@inline
function fieldCode(at: usize, stride: usize, j: i32, bits: i32): u32 {
  const bit = j * bits;
  const sh = <u32>(bit & 31);
  const w = at + <usize>(bit >> 5) * stride;
  let v = load<u32>(w) >>> sh;
  if (sh + <u32>bits > 32) v |= load<u32>(w + stride) << (32 - sh);
  return v & ((1 << bits) - 1);
}

/**
 * Counts the lanes of `codes` holding codes q .. q + 3 (q a constant: each compare against a constant vector) in
 * their u8 counters at c + 16q ..: eq gives -1 in the lanes holding the code, and subtracting it counts them.
 */
@inline
function countLevels(c: usize, codes: v128, q: i32): void {
  const at = c + (<usize>q << 4);
  v128.store(at, i8x16.sub(v128.load(at), i8x16.eq(codes, i8x16.splat(<i8>q))));
  v128.store(at, i8x16.sub(v128.load(at, 16), i8x16.eq(codes, i8x16.splat(<i8>(q + 1)))), 16);
  v128.store(at, i8x16.sub(v128.load(at, 32), i8x16.eq(codes, i8x16.splat(<i8>(q + 2)))), 32);
  v128.store(at, i8x16.sub(v128.load(at, 48), i8x16.eq(codes, i8x16.splat(<i8>(q + 3)))), 48);
}

/** Adds the codes of packed rows [s0, s1) (of the band at `words`, from p0) to their groups' counters. */
@inline
function countRun(
  words: usize, p0: i32, s0: i32, s1: i32, nRows: i32, bits: i32, group: usize, counters: usize, groups: i32,
): void {
  const U = unitRows(bits);
  const F = unitFields(bits);
  const full = nRows >> 4;
  const stride = <usize>nRows << 2;
  for (let b = 0; b < full; b++) {
    for (let p = s0; p < s1; p += U) {
      const at = words + ((<usize>p * <usize>nRows + (<usize>b << 4)) << 2);
      const columns = group + (<usize>(((p0 + p) / U) * F) << 2);
      // one word a unit: loaded once (3 bits: each field read where it is)
      const single = U == 1;
      const v0 = single ? v128.load(at) : i32x4.splat(0);
      const v1 = single ? v128.load(at, 16) : v0;
      const v2 = single ? v128.load(at, 32) : v0;
      const v3 = single ? v128.load(at, 48) : v0;
      for (let j = 0; j < F; j++) {
        const low = i16x8.narrow_i32x4_u(fieldLanes(v0, at, stride, j, bits), fieldLanes(v1, at + 16, stride, j, bits));
        const high = i16x8.narrow_i32x4_u(fieldLanes(v2, at + 32, stride, j, bits), fieldLanes(v3, at + 48, stride, j, bits));
        const codes = i8x16.narrow_i16x8_u(low, high);
        const c = blockAt(counters, load<i32>(columns + (<usize>j << 2)), groups, b, bits);
        // 2^bits codes (bits a constant in each copy), four at a time
        countLevels(c, codes, 0);
        if (bits > 2) countLevels(c, codes, 4);
        if (bits > 3) countLevels(c, codes, 8);
        if (bits > 3) countLevels(c, codes, 12);
      }
    }
  }
  // the last outputs, fewer than 16
  for (let n = full << 4; n < nRows; n++) {
    for (let p = s0; p < s1; p += U) {
      const at = words + ((<usize>p * <usize>nRows + <usize>n) << 2);
      const columns = group + (<usize>(((p0 + p) / U) * F) << 2);
      for (let j = 0; j < F; j++) {
        const q = fieldCode(at, stride, j, bits);
        const c = blockAt(counters, load<i32>(columns + (<usize>j << 2)), groups, full, bits) + (<usize>q << 4) + <usize>(n & 15);
        store<u8>(c, load<u8>(c) + 1);
      }
    }
  }
}

/** Adds every group's pending code counts to counts and empties them (the end of a weight). */
export function flushActOrderGroups(
  nRows: i32, bits: i32, pending: usize, counters: usize, scales: usize, zeros: usize, groups: i32, formula: i32,
  dtype: i32, counts: usize,
): void {
  for (let g = 0; g < groups; g++) {
    const seen = pending + (<usize>g << 2);
    if (load<i32>(seen) == 0) continue;
    flushActOrderGroup(nRows, bits, g, counters, scales, zeros, groups, formula, dtype, counts);
    store<i32>(seen, 0);
  }
}

/** Adds the u8 counts at `at`, at + 16, at + 32, at + 48 (codes q .. q + 3 of one lane) at the patterns p (i32x4). */
@inline
function addByteCounts4(counts: usize, p: v128, at: usize): void {
  const p0 = counts + (<usize>i32x4.extract_lane(p, 0) << 2);
  store<i32>(p0, load<i32>(p0) + <i32>load<u8>(at));
  const p1 = counts + (<usize>i32x4.extract_lane(p, 1) << 2);
  store<i32>(p1, load<i32>(p1) + <i32>load<u8>(at, 16));
  const p2 = counts + (<usize>i32x4.extract_lane(p, 2) << 2);
  store<i32>(p2, load<i32>(p2) + <i32>load<u8>(at, 32));
  const p3 = counts + (<usize>i32x4.extract_lane(p, 3) << 2);
  store<i32>(p3, load<i32>(p3) + <i32>load<u8>(at, 48));
}

/** Adds group g's code counts of every output to counts through (n, g)'s scale and zero, and zeroes them. */
function flushActOrderGroup(
  nRows: i32, bits: i32, g: i32, counters: usize, scales: usize, zeros: usize, groups: i32, formula: i32, dtype: i32,
  counts: usize,
): void {
  const blocks = (nRows + 15) >> 4;
  const levels = 1 << bits;
  for (let b = 0; b < blocks; b++) {
    const c = blockAt(counters, g, groups, b, bits);
    const lanes = min(16, nRows - (b << 4));
    for (let l = 0; l < lanes; l++) {
      const n = (b << 4) + l;
      const s = param(scales, <usize>n, groups, g);
      const z = param(zeros, <usize>n, groups, g);
      for (let q = 0; q < levels; q += 4) addByteCounts4(counts, codePatterns4(q, s, z, formula, dtype), c + (<usize>q << 4) + <usize>l);
    }
    memory.fill(c, 0, <usize>(16 << bits));
  }
}
