/**
 * The integer-code decoders and counters in WebAssembly (src/core/wasm/assembly/codeTables.ts, and the group
 * counters nibbleGroups.ts, fieldGroups.ts, valueCodes.ts and actOrderCodes.ts, in dist/kernels.wasm): the rows of a weight whose
 * element (r, k) is its stored code read through its group's scale and zero (GPTQ, AWQ, compressed-tensors), scale
 * and bias (MLX) or code table and scale (NVFP4, MXFP4, FP8). The JavaScript loops of affine.ts, mlx.ts and
 * floatFormats.ts stay the reference (and run while setWasmEnabled(false) holds); both give the same bits.
 */
import { wasmKernel, type KernelExports } from '../wasm/kernels.ts';
import type { OutputDtype } from './numeric.ts';

const DTYPE_ID: Record<OutputDtype, number> = { float16: 0, bfloat16: 1, float32: 2 };

/**
 * round(s · (q − z)) once, MLX's round(round(q · s) + b), a float code's round(codeValues[q] · s), or HQQ's
 * round(round(q − z) · s).
 */
export type CodeFormula = 'zero-point' | 'mlx-bias' | 'scaled-code' | 'hqq';
const FORMULA_ID: Record<CodeFormula, number> = { 'zero-point': 0, 'mlx-bias': 1, 'scaled-code': 2, hqq: 3 };

export interface CodeRows {
  cols: number;
  groups: number;
  levels: number;
  formula: CodeFormula;
  dtype: OutputDtype;
  /** Group of every column. */
  group: Int32Array;
  /** Scale and zero (or bias; unused by 'scaled-code') of (row r, group g) at r·groups + g, every row of the weight. */
  scales: Float64Array;
  zeros?: Float64Array;
  /** 'scaled-code': the value of each code (levels entries). */
  codeValues?: ArrayLike<number>;
  /** 'scaled-code': a factor the product rounded to float32 is multiplied by, then rounded again (LLM.int8's 1/127). */
  codeFactor?: number;
  /**
   * One-byte scales (E4M3, E8M0): the byte of (row r, group g) at r·groups + g, and the scale of each byte (256
   * entries; scales[i] is values[codes[i]]). The group counters then count codes per scale byte and add each
   * byte's patterns once.
   */
  scaleCodes?: { codes: Uint8Array; values: Float64Array };
}

/**
 * Where rows' codes come from: a format's own unpacker; row-major LSB-first bit streams of b-bit fields (MLX,
 * compressed-tensors: `words` of the rows); words packed along the input dimension (GPTQ: `columnWords` of the
 * rows, P packed rows of r1 − r0 words each, whole fields only); or bytes, one code each or two high nibble first
 * (bitsandbytes).
 */
export type CodeSource =
  | { fill(r0: number, r1: number, codes: Uint8Array): void }
  | { words(r0: number, r1: number): Uint32Array; wordsPerRow: number; bits: number }
  | { columnWords(r0: number, r1: number): Uint32Array; packedRows: number; bits: number }
  | { bytes(r0: number, r1: number): Uint8Array; highNibbles?: boolean }
  /** AWQ GEMM: the words of output-column groups [c0, c0 + Wd) for every input; `shifts`: nibble j = field of row 8c + j. */
  | { interleaved(r0: number, r1: number): { words: Uint32Array; c0: number; Wd: number }; shifts: number };

/** Values per decoding call: the module's memory stays about 6 MB whatever the weight. */
const PIECE_VALUES = 1 << 20;
/** Values per counting call (codes only, 1 byte each; fewer merges of the 65536-entry tables). */
const COUNT_PIECE_VALUES = 1 << 22;

/** Rows [r0, r1) in pieces of about `values` values. */
function pieces(w: CodeRows, r0: number, r1: number, values: number, each: (r0: number, r1: number) => void): void {
  const step = Math.max(1, Math.floor(values / Math.max(1, w.cols)));
  for (let r = r0; r < r1; r += step) each(r, Math.min(r1, r + step));
}

/** Decodes rows [r0, r1) into out in the kernel module; false when the kernels are off (the caller's loop runs). */
export function decodeCodeRowsInWasm(w: CodeRows, src: CodeSource, r0: number, r1: number, out: Float32Array): boolean {
  const k = wasmKernel();
  if (!k) return false;
  pieces(w, r0, r1, PIECE_VALUES, (a, b) => {
    const n = (b - a) * w.cols;
    k.reset();
    const values = k.alloc(n * 4);
    const at = stage(k, w, src, a, b);
    k.decodeCodeRows(at.codes, b - a, w.cols, at.group, at.scales, at.zeros, w.groups, w.levels, at.formula, at.dtype, at.table, values);
    out.set(new Float32Array(k.memory.buffer, values, n), (a - r0) * w.cols);
  });
  return true;
}

/**
 * Adds the 16-bit patterns of rows [r0, r1)'s values (float16 or bfloat16) to counts (65536 entries), without
 * storing the values; false when the kernels are off or the output is float32. Row-major codes in contiguous
 * groups are counted by group (rowGroupCounter); row-major 2-, 4- and 8-bit fields in other groups (act-order
 * weight_g_idx, other group sizes) by the GPTQ any-group counters on the piece's words transposed into GPTQ's
 * layout (countAnyGroupsInWasm); the others value by value (countCodeRows).
 */
export function countCodeRowsInWasm(w: CodeRows, src: CodeSource, r0: number, r1: number, counts: Float64Array): boolean {
  const k = wasmKernel();
  if (!k || w.dtype === 'float32') return false;
  const counter = rowGroupCounter(w, src);
  const anyGroups = !counter && 'words' in src && wholeFieldRows(w, src);
  pieces(w, r0, r1, COUNT_PIECE_VALUES, (a, b) => {
    if (anyGroups && countAnyGroupsInWasm(k, rowsOf(w, a, b), b - a, { ...src, rowWords: src.words(a, b) }, counts)) return;
    k.reset();
    const tables = k.alloc(2 * 65536 * 4);
    if (counter?.kind === 'nibbles' && w.scaleCodes && 'words' in src) countByScaleCode(k, w, w.scaleCodes, src, a, b, tables);
    else if (counter && ('words' in src || 'bytes' in src)) {
      const at = stageParams(k, w, a, b);
      const packed = 'words' in src ? src.words(a, b) : src.bytes(a, b);
      // the counters read up to 16 bytes past the last row
      const words = k.alloc(packed.byteLength + 16);
      new Uint8Array(k.memory.buffer, words, packed.byteLength).set(new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
      new Int32Array(k.memory.buffer, tables, 2 * 65536).fill(0);
      const { size, wordsPerRow } = counter;
      const args = [words, b - a, wordsPerRow, w.cols, size, at.scales, at.zeros, w.groups, at.formula, at.dtype, tables] as const;
      if (counter.kind === 'nibbles') k.countNibbleRows(...args, false);
      else if (counter.kind === 'fields2') k.countField2Rows(...args);
      else if (counter.kind === 'fields3') k.countField3Rows(...args);
      else
        k.countValueRows(
          words,
          b - a,
          wordsPerRow * 4,
          w.cols,
          counter.bits,
          size,
          at.scales,
          at.zeros,
          w.groups,
          at.formula,
          at.dtype,
          plainLanes(w, a, b),
          tables,
        );
    } else {
      const at = stage(k, w, src, a, b);
      new Int32Array(k.memory.buffer, tables, 2 * 65536).fill(0);
      k.countCodeRows(at.codes, b - a, w.cols, at.group, at.scales, at.zeros, w.groups, w.levels, at.formula, at.dtype, at.table, tables);
    }
    drain(new Int32Array(k.memory.buffer, tables, 2 * 65536), counts);
  });
  return true;
}

/**
 * Rows [r0, r1) of 4-bit codes with one-byte scales (NVFP4, MXFP4): their codes counted per scale byte
 * (countNibbleRows into a 256 × 16 histogram), then each byte's 16 patterns added once (addScaleHistogram).
 */
function countByScaleCode(
  k: KernelExports,
  w: CodeRows,
  scaleCodes: { codes: Uint8Array; values: Float64Array },
  src: { words(r0: number, r1: number): Uint32Array; wordsPerRow: number },
  r0: number,
  r1: number,
  tables: number,
): void {
  const packed = src.words(r0, r1);
  const codes = scaleCodes.codes.subarray(r0 * w.groups, r1 * w.groups);
  const words = k.alloc(packed.byteLength);
  const scaleBytes = k.alloc(codes.length);
  const hist = k.alloc(256 * 16 * 4);
  const values = k.alloc(256 * 8);
  const codeValues = k.alloc(w.levels * 8);
  const mem = k.memory.buffer;
  new Uint32Array(mem, words, packed.length).set(packed);
  new Uint8Array(mem, scaleBytes, codes.length).set(codes);
  new Int32Array(mem, hist, 256 * 16).fill(0);
  new Float64Array(mem, values, 256).set(scaleCodes.values);
  new Float64Array(mem, codeValues, w.levels).set(w.codeValues!);
  new Int32Array(mem, tables, 2 * 65536).fill(0);
  k.setCodeValues(codeValues, w.codeFactor ?? 1);
  k.countNibbleRows(words, r1 - r0, src.wordsPerRow, w.cols, contiguousGroupSize(w), scaleBytes, 0, w.groups, 0, 0, hist, true);
  k.addScaleHistogram(hist, values, FORMULA_ID[w.formula], DTYPE_ID[w.dtype], tables);
}

/**
 * The group counter of row-major codes, when one takes the weight: 4-bit codes by bit planes (countNibbleRows:
 * LSB-first words, or bytes of two codes, whose order within a group does not matter to a count; groups of a
 * multiple of 32 columns, or 16), 2-bit and 3-bit fields in their lanes (countField2Rows, countField3Rows), 6-bit
 * and 8-bit codes value by value from their fields (countValueRows: groups of fewer columns than codes, where a
 * row's table of every (group, code) pattern would not pay).
 */
function rowGroupCounter(
  w: CodeRows,
  src: CodeSource,
): { kind: 'nibbles' | 'fields2' | 'fields3' | 'values'; size: number; wordsPerRow: number; bits: number } | undefined {
  const size = contiguousGroupSize(w);
  if (!size) return undefined;
  if ('bytes' in src)
    return src.highNibbles && w.cols % 32 === 0 && size % 32 === 0
      ? { kind: 'nibbles', size, wordsPerRow: w.cols / 8, bits: 4 }
      : undefined;
  if (!('words' in src) || src.wordsPerRow * 32 < w.cols * src.bits) return undefined;
  const { bits, wordsPerRow } = src;
  const fits = (multiple: number) => w.cols % multiple === 0 && size % multiple === 0;
  if (bits === 4 && w.cols % 32 === 0 && (size % 32 === 0 || size === 16)) return { kind: 'nibbles', size, wordsPerRow, bits };
  if (bits === 2 && fits(16)) return { kind: 'fields2', size, wordsPerRow, bits };
  if (bits === 3 && fits(32)) return { kind: 'fields3', size, wordsPerRow, bits };
  const perValue = (bits === 8 || bits === 6) && w.formula !== 'scaled-code' && w.groups * w.levels >= w.cols;
  if (perValue && fits(16)) return { kind: 'values', size, wordsPerRow, bits };
  return undefined;
}

/**
 * Whether rows of LSB-first `bits`-bit fields fill their words exactly with whole fields, 2 or 4 bits, or 8 bits in
 * groups of fewer columns than codes (else a row's table of every (group, code) pattern costs less than a value).
 */
function wholeFieldRows(w: CodeRows, src: { wordsPerRow: number; bits: number }): boolean {
  const perValue = src.bits === 8 && w.groups * w.levels >= w.cols;
  return (src.bits === 2 || src.bits === 4 || perValue) && src.wordsPerRow * 32 === w.cols * src.bits;
}

/** The weight of rows [r0, r1) alone (their scales and zeros). */
function rowsOf(w: CodeRows, r0: number, r1: number): CodeRows {
  const [g0, g1] = [r0 * w.groups, r1 * w.groups];
  return { ...w, scales: w.scales.subarray(g0, g1), zeros: w.zeros?.subarray(g0, g1) };
}

const groupSizes = new WeakMap<Int32Array, number>();

/** The group size of a weight whose column k is in group ⌊k / size⌋ (cols when there is one group), else 0. */
function contiguousGroupSize(w: CodeRows): number {
  let size = groupSizes.get(w.group);
  if (size === undefined) {
    size = w.group.indexOf(1);
    if (size < 0) size = w.cols;
    if (size === 0 || Math.ceil(w.cols / size) !== w.groups) size = 0;
    for (let c = 0; size && c < w.cols; c++) if (w.group[c] !== Math.floor(c / size)) size = 0;
    groupSizes.set(w.group, size);
  }
  return size;
}

/** Allocates and fills rows [r0, r1)'s scales and zeros (zeros of 0 where the formula has none) and the code values. */
function stageParams(k: KernelExports, w: CodeRows, r0: number, r1: number) {
  const P = (r1 - r0) * w.groups;
  const scales = k.alloc(P * 8);
  const zeros = k.alloc(P * 8);
  const codeValues = w.codeValues ? k.alloc(w.levels * 8) : 0;
  const mem = k.memory.buffer;
  new Float64Array(mem, scales, P).set(w.scales.subarray(r0 * w.groups, r1 * w.groups));
  if (w.zeros) new Float64Array(mem, zeros, P).set(w.zeros.subarray(r0 * w.groups, r1 * w.groups));
  else new Float64Array(mem, zeros, P).fill(0);
  if (w.codeValues) new Float64Array(mem, codeValues, w.levels).set(w.codeValues);
  k.setCodeValues(codeValues, w.codeFactor ?? 1);
  return { scales, zeros, formula: FORMULA_ID[w.formula], dtype: DTYPE_ID[w.dtype] };
}

/**
 * Allocates rows [r0, r1)'s codes, groups, scales, zeros and table scratch after what the caller allocated, and
 * fills them. Every buffer is allocated before any view is made: a view made before the memory grows would be
 * detached by the growth (the caller makes its views after this returns).
 */
function stage(k: KernelExports, w: CodeRows, src: CodeSource, r0: number, r1: number) {
  const R = r1 - r0;
  const n = R * w.cols;
  const columns = 'interleaved' in src ? src.interleaved(r0, r1) : undefined;
  const words = 'words' in src ? src.words(r0, r1) : 'columnWords' in src ? src.columnWords(r0, r1) : columns?.words;
  const bytes = 'bytes' in src ? src.bytes(r0, r1) : undefined;
  const codes = k.alloc(n);
  const nibbles = bytes && 'highNibbles' in src && src.highNibbles ? k.alloc(bytes.length) : 0;
  const group = k.alloc(w.cols * 4);
  const table = k.alloc(w.groups * w.levels * 4);
  const packed = words ? k.alloc(words.byteLength) : 0;
  const params = stageParams(k, w, r0, r1);
  const mem = k.memory.buffer;
  new Int32Array(mem, group, w.cols).set(w.group);
  if (words) new Uint32Array(mem, packed, words.length).set(words);
  if (nibbles) {
    new Uint8Array(mem, nibbles, bytes!.length).set(bytes!);
    k.unpackHighNibbles(nibbles, n, codes);
  } else if (bytes) new Uint8Array(mem, codes, n).set(bytes.subarray(0, n));
  else if ('words' in src) k.unpackFieldRows(packed, R, src.wordsPerRow, w.cols, src.bits, codes);
  else if ('columnWords' in src) k.unpackColumnWords(packed, src.packedRows, R, w.cols, src.bits, codes);
  else if (columns && 'interleaved' in src) k.unpackInterleavedColumns(packed, w.cols, columns.Wd, columns.c0, r0, r1, src.shifts, codes);
  else if ('fill' in src) src.fill(r0, r1, new Uint8Array(mem, codes, n));
  return { codes, group, table, ...params };
}

/**
 * GPTQ's and AWQ GEMM's packed words in their stored order, bands of input columns for every output row, for
 * counting value patterns without the strided reads that decoding rows needs. GPTQ: packed rows p (32 / bits
 * input columns each) of N words, one per output row; AWQ: input columns k of W words of eight output rows each,
 * nibble j holding row 8c + ((order >> 4j) & 7).
 */
export type StoredOrder =
  | { kind: 'gptq'; packedRows: number; bits: number; band(p0: number, p1: number): Uint32Array }
  | { kind: 'awq'; inputs: number; W: number; order: number; band(k0: number, k1: number): Uint32Array };

/** The (group, row, code) pattern table of the per-value stored-order counters stays below this (else rows are decoded). */
const MAX_PATTERN_TABLE_BYTES = 32 << 20;
/** Words per band read. */
const BAND_WORDS = 1 << 20;

/**
 * Adds the 16-bit patterns of every value of a weight of `rows` rows to counts, reading its words in stored order;
 * false when the kernels are off, the output is float32, or the table would be too large. onValues(n) after each
 * band. Codes in contiguous groups are counted by group, in bands of whole groups (storedGroupCounter); GPTQ codes
 * in other groups (act-order, or sizes the group counters do not take) by countAnyGroupsInWasm; the others value
 * by value through a table of every (group, row, code) pattern.
 */
export function countStoredOrderInWasm(
  w: CodeRows,
  rows: number,
  src: StoredOrder,
  counts: Float64Array,
  onValues?: (n: number) => void,
  isCancelled?: () => void,
): boolean {
  const k = wasmKernel();
  if (!k || w.dtype === 'float32' || !w.zeros) return false;
  const counter = storedGroupCounter(w, src);
  if (!counter && src.kind === 'gptq' && countAnyGroupsInWasm(k, w, rows, src, counts, onValues, isCancelled)) return true;
  // the per-value counters take whole fields per word only (not 3-bit GPTQ)
  if (!counter && src.kind === 'gptq' && 32 % src.bits !== 0) return false;
  const groupSize = counter?.size ?? 0;
  const tableBytes = groupSize ? 0 : rows * w.groups * w.levels * 2;
  if (tableBytes > MAX_PATTERN_TABLE_BYTES) return false;
  const perBandRow = src.kind === 'gptq' ? rows : src.W;
  // the group counters take bands of whole groups: groupSize · bits / 32 packed rows (GPTQ) or groupSize inputs (AWQ)
  const unit = !groupSize ? 1 : src.kind === 'gptq' ? (groupSize * src.bits) / 32 : groupSize;
  const bandRows = unit * Math.max(1, Math.floor(BAND_WORDS / perBandRow / unit));
  const totalBandRows = src.kind === 'gptq' ? src.packedRows : src.inputs;
  const valuesPerBandRow = src.kind === 'gptq' ? rows * (32 / src.bits) : 8 * src.W;
  k.reset();
  const tables = k.alloc(2 * 65536 * 4);
  // the 2-bit and 8-bit counters read up to 12 bytes past the band
  const band = k.alloc(Math.min(totalBandRows, bandRows) * perBandRow * 4 + 16);
  const table = k.alloc(tableBytes);
  const group = k.alloc(w.cols * 4);
  const transposed = k.alloc(src.kind === 'awq' ? groupSize * 4 : 0);
  const at = stageParams(k, w, 0, rows);
  const plain = counter?.kind === 'values' && plainLanes(w, 0, rows);
  const mem = k.memory.buffer;
  new Int32Array(mem, group, w.cols).set(w.group);
  if (!groupSize) k.buildPatternTable(at.scales, at.zeros, rows, w.groups, w.levels, at.formula, at.dtype, table);
  const t = new Int32Array(mem, tables, 2 * 65536);
  t.fill(0);
  for (let b0 = 0; b0 < totalBandRows; b0 += bandRows) {
    isCancelled?.();
    const b1 = Math.min(totalBandRows, b0 + bandRows);
    const words = src.band(b0, b1);
    new Uint32Array(mem, band, words.length).set(words);
    const g0 = b0 / unit;
    if (src.kind === 'gptq' && groupSize) {
      const args = [band, b1 - b0, rows, groupSize, g0, at.scales, at.zeros, w.groups, at.formula, at.dtype] as const;
      if (counter!.kind === 'values') k.countGptqValues(...args, plain, tables);
      else ({ nibbles: k.countGptqNibbles, fields2: k.countGptqFields2, fields3: k.countGptqFields3 })[counter!.kind](...args, tables);
    } else if (src.kind === 'gptq') k.countGptqWords(band, b0, b1 - b0, rows, src.bits, group, table, w.levels, tables);
    else if (groupSize)
      k.countAwqNibbles(
        band,
        b1 - b0,
        src.W,
        rows,
        groupSize,
        g0,
        src.order,
        at.scales,
        at.zeros,
        w.groups,
        at.formula,
        at.dtype,
        transposed,
        tables,
      );
    else k.countAwqWords(band, b0, b1 - b0, src.W, rows, src.order, group, table, w.levels, tables);
    onValues?.((b1 - b0) * valuesPerBandRow);
    // int32 counters: emptied every 64 bands (at most 2^30 values: 2^24 2-bit codes a band), before 2^31
    if (b1 < totalBandRows && ((b1 / bandRows) & 63) === 0) drain(t, counts);
  }
  drain(t, counts);
  return true;
}

/**
 * GPTQ codes in groups no group counter takes (act-order g_idx, or contiguous groups of another size), as bands of
 * packed rows (`band`) or as row-major rows of whole fields (`rowWords`: compressed-tensors), transposed into
 * GPTQ's layout a band at a time (transposeWords): 2-, 3- and
 * 4-bit codes per (output, group) into one-hot byte counters (countGptqActOrder), each (output, group)'s code counts
 * then added once through its scale and zero; 8-bit codes value by value, each field through its group's scales and
 * zeros as float32 rows of (group, output) (countGptqValuesAnyGroups). False when the counters (groups × outputs ×
 * 2^bits bytes) would be too large, or 8-bit scales or zeros are not float32 values (exact in float32 lanes).
 */
function countAnyGroupsInWasm(
  k: KernelExports,
  w: CodeRows,
  rows: number,
  src:
    | { packedRows: number; bits: number; band(p0: number, p1: number): Uint32Array }
    | { wordsPerRow: number; bits: number; rowWords: Uint32Array },
  counts: Float64Array,
  onValues?: (n: number) => void,
  isCancelled?: () => void,
): boolean {
  const { bits } = src;
  const packedRows = 'band' in src ? src.packedRows : src.wordsPerRow;
  if (w.levels !== 1 << bits || w.formula !== 'zero-point') return false;
  const oneHot = bits !== 8;
  const counterBytes = oneHot ? w.groups * Math.ceil(rows / 16) * (16 << bits) : 0;
  if (counterBytes > MAX_PATTERN_TABLE_BYTES) return false;
  // float32 (group, output) rows of the scales and zeros, each rounded up to 4 outputs
  const rowLength = oneHot ? 0 : Math.ceil(rows / 4) * 4;
  if (!oneHot && !w.scales.every((s, i) => Math.fround(s) === s && Number.isInteger(w.zeros![i]) && Math.abs(w.zeros![i]) <= 65536))
    return false;
  // a band is whole units: 3 packed rows of 32 fields for 3-bit codes (fields straddle words), else 1
  const unit = bits === 3 ? 3 : 1;
  const bandRows = unit * Math.max(1, Math.floor(BAND_WORDS / Math.max(1, rows) / unit));
  k.reset();
  const tables = k.alloc(2 * 65536 * 4);
  const band = k.alloc(Math.min(packedRows, bandRows) * rows * 4);
  const rowWords = k.alloc('rowWords' in src ? src.rowWords.byteLength : 0);
  const group = k.alloc(w.cols * 4);
  const pending = k.alloc(oneHot ? w.groups * 4 : 0);
  const counters = k.alloc(counterBytes);
  const at = oneHot ? stageParams(k, w, 0, rows) : undefined;
  const scalesT = k.alloc(w.groups * rowLength * 4);
  const zerosT = k.alloc(w.groups * rowLength * 4);
  const mem = k.memory.buffer;
  new Int32Array(mem, group, w.cols).set(w.group);
  if ('rowWords' in src) new Uint32Array(mem, rowWords, src.rowWords.length).set(src.rowWords);
  new Int32Array(mem, pending, oneHot ? w.groups : 0).fill(0);
  new Uint8Array(mem, counters, counterBytes).fill(0);
  if (!oneHot) {
    const [S, Z] = [new Float32Array(mem, scalesT, w.groups * rowLength), new Float32Array(mem, zerosT, w.groups * rowLength)];
    for (let n = 0; n < rows; n++)
      for (let g = 0; g < w.groups; g++) {
        S[g * rowLength + n] = w.scales[n * w.groups + g];
        Z[g * rowLength + n] = w.zeros![n * w.groups + g];
      }
  }
  const [formula, dtype] = [FORMULA_ID[w.formula], DTYPE_ID[w.dtype]];
  const plain = !oneHot && plainLanes(w, 0, rows);
  const t = new Int32Array(mem, tables, 2 * 65536);
  t.fill(0);
  for (let p0 = 0; p0 < packedRows; p0 += bandRows) {
    isCancelled?.();
    const p1 = Math.min(packedRows, p0 + bandRows);
    if ('band' in src) new Uint32Array(mem, band, (p1 - p0) * rows).set(src.band(p0, p1));
    else k.transposeWords(rowWords, rows, packedRows, p0, p1 - p0, band);
    if (at)
      k.countGptqActOrder(band, p0, p1 - p0, rows, bits, group, pending, counters, at.scales, at.zeros, w.groups, formula, dtype, tables);
    else k.countGptqValuesAnyGroups(band, p0, p1 - p0, rows, group, scalesT, zerosT, formula, dtype, plain, tables);
    // a band adds at most its own values plus 255 columns' worth per (output, group) flushed: emptied each band
    drain(t, counts);
    onValues?.(((p1 - p0) * rows * 32) / bits);
  }
  if (at) k.flushActOrderGroups(rows, bits, pending, counters, at.scales, at.zeros, w.groups, formula, dtype, tables);
  drain(t, counts);
  return true;
}

/**
 * The group counter of a weight in stored order, when one takes it: AWQ GEMM and GPTQ 4-bit codes by bit planes
 * (countAwqNibbles: groups of a multiple of 32 inputs; countGptqNibbles: whole packed rows, a multiple of 8), GPTQ 2-bit and 3-bit fields in their
 * lanes (countGptqFields2: a multiple of 16; countGptqFields3: of 32), GPTQ 8-bit codes value by value
 * (countGptqValues: a multiple of 4).
 */
function storedGroupCounter(
  w: CodeRows,
  src: StoredOrder,
): { kind: 'nibbles' | 'fields2' | 'fields3' | 'values'; size: number } | undefined {
  const size = contiguousGroupSize(w);
  const bits = src.kind === 'awq' ? 4 : src.bits;
  if (!size || w.levels !== 1 << bits) return undefined;
  if (bits === 4 && w.cols % 32 === 0 && size % 32 === 0) return { kind: 'nibbles', size };
  if (src.kind === 'gptq' && bits === 4 && size % 8 === 0) return { kind: 'nibbles', size };
  if (src.kind === 'gptq' && bits === 2 && w.cols % 16 === 0 && size % 16 === 0) return { kind: 'fields2', size };
  if (src.kind === 'gptq' && bits === 3 && w.cols % 32 === 0 && size % 32 === 0) return { kind: 'fields3', size };
  if (src.kind === 'gptq' && bits === 8 && w.cols % 4 === 0 && size % 4 === 0) return { kind: 'values', size };
  return undefined;
}

/**
 * Whether rows [r0, r1)'s values are plain for the lane counters of 6- and 8-bit codes (valueCodes.ts, whose
 * patterns then skip the cases that cannot occur): every scale and zero (or bias) finite, so no NaN arises; for
 * float16 also a zero-point formula with integer zeros and every value s · (q − z) zero or in binary16's normal
 * range: 2^-14 <= |s| (as |q − z| >= 1 where it is not 0) and |s| · |q − z| <= 65504 for every code q.
 */
function plainLanes(w: CodeRows, r0: number, r1: number): boolean {
  const float16 = w.dtype === 'float16';
  if (float16 && w.formula !== 'zero-point') return false;
  for (let i = r0 * w.groups, end = r1 * w.groups; i < end; i++) {
    const s = w.scales[i];
    const z = w.zeros ? w.zeros[i] : 0;
    if (!Number.isFinite(s) || !Number.isFinite(z)) return false;
    if (!float16 || s === 0) continue;
    const farthest = Math.max(Math.abs(z), Math.abs(w.levels - 1 - z));
    if (!Number.isInteger(z) || Math.abs(s) < 2 ** -14 || Math.abs(s) * farthest > 65504) return false;
  }
  return true;
}

function drain(t: Int32Array, counts: Float64Array): void {
  for (let i = 0; i < 65536; i++) {
    if (t[i] | t[65536 + i]) counts[i] += t[i] + t[65536 + i];
    t[i] = 0;
    t[65536 + i] = 0;
  }
}

/** HQQ 4bit_u8 along axis 1: groups (view rows) of groupSize codes, packed row j holding view rows j and j + h. */
export interface HqqNibbles {
  groups: number;
  groupSize: number;
  h: number;
  dtype: OutputDtype;
  /** scale and zero of each group. */
  scales: Float64Array;
  zeros: Float64Array;
  /** Packed rows [j0, j1) (groupSize bytes each). */
  packedRows(j0: number, j1: number): Uint8Array;
}

/**
 * Adds the 16-bit patterns of every value of an HQQ weight to counts (countHqqNibbles, in bands of packed rows);
 * false when the kernels are off, the output is float32 or the groups are not a multiple of 32 codes.
 */
export function countHqqInWasm(p: HqqNibbles, counts: Float64Array, onValues?: (n: number) => void, isCancelled?: () => void): boolean {
  const k = wasmKernel();
  if (!k || p.dtype === 'float32' || p.groupSize % 32 !== 0) return false;
  const bandRows = Math.max(1, Math.floor((4 * BAND_WORDS) / p.groupSize));
  k.reset();
  const tables = k.alloc(2 * 65536 * 4);
  const band = k.alloc(Math.min(p.h, bandRows) * p.groupSize);
  const scales = k.alloc(p.groups * 8);
  const zeros = k.alloc(p.groups * 8);
  const mem = k.memory.buffer;
  new Float64Array(mem, scales, p.groups).set(p.scales);
  new Float64Array(mem, zeros, p.groups).set(p.zeros);
  const t = new Int32Array(mem, tables, 2 * 65536);
  t.fill(0);
  for (let j0 = 0; j0 < p.h; j0 += bandRows) {
    isCancelled?.();
    const j1 = Math.min(p.h, j0 + bandRows);
    new Uint8Array(mem, band, (j1 - j0) * p.groupSize).set(p.packedRows(j0, j1));
    k.countHqqNibbles(band, j0, j1 - j0, p.groupSize, p.h, p.groups, scales, zeros, FORMULA_ID.hqq, DTYPE_ID[p.dtype], tables);
    // at most 2^23 values a band: int32 counters emptied every 64 bands
    if (j1 < p.h && ((j1 / bandRows) & 63) === 0) drain(t, counts);
    // view rows j (all below h) and j + h (those that exist)
    onValues?.((j1 - j0 + Math.max(0, Math.min(j1, p.groups - p.h) - j0)) * p.groupSize);
  }
  drain(t, counts);
  return true;
}

/** Rows per byte-histogram call (1 MB of codes, 1 KB of counts a row). */
const BYTE_ROWS_PIECE_VALUES = 1 << 20;

/**
 * The byte histogram of each of rows [r0, r1) of `cols` one-byte codes (countByteRows): counts[(r − r0) · 256 + b]
 * is how many times byte b occurs in row r; false when the kernels are off.
 */
export function countByteRowsInWasm(
  bytes: (r0: number, r1: number) => Uint8Array,
  cols: number,
  r0: number,
  r1: number,
  counts: Int32Array,
): boolean {
  const k = wasmKernel();
  if (!k) return false;
  const step = Math.max(1, Math.floor(BYTE_ROWS_PIECE_VALUES / Math.max(1, cols)));
  for (let a = r0; a < r1; a += step) {
    const b = Math.min(r1, a + step);
    const codes = bytes(a, b);
    k.reset();
    const at = k.alloc(codes.length);
    const scratch = k.alloc(4 * 256 * 4);
    const out = k.alloc((b - a) * 256 * 4);
    new Uint8Array(k.memory.buffer, at, codes.length).set(codes);
    k.countByteRows(at, b - a, cols, scratch, out);
    counts.set(new Int32Array(k.memory.buffer, out, (b - a) * 256), (a - r0) * 256);
  }
  return true;
}

/** A growing list of float32 values with their counts (a counted weight's distinct values, row by row). */
export class ValueCounts {
  values = new Float32Array(1024);
  counts = new Int32Array(1024);
  size = 0;

  clear(): void {
    this.size = 0;
  }

  /** Room for n more pairs. */
  reserve(n: number): void {
    if (this.size + n <= this.values.length) return;
    const capacity = Math.max(2 * this.values.length, this.size + n);
    const values = new Float32Array(capacity);
    const counts = new Int32Array(capacity);
    values.set(this.values.subarray(0, this.size));
    counts.set(this.counts.subarray(0, this.size));
    this.values = values;
    this.counts = counts;
  }

  push(x: number, n: number): void {
    if (this.size === this.values.length) this.reserve(1);
    this.values[this.size] = x;
    this.counts[this.size++] = n;
  }

  append(other: ValueCounts): void {
    this.reserve(other.size);
    this.values.set(other.values.subarray(0, other.size), this.size);
    this.counts.set(other.counts.subarray(0, other.size), this.size);
    this.size += other.size;
  }
}
