/**
 * Block-level views of a quantized tensor: one block decoded field by field next to its raw bytes (the block
 * inspector), and the distribution of per-block scales over the whole tensor (scale plots).
 */
import type { Model, TensorInfo } from '../model.ts';
import type { BlockRecord } from '../quant/codec.ts';
import { QuantLensError } from '../errors.ts';
import { tensorCodec } from './tensorValues.ts';
import { StatsAccumulator, type TensorStats } from './tensorStats.ts';

export interface BlockView {
  blockIndex: number;
  blockCount: number;
  /** Absolute file offset of the block. */
  offset: number;
  raw: Uint8Array;
  /** The block's weights, dequantized. */
  values: Float32Array;
  record: BlockRecord;
}

export function blockCount(tensor: TensorInfo): number {
  return tensor.type.blockSize ? tensor.nElements / tensor.type.blockSize : 0;
}

/** Decode block `blockIndex` of a tensor. For plain types (block size 1) a "block" is one element. */
export function readBlock(model: Model, tensor: TensorInfo, blockIndex: number): BlockView {
  const codec = tensorCodec(tensor);
  const n = blockCount(tensor);
  if (!Number.isInteger(blockIndex) || blockIndex < 0 || blockIndex >= n) {
    throw new QuantLensError('usage', `block ${blockIndex} is out of range: ${tensor.name} has ${n} blocks`);
  }
  const { bytesPerBlock, blockSize } = tensor.type;
  const offset = tensor.absoluteOffset + blockIndex * bytesPerBlock;
  const raw = new Uint8Array(bytesPerBlock);
  model.files[tensor.fileIndex].source.readSync(offset, raw);
  const values = new Float32Array(blockSize);
  codec.dequantize(raw, values, 1);
  const record: BlockRecord = codec.decodeBlock?.(raw, 0) ?? {
    fields: [{ name: 'value', offset: 0, size: bytesPerBlock, values: [values[0]] }],
  };
  return { blockIndex, blockCount: n, offset, raw, values, record };
}

export interface ScaleDistribution {
  /** Per-block scale d; dmin where the type has one; effective sub-block scales where it has them. */
  d: TensorStats;
  dmin?: TensorStats;
  sub?: TensorStats;
  blocks: number;
  subBlocksPerBlock: number;
  /** A quantized Hugging Face weight's groups (hfquant): d is its group scales, dmin its zero points or MLX biases. */
  groups?: { rows: number; groupsPerRow: number; zeroKind?: 'zero-point' | 'bias' };
}

const SCALE_CHUNK_BLOCKS = 1 << 14;

/**
 * Statistics and histograms of the block scales over every block of the tensor. Null for types without
 * block scales (plain floats and integers).
 */
export function computeScaleDistribution(
  model: Model,
  tensor: TensorInfo,
  options: { bins?: number; isCancelled?: () => boolean; onProgress?: (done: number, total: number) => void } = {},
): ScaleDistribution | null {
  const codec = tensorCodec(tensor);
  if (!codec.blockScales || tensor.type.blockSize === 1) return null;
  const { bytesPerBlock } = tensor.type;
  const nBlocks = blockCount(tensor);
  const subPer = codec.subBlocksPerBlock ?? 0;
  const chunk = Math.min(SCALE_CHUNK_BLOCKS, nBlocks);
  const raw = new Uint8Array(chunk * bytesPerBlock);
  const out = { d: new Float32Array(chunk), dmin: new Float32Array(chunk), sub: subPer ? new Float32Array(chunk * subPer) : undefined };
  const source = model.files[tensor.fileIndex].source;
  const bins = options.bins ?? 64;
  const acc = { d: new StatsAccumulator(bins), dmin: new StatsAccumulator(bins), sub: new StatsAccumulator(bins) };
  let hasDmin = false;
  for (const pass of [1, 2]) {
    for (let b = 0; b < nBlocks; b += chunk) {
      if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${tensor.name}`);
      const n = Math.min(chunk, nBlocks - b);
      source.readSync(tensor.absoluteOffset + b * bytesPerBlock, raw.subarray(0, n * bytesPerBlock));
      out.dmin.fill(NaN);
      codec.blockScales(raw, n, out);
      const d = out.d.subarray(0, n);
      const dmin = out.dmin.subarray(0, n);
      const sub = out.sub?.subarray(0, n * subPer);
      if (pass === 1) {
        acc.d.addFirstPass(d);
        if (!Number.isNaN(dmin[0])) {
          hasDmin = true;
          acc.dmin.addFirstPass(dmin);
        }
        if (sub) acc.sub.addFirstPass(sub);
      } else {
        acc.d.addSecondPass(d);
        if (hasDmin) acc.dmin.addSecondPass(dmin);
        if (sub) acc.sub.addSecondPass(sub);
      }
      options.onProgress?.((pass - 1) * nBlocks + b + n, 2 * nBlocks);
    }
  }
  return {
    d: acc.d.result(),
    ...(hasDmin ? { dmin: acc.dmin.result() } : {}),
    ...(subPer ? { sub: acc.sub.result() } : {}),
    blocks: nBlocks,
    subBlocksPerBlock: subPer,
  };
}
