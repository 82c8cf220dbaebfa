// AssemblyScript (part of dist/kernels.wasm): the code decoders of quantized Hugging Face checkpoints
// (src/core/hfquant/affine.ts, mlx.ts, floatFormats.ts). A weight's element (r, k) is its stored code q read
// through a value of its group g = group[k] in row r: GPTQ, AWQ and compressed-tensors round(s · (q − z)) to the
// scales dtype once, MLX round(round(q · s) + b) twice, the float-code formats (FP8, NVFP4, MXFP4)
// round(codeValue[q] · s). Each row builds the table of every (group, code) value when that table is
// smaller than the row, else computes each element. The arithmetic is the JavaScript decoders' (float64 exact
// product, rounded to float32, then to binary16 or bfloat16), so both paths give the same bits.
import { f32ToF16, halfToFloat } from './common/half';

/** Output dtypes, as src/core/hfquant/codeTables.ts numbers them. */
export const F16: i32 = 0;
export const BF16: i32 = 1;

/** Formulas. */
export const ZERO_POINT: i32 = 0; // round(s · (q − z))
export const MLX_BIAS: i32 = 1; // round(round(q · s) + b)
export const SCALED_CODE: i32 = 2; // round(codeValue[q] · s), or round(round32(codeValue[q] · s) · factor)
export const HQQ_ZERO: i32 = 3; // round(round(q − z) · s)

/** The code table of SCALED_CODE (f64 per code) and the factor of its second product, set by setCodeValues. */
let codeValues: usize = 0;
let codeFactor: f64 = 1;

/**
 * The f64 code table (levels entries at ptr) the SCALED_CODE formula reads until the next call, and a factor the
 * product rounded to float32 is multiplied by and rounded again (LLM.int8's 1/127; 1 changes nothing).
 */
export function setCodeValues(ptr: usize, factor: f64): void {
  codeValues = ptr;
  codeFactor = factor;
}

/** The SCALED_CODE factor (nibbleGroups.ts). */
@inline
export function codeValueFactor(): f64 {
  return codeFactor;
}

/** Where the SCALED_CODE table is (nibbleGroups.ts reads it four codes at a time). */
@inline
export function codeValueTable(): usize {
  return codeValues;
}

@inline
function bf16(x: f32): f32 {
  const u = reinterpret<u32>(x);
  if ((u & 0x7fffffff) > 0x7f800000) return reinterpret<f32>((u | 0x400000) & 0xffff0000);
  return reinterpret<f32>(((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) << 16);
}

@inline
function roundTo(x: f64, dtype: i32): f32 {
  const y = <f32>x;
  if (dtype == F16) return halfToFloat(f32ToF16(y));
  if (dtype == BF16) return bf16(y);
  return y;
}

/** Code q's value before its last rounding to the output dtype, in float32. */
@inline
function unrounded(q: i32, s: f64, z: f64, formula: i32, dtype: i32): f32 {
  if (formula == MLX_BIAS) return <f32>(<f64>roundTo(<f64>q * s, dtype) + z);
  if (formula == SCALED_CODE) return <f32>(<f64><f32>(load<f64>(codeValues + (<usize>q << 3)) * s) * codeFactor);
  if (formula == HQQ_ZERO) return <f32>(<f64>roundTo(<f64>q - z, dtype) * s);
  return <f32>(s * (<f64>q - z));
}

@inline
function value(q: i32, s: f64, z: f64, formula: i32, dtype: i32): f32 {
  return roundTo(<f64>unrounded(q, s, z, formula, dtype), dtype);
}

/** The 16-bit pattern (float16 or bfloat16) of code q's value (that of value(), converted once). */
@inline
export function codePattern(q: i32, s: f64, z: f64, formula: i32, dtype: i32): u32 {
  const y = unrounded(q, s, z, formula, dtype);
  return dtype == F16 ? f32ToF16(y) : reinterpret<u32>(bf16(y)) >>> 16;
}

/** Whether rows a and b have the same scales and zeros in every group (FP8 blocks share them over 128 rows). */
function sameParams(scales: usize, zeros: usize, groups: i32, a: i32, b: i32): bool {
  const pa = <usize>a * <usize>groups;
  const pb = <usize>b * <usize>groups;
  for (let g = 0; g < groups; g++) {
    const ia = (pa + <usize>g) << 3;
    const ib = (pb + <usize>g) << 3;
    if (load<u64>(scales + ia) != load<u64>(scales + ib) || load<u64>(zeros + ia) != load<u64>(zeros + ib)) return false;
  }
  return true;
}

/**
 * Whether row r reads its values from the (group, code) table: when the table is smaller than the row, or when the
 * next row shares its parameters (the table is then built once for both; a row sharing the previous row's keeps it).
 */
@inline
function tableFor(scales: usize, zeros: usize, groups: i32, levels: i32, cols: i32, nRows: i32, r: i32): bool {
  return groups * levels <= cols || (r + 1 < nRows && sameParams(scales, zeros, groups, r, r + 1));
}

/**
 * Row r's table of every (group, code) value from its scales and zeros: the values (T = f32) or their 16-bit
 * patterns (T = u16), `levels` per group.
 */
@inline
function fillRowTable<T>(table: usize, scales: usize, zeros: usize, r: i32, groups: i32, levels: i32, formula: i32, dtype: i32): void {
  const params = <usize>r * <usize>groups;
  for (let g = 0; g < groups; g++) {
    const s = load<f64>(scales + ((params + <usize>g) << 3));
    const z = load<f64>(zeros + ((params + <usize>g) << 3));
    const t = table + <usize>(g * levels) * sizeof<T>();
    for (let q = 0; q < levels; q++) {
      if (isInteger<T>()) store<u16>(t + (<usize>q << 1), <u16>codePattern(q, s, z, formula, dtype));
      else store<f32>(t + (<usize>q << 2), value(q, s, z, formula, dtype));
    }
  }
}

/**
 * Rows [0, nRows) of codes (u8, nRows × cols) into out (f32): group (i32 per column), scales and zeros (f64,
 * nRows × groups, the rows' own), table (f32, groups × levels of scratch).
 */
export function decodeCodeRows(
  codes: usize, nRows: i32, cols: i32, group: usize, scales: usize, zeros: usize, groups: i32, levels: i32,
  formula: i32, dtype: i32, table: usize, out: usize,
): void {
  let built = false; // the table holds row r − 1's values
  for (let r = 0; r < nRows; r++) {
    const c = codes + <usize>r * <usize>cols;
    const o = out + ((<usize>r * <usize>cols) << 2);
    const params = <usize>r * <usize>groups;
    const keep = built && sameParams(scales, zeros, groups, r - 1, r);
    built = keep || tableFor(scales, zeros, groups, levels, cols, nRows, r);
    if (built) {
      if (!keep) fillRowTable<f32>(table, scales, zeros, r, groups, levels, formula, dtype);
      for (let k = 0; k < cols; k++) {
        const at = load<i32>(group + (<usize>k << 2)) * levels + <i32>load<u8>(c + <usize>k);
        store<f32>(o + (<usize>k << 2), load<f32>(table + (<usize>at << 2)));
      }
    } else {
      for (let k = 0; k < cols; k++) {
        const g = params + <usize>load<i32>(group + (<usize>k << 2));
        const q = <i32>load<u8>(c + <usize>k);
        store<f32>(o + (<usize>k << 2), value(q, load<f64>(scales + (g << 3)), load<f64>(zeros + (g << 3)), formula, dtype));
      }
    }
  }
}

/**
 * Columns [c0, c0 + nCols) of nRows rows of rowWords u32 words at `words` into `out` column after column
 * (out[(c − c0) · nRows + r] = words[r · rowWords + c]): row-major packed codes (compressed-tensors) into
 * GPTQ's layout of packed rows of one word per output, which the any-group counters read 16 or 4 outputs at a time.
 * 16 rows at a time, so each output run of 16 words is one cache line and the 16 rows are read in order.
 */
export function transposeWords(words: usize, nRows: i32, rowWords: i32, c0: i32, nCols: i32, out: usize): void {
  const stride = <usize>rowWords << 2;
  for (let r0 = 0; r0 < nRows; r0 += 16) {
    const r1 = min(nRows, r0 + 16);
    for (let c = 0; c < nCols; c++) {
      const from = words + <usize>r0 * stride + (<usize>(c0 + c) << 2);
      const to = out + ((<usize>c * <usize>nRows + <usize>r0) << 2);
      for (let r = 0; r < r1 - r0; r++) store<u32>(to + (<usize>r << 2), load<u32>(from + <usize>r * stride));
    }
  }
}

/**
 * Codes of row-major little-endian bit streams of `bits`-bit fields (LSB first, a field may straddle two words):
 * nRows rows of wordsPerRow u32 words at `words`, cols codes each into `codes` (u8). MLX (all widths) and
 * compressed-tensors pack-quantized.
 */
export function unpackFieldRows(words: usize, nRows: i32, wordsPerRow: i32, cols: i32, bits: i32, codes: usize): void {
  const mask: u32 = (<u32>1 << <u32>bits) - 1;
  for (let r = 0; r < nRows; r++) {
    const w = words + ((<usize>r * <usize>wordsPerRow) << 2);
    const c = codes + <usize>r * <usize>cols;
    if (32 % bits == 0) {
      const per = 32 / bits;
      let k = 0;
      for (let p = 0; k < cols; p++) {
        let word = load<u32>(w + (<usize>p << 2));
        const end = min(cols, k + per);
        for (; k < end; k++) {
          store<u8>(c + <usize>k, <u8>(word & mask));
          word >>>= <u32>bits;
        }
      }
    } else {
      for (let k = 0, bit = 0; k < cols; k++, bit += bits) {
        const p = <usize>(bit >>> 5);
        const sh = <u32>(bit & 31);
        let v = load<u32>(w + (p << 2)) >>> sh;
        if (sh + <u32>bits > 32) v |= load<u32>(w + ((p + 1) << 2)) << (32 - sh);
        store<u8>(c + <usize>k, <u8>(v & mask));
      }
    }
  }
}

/**
 * GPTQ's qweight, packed along the input dimension: for each of P packed rows, nRows words (one per output row)
 * at words[p · nRows + j], each holding 32 / bits codes of input columns p · per ... (whole fields only).
 */
export function unpackColumnWords(words: usize, P: i32, nRows: i32, cols: i32, bits: i32, codes: usize): void {
  const mask: u32 = (<u32>1 << <u32>bits) - 1;
  const per = 32 / bits;
  for (let j = 0; j < nRows; j++) {
    const c = codes + <usize>j * <usize>cols;
    for (let p = 0; p < P; p++) {
      let word = load<u32>(words + ((<usize>p * <usize>nRows + <usize>j) << 2));
      const o = c + <usize>(p * per);
      for (let i = 0; i < per; i++) {
        store<u8>(o + <usize>i, <u8>(word & mask));
        word >>>= <u32>bits;
      }
    }
  }
}

/**
 * decodeCodeRows for float16 and bfloat16 outputs, counting the values' 16-bit patterns instead of storing them:
 * counts is two i32 tables of 65536 (even and odd columns, so that runs of one value do not wait on one counter),
 * table u16 scratch of groups × levels. Exact statistics and the histogram follow from the counts.
 */
export function countCodeRows(
  codes: usize, nRows: i32, cols: i32, group: usize, scales: usize, zeros: usize, groups: i32, levels: i32,
  formula: i32, dtype: i32, table: usize, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  let built = false;
  for (let r = 0; r < nRows; r++) {
    const c = codes + <usize>r * <usize>cols;
    const params = <usize>r * <usize>groups;
    const keep = built && sameParams(scales, zeros, groups, r - 1, r);
    built = keep || tableFor(scales, zeros, groups, levels, cols, nRows, r);
    if (built) {
      if (!keep) fillRowTable<u16>(table, scales, zeros, r, groups, levels, formula, dtype);
      let k = 0;
      for (; k + 1 < cols; k += 2) {
        const a = load<i32>(group + (<usize>k << 2)) * levels + <i32>load<u8>(c + <usize>k);
        const b = load<i32>(group + (<usize>(k + 1) << 2)) * levels + <i32>load<u8>(c + <usize>(k + 1));
        const pa = counts + (<usize>load<u16>(table + (<usize>a << 1)) << 2);
        const pb = odd + (<usize>load<u16>(table + (<usize>b << 1)) << 2);
        store<i32>(pa, load<i32>(pa) + 1);
        store<i32>(pb, load<i32>(pb) + 1);
      }
      if (k < cols) {
        const a = load<i32>(group + (<usize>k << 2)) * levels + <i32>load<u8>(c + <usize>k);
        const pa = counts + (<usize>load<u16>(table + (<usize>a << 1)) << 2);
        store<i32>(pa, load<i32>(pa) + 1);
      }
    } else {
      for (let k = 0; k < cols; k++) {
        const g = params + <usize>load<i32>(group + (<usize>k << 2));
        const q = <i32>load<u8>(c + <usize>k);
        const pattern = codePattern(q, load<f64>(scales + (g << 3)), load<f64>(zeros + (g << 3)), formula, dtype);
        const p = ((k & 1) != 0 ? odd : counts) + (<usize>pattern << 2);
        store<i32>(p, load<i32>(p) + 1);
      }
    }
  }
}

/** n 4-bit codes from n / 2 bytes, high nibble first (bitsandbytes NF4 / FP4). */
export function unpackHighNibbles(bytes: usize, n: i32, codes: usize): void {
  for (let i = 0; i < n >> 1; i++) {
    const b = load<u8>(bytes + <usize>i);
    store<u8>(codes + (<usize>i << 1), b >> 4);
    store<u8>(codes + (<usize>i << 1) + 1, b & 15);
  }
}

/**
 * AWQ GEMM's qweight ([K, N/8], eight output columns per word in an interleaved order): the words of columns
 * [c0, c0 + Wd) for every input k at words[k · Wd + c], into the codes of rows [r0, r1) (cols = K each).
 * shifts holds, in nibble j, the field (0-7) of output row 8c + j.
 */
export function unpackInterleavedColumns(words: usize, K: i32, Wd: i32, c0: i32, r0: i32, r1: i32, shifts: u32, codes: usize): void {
  for (let n = r0; n < r1; n++) {
    const col = (n >> 3) - c0;
    const sh = ((shifts >>> (<u32>(n & 7) << 2)) & 7) << 2;
    const c = codes + <usize>(n - r0) * <usize>K;
    const w = words + (<usize>col << 2);
    const stride = <usize>Wd << 2;
    for (let k = 0; k < K; k++) store<u8>(c + <usize>k, <u8>((load<u32>(w + <usize>k * stride) >>> sh) & 15));
  }
}

/**
 * The pattern of every (group, row, code) value of a weight, for counting in the stored order of GPTQ and AWQ:
 * table[(g · nRows + r) · levels + q] (u16), from scales and zeros (f64 at r · groups + g).
 */
export function buildPatternTable(
  scales: usize, zeros: usize, nRows: i32, groups: i32, levels: i32, formula: i32, dtype: i32, table: usize,
): void {
  for (let g = 0; g < groups; g++) {
    for (let r = 0; r < nRows; r++) {
      const at = <usize>r * <usize>groups + <usize>g;
      const s = load<f64>(scales + (at << 3));
      const z = load<f64>(zeros + (at << 3));
      const t = table + ((<usize>g * <usize>nRows + <usize>r) * <usize>levels << 1);
      for (let q = 0; q < levels; q++) store<u16>(t + (<usize>q << 1), <u16>codePattern(q, s, z, formula, dtype));
    }
  }
}

@inline
function bump(counts: usize, pattern: u32): void {
  const p = counts + (<usize>pattern << 2);
  store<i32>(p, load<i32>(p) + 1);
}

/**
 * Counts the value patterns of GPTQ packed rows [p0, p0 + pRows): words[(p − p0) · nRows + n] holds the codes of
 * row n at input columns p · per ... p · per + per − 1 (bits each, lowest first); group is per input column.
 */
export function countGptqWords(
  words: usize, p0: i32, pRows: i32, nRows: i32, bits: i32, group: usize, table: usize, levels: i32, counts: usize,
): void {
  const per = 32 / bits;
  const mask: u32 = (<u32>1 << <u32>bits) - 1;
  const odd = counts + (65536 << 2);
  for (let p = 0; p < pRows; p++) {
    const k0 = (p0 + p) * per;
    for (let i = 0; i < per; i++) {
      // the table rows of this input column's group, one per output row
      const t = table + (<usize>load<i32>(group + (<usize>(k0 + i) << 2)) * <usize>nRows * <usize>levels << 1);
      const sh = <u32>(i * bits);
      const w = words + ((<usize>p * <usize>nRows) << 2);
      let n = 0;
      for (; n + 1 < nRows; n += 2) {
        const a = (load<u32>(w + (<usize>n << 2)) >>> sh) & mask;
        const b = (load<u32>(w + (<usize>(n + 1) << 2)) >>> sh) & mask;
        bump(counts, <u32>load<u16>(t + ((<usize>n * <usize>levels + <usize>a) << 1)));
        bump(odd, <u32>load<u16>(t + ((<usize>(n + 1) * <usize>levels + <usize>b) << 1)));
      }
      if (n < nRows) bump(counts, <u32>load<u16>(t + ((<usize>n * <usize>levels + <usize>((load<u32>(w + (<usize>n << 2)) >>> sh) & mask)) << 1)));
    }
  }
}

/**
 * Counts the value patterns of AWQ GEMM input columns [k0, k0 + kRows): words[(k − k0) · W + c] holds 4-bit codes
 * of rows 8c + j' where nibble j belongs to row 8c + ((order >> 4j) & 7).
 */
export function countAwqWords(
  words: usize, k0: i32, kRows: i32, W: i32, nRows: i32, order: u32, group: usize, table: usize, levels: i32, counts: usize,
): void {
  const odd = counts + (65536 << 2);
  for (let k = 0; k < kRows; k++) {
    const t = table + (<usize>load<i32>(group + (<usize>(k0 + k) << 2)) * <usize>nRows * <usize>levels << 1);
    const w = words + ((<usize>k * <usize>W) << 2);
    for (let c = 0; c < W; c++) {
      const word = load<u32>(w + (<usize>c << 2));
      for (let j = 0; j < 8; j += 2) {
        const na = (c << 3) + <i32>((order >>> (<u32>j << 2)) & 7);
        const nb = (c << 3) + <i32>((order >>> (<u32>(j + 1) << 2)) & 7);
        const a = (word >>> (<u32>j << 2)) & 15;
        const b = (word >>> (<u32>(j + 1) << 2)) & 15;
        if (na < nRows) bump(counts, <u32>load<u16>(t + ((<usize>na * <usize>levels + <usize>a) << 1)));
        if (nb < nRows) bump(odd, <u32>load<u16>(t + ((<usize>nb * <usize>levels + <usize>b) << 1)));
      }
    }
  }
}

/**
 * The byte histogram of each of nRows rows of cols bytes: counts[r · 256 + b] (i32) is how many times byte b occurs
 * in row r (LLM.int8's codes; a row's values follow from its 256 counts and its scale). Four interleaved tables of
 * scratch (4 × 256 i32 at `scratch`) so that runs of one byte do not wait on one counter.
 */
export function countByteRows(bytes: usize, nRows: i32, cols: i32, scratch: usize, counts: usize): void {
  for (let r = 0; r < nRows; r++) {
    memory.fill(scratch, 0, 4 << 10);
    const c = bytes + <usize>r * <usize>cols;
    let k = 0;
    for (; k + 3 < cols; k += 4) {
      const word = load<u32>(c + <usize>k);
      const p0 = scratch + (<usize>(word & 255) << 2);
      const p1 = scratch + (1 << 10) + (<usize>((word >>> 8) & 255) << 2);
      const p2 = scratch + (2 << 10) + (<usize>((word >>> 16) & 255) << 2);
      const p3 = scratch + (3 << 10) + (<usize>(word >>> 24) << 2);
      store<i32>(p0, load<i32>(p0) + 1);
      store<i32>(p1, load<i32>(p1) + 1);
      store<i32>(p2, load<i32>(p2) + 1);
      store<i32>(p3, load<i32>(p3) + 1);
    }
    for (; k < cols; k++) {
      const p = scratch + (<usize>load<u8>(c + <usize>k) << 2);
      store<i32>(p, load<i32>(p) + 1);
    }
    const o = counts + (<usize>r << 10);
    for (let b = 0; b < 256; b += 4) {
      const at = <usize>b << 2;
      const sum = i32x4.add(
        i32x4.add(v128.load(scratch + at), v128.load(scratch + (1 << 10) + at)),
        i32x4.add(v128.load(scratch + (2 << 10) + at), v128.load(scratch + (3 << 10) + at)),
      );
      v128.store(o + at, sum);
    }
  }
}
