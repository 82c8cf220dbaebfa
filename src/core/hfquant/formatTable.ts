/**
 * The format table, in matching order: rows whose identifying components are more specific come first (marlin-24
 * before pack-quantized, FP8 block before FP8 with weight_scale, ModelOpt NVFP4 before FP8). A configuration
 * narrows the table to its family; without one, every row's fingerprint is tried.
 */
import { AWQ_GEMM, AWQ_GEMV } from './awq.ts';
import { CT_INT, CT_PACKED } from './compressedTensors.ts';
import { GPTQ } from './gptq.ts';
import { CT_MXFP4, CT_NVFP4, FP8_BLOCK, FP8_SCALED, GPTOSS_MXFP4, MODELOPT_NVFP4 } from './floatFormats.ts';
import { BNB_4BIT, BNB_INT8 } from './bnb.ts';
import { HQQ } from './hqq.ts';
import { AWQ_GEMV_FAST, EXL2, EXL3, MARLIN_24 } from './labelOnly.ts';
import { MLX_AFFINE } from './mlx.ts';
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
