/** Codec registry: ggml type -> codec. Each family file exports its codecs; layouts come from the type table (types.ts). */
import type { QuantCodec } from './codec.ts';
import { floatCodecs, safetensorsOnlyCodecs } from './float.ts';
import { legacyCodecs } from './legacy.ts';
import { kQuantCodecs } from './kquants.ts';
import { iQuantCodecs } from './iquants.ts';
import { otherCodecs } from './other.ts';
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
