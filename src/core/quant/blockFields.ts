/** Helpers the family decoders build their block records and block scales with, from the type table's rows. */
import type { BlockField, QuantCodec } from './codec.ts';
import type { TensorType } from '../types.ts';
import { f16 } from './scalars.ts';

/** A decoded field where the type table declares it (its offset and size from the row of `ty`). */
export function declaredField(ty: TensorType, name: string, values: ArrayLike<number>, note: string): BlockField {
  const f = ty.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${ty.name} has no field ${name}`);
  return blockField(name, f.offset, f.size, values, note);
}

/** A decoded field of the block inspector. */
export function blockField(name: string, offset: number, size: number, values: ArrayLike<number>, note: string): BlockField {
  return { name, offset, size, values: Array.from(values), note };
}

/** blockScales for the types with one fp16 scale per block: field `d` of each block (where the table puts it). */
export function f16BlockScales(ty: TensorType): NonNullable<QuantCodec['blockScales']> {
  const { bytesPerBlock, at } = ty;
  const dAt = at.d;
  return (src, nBlocks, out) => {
    for (let i = 0; i < nBlocks; i++) out.d[i] = f16(src, i * bytesPerBlock + dAt);
  };
}
