import type { QuantCodec } from './codec.ts';

export const iQuantCodecs: Record<number, QuantCodec> = {};
