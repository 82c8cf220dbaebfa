import type { QuantCodec } from './codec.ts';

export const otherCodecs: Record<number, QuantCodec> = {};
