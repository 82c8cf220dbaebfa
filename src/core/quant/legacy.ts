import type { QuantCodec } from './codec.ts';

export const legacyCodecs: Record<number, QuantCodec> = {};
