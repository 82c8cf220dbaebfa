/**
 * ggml's I-quants: weights are points of a fixed codebook (grid) times a sub-block scale, with signs stored
 * separately, or (IQ4) non-linear 4-bit levels.
 *   IQ2_XXS { d; qs[32] u16 }                      per 32: 4 grid bytes, 4×7 sign bits, 4-bit scale   2.06 bpw
 *   IQ2_XS  { d; qs[32] u16 (9-bit grid, 7-bit signs); scales[8] (two 4-bit scales per 32) }         2.31 bpw
 *   IQ2_S   { d; qs[64] (32 grid low bytes, 32 sign bytes); qh[8]; scales[8] }                        2.56 bpw
 *   IQ3_XXS { d; qs[96] (64 grid bytes, 8 × u32 signs + 4-bit scale) }                                3.06 bpw
 *   IQ3_S   { d; qs[64]; qh[8]; signs[32]; scales[4] }                                                3.44 bpw
 *   IQ1_S   { d; qs[32]; qh[8] u16 (3-bit grid high bits ×4, 3-bit scale, shift sign) }               1.56 bpw
 *   IQ1_M   { qs[32]; qh[16]; scales[8] (3-bit scales + the fp16 d spread over their top nibbles) }   1.75 bpw
 *   IQ4_NL  { d; qs[16] } blocks of 32, w = d·level[q]          IQ4_XS { d; scales_h; scales_l[4]; qs[128] }
 * Decoding is exact: products rounded to float32 where ggml's C rounds them, signs applied by multiplying by ±1.
 */
import type { BlockRecord, QuantCodec } from '../codec.ts';
import { declaredField, f16BlockScales } from '../blockFields.ts';
import { F16_TO_F32, f16, fr, u16, u32 } from '../scalars.ts';
import { IQ1S_DELTA, IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, IQ4NL_LEVELS, KSIGNS_IQ2XS } from './grids.ts';
import { GgmlType, traits } from '../../types.ts';

const QK_K = 256;

/** Writes 8 weights db·grid[k]·(±1) from grid entry `g` of `grid` (8 coordinates) with sign byte `signs`. */
function put8(dst: Float32Array, y: number, db: number, grid: Uint8Array | Int8Array, g: number, signs: number): void {
  for (let j = 0; j < 8; j++) dst[y + j] = fr(fr(db * grid[g * 8 + j]) * (signs & (1 << j) ? -1 : 1));
}

/** 4 weights from a 4-coordinate grid entry, signs taken from bits shift..shift+3 of `signs`. */
function put4(dst: Float32Array, y: number, db: number, grid: Uint8Array | Int8Array, g: number, signs: number, shift: number): void {
  for (let j = 0; j < 4; j++) dst[y + j] = fr(fr(db * grid[g * 4 + j]) * (signs & (1 << (j + shift)) ? -1 : 1));
}

/**
 * A codec described by per-block callbacks: `decode` writes the 256 weights of the block at src[o] into
 * dst[y..], `scales` the block's d and effective sub-block scales. Block records come from `record`.
 */
function iqCodec(
  type: GgmlType,
  subBlocksPerBlock: number,
  decode: (src: Uint8Array, o: number, dst: Float32Array, y: number) => void,
  scales: (src: Uint8Array, o: number, sub: Float32Array, at: number) => number,
  record: (src: Uint8Array, o: number) => BlockRecord,
): QuantCodec {
  const scratch = new Float32Array(subBlocksPerBlock);
  const bytes = traits(type).bytesPerBlock;
  return {
    subBlocksPerBlock,
    dequantize(src, dst, nBlocks) {
      for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += bytes, y += QK_K) decode(src, o, dst, y);
    },
    decodeBlock: record,
    blockScales(src, nBlocks, out) {
      for (let i = 0; i < nBlocks; i++) out.d[i] = scales(src, i * bytes, out.sub ?? scratch, out.sub ? i * subBlocksPerBlock : 0);
    },
  };
}

/** Dequantize one block into a scratch buffer (for block records that show values per sub-block). */
function gridIndices(n: number, f: (k: number) => number): number[] {
  return Array.from({ length: n }, (_, k) => f(k));
}

// ------------------------------------------------------------------------------------------------ IQ2_XXS

const iq2xxsScale = (d: number, aux1: number) => fr(fr(d * fr(0.5 + (aux1 >>> 28))) * 0.25);

const IQ2XXS_ROW = traits(GgmlType.IQ2_XXS);
const iq2xxs = iqCodec(
  GgmlType.IQ2_XXS,
  8,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const q = o + 2 + 8 * ib;
      const aux1 = u32(src, q + 4);
      const db = iq2xxsScale(d, aux1);
      for (let l = 0; l < 4; l++, y += 8) put8(dst, y, db, IQ2XXS_GRID, src[q + l], KSIGNS_IQ2XS[(aux1 >>> (7 * l)) & 127]);
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) sub[at + ib] = iq2xxsScale(d, u32(src, o + 2 + 8 * ib + 4));
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    const aux = (ib: number) => u32(src, o + 2 + 8 * ib + 4);
    return {
      d,
      fields: [
        declaredField(IQ2XXS_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ2XXS_ROW,
          'qs',
          gridIndices(32, (k) => src[o + 2 + 8 * (k >> 2) + (k & 3)]),
          '32 grid indices (256-point E8 grid), 4 per 32 weights; plus per 32: 4 × 7 sign bits and a 4-bit scale',
        ),
        {
          name: 'signs',
          offset: 2,
          size: 0,
          values: gridIndices(32, (k) => KSIGNS_IQ2XS[(aux(k >> 2) >>> (7 * (k & 3))) & 127]),
          note: 'sign byte of each group of 8 (bit j set = weight j negative)',
        },
        {
          name: 'scales',
          offset: 2,
          size: 0,
          values: gridIndices(8, (ib) => aux(ib) >>> 28),
          note: '4-bit scale per 32: db = d·(0.5 + s)/4',
        },
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ2_XS

const halfScale = (d: number, s: number) => fr(fr(d * fr(0.5 + s)) * 0.25);

const IQ2XS_ROW = traits(GgmlType.IQ2_XS);
const iq2xs = iqCodec(
  GgmlType.IQ2_XS,
  16,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[o + 66 + ib];
      const db0 = halfScale(d, sc & 0xf);
      const db1 = halfScale(d, sc >> 4);
      for (let l = 0; l < 4; l++, y += 8) {
        const q = u16(src, o + 2 + 2 * (4 * ib + l));
        put8(dst, y, l < 2 ? db0 : db1, IQ2XS_GRID, q & 511, KSIGNS_IQ2XS[q >> 9]);
      }
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      sub[at + 2 * ib] = halfScale(d, src[o + 66 + ib] & 0xf);
      sub[at + 2 * ib + 1] = halfScale(d, src[o + 66 + ib] >> 4);
    }
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    return {
      d,
      fields: [
        declaredField(IQ2XS_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ2XS_ROW,
          'qs',
          gridIndices(32, (k) => u16(src, o + 2 + 2 * k) & 511),
          '9-bit grid indices (512-point grid), one per 8 weights; the top 7 bits of each u16 are its signs',
        ),
        declaredField(
          IQ2XS_ROW,
          'scales',
          gridIndices(16, (k) => (src[o + 66 + (k >> 1)] >> (4 * (k & 1))) & 0xf),
          '4-bit scale per 16 weights: db = d·(0.5 + s)/4',
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ2_S

const iq2sIndex = (src: Uint8Array, o: number, ib: number, l: number) =>
  src[o + 2 + 4 * ib + l] | ((src[o + 66 + ib] << (8 - 2 * l)) & 0x300);

const IQ2S_ROW = traits(GgmlType.IQ2_S);
const iq2s = iqCodec(
  GgmlType.IQ2_S,
  16,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[o + 74 + ib];
      const db0 = halfScale(d, sc & 0xf);
      const db1 = halfScale(d, sc >> 4);
      for (let l = 0; l < 4; l++, y += 8) put8(dst, y, l < 2 ? db0 : db1, IQ2S_GRID, iq2sIndex(src, o, ib, l), src[o + 34 + 4 * ib + l]);
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      sub[at + 2 * ib] = halfScale(d, src[o + 74 + ib] & 0xf);
      sub[at + 2 * ib + 1] = halfScale(d, src[o + 74 + ib] >> 4);
    }
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    return {
      d,
      fields: [
        declaredField(IQ2S_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ2S_ROW,
          'qs',
          gridIndices(32, (k) => iq2sIndex(src, o, k >> 2, k & 3)),
          '10-bit grid indices (1024-point grid), low 8 bits here, high 2 in qh',
        ),
        declaredField(IQ2S_ROW, 'signs', Array.from(src.subarray(o + 34, o + 66)), 'sign byte of each group of 8'),
        declaredField(IQ2S_ROW, 'qh', Array.from(src.subarray(o + 66, o + 74)), 'high bits of the grid indices'),
        declaredField(
          IQ2S_ROW,
          'scales',
          gridIndices(16, (k) => (src[o + 74 + (k >> 1)] >> (4 * (k & 1))) & 0xf),
          '4-bit scale per 16 weights: db = d·(0.5 + s)/4',
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ3_XXS

const iq3xxsScale = (d: number, aux: number) => fr(fr(d * fr(0.5 + (aux >>> 28))) * 0.5);

const IQ3XXS_ROW = traits(GgmlType.IQ3_XXS);
const iq3xxs = iqCodec(
  GgmlType.IQ3_XXS,
  8,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const aux = u32(src, o + 66 + 4 * ib);
      const db = iq3xxsScale(d, aux);
      const q = o + 2 + 8 * ib;
      for (let l = 0; l < 4; l++, y += 8) {
        const signs = KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127];
        put4(dst, y, db, IQ3XXS_GRID, src[q + 2 * l], signs, 0);
        put4(dst, y + 4, db, IQ3XXS_GRID, src[q + 2 * l + 1], signs, 4);
      }
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) sub[at + ib] = iq3xxsScale(d, u32(src, o + 66 + 4 * ib));
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    return {
      d,
      fields: [
        declaredField(IQ3XXS_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ3XXS_ROW,
          'qs',
          Array.from(src.subarray(o + 2, o + 66)),
          'grid indices (256-point grid of 4-tuples), one per 4 weights',
        ),
        declaredField(
          IQ3XXS_ROW,
          'scales_and_signs',
          gridIndices(8, (ib) => u32(src, o + 66 + 4 * ib) >>> 28),
          'per 32 weights: 4 × 7 sign bits and a 4-bit scale (shown): db = d·(0.5 + s)/2',
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ3_S

const iq3sScale = (d: number, s: number) => fr(d * (1 + 2 * s));

const IQ3S_ROW = traits(GgmlType.IQ3_S);
const iq3s = iqCodec(
  GgmlType.IQ3_S,
  8,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[o + 106 + (ib >> 1)];
      const db = iq3sScale(d, ib & 1 ? sc >> 4 : sc & 0xf);
      const qs = o + 2 + 8 * ib;
      const qh = src[o + 66 + ib];
      const signs = o + 74 + 4 * ib;
      for (let l = 0; l < 4; l++, y += 8) {
        const g1 = src[qs + 2 * l] | ((qh << (8 - 2 * l)) & 256);
        const g2 = src[qs + 2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
        put4(dst, y, db, IQ3S_GRID, g1, src[signs + l], 0);
        put4(dst, y + 4, db, IQ3S_GRID, g2, src[signs + l], 4);
      }
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[o + 106 + (ib >> 1)];
      sub[at + ib] = iq3sScale(d, ib & 1 ? sc >> 4 : sc & 0xf);
    }
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    return {
      d,
      fields: [
        declaredField(IQ3S_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ3S_ROW,
          'qs',
          gridIndices(64, (k) => src[o + 2 + k] | ((src[o + 66 + (k >> 3)] << (8 - (k & 7))) & 256)),
          '9-bit grid indices (512-point grid of 4-tuples), low 8 bits here',
        ),
        declaredField(IQ3S_ROW, 'qh', Array.from(src.subarray(o + 66, o + 74)), 'ninth bit of each grid index'),
        declaredField(IQ3S_ROW, 'signs', Array.from(src.subarray(o + 74, o + 106)), 'sign byte of each group of 8'),
        declaredField(
          IQ3S_ROW,
          'scales',
          gridIndices(8, (k) => (src[o + 106 + (k >> 1)] >> (4 * (k & 1))) & 0xf),
          '4-bit scale per 32 weights: db = d·(1 + 2s)',
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ1_S

const iq1sScale = (d: number, qh: number) => fr(d * (2 * ((qh >> 12) & 7) + 1));

const IQ1S_ROW = traits(GgmlType.IQ1_S);
const iq1s = iqCodec(
  GgmlType.IQ1_S,
  8,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const qh = u16(src, o + 34 + 2 * ib);
      const dl = iq1sScale(d, qh);
      const delta = qh & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
      for (let l = 0; l < 4; l++, y += 8) {
        const g = (src[o + 2 + 4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)) * 8;
        for (let j = 0; j < 8; j++) dst[y + j] = fr(dl * fr(IQ1S_GRID[g + j] + delta));
      }
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) sub[at + ib] = iq1sScale(d, u16(src, o + 34 + 2 * ib));
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    const qh = (ib: number) => u16(src, o + 34 + 2 * ib);
    return {
      d,
      fields: [
        declaredField(IQ1S_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ1S_ROW,
          'qs',
          gridIndices(32, (k) => src[o + 2 + k] | (((qh(k >> 2) >> (3 * (k & 3))) & 7) << 8)),
          '11-bit grid indices (2048-point ternary grid), low 8 bits here',
        ),
        declaredField(
          IQ1S_ROW,
          'qh',
          gridIndices(8, (ib) => (qh(ib) >> 12) & 7),
          'per 32 weights: 4 × 3 high index bits, a 3-bit scale (shown: dl = d·(2s + 1)) and the sign of the ±1/8 shift',
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ1_M

function iq1mD(src: Uint8Array, o: number): number {
  const sc = (k: number) => u16(src, o + 48 + 2 * k);
  return F16_TO_F32[(sc(0) >> 12) | ((sc(1) >> 8) & 0x00f0) | ((sc(2) >> 4) & 0x0f00) | (sc(3) & 0xf000)];
}
const iq1mScale = (d: number, src: Uint8Array, o: number, k: number) => {
  const ib = k >> 1;
  const sc = u16(src, o + 48 + 2 * (ib >> 1));
  return fr(d * (2 * ((sc >> (6 * (ib % 2) + 3 * (k & 1))) & 7) + 1));
};

const IQ1M_ROW = traits(GgmlType.IQ1_M);
const iq1m = iqCodec(
  GgmlType.IQ1_M,
  16,
  (src, o, dst, y) => {
    const d = iq1mD(src, o);
    for (let ib = 0; ib < 8; ib++) {
      const dl1 = iq1mScale(d, src, o, 2 * ib);
      const dl2 = iq1mScale(d, src, o, 2 * ib + 1);
      const qs = o + 4 * ib;
      const qh0 = src[o + 32 + 2 * ib];
      const qh1 = src[o + 33 + 2 * ib];
      const idx = [
        src[qs] | ((qh0 << 8) & 0x700),
        src[qs + 1] | ((qh0 << 4) & 0x700),
        src[qs + 2] | ((qh1 << 8) & 0x700),
        src[qs + 3] | ((qh1 << 4) & 0x700),
      ];
      const delta = [qh0 & 0x08, qh0 & 0x80, qh1 & 0x08, qh1 & 0x80].map((b) => (b ? -IQ1S_DELTA : IQ1S_DELTA));
      for (let l = 0; l < 4; l++, y += 8) {
        const dl = l < 2 ? dl1 : dl2;
        const g = idx[l] * 8;
        for (let j = 0; j < 8; j++) dst[y + j] = fr(dl * fr(IQ1S_GRID[g + j] + delta[l]));
      }
    }
  },
  (src, o, sub, at) => {
    const d = iq1mD(src, o);
    for (let k = 0; k < 16; k++) sub[at + k] = iq1mScale(d, src, o, k);
    return d;
  },
  (src, o) => {
    const d = iq1mD(src, o);
    return {
      d,
      fields: [
        declaredField(
          IQ1M_ROW,
          'qs',
          Array.from(src.subarray(o, o + 32)),
          'grid index low 8 bits (2048-point ternary grid), one per 8 weights',
        ),
        declaredField(
          IQ1M_ROW,
          'qh',
          Array.from(src.subarray(o + 32, o + 48)),
          'per 8 weights: 3 high index bits and the sign of the ±1/8 shift',
        ),
        declaredField(
          IQ1M_ROW,
          'scales',
          gridIndices(16, (k) => {
            const ib = k >> 1;
            return (u16(src, o + 48 + 2 * (ib >> 1)) >> (6 * (ib % 2) + 3 * (k & 1))) & 7;
          }),
          `3-bit scale per 16 weights (dl = d·(2s + 1)); the top nibbles hold d = ${d} (fp16)`,
        ),
      ],
    };
  },
);

// ------------------------------------------------------------------------------------------------ IQ4_NL / IQ4_XS

const IQ4NL_ROW = traits(GgmlType.IQ4_NL);
const iq4nl: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += IQ4NL_ROW.bytesPerBlock, y += 32) {
      const d = f16(src, o);
      for (let j = 0; j < 16; j++) {
        const b = src[o + 2 + j];
        dst[y + j] = fr(d * IQ4NL_LEVELS[b & 0xf]);
        dst[y + j + 16] = fr(d * IQ4NL_LEVELS[b >> 4]);
      }
    }
  },
  decodeBlock(src, o) {
    const d = f16(src, o);
    const codes = gridIndices(32, (k) => IQ4NL_LEVELS[k < 16 ? src[o + 2 + k] & 0xf : src[o + 2 + k - 16] >> 4]);
    return {
      d,
      fields: [
        declaredField(IQ4NL_ROW, 'd', [d], 'block scale (fp16)'),
        declaredField(IQ4NL_ROW, 'qs', codes, 'non-linear levels (−127 .. 113) in weight order: w = d·level'),
      ],
    };
  },
  blockScales: f16BlockScales(IQ4NL_ROW),
};

const iq4xsLs = (src: Uint8Array, o: number, ib: number) =>
  ((src[o + 4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((u16(src, o + 2) >> (2 * ib)) & 3) << 4);

const IQ4XS_ROW = traits(GgmlType.IQ4_XS);
const iq4xs = iqCodec(
  GgmlType.IQ4_XS,
  8,
  (src, o, dst, y) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++, y += 32) {
      const dl = fr(d * (iq4xsLs(src, o, ib) - 32));
      const qs = o + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        dst[y + j] = fr(dl * IQ4NL_LEVELS[src[qs + j] & 0xf]);
        dst[y + j + 16] = fr(dl * IQ4NL_LEVELS[src[qs + j] >> 4]);
      }
    }
  },
  (src, o, sub, at) => {
    const d = f16(src, o);
    for (let ib = 0; ib < 8; ib++) sub[at + ib] = fr(d * (iq4xsLs(src, o, ib) - 32));
    return d;
  },
  (src, o) => {
    const d = f16(src, o);
    return {
      d,
      fields: [
        declaredField(IQ4XS_ROW, 'd', [d], 'super-block scale (fp16)'),
        declaredField(
          IQ4XS_ROW,
          'scales_h',
          gridIndices(8, (ib) => (u16(src, o + 2) >> (2 * ib)) & 3),
          'high 2 bits of the 6-bit sub-block scales',
        ),
        declaredField(
          IQ4XS_ROW,
          'scales_l',
          gridIndices(8, (ib) => iq4xsLs(src, o, ib) - 32),
          '6-bit sub-block scales, unpacked, minus 32 (dl = d·s)',
        ),
        declaredField(
          IQ4XS_ROW,
          'qs',
          gridIndices(256, (k) => {
            const ib = k >> 5;
            const j = k & 31;
            return IQ4NL_LEVELS[j < 16 ? src[o + 8 + 16 * ib + j] & 0xf : src[o + 8 + 16 * ib + j - 16] >> 4];
          }),
          'non-linear levels (−127 .. 113) in weight order',
        ),
      ],
    };
  },
);

export const iQuantCodecs: Partial<Record<GgmlType, QuantCodec>> = {
  [GgmlType.IQ2_XXS]: iq2xxs,
  [GgmlType.IQ2_XS]: iq2xs,
  [GgmlType.IQ3_XXS]: iq3xxs,
  [GgmlType.IQ1_S]: iq1s,
  [GgmlType.IQ4_NL]: iq4nl,
  [GgmlType.IQ3_S]: iq3s,
  [GgmlType.IQ2_S]: iq2s,
  [GgmlType.IQ4_XS]: iq4xs,
  [GgmlType.IQ1_M]: iq1m,
};
