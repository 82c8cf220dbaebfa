/**
 * "Fits in": weights plus the KV cache at a context length, against common memory sizes. The KV cache of a
 * llama-style model is 2 (K and V) x layers x context x kv_heads x head_dim x bytes per element.
 */
import type { Model } from '../model.ts';
import { metadataValue } from './summary.ts';

export interface MemoryFit {
  weightsBytes: number;
  contextLength: number;
  kvCacheBytes?: number;
  totalBytes: number;
  /** Common memory sizes (GiB) and whether the total fits in each. */
  fits: { gib: number; fits: boolean }[];
  /** Why the KV cache could not be estimated, when it could not. */
  note?: string;
}

export const COMMON_MEMORY_GIB = [4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 128];

function num(model: Model, key: string): number | undefined {
  const v = metadataValue(model, key);
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

export function estimateMemory(model: Model, contextLength?: number, kvBytesPerElement = 2): MemoryFit {
  const weightsBytes = model.tensors.reduce((a, t) => a + t.nbytes, 0);
  const arch = metadataValue(model, 'general.architecture');
  let kvCacheBytes: number | undefined;
  let note: string | undefined;
  let ctx = contextLength ?? 4096;
  if (typeof arch === 'string') {
    const layers = num(model, `${arch}.block_count`);
    const heads = num(model, `${arch}.attention.head_count`);
    const kvHeads = num(model, `${arch}.attention.head_count_kv`) ?? heads;
    const embd = num(model, `${arch}.embedding_length`);
    const keyLength = num(model, `${arch}.attention.key_length`) ?? (embd && heads ? embd / heads : undefined);
    const valueLength = num(model, `${arch}.attention.value_length`) ?? keyLength;
    const trained = num(model, `${arch}.context_length`);
    if (contextLength === undefined && trained) ctx = Math.min(trained, 8192);
    if (layers && kvHeads && keyLength && valueLength) {
      kvCacheBytes = layers * ctx * kvHeads * (keyLength + valueLength) * kvBytesPerElement;
    } else {
      note = `the metadata lacks ${arch}.block_count / attention.head_count(_kv) / embedding_length`;
    }
  } else {
    note = 'no general.architecture in the metadata';
  }
  const totalBytes = weightsBytes + (kvCacheBytes ?? 0);
  return {
    weightsBytes,
    contextLength: ctx,
    kvCacheBytes,
    totalBytes,
    fits: COMMON_MEMORY_GIB.map((gib) => ({ gib, fits: totalBytes <= gib * 2 ** 30 })),
    note,
  };
}
