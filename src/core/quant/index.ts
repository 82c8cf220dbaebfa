/**
 * Codec registry: ggml type -> codec. Each family has a folder with its decoder (decode.ts: dequantize, the block
 * inspector's decodeBlock, block scales) and its quantizer (quantize.ts); layouts come from the type table
 * (types.ts). Contracts: codec.ts, quantizer.ts.
 */
import type { QuantCodec } from './codec.ts';
import { floatCodecs, safetensorsOnlyCodecs } from './float/decode.ts';
import { legacyCodecs } from './legacy/decode.ts';
import { kQuantCodecs } from './kquants/decode.ts';
import { iQuantCodecs } from './iquants/decode.ts';
import { otherCodecs } from './other/decode.ts';
import { withWasmDequantize } from './wasmDecode.ts';
import { ggmlType, type GgmlType, type TensorType } from '../types.ts';
import { QuantLensError } from '../errors.ts';

const CODECS = new Map<GgmlType, QuantCodec>();
for (const family of [floatCodecs, legacyCodecs, kQuantCodecs, iQuantCodecs, otherCodecs]) {
  for (const [id, codec] of Object.entries(family)) CODECS.set(Number(id), withWasmDequantize(ggmlType(Number(id))!, codec));
}

export function codecForGgmlId(id: GgmlType): QuantCodec | undefined {
  return CODECS.get(id);
}

export function codecForType(ty: TensorType): QuantCodec | undefined {
  return ty.ggmlId !== undefined ? CODECS.get(ty.ggmlId) : safetensorsOnlyCodecs[ty.name];
}

/** The codec for a type, or a typed error saying why the type cannot be decoded. */
export function requireCodec(ty: TensorType): QuantCodec {
  const codec = codecForType(ty);
  if (!codec) {
    const why = ggmlType(ty.ggmlId ?? -1) ? 'no decoder for this type' : 'the type is not known to Quant Lens';
    throw new QuantLensError('not-decodable', `cannot decode tensors of type ${ty.name}: ${why}`);
  }
  return codec;
}

export type { QuantCodec } from './codec.ts';
