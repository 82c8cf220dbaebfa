/**
 * Float-code formats (spec §5, §6.3-6.4): W = round(fround(value[code] · scale)), one float32 scale per (row,
 * group) and a code table: FP8 E4M3 with per-tensor / per-channel / group / 128×128-block scales (DeepSeek
 * weight_scale_inv, compressed-tensors float-quantized, ModelOpt/vLLM FP8), NVFP4 (compressed-tensors divides
 * by the global scale, ModelOpt multiplies by weight_scale_2), MXFP4 (gpt-oss blocks/scales, compressed-tensors).
 */
import type { TensorInfo } from '../model.ts';
import type { ByteSpan } from './components.ts';
import { asU32, floatValues, rowSlabs } from './components.ts';
import { countCodeRowsInWasm, decodeCodeRowsInWasm, type CodeRows, type CodeSource } from './codeTables.ts';
import { E2M1, E2M1_MODELOPT, E4M3, outputDtypeOf, rounderFor, type OutputDtype } from './numeric.ts';
import { plan, type BuildContext, type FormatRow, type Kernel, type Listing, type Plan } from './table.ts';
import { bad, need, shapeText } from './checks.ts';
import { ctWeightArgs } from './ctConfig.ts';

interface ScaledParts extends Listing {
  rows: number;
  cols: number;
  /** Columns per scale group (cols for per-row scales). */
  span: number;
  table: Float32Array;
  /** float32 scale of (row, group) at r·groups + g. */
  scales: Float64Array;
  weight: TensorInfo;
  weightRole: string;
  /** 8: one byte per code; 4: two codes per byte, low nibble first. */
  codeBits: 8 | 4;
  /** One-byte scales: each (row, group)'s byte and the scale of every byte (scales[i] = values[codes[i]]). */
  scaleCodes?: CodeRows['scaleCodes'];
  scaleSpans(r: number, g: number): ByteSpan[];
  ctx: BuildContext;
}

function scaledKernel(p: ScaledParts): Kernel {
  const { rows, cols, span, table, scales, codeBits, weight, ctx } = p;
  const groups = Math.ceil(cols / span);
  const round = rounderFor(p.dtype);
  const rowBytes = (cols * codeBits) / 8;
  const levels = table.length;
  const useTable = levels <= span;
  const lut = new Float32Array(useTable ? groups * levels : 0);
  const slab = rowSlabs(ctx.reader, weight, rowBytes);
  const codeOf = (b: Uint8Array, o: number, k: number) => (codeBits === 8 ? b[o + k] : (b[o + (k >> 1)] >> ((k & 1) << 2)) & 15);
  const inWasm: CodeRows = {
    cols,
    groups,
    levels,
    formula: 'scaled-code',
    dtype: p.dtype,
    group: Int32Array.from({ length: cols }, (_, k) => Math.floor(k / span)),
    scales,
    codeValues: table,
    scaleCodes: p.scaleCodes,
  };
  // 4-bit codes, low nibble first, are the LSB-first stream of 4-bit fields over the row's words
  const source: CodeSource | undefined =
    codeBits === 8
      ? { bytes: slab }
      : cols % 8 === 0
        ? { words: (r0: number, r1: number) => asU32(slab(r0, r1)), wordsPerRow: cols / 8, bits: 4 }
        : undefined;
  return {
    shape: p.shape,
    rows,
    cols,
    bits: p.bits,
    groupSize: p.groupSize,
    scheme: p.scheme,
    dtype: p.dtype,
    diagnostics: p.diagnostics,
    groupsPerRow: groups,
    groupColumns: (_r, g) => Array.from({ length: Math.min(cols, (g + 1) * span) - g * span }, (_, i) => g * span + i),
    scale: (r, g) => scales[r * groups + g],
    code: (r, k) => codeOf(ctx.reader.range(weight, r * rowBytes, rowBytes), 0, k),
    codeSpans: (r, k) => [ctx.reader.span(p.weightRole, weight, r * rowBytes + Math.floor((k * codeBits) / 8), 1)],
    paramSpans: p.scaleSpans,
    countPatterns: (r0, r1, counts) => !!source && countCodeRowsInWasm(inWasm, source, r0, r1, counts),
    decodeRows(r0, r1, out) {
      if (source && decodeCodeRowsInWasm(inWasm, source, r0, r1, out)) return;
      const b = slab(r0, r1);
      for (let r = r0, j = 0; r < r1; r++, j++) {
        const o = j * cols;
        const bo = j * rowBytes;
        const base = r * groups;
        if (useTable) {
          for (let g = 0; g < groups; g++) {
            const s = scales[base + g];
            for (let q = 0; q < levels; q++) lut[g * levels + q] = round(Math.fround(table[q] * s));
          }
          if (codeBits === 8) for (let k = 0; k < cols; k++) out[o + k] = lut[Math.floor(k / span) * levels + b[bo + k]];
          else for (let k = 0; k < cols; k++) out[o + k] = lut[Math.floor(k / span) * levels + ((b[bo + (k >> 1)] >> ((k & 1) << 2)) & 15)];
        } else {
          for (let k = 0; k < cols; k++) out[o + k] = round(Math.fround(table[codeOf(b, bo, k)] * scales[base + Math.floor(k / span)]));
        }
      }
    },
  };
}

const elemBytes = (t: TensorInfo) => t.nbytes / Math.max(1, t.nElements);

/** The one value of a scalar component (shape [] or [1]). */
function scalarOf(ctx: BuildContext, role: string): number {
  const t = need(ctx, role);
  if (t.nElements !== 1) throw bad(ctx, `${role} ${shapeText(t.shape)} is not one value`, t);
  return floatValues(t, ctx.reader.whole(t))[0];
}

/** FP8 E4M3 weight [N, K] with a float32 multiplier grid [ceil(N/bh), ceil(K/bw)] (DeepSeek-V3, transformers FineGrainedFP8). */

/** A scale grid of one row per `rowsPerScale` weight rows, spread to one row of `groups` scales per weight row. */
function scalesPerRow(grid: ArrayLike<number>, rows: number, groups: number, rowsPerScale: number): Float64Array {
  const scales = new Float64Array(rows * groups);
  for (let r = 0; r < rows; r++) for (let g = 0; g < groups; g++) scales[r * groups + g] = grid[Math.floor(r / rowsPerScale) * groups + g];
  return scales;
}

export const FP8_BLOCK: FormatRow = {
  id: 'fp8-block',
  family: 'fp8',
  label: 'FP8 block-scaled',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['F8_E4M3'] },
    { role: 'weight_scale_inv', suffix: '.weight_scale_inv', key: true, dtypes: ['F32', 'BF16', 'F16'] },
  ],
  accepts: (c, d) => !!c.weight_scale_inv && (!d.family || d.family === 'fp8'),
  build(ctx) {
    const w = need(ctx, 'weight');
    const s = need(ctx, 'weight_scale_inv');
    if (w.shape.length !== 2) throw bad(ctx, `weight ${shapeText(w.shape)} is not 2-D`, w);
    const [N, K] = w.shape;
    const block = ctx.detection.qc.weight_block_size;
    const [bh, bw] = Array.isArray(block) && block.length === 2 ? (block as number[]) : [128, 128];
    const want = [Math.ceil(N / bh), Math.ceil(K / bw)];
    if (s.shape.length !== 2 || s.shape[0] !== want[0] || s.shape[1] !== want[1])
      throw bad(
        ctx,
        `weight_scale_inv ${shapeText(s.shape)} is not the ${bh}x${bw} block grid ${shapeText(want)} of weight ${shapeText(w.shape)}`,
        s,
      );
    const partial = N % bh !== 0 || K % bw !== 0;
    const listing = {
      shape: [N, K],
      bits: 8,
      groupSize: bw,
      scheme: `FP8 E4M3 block ${bh}x${bw}`,
      dtype: ctx.modelDtype,
      diagnostics: partial ? [`partial edge blocks: ${N}x${K} is not a multiple of ${bh}x${bw} (the last block row/column is cut)`] : [],
    };
    return plan(listing, () => {
      const groups = want[1];
      const scales = scalesPerRow(floatValues(s, ctx.reader.whole(s)), N, groups, bh);
      return scaledKernel({
        ...listing,
        rows: N,
        cols: K,
        span: bw,
        table: E4M3,
        scales,
        weight: w,
        weightRole: 'weight',
        codeBits: 8,
        ctx,
        scaleSpans: (r, g) => [ctx.reader.span('weight_scale_inv', s, (Math.floor(r / bh) * groups + g) * elemBytes(s), elemBytes(s))],
      });
    });
  },
};

/**
 * FP8 E4M3 weight with `weight_scale` of shape [] / [1] (tensor), [N, 1] (channel), [N, K/gs] (group) or a block
 * grid: compressed-tensors float-quantized, vLLM/AutoFP8 "fp8", ModelOpt FP8, fbgemm_fp8.
 */
export const FP8_SCALED: FormatRow = {
  id: 'fp8-scaled',
  family: 'fp8',
  alsoIn: ['compressed-tensors', 'modelopt'],
  label: 'FP8',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['F8_E4M3'] },
    { role: 'weight_scale', suffix: '.weight_scale', dtypes: ['BF16', 'F16', 'F32'] },
    { role: 'input_scale', suffix: '.input_scale', optional: true },
  ],
  // without a config a bare F8 tensor is plain; with one, a missing weight_scale is that weight's error
  accepts: (c, d) => (d.family ? true : !!c.weight_scale),
  build(ctx) {
    const w = need(ctx, 'weight');
    const s = need(ctx, 'weight_scale');
    if (w.shape.length !== 2) throw bad(ctx, `weight ${shapeText(w.shape)} is not 2-D`, w);
    const [N, K] = w.shape;
    let kind: string;
    let span = K;
    let rowsPerScale = 1;
    let gridCols = 1;
    if (s.nElements === 1) {
      kind = 'per-tensor';
      rowsPerScale = N;
    } else if (s.shape.length === 2 && s.shape[0] === N && s.shape[1] === 1) kind = 'per-channel';
    else if (s.shape.length === 2 && s.shape[0] === N) {
      span = Math.ceil(K / s.shape[1]);
      gridCols = s.shape[1];
      kind = `g${span}`;
    } else if (s.shape.length === 2 && s.shape[0] < N) {
      rowsPerScale = Math.ceil(N / s.shape[0]);
      span = Math.ceil(K / s.shape[1]);
      gridCols = s.shape[1];
      kind = `block ${rowsPerScale}x${span}`;
      const args = ctWeightArgs(ctx);
      if (Array.isArray(args?.block_structure)) [rowsPerScale, span] = args!.block_structure as number[];
    } else throw bad(ctx, `weight_scale ${shapeText(s.shape)} fits no FP8 scale layout of weight ${shapeText(w.shape)}`, s);
    if (Math.ceil(K / span) !== gridCols || Math.ceil(N / rowsPerScale) * gridCols !== s.nElements)
      throw bad(ctx, `weight_scale ${shapeText(s.shape)} does not cover weight ${shapeText(w.shape)} in ${rowsPerScale}x${span} blocks`, s);
    const groups = gridCols;
    const listing = {
      shape: [N, K],
      bits: 8,
      groupSize: span === K ? null : span,
      scheme: `FP8 E4M3 ${kind}`,
      dtype: s.dtype === 'F32' ? ctx.modelDtype : outputDtypeOf(s.dtype),
      diagnostics: [],
    };
    return plan(listing, () => {
      const scales = scalesPerRow(floatValues(s, ctx.reader.whole(s)), N, groups, rowsPerScale);
      return scaledKernel({
        ...listing,
        rows: N,
        cols: K,
        span,
        table: E4M3,
        scales,
        weight: w,
        weightRole: 'weight',
        codeBits: 8,
        ctx,
        scaleSpans: (r, g) => [
          ctx.reader.span('weight_scale', s, (Math.floor(r / rowsPerScale) * groups + g) * elemBytes(s), elemBytes(s)),
        ],
      });
    });
  },
};

/**
 * Two E2M1 codes per byte (low nibble first), one scale per `gs` inputs; `effective(raw, i)` is the float32 scale of
 * scale entry i. The logical shape is the packed one with its last dimension doubled.
 */
function fp4Plan(
  ctx: BuildContext,
  w: TensorInfo,
  s: TensorInfo,
  gs: number,
  table: Float32Array,
  effective: (raw: Float64Array, i: number) => number,
  scheme: string,
  dtype: OutputDtype,
): Plan {
  const shape = [...w.shape.slice(0, -1), w.shape[w.shape.length - 1] * 2];
  const cols = shape[shape.length - 1];
  const rows = w.nElements / Math.max(1, cols / 2);
  const groups = Math.ceil(cols / gs);
  if (s.nElements !== rows * groups)
    throw bad(ctx, `${s.name} ${shapeText(s.shape)} holds ${s.nElements} scales, expected ${rows} x ${groups} (one per ${gs} inputs)`, s);
  const listing = { shape, bits: 4, groupSize: gs, scheme, dtype, diagnostics: [] };
  return plan(listing, () => {
    const e = elemBytes(s);
    const bytes = ctx.reader.whole(s);
    let scales: Float64Array;
    let scaleCodes: CodeRows['scaleCodes'];
    if (e === 1) {
      // one byte a scale (E4M3, E8M0): the scale of each of the 256 bytes, then each group's through its byte
      const byteValues = floatValues(
        { ...s, shape: [256], nElements: 256, nbytes: 256 },
        Uint8Array.from({ length: 256 }, (_, b) => b),
        true,
      );
      const values = Float64Array.from({ length: 256 }, (_, b) => effective(byteValues, b));
      const codes = bytes.slice(0, rows * groups);
      scales = Float64Array.from(codes, (b) => values[b]);
      scaleCodes = { codes, values };
    } else {
      const raw = floatValues(s, bytes, true);
      scales = Float64Array.from({ length: rows * groups }, (_, i) => effective(raw, i));
    }
    return scaledKernel({
      ...listing,
      rows,
      cols,
      span: gs,
      table,
      scales,
      weight: w,
      weightRole: w.name.slice(ctx.module.length + 1),
      codeBits: 4,
      scaleCodes,
      ctx,
      scaleSpans: (r, g) => [ctx.reader.span(s.name.slice(ctx.module.length + 1), s, (r * groups + g) * e, e)],
    });
  });
}

/** compressed-tensors nvfp4-pack-quantized: W = bf16(e2m1 · f32(f32(scale) / global_scale)). */
export const CT_NVFP4: FormatRow = {
  id: 'ct-nvfp4',
  family: 'compressed-tensors',
  label: 'compressed-tensors NVFP4',
  components: [
    { role: 'weight_packed', suffix: '.weight_packed', dtypes: ['U8'] },
    { role: 'weight_scale', suffix: '.weight_scale', dtypes: ['F8_E4M3'] },
    { role: 'weight_global_scale', suffix: '.weight_global_scale', dtypes: ['F32', 'BF16', 'F16'] },
    { role: 'input_global_scale', suffix: '.input_global_scale', optional: true },
  ],
  accepts: (c, d) =>
    (!d.family || d.family === 'compressed-tensors') && c.weight_packed?.dtype === 'U8' && c.weight_scale?.dtype === 'F8_E4M3',
  build(ctx) {
    const w = need(ctx, 'weight_packed');
    const s = need(ctx, 'weight_scale');
    const global = scalarOf(ctx, 'weight_global_scale');
    const gs = Number(ctWeightArgs(ctx)?.group_size ?? 16);
    return fp4Plan(
      ctx,
      w,
      s,
      gs,
      E2M1,
      (raw, i) => Math.fround(raw[i] / global),
      `NVFP4 E2M1 g${gs} (E4M3 scales / global scale)`,
      ctx.modelDtype,
    );
  },
};

/** compressed-tensors mxfp4-pack-quantized: weight_packed U8 [N, K/2], weight_scale U8 E8M0 [N, K/32]. */
export const CT_MXFP4: FormatRow = {
  id: 'ct-mxfp4',
  family: 'compressed-tensors',
  label: 'compressed-tensors MXFP4',
  components: [
    { role: 'weight_packed', suffix: '.weight_packed', dtypes: ['U8'] },
    { role: 'weight_scale', suffix: '.weight_scale', dtypes: ['U8', 'F8_E8M0'] },
  ],
  accepts: (c, d) =>
    (!d.family || d.family === 'compressed-tensors') &&
    c.weight_packed?.dtype === 'U8' &&
    (c.weight_scale?.dtype === 'U8' || c.weight_scale?.dtype === 'F8_E8M0'),
  build(ctx) {
    const w = need(ctx, 'weight_packed');
    const s = need(ctx, 'weight_scale');
    return fp4Plan(ctx, w, s, 32, E2M1, (raw, i) => raw[i], 'MXFP4 E2M1 g32 (E8M0 scales)', ctx.modelDtype);
  },
};

/** ModelOpt NVFP4: weight U8 [N, K/2], weight_scale F8_E4M3 [N, K/16], weight_scale_2 F32 scalar multiplier; code 8 is +0. */
export const MODELOPT_NVFP4: FormatRow = {
  id: 'modelopt-nvfp4',
  family: 'modelopt',
  label: 'ModelOpt NVFP4',
  components: [
    { role: 'weight', suffix: '.weight', dtypes: ['U8'] },
    { role: 'weight_scale', suffix: '.weight_scale', key: true, dtypes: ['F8_E4M3'] },
    { role: 'weight_scale_2', suffix: '.weight_scale_2', dtypes: ['F32'] },
  ],
  accepts: (c, d) => !d.family || d.family === 'modelopt',
  build(ctx) {
    const w = need(ctx, 'weight');
    const s = need(ctx, 'weight_scale');
    const s2 = scalarOf(ctx, 'weight_scale_2');
    const gs = Number(ctx.detection.qc.group_size ?? ctx.detection.qc.config_groups?.group_0?.weights?.group_size ?? 16);
    return fp4Plan(
      ctx,
      w,
      s,
      gs,
      E2M1_MODELOPT,
      (raw, i) => Math.fround(raw[i] * s2),
      `NVFP4 E2M1 g${gs} (E4M3 scales x weight_scale_2)`,
      ctx.modelDtype,
    );
  },
};

/** gpt-oss MXFP4 experts: `<name>_blocks` U8 [E, out, G, 16] and `<name>_scales` U8 [E, out, G] (E8M0); logical [E, out, in]. */
export const GPTOSS_MXFP4: FormatRow = {
  id: 'gptoss-mxfp4',
  family: 'mxfp4',
  label: 'MXFP4 (gpt-oss)',
  components: [
    { role: 'blocks', suffix: '_blocks', dtypes: ['U8'] },
    { role: 'scales', suffix: '_scales', dtypes: ['U8', 'F8_E8M0'] },
  ],
  logicalName: (m) => m,
  accepts: (c, d) => !d.family || d.family === 'mxfp4',
  build(ctx) {
    const b = need(ctx, 'blocks');
    const s = need(ctx, 'scales');
    if (b.shape.length < 3 || b.shape[b.shape.length - 1] !== 16)
      throw bad(ctx, `${b.name} ${shapeText(b.shape)} is not [..., groups, 16]`, b);
    const lead = b.shape.slice(0, -2);
    const G = b.shape[b.shape.length - 2];
    if (s.shape.length !== lead.length + 1 || s.shape.some((d, i) => d !== (i < lead.length ? lead[i] : G)))
      throw bad(
        ctx,
        `${s.name} ${shapeText(s.shape)} does not match ${b.name} ${shapeText(b.shape)} (expected ${shapeText([...lead, G])})`,
        s,
      );
    const flat: TensorInfo = { ...b, shape: [...lead, G * 16] }; // [..., groups, 16 bytes] read as rows of bytes
    return fp4Plan(ctx, flat, s, 32, E2M1, (raw, i) => raw[i], 'MXFP4 E2M1 g32 (E8M0 scales)', ctx.modelDtype);
  },
};
