/** One block as the block inspector shows it: plain arrays and the tensor's name, so it crosses postMessage as is. */
import type { Model, TensorInfo } from '../model.ts';
import type { BlockRecord } from '../quant/codec.ts';
import { readBlock } from './blocks.ts';

export interface InspectedBlock {
  tensor: string;
  blockIndex: number;
  blockCount: number;
  /** Absolute file offset of the block. */
  offset: number;
  raw: number[];
  /** The block's weights, dequantized. */
  values: number[];
  record: BlockRecord;
}

export function inspectBlock(model: Model, tensor: TensorInfo, blockIndex: number): InspectedBlock {
  const b = readBlock(model, tensor, blockIndex);
  return {
    tensor: tensor.name,
    blockIndex: b.blockIndex,
    blockCount: b.blockCount,
    offset: b.offset,
    raw: Array.from(b.raw),
    values: Array.from(b.values),
    record: b.record,
  };
}
