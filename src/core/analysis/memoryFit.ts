/**
 * "Fits in": weights plus the KV cache at a context length plus the compute buffers, against common memory sizes.
 * The KV cache of a llama-style model is layers x context x kv_heads x (key_length + value_length) elements, at
 * the bytes per element of the cache type (f16, or llama.cpp's q8_0 / q4_0 cache). The shape comes from the GGUF
 * metadata, or for safetensors from the Hugging Face config.json beside it. Pure: the webview recomputes it.
 */
import type { Model } from '../model.ts';
import { metadataValue } from './summary.ts';

/** KV cache element types llama.cpp offers (--cache-type-k/-v), with their bytes per element. */
export const KV_CACHE_TYPES: readonly { name: string; bytesPerElement: number }[] = [
  { name: 'f16', bytesPerElement: 2 },
  { name: 'q8_0', bytesPerElement: 34 / 32 },
  { name: 'q4_0', bytesPerElement: 18 / 32 },
];

export interface MemoryFit {
  weightsBytes: number;
  contextLength: number;
  kvCacheBytes?: number;
  /** KV cache elements per token (all layers, K and V): times bytes per element and context gives the cache. */
  kvElementsPerToken?: number;
  /**
   * Compute-buffer headroom: the logits of one 512-token batch (vocab x 512 float32) plus 512 MiB for the
   * graph's activations and the runtime, which llama.cpp allocates beside weights and cache.
   */
  computeBytes: number;
  totalBytes: number;
  /** Common memory sizes (GiB) and whether the total fits in each. */
  fits: { gib: number; fits: boolean }[];
  /** Why the KV cache could not be estimated, when it could not. */
  note?: string;
  /** Set when the file is not a model at all (a llama.cpp importance matrix): what it is instead. */
  notAModel?: string;
}

export const COMMON_MEMORY_GIB = [4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 128];

const RUNTIME_BYTES = 512 * 2 ** 20;
const BATCH = 512;

/** The shape fields the estimate needs, under whichever names the file uses. */
export interface AttentionShape {
  layers?: number;
  heads?: number;
  kvHeads?: number;
  embedding?: number;
  keyLength?: number;
  valueLength?: number;
  trainedContext?: number;
  vocab?: number;
}

function num(model: Model, key: string): number | undefined {
  const v = metadataValue(model, key);
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

/** A Hugging Face config.json's attention shape (a multimodal model's text_config when it has one). */
export function shapeFromHfConfig(config: unknown): AttentionShape | undefined {
  if (!config || typeof config !== 'object') return undefined;
  const top = config as Record<string, unknown>;
  const c = (top.text_config && typeof top.text_config === 'object' ? top.text_config : top) as Record<string, unknown>;
  const n = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : typeof top[k] === 'number' ? (top[k] as number) : undefined);
  const heads = n('num_attention_heads');
  const embedding = n('hidden_size');
  const head = n('head_dim') ?? (embedding && heads ? embedding / heads : undefined);
  return {
    layers: n('num_hidden_layers'),
    heads,
    kvHeads: n('num_key_value_heads') ?? heads,
    embedding,
    keyLength: head,
    valueLength: head,
    trainedContext: n('max_position_embeddings'),
    vocab: n('vocab_size'),
  };
}

function shapeFromGguf(model: Model, arch: string): AttentionShape {
  const heads = num(model, `${arch}.attention.head_count`);
  const embedding = num(model, `${arch}.embedding_length`);
  const keyLength = num(model, `${arch}.attention.key_length`) ?? (embedding && heads ? embedding / heads : undefined);
  const tokens = metadataValue(model, 'tokenizer.ggml.tokens');
  return {
    layers: num(model, `${arch}.block_count`),
    heads,
    kvHeads: num(model, `${arch}.attention.head_count_kv`) ?? heads,
    embedding,
    keyLength,
    valueLength: num(model, `${arch}.attention.value_length`) ?? keyLength,
    trainedContext: num(model, `${arch}.context_length`),
    vocab:
      num(model, `${arch}.vocab_size`) ?? (tokens && typeof tokens === 'object' && 'length' in tokens ? Number(tokens.length) : undefined),
  };
}

/** Weights + KV cache + compute headroom, and the common sizes it fits in. */
export function fitTotal(
  weightsBytes: number,
  kvElementsPerToken: number | undefined,
  contextLength: number,
  bytesPerElement: number,
  computeBytes: number,
): { kvCacheBytes?: number; totalBytes: number; fits: MemoryFit['fits'] } {
  const kvCacheBytes = kvElementsPerToken === undefined ? undefined : kvElementsPerToken * contextLength * bytesPerElement;
  const totalBytes = weightsBytes + (kvCacheBytes ?? 0) + computeBytes;
  return { kvCacheBytes, totalBytes, fits: COMMON_MEMORY_GIB.map((gib) => ({ gib, fits: totalBytes <= gib * 2 ** 30 })) };
}

/**
 * The estimate at `contextLength` (default: the trained context, at most 8192) with an f16 cache unless told.
 * `hfConfig` is the parsed config.json beside a safetensors model, if there is one.
 */
export function estimateMemory(model: Model, contextLength?: number, kvBytesPerElement = 2, hfConfig?: unknown): MemoryFit {
  const notAModel = importanceMatrixNote(model);
  const weightsBytes = model.tensors.reduce((a, t) => a + t.nbytes, 0);
  const arch = metadataValue(model, 'general.architecture');
  let note: string | undefined;
  let shape: AttentionShape | undefined;
  if (typeof arch === 'string') shape = shapeFromGguf(model, arch);
  else if (model.format === 'safetensors') {
    shape = shapeFromHfConfig(hfConfig);
    if (!shape) note = 'no config.json beside the model says its layers and attention heads';
  } else note = 'no general.architecture in the metadata';
  let ctx = contextLength ?? 4096;
  if (contextLength === undefined && shape?.trainedContext) ctx = Math.min(shape.trainedContext, 8192);
  let kvElementsPerToken: number | undefined;
  if (shape) {
    const { layers, kvHeads, keyLength, valueLength } = shape;
    if (layers && kvHeads && keyLength && valueLength) kvElementsPerToken = layers * kvHeads * (keyLength + valueLength);
    else
      note =
        typeof arch === 'string'
          ? `the metadata lacks ${arch}.block_count / attention.head_count(_kv) / embedding_length`
          : 'config.json lacks num_hidden_layers / num_attention_heads / hidden_size';
  }
  const computeBytes = RUNTIME_BYTES + (shape?.vocab ?? 0) * BATCH * 4;
  return {
    weightsBytes,
    contextLength: ctx,
    kvElementsPerToken,
    computeBytes,
    ...fitTotal(weightsBytes, kvElementsPerToken, ctx, kvBytesPerElement, computeBytes),
    note,
    notAModel,
  };
}

/** A GGUF imatrix (general.type "imatrix", or only `<tensor>.in_sum2` / `.counts` tensors) says so; else undefined. */
function importanceMatrixNote(model: Model): string | undefined {
  if (model.format !== 'gguf' || !model.tensors.length) return undefined;
  const isImatrix = metadataValue(model, 'general.type') === 'imatrix' || model.tensors.every((t) => /\.(in_sum2|counts)$/.test(t.name));
  if (!isImatrix) return undefined;
  const entries = model.tensors.filter((t) => t.name.endsWith('.in_sum2')).length;
  return `This is a llama.cpp importance matrix (${entries} entries), not a model: it runs nowhere. Open a model and use Load Importance Matrix… there to weight its what-if error and drive its imatrix quantizers.`;
}
