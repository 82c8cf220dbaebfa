/**
 * A value source: one entry of a model as the views that stream its values see it (compare, |w| heatmap,
 * what-if), whatever stores it: a tensor decoded block by block, or a logical weight of a quantized Hugging Face
 * checkpoint decoded from its component tensors (hfquant/source.ts). Values come as whole rows, row-major.
 */
import type { Model, TensorInfo } from '../model.ts';
import type { TensorType } from '../types.ts';
import { readTensorValues } from './tensorValues.ts';

export interface ValueSource {
  name: string;
  /** The tensor's type name, or the logical weight's scheme (`GPTQ int4 asym g128 act-order`). */
  typeName: string;
  /** The tensor's type (what-if marks it as the current candidate); a logical weight has none. */
  type?: TensorType;
  /** Whether the values are a float tensor's own (what-if then measures the error against the original values). */
  float: boolean;
  /** Outermost dimension first (GGUF ne reversed; safetensors and logical shapes as they are). */
  shape: number[];
  nElements: number;
  /** Values per row: GGUF ne[0], a safetensors tensor's last dimension, a logical weight's `in`. */
  rowLength: number;
  rows: number;
  /** Rows [r0, r0 + n) as float32, row-major. */
  readRows(r0: number, n: number): Float32Array;
}

/** The row length the streaming views use for a tensor: GGUF rows are ne[0]; safetensors rows the last dimension. */
export function rowLengthOf(model: Model, tensor: TensorInfo): number {
  return Math.max(1, model.format === 'gguf' ? tensor.shape[0] : (tensor.shape[tensor.shape.length - 1] ?? 1));
}

/** A tensor as a value source. */
export function tensorSource(model: Model, tensor: TensorInfo): ValueSource {
  const rowLength = rowLengthOf(model, tensor);
  return {
    name: tensor.name,
    typeName: tensor.type.name,
    type: tensor.type,
    float: tensor.type.family === 'float',
    shape: model.format === 'gguf' ? [...tensor.shape].reverse() : tensor.shape,
    nElements: tensor.nElements,
    rowLength,
    rows: tensor.nElements / rowLength,
    readRows: (r0, n) => readTensorValues(model, tensor, r0 * rowLength, n * rowLength),
  };
}
