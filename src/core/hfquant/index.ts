/**
 * Quantized Hugging Face checkpoints (issue 9): GPTQ v1/v2, AWQ GEMM/GEMV, bitsandbytes NF4/FP4 (± double quant)
 * and LLM.int8, FP8 per-tensor / per-channel / group / 128x128 block, compressed-tensors pack-quantized,
 * int-quantized, NVFP4 and MXFP4, ModelOpt NVFP4, gpt-oss MXFP4, MLX affine and HQQ, decoded bit for bit as the
 * reference libraries do; EXL2, EXL3, marlin-24 and AWQ GEMV_FAST detected and labelled, never decoded. vscode-free.
 *
 * What the CLI and the worker call:
 *
 *   const q = await openQuantizedModel(path);    // a folder, model.safetensors.index.json, any shard, a single file
 *                                                // (headers and tiny metadata only; { validate: true } loads all)
 *   q.summary                                    // "GPTQ; gptq (quantize_config.json): 14 logical weights, 7 plain tensors"
 *   q.weights                                    // LogicalWeight[], in file order; q.plain: the other tensors
 *   q.weight('model.layers.0.self_attn.q_proj.weight')   // by logical name or by any component's name
 *
 * Each LogicalWeight has its logical shape [out, in] (gpt-oss experts [E, out, in]), `format`, `scheme` (`GPTQ int4
 * asym g128 act-order`), `bitsPerWeight` counting scales and zeros, `bytes`, its `components` (TensorInfos, in any
 * shard) and their `roles`, `diagnostics` (v1 zero overflow, act-order, partial FP8 blocks, negative MLX scales) and,
 * when it cannot be decoded, `error`: a QuantLensError naming the weight and the reason (missing or inconsistent
 * component, g_idx out of range, config bits that contradict the packed shapes, unknown quant_method, a format
 * without a decoder). Errors stay on their weight; everything else in the model works. Listing runs every
 * header-level check; a weight's scales, zeros and indices are read when it is first used (`w.load()`, any
 * decode), which runs the data-level checks (g_idx range) and completes `scheme` and `diagnostics`. At most
 * LOADED_KERNELS weights keep their loaded tables at once.
 *
 * Values, streamed in bounded memory:  w.forEachChunk((values, firstRow) => ..., rowsPerChunk?, isCancelled?)
 *                                       w.decodeRows(r0, r1, out?)   w.decode()   (float32, row-major)
 * Exact stats and error metrics:       logicalWeightStats(w, { bins, onProgress, isCancelled })
 *                                       compareLogicalWeight(w, tensorRows(originalModel, originalTensor, w))
 * The block-scales plot:               w.groupScales()  -> scales (and zeros / MLX biases) per (row, group)
 * The group inspector:                 w.inspectGroup(row, group) -> scale, zero, columns, codes, values, and the
 *                                       absolute byte spans with the raw bytes of every component they come from
 *
 * The layouts live in one table (formatTable.ts, one row per format in its family's file); nothing else knows them.
 */
export {
  openQuantizedModel,
  quantizedView,
  quantizedViewOf,
  openModelAndWeights,
  listedEntries,
  logicalSummary,
  type QuantizedModel,
  type ListedEntry,
} from './open.ts';
export type { LogicalWeight, GroupRecord, GroupScales } from './weights.ts';
export { groupWeights } from './weights.ts';
export { detectQuantization, describeDetection, type QuantDetection } from './detect.ts';
export { FORMAT_TABLE, formatRow } from './formatTable.ts';
export type { FormatRow, Kernel, Family } from './table.ts';
export { logicalWeightStats, groupScaleDistribution, compareLogicalWeight, tensorRows, type ReferenceRows } from './stats.ts';
