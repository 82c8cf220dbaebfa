// AssemblyScript (part of dist/kernels.wasm): the value patterns of GPTQ 4-bit act-order weights (desc_act: g_idx
// any map of input columns to groups, not k >> 7), counted without decoding a value. A value's pattern depends only
// on its output row n, its group g and its code, so only the count of each code per (n, g) is needed, whatever the
// order of the columns. Word (p, n) of qweight holds input columns 8p .. 8p + 7 of output n, and nibble j of packed
// row p belongs to group g_idx[8p + j] for every n: 16 outputs at a time, the 16 codes of a nibble position go
// into one-hot u8 counters of their group (lane = output), then each (n, g)'s 16 code counts are added once
// through its scale and zero (nibbleGroups.ts' addGroup path, common/lanePatterns.ts).
import { addCounts4, codePatterns4, param } from './common/lanePatterns';

/** Input columns a group may take before its u8 counters are emptied (each adds at most one to a counter). */
const MAX_PENDING: i32 = 255;

/**
 * The byte offset of the counters of group g, outputs 16b .. 16b + 15: 16 codes × 16 lanes (u8). A block's counters
 * of every group are together (groups × 256 bytes), so counting a block stays in the first-level cache.
 */
@inline
function blockAt(counters: usize, g: i32, groups: i32, b: i32): usize {
  return counters + ((<usize>b * <usize>groups + <usize>g) << 8);
}

/**
 * GPTQ 4-bit: pRows packed rows of nRows words from packed row p0 (words[(p − p0) · nRows + n]: input columns
 * 8p .. 8p + 7 of output n, lowest nibble first); group: the group of every input column (i32, checked in range by
 * the caller); pending: input columns counted per group since its counters were last emptied (i32, groups);
 * counters: ceil(nRows / 16) × groups × 256 bytes, zero at the start. The rows are counted in runs after which no
 * group has more than MAX_PENDING columns pending; a group that would pass it is emptied into counts first
 * (flushActOrderGroup). The caller empties every group at the end (flushActOrderGroups).
 */
export function countGptqActOrderNibbles(
  words: usize, p0: i32, pRows: i32, nRows: i32, group: usize, pending: usize, counters: usize, scales: usize,
  zeros: usize, groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  let s0 = 0;
  while (s0 < pRows) {
    let s1 = s0;
    for (; s1 < pRows; s1++) {
      const columns = group + (<usize>((p0 + s1) * 8) << 2);
      let fits = true;
      for (let j = 0; j < 8; j++) {
        const seen = pending + (<usize>load<i32>(columns + (<usize>j << 2)) << 2);
        store<i32>(seen, load<i32>(seen) + 1);
        if (load<i32>(seen) > MAX_PENDING) fits = false;
      }
      if (fits) continue;
      for (let j = 0; j < 8; j++) {
        const seen = pending + (<usize>load<i32>(columns + (<usize>j << 2)) << 2);
        store<i32>(seen, load<i32>(seen) - 1);
      }
      if (s1 > s0) break;
      // the run is empty: empty the groups this row would overflow, then take it
      for (let j = 0; j < 8; j++) {
        const g = load<i32>(columns + (<usize>j << 2));
        const seen = pending + (<usize>g << 2);
        if (load<i32>(seen) + 8 > MAX_PENDING) {
          flushActOrderGroup(nRows, g, counters, scales, zeros, groups, formula, dtype, counts);
          store<i32>(seen, 0);
        }
      }
      s1--;
    }
    countRun(words, p0, s0, s1, nRows, group, counters, groups);
    s0 = s1;
  }
}

/** Adds the codes of packed rows [s0, s1) (of the band at `words`, from p0) to their groups' counters. */
@inline
function countRun(words: usize, p0: i32, s0: i32, s1: i32, nRows: i32, group: usize, counters: usize, groups: i32): void {
  const full = nRows >> 4;
  const nibble = i32x4.splat(15);
  for (let b = 0; b < full; b++) {
    for (let p = s0; p < s1; p++) {
      const at = words + ((<usize>p * <usize>nRows + (<usize>b << 4)) << 2);
      const columns = group + (<usize>((p0 + p) * 8) << 2);
      const v0 = v128.load(at);
      const v1 = v128.load(at, 16);
      const v2 = v128.load(at, 32);
      const v3 = v128.load(at, 48);
      for (let j = 0; j < 8; j++) {
        const sh = <u32>(j << 2);
        const low = i16x8.narrow_i32x4_u(v128.and(i32x4.shr_u(v0, sh), nibble), v128.and(i32x4.shr_u(v1, sh), nibble));
        const high = i16x8.narrow_i32x4_u(v128.and(i32x4.shr_u(v2, sh), nibble), v128.and(i32x4.shr_u(v3, sh), nibble));
        const codes = i8x16.narrow_i16x8_u(low, high);
        const c = blockAt(counters, load<i32>(columns + (<usize>j << 2)), groups, b);
        // eq gives -1 in the lanes holding code q: subtracting it counts them
        for (let q = 0; q < 16; q++) {
          const cq = c + (<usize>q << 4);
          v128.store(cq, i8x16.sub(v128.load(cq), i8x16.eq(codes, i8x16.splat(<i8>q))));
        }
      }
    }
  }
  // the last outputs, fewer than 16
  for (let n = full << 4; n < nRows; n++) {
    for (let p = s0; p < s1; p++) {
      const word = load<u32>(words + ((<usize>p * <usize>nRows + <usize>n) << 2));
      const columns = group + (<usize>((p0 + p) * 8) << 2);
      for (let j = 0; j < 8; j++) {
        const q = (word >>> (<u32>j << 2)) & 15;
        const at = blockAt(counters, load<i32>(columns + (<usize>j << 2)), groups, full) + (<usize>q << 4) + <usize>(n & 15);
        store<u8>(at, load<u8>(at) + 1);
      }
    }
  }
}

/** Adds every group's pending code counts to counts and empties them (the end of a weight). */
export function flushActOrderGroups(
  nRows: i32, pending: usize, counters: usize, scales: usize, zeros: usize, groups: i32, formula: i32, dtype: i32,
  counts: usize,
): void {
  for (let g = 0; g < groups; g++) {
    const seen = pending + (<usize>g << 2);
    if (load<i32>(seen) == 0) continue;
    flushActOrderGroup(nRows, g, counters, scales, zeros, groups, formula, dtype, counts);
    store<i32>(seen, 0);
  }
}

/** The counts of codes 4h .. 4h + 3 of lane l of a block, as i32x4. */
@inline
function laneCounts(c: usize, l: usize, h: usize): v128 {
  const at = c + (h << 6) + l;
  let v = i32x4.splat(<i32>load<u8>(at));
  v = i32x4.replace_lane(v, 1, <i32>load<u8>(at + 16));
  v = i32x4.replace_lane(v, 2, <i32>load<u8>(at + 32));
  return i32x4.replace_lane(v, 3, <i32>load<u8>(at + 48));
}

/** Adds group g's code counts of every output to counts through (n, g)'s scale and zero, and zeroes them. */
function flushActOrderGroup(
  nRows: i32, g: i32, counters: usize, scales: usize, zeros: usize, groups: i32, formula: i32, dtype: i32, counts: usize,
): void {
  const blocks = (nRows + 15) >> 4;
  for (let b = 0; b < blocks; b++) {
    const c = blockAt(counters, g, groups, b);
    const lanes = min(16, nRows - (b << 4));
    for (let l = 0; l < lanes; l++) {
      const n = (b << 4) + l;
      const s = param(scales, <usize>n, groups, g);
      const z = param(zeros, <usize>n, groups, g);
      addCounts4(counts, codePatterns4(0, s, z, formula, dtype), laneCounts(c, l, 0));
      addCounts4(counts, codePatterns4(4, s, z, formula, dtype), laneCounts(c, l, 1));
      addCounts4(counts, codePatterns4(8, s, z, formula, dtype), laneCounts(c, l, 2));
      addCounts4(counts, codePatterns4(12, s, z, formula, dtype), laneCounts(c, l, 3));
    }
    memory.fill(c, 0, 256);
  }
}
