/**
 * Ternary, FP4 and low-bit "binary" types.
 *   TQ1_0 { qs[48] (5 trits per byte, base 3); qh[4] (4 trits per byte); d }   w = d·(t − 1), t in 0..2
 *   TQ2_0 { qs[64] (2-bit codes); d }                                           w = d·(q − 1)
 *   MXFP4 { e (E8M0); qs[16] }                     w = fp4(q)·2^(e−128)  (fp4 values doubled: 0, ±1, ±2, ... ±12)
 *   NVFP4 { d[4] (unsigned E4M3, one per 16); qs[32] }    w = fp4(q)·ue4m3(d)/2
 *   Q1_0  { d; qs[16] }  128 weights, w = bit ? d : −d           Q2_0 { d; qs[16] } 64 weights, w = d·(q − 1)
 */
import type { BlockRecord, QuantCodec } from '../codec.ts';
import { declaredField, f16BlockScales } from '../blockFields.ts';
import { f16, fr } from '../scalars.ts';
import { GgmlType, traits } from '../../types.ts';

/** E2M1 values, doubled so they are integers (ggml's kvalues_fp4). */
export const FP4_DOUBLED = Int8Array.from([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]);

/** ggml_e8m0_to_fp32_half: 2^(x − 128), with the two smallest codes as float32 subnormals. */
export function e8m0Half(x: number): number {
  return x < 2 ? 2 ** (-128 + x) : 2 ** (x - 128);
}

/** ggml_ue4m3_to_fp32: unsigned E4M3 (the sign bit is ignored; 0 and 0x7f are 0), times 0.5. */
export function ue4m3Half(x: number): number {
  if (x === 0 || x === 0x7f) return 0;
  const exp = (x >> 3) & 0xf;
  const man = x & 7;
  const raw = exp === 0 ? man * 2 ** -9 : (1 + man / 8) * 2 ** (exp - 7);
  return raw * 0.5;
}

// ------------------------------------------------------------------------------------------------ TQ1_0

/** The trits of one TQ1_0 block in weight order. */
function tq1Trits(src: Uint8Array, o: number, out: Int32Array): void {
  let y = 0;
  const trit = (b: number, n: number) => (((b * 3 ** n) & 0xff) * 3) >> 8;
  for (let j = 0; j < 32; j += 32) for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) out[y++] = trit(src[o + j + m], n);
  for (let j = 32; j < 48; j += 16) for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) out[y++] = trit(src[o + j + m], n);
  for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) out[y++] = trit(src[o + 48 + j], n);
}

const TQ1_0_ROW = traits(GgmlType.TQ1_0);
const tq1_0: QuantCodec = (() => {
  const t = new Int32Array(256);
  return {
    dequantize(src, dst, nBlocks) {
      for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += TQ1_0_ROW.bytesPerBlock) {
        const d = f16(src, o + 52);
        tq1Trits(src, o, t);
        for (let j = 0; j < 256; j++) dst[y++] = fr((t[j] - 1) * d);
      }
    },
    decodeBlock(src, o): BlockRecord {
      tq1Trits(src, o, t);
      const d = f16(src, o + 52);
      return {
        d,
        fields: [
          declaredField(
            TQ1_0_ROW,
            'qs',
            t.subarray(0, 240).map((v) => v - 1),
            'ternary weights −1, 0, 1 packed 5 per byte (base 3)',
          ),
          declaredField(
            TQ1_0_ROW,
            'qh',
            t.subarray(240).map((v) => v - 1),
            'the last 16 weights, 4 per byte',
          ),
          declaredField(TQ1_0_ROW, 'd', [d], 'block scale (fp16)'),
        ],
      };
    },
    blockScales: f16BlockScales(TQ1_0_ROW),
  };
})();

// ------------------------------------------------------------------------------------------------ TQ2_0 / Q2_0 / Q1_0

const TQ2_0_ROW = traits(GgmlType.TQ2_0);
const tq2_0: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += TQ2_0_ROW.bytesPerBlock) {
      const d = f16(src, o + 64);
      for (let j = 0; j < 64; j += 32) {
        for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) dst[y++] = fr((((src[o + j + m] >> (2 * l)) & 3) - 1) * d);
      }
    }
  },
  decodeBlock(src, o) {
    const codes: number[] = [];
    for (let j = 0; j < 64; j += 32)
      for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) codes.push(((src[o + j + m] >> (2 * l)) & 3) - 1);
    const d = f16(src, o + 64);
    return {
      d,
      fields: [
        declaredField(TQ2_0_ROW, 'qs', codes, '2-bit ternary codes minus 1, in weight order'),
        declaredField(TQ2_0_ROW, 'd', [d], 'block scale (fp16)'),
      ],
    };
  },
  blockScales: f16BlockScales(TQ2_0_ROW),
};

const Q2_0_ROW = traits(GgmlType.Q2_0);
const q2_0: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q2_0_ROW.bytesPerBlock) {
      const d = f16(src, o);
      for (let j = 0; j < 64; j++) dst[y++] = fr((((src[o + 2 + (j >> 2)] >> ((j & 3) * 2)) & 3) - 1) * d);
    }
  },
  decodeBlock(src, o) {
    const d = f16(src, o);
    const codes = Array.from({ length: 64 }, (_, j) => ((src[o + 2 + (j >> 2)] >> ((j & 3) * 2)) & 3) - 1);
    return {
      d,
      fields: [
        declaredField(Q2_0_ROW, 'd', [d], 'block scale (fp16)'),
        declaredField(Q2_0_ROW, 'qs', codes, '2-bit codes −1, 0, 1, 2 in weight order'),
      ],
    };
  },
  blockScales: f16BlockScales(Q2_0_ROW),
};

const Q1_0_ROW = traits(GgmlType.Q1_0);
const q1_0: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q1_0_ROW.bytesPerBlock) {
      const d = f16(src, o);
      const nd = -d;
      for (let j = 0; j < 128; j++) dst[y++] = (src[o + 2 + (j >> 3)] >> (j & 7)) & 1 ? d : nd;
    }
  },
  decodeBlock(src, o) {
    const d = f16(src, o);
    const bits = Array.from({ length: 128 }, (_, j) => ((src[o + 2 + (j >> 3)] >> (j & 7)) & 1 ? 1 : -1));
    return {
      d,
      fields: [declaredField(Q1_0_ROW, 'd', [d], 'block scale (fp16)'), declaredField(Q1_0_ROW, 'qs', bits, 'signs ±1 in weight order')],
    };
  },
  blockScales: f16BlockScales(Q1_0_ROW),
};

// ------------------------------------------------------------------------------------------------ MXFP4 / NVFP4

const MXFP4_ROW = traits(GgmlType.MXFP4);
const mxfp4: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += MXFP4_ROW.bytesPerBlock, y += 32) {
      const d = e8m0Half(src[o]);
      for (let j = 0; j < 16; j++) {
        const b = src[o + 1 + j];
        dst[y + j] = fr(FP4_DOUBLED[b & 0xf] * d);
        dst[y + j + 16] = fr(FP4_DOUBLED[b >> 4] * d);
      }
    }
  },
  decodeBlock(src, o) {
    const d = e8m0Half(src[o]);
    const codes = new Array<number>(32);
    for (let j = 0; j < 16; j++) {
      codes[j] = FP4_DOUBLED[src[o + 1 + j] & 0xf] / 2;
      codes[j + 16] = FP4_DOUBLED[src[o + 1 + j] >> 4] / 2;
    }
    return {
      d: 2 * d,
      fields: [
        declaredField(MXFP4_ROW, 'e', [src[o]], `shared E8M0 exponent: scale 2^(e−127) = ${2 * d}`),
        declaredField(MXFP4_ROW, 'qs', codes, 'E2M1 values in weight order'),
      ],
    };
  },
  blockScales(src, nBlocks, out) {
    for (let i = 0; i < nBlocks; i++) out.d[i] = 2 * e8m0Half(src[i * MXFP4_ROW.bytesPerBlock]);
  },
};

const NVFP4_ROW = traits(GgmlType.NVFP4);
const nvfp4: QuantCodec = {
  subBlocksPerBlock: 4,
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += NVFP4_ROW.bytesPerBlock) {
      for (let s = 0; s < 4; s++, y += 16) {
        const d = ue4m3Half(src[o + s]);
        const q = o + 4 + 8 * s;
        for (let j = 0; j < 8; j++) {
          dst[y + j] = fr(FP4_DOUBLED[src[q + j] & 0xf] * d);
          dst[y + j + 8] = fr(FP4_DOUBLED[src[q + j] >> 4] * d);
        }
      }
    }
  },
  decodeBlock(src, o) {
    const scales = Array.from(src.subarray(o, o + 4), (b) => 2 * ue4m3Half(b));
    const codes: number[] = [];
    for (let s = 0; s < 4; s++) {
      const q = o + 4 + 8 * s;
      for (let j = 0; j < 8; j++) codes.push(FP4_DOUBLED[src[q + j] & 0xf] / 2);
      for (let j = 0; j < 8; j++) codes.push(FP4_DOUBLED[src[q + j] >> 4] / 2);
    }
    return {
      fields: [
        declaredField(NVFP4_ROW, 'd', scales, 'unsigned E4M3 scale of each 16 weights'),
        declaredField(NVFP4_ROW, 'qs', codes, 'E2M1 values in weight order'),
      ],
    };
  },
  blockScales(src, nBlocks, out) {
    for (let i = 0; i < nBlocks; i++) {
      let max = 0;
      for (let s = 0; s < 4; s++) {
        const d = 2 * ue4m3Half(src[i * NVFP4_ROW.bytesPerBlock + s]);
        if (out.sub) out.sub[i * 4 + s] = d;
        max = Math.max(max, d);
      }
      out.d[i] = max;
    }
  },
};

export const otherCodecs: Partial<Record<GgmlType, QuantCodec>> = {
  [GgmlType.TQ1_0]: tq1_0,
  [GgmlType.TQ2_0]: tq2_0,
  [GgmlType.MXFP4]: mxfp4,
  [GgmlType.NVFP4]: nvfp4,
  [GgmlType.Q1_0]: q1_0,
  [GgmlType.Q2_0]: q2_0,
};
