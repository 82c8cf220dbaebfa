/**
 * Formats detected and labelled but not decoded (EXL2, EXL3, compressed-tensors marlin-24, AWQ GEMV_FAST): their
 * only reference implementations are GPU kernels, so no value is ever shown for them.
 */
import type { BuildContext, Description, FormatRow } from './table.ts';

/** Formats listed and labelled but not decoded: their only reference implementations are CUDA kernels. */
function labelOnly(
  id: string,
  family: FormatRow['family'],
  label: string,
  components: FormatRow['components'],
  reason: string,
  describe: (ctx: BuildContext) => Description,
  accepts?: FormatRow['accepts'],
): FormatRow {
  return { id, family, label, components, notDecodable: { reason, describe }, accepts };
}

export const EXL2: FormatRow = labelOnly(
  'exl2',
  'exl2',
  'EXL2',
  [
    { role: 'q_weight', suffix: '.q_weight' },
    { role: 'q_scale', suffix: '.q_scale' },
    { role: 'q_scale_max', suffix: '.q_scale_max' },
    { role: 'q_groups', suffix: '.q_groups' },
    { role: 'q_invperm', suffix: '.q_invperm', optional: true },
    { role: 'q_perm', suffix: '.q_perm', optional: true },
  ],
  'EXL2 is reconstructed only by its CUDA kernel (per-group bit widths, shuffled for the kernel)',
  (ctx) => ({
    shape: [ctx.c.q_weight!.shape[1], ctx.c.q_invperm?.shape[0] ?? NaN],
    bits: Number(ctx.detection.qc.bits ?? NaN),
    scheme: `EXL2 ${ctx.detection.qc.bits ?? '?'} bpw`,
  }),
);

export const EXL3: FormatRow = labelOnly(
  'exl3',
  'exl3',
  'EXL3',
  [
    { role: 'trellis', suffix: '.trellis' },
    { role: 'suh', suffix: '.suh', optional: true },
    { role: 'svh', suffix: '.svh', optional: true },
    { role: 'su', suffix: '.su', optional: true },
    { role: 'sv', suffix: '.sv', optional: true },
    { role: 'mcg', suffix: '.mcg', optional: true },
    { role: 'mul1', suffix: '.mul1', optional: true },
  ],
  'EXL3 (trellis codebook + Hadamard transform) is decoded only by its CUDA kernels',
  (ctx) => {
    const t = ctx.c.trellis!;
    return { shape: [t.shape[1] * 16, t.shape[0] * 16], bits: t.shape[2] / 16, scheme: `EXL3 ${t.shape[2] / 16} bpw` };
  },
);

export const MARLIN_24: FormatRow = labelOnly(
  'ct-marlin-24',
  'compressed-tensors',
  'compressed-tensors marlin-24',
  [
    { role: 'weight_packed', suffix: '.weight_packed' },
    { role: 'scale_packed', suffix: '.scale_packed', key: true },
    { role: 'meta', suffix: '.meta' },
  ],
  '2:4-sparse Marlin tiles: compressed-tensors itself has no decompressor',
  () => ({ shape: [], bits: 4, scheme: 'marlin-24 (2:4 sparse)' }),
);

export const AWQ_GEMV_FAST: FormatRow = labelOnly(
  'awq-gemv-fast',
  'awq',
  'AWQ GEMV_FAST',
  [
    { role: 'qweight', suffix: '.qweight', dtypes: ['I16'] },
    { role: 'scales', suffix: '.scales' },
    { role: 'qzeros', suffix: ['.qzeros', '.scaled_zeros'] },
  ],
  'AWQ GEMV_FAST (llm-awq TinyChat) has no CPU reference to check against',
  (ctx) => ({
    shape: [ctx.c.qweight!.shape[0] * 4, ctx.c.qweight!.shape[1]],
    bits: 4,
    scheme: 'AWQ GEMV_FAST int4',
  }),
  (c) => c.qweight?.dtype === 'I16',
);
