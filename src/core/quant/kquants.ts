import type { QuantCodec } from './codec.ts';

export const kQuantCodecs: Record<number, QuantCodec> = {};
