/**
 * The format table, in matching order: rows whose identifying components are more specific come first (marlin-24
 * before pack-quantized, FP8 block before FP8 with weight_scale, ModelOpt NVFP4 before FP8). A configuration
 * narrows the table to its family; without one, every row's fingerprint is tried.
 */
import { AWQ_GEMM, AWQ_GEMV, CT_INT, CT_PACKED, GPTQ } from './intFormats.ts';
import { CT_MXFP4, CT_NVFP4, FP8_BLOCK, FP8_SCALED, GPTOSS_MXFP4, MODELOPT_NVFP4 } from './floatFormats.ts';
import { AWQ_GEMV_FAST, BNB_4BIT, BNB_INT8, EXL2, EXL3, HQQ, MARLIN_24, MLX_AFFINE } from './otherFormats.ts';
import type { FormatRow } from './table.ts';

export const FORMAT_TABLE: readonly FormatRow[] = [
  AWQ_GEMV_FAST,
  GPTQ,
  AWQ_GEMM,
  AWQ_GEMV,
  BNB_4BIT,
  BNB_INT8,
  FP8_BLOCK,
  MARLIN_24,
  CT_PACKED,
  CT_INT,
  CT_NVFP4,
  CT_MXFP4,
  MODELOPT_NVFP4,
  FP8_SCALED,
  GPTOSS_MXFP4,
  MLX_AFFINE,
  HQQ,
  EXL2,
  EXL3,
];

export function formatRow(id: string): FormatRow | undefined {
  return FORMAT_TABLE.find((r) => r.id === id);
}
