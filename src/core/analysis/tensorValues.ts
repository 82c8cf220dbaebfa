/**
 * Reading a tensor's values: whole blocks from the file, decoded chunk by chunk into reused buffers, so memory
 * stays bounded whatever the tensor's size. Synchronous: meant for workers and the CLI.
 */
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { requireCodec, type QuantCodec } from '../quant/index.ts';
import { isUnknownType } from '../types.ts';

/** Elements per chunk: 4 MB of float32 output. */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

/**
 * safetensors dtypes whose values float32 cannot hold exactly; they are decoded to float64 instead. GGUF values
 * are what ggml's float32 pipeline sees, so GGUF tensors of these types are cast to float32 like ggml's tools do.
 */
const WIDE_DTYPES = new Set(['F64', 'I32', 'U32', 'I64', 'U64']);

export function isWide(tensor: TensorInfo): boolean {
  return tensor.dtype !== undefined && WIDE_DTYPES.has(tensor.dtype);
}

function decodeWide(name: string, src: Uint8Array, dst: Float64Array, n: number): void {
  const bytes = src.byteOffset % 8 === 0 ? src : src.slice(0, n * 8);
  const buf = bytes.buffer;
  const off = bytes.byteOffset;
  switch (name) {
    case 'F64':
      dst.set(new Float64Array(buf, off, n));
      break;
    case 'I32':
      dst.set(new Int32Array(buf, off, n));
      break;
    case 'U32':
      dst.set(new Uint32Array(buf, off, n));
      break;
    case 'I64': {
      const v = new BigInt64Array(buf, off, n);
      for (let i = 0; i < n; i++) dst[i] = Number(v[i]);
      break;
    }
    case 'U64': {
      const v = new BigUint64Array(buf, off, n);
      for (let i = 0; i < n; i++) dst[i] = Number(v[i]);
      break;
    }
  }
}

export type Values = Float32Array | Float64Array;

/** Check that a tensor can be decoded and return its codec (typed error otherwise). */
export function tensorCodec(tensor: TensorInfo): QuantCodec {
  if (isUnknownType(tensor.type)) {
    throw new QuantLensError('not-decodable', `tensor ${tensor.name} has ${tensor.type.name}; it cannot be decoded`);
  }
  return requireCodec(tensor.type);
}

/**
 * Calls `onChunk(values, firstElement)` for consecutive chunks covering elements [first, first + count) of the
 * tensor (first and count are rounded out to whole blocks). The `values` buffer is reused between calls.
 */
export function forEachChunk(
  model: Model,
  tensor: TensorInfo,
  onChunk: (values: Values, firstElement: number) => void,
  options: { chunkElements?: number; first?: number; count?: number; isCancelled?: () => boolean } = {},
): void {
  const codec = tensorCodec(tensor);
  const { blockSize, bytesPerBlock } = tensor.type;
  const wide = isWide(tensor);
  const firstBlock = Math.floor((options.first ?? 0) / blockSize);
  const endElement = Math.min(tensor.nElements, (options.first ?? 0) + (options.count ?? tensor.nElements));
  const endBlock = Math.ceil(endElement / blockSize);
  const blocksPerChunk = Math.max(1, Math.floor((options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS) / blockSize));
  const nChunkBlocks = Math.min(blocksPerChunk, endBlock - firstBlock);
  const raw = new Uint8Array(nChunkBlocks * bytesPerBlock);
  const values: Values = wide ? new Float64Array(nChunkBlocks * blockSize) : new Float32Array(nChunkBlocks * blockSize);
  const source = model.files[tensor.fileIndex].source;
  for (let block = firstBlock; block < endBlock; block += blocksPerChunk) {
    if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${tensor.name}`);
    const nBlocks = Math.min(blocksPerChunk, endBlock - block);
    const rawView = raw.subarray(0, nBlocks * bytesPerBlock);
    const at = tensor.absoluteOffset + block * bytesPerBlock;
    const got = source.readSync(at, rawView);
    if (got < rawView.length) {
      throw new QuantLensError(
        'truncated',
        `${source.name}: tensor ${tensor.name} is cut short: a read at byte ${at} ended at byte ${at + got}`,
        at + got,
        source.name,
      );
    }
    const n = nBlocks * blockSize;
    const out = values.subarray(0, n);
    if (wide) decodeWide(tensor.type.name, rawView, out as Float64Array, n);
    else codec.dequantize(rawView, out as Float32Array, nBlocks);
    onChunk(out, block * blockSize);
  }
}

/**
 * Calls `onChunk(raw, nBlocks)` for consecutive chunks of the tensor's stored blocks [firstBlock, firstBlock +
 * nBlocks) (by default all of them; no decoding). The raw buffer is reused between calls and starts at offset 0 of
 * its own ArrayBuffer (aligned for typed views).
 */
export function forEachRawChunk(
  model: Model,
  tensor: TensorInfo,
  onChunk: (raw: Uint8Array, nBlocks: number) => void,
  options: { chunkElements?: number; isCancelled?: () => boolean; firstBlock?: number; nBlocks?: number } = {},
): void {
  tensorCodec(tensor);
  const { blockSize, bytesPerBlock } = tensor.type;
  const firstBlock = options.firstBlock ?? 0;
  const endBlock = firstBlock + (options.nBlocks ?? tensor.nElements / blockSize - firstBlock);
  const blocksPerChunk = Math.max(1, Math.floor((options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS) / blockSize));
  const raw = new Uint8Array(Math.min(blocksPerChunk, endBlock - firstBlock) * bytesPerBlock);
  const source = model.files[tensor.fileIndex].source;
  for (let block = firstBlock; block < endBlock; block += blocksPerChunk) {
    if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${tensor.name}`);
    const nBlocks = Math.min(blocksPerChunk, endBlock - block);
    const view = raw.subarray(0, nBlocks * bytesPerBlock);
    const at = tensor.absoluteOffset + block * bytesPerBlock;
    const got = source.readSync(at, view);
    if (got < view.length)
      throw new QuantLensError(
        'truncated',
        `${source.name}: tensor ${tensor.name} is cut short: a read at byte ${at} ended at byte ${at + got}`,
        at + got,
        source.name,
      );
    onChunk(view, nBlocks);
  }
}

/** Elements [first, first + count) as float32 (block-aligned reads; the result is exactly that range). */
export function readTensorValues(model: Model, tensor: TensorInfo, first = 0, count = tensor.nElements): Float32Array {
  const end = Math.min(tensor.nElements, first + count);
  const out = new Float32Array(Math.max(0, end - first));
  forEachChunk(
    model,
    tensor,
    (values, start) => {
      const from = Math.max(first, start);
      const to = Math.min(end, start + values.length);
      if (to > from) out.set(values.subarray(from - start, to - start), from - first);
    },
    { first, count },
  );
  return out;
}
