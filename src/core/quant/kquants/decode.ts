/**
 * ggml's K-quants: super-blocks of 256 weights with an fp16 super-scale d (and dmin for the asymmetric types)
 * and quantized sub-block scales. The block layouts are the rows of the type table (src/core/types.ts); the
 * decoders, block inspectors and block scales here read their offsets from it.
 *   Q2_K  16 × 16, w = d·sc·q − dmin·m (4-bit scale | 4-bit min per sub-block)
 *   Q3_K  16 × 16, w = d·(sc − 32)·q, q in −4..3 (6-bit packed scales, high bit in hmask)
 *   Q4_K   8 × 32, w = d·sc·q − dmin·m (6-bit scale and min, packed)
 *   Q5_K   8 × 32, as Q4_K with a fifth bit in qh
 *   Q6_K  16 × 16, w = d·sc·(q − 32) (int8 scales, 4 low bits in ql, 2 high in qh)
 *   Q8_K  w = d·q with a float32 d (intermediate format)
 * Decoding is exact: each product and difference is rounded to float32 where ggml's C rounds it. The quantizers of
 * Q2_K .. Q6_K are the WebAssembly ones (src/core/wasm/assembly/quantize.ts, through ../wasmQuantizers.ts).
 */
import type { BlockField, BlockRecord, QuantCodec } from '../codec.ts';
import { declaredField } from '../blockFields.ts';
import { f16, fr } from '../scalars.ts';
import { GgmlType, traits } from '../../types.ts';

const QK_K = 256;

const f32View = new DataView(new ArrayBuffer(4));
function f32(src: Uint8Array, at: number): number {
  for (let i = 0; i < 4; i++) f32View.setUint8(i, src[at + i]);
  return f32View.getFloat32(0, true);
}

/** The 6-bit scale and min of sub-block j from the 12-byte packed field at src[at] (ggml's get_scale_min_k4). */
export function scaleMinK4(j: number, src: Uint8Array, at: number, out: Int32Array): void {
  if (j < 4) {
    out[0] = src[at + j] & 63;
    out[1] = src[at + j + 4] & 63;
  } else {
    out[0] = (src[at + j + 4] & 0xf) | ((src[at + j - 4] >> 6) << 4);
    out[1] = (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4);
  }
}

/** Q3_K's 16 signed 6-bit sub-block scales (already minus 32) from the 12-byte field at src[at]. */
function q3Scales(src: Uint8Array, at: number, out: Int32Array): void {
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? src[at + j] & 0xf : src[at + j - 8] >> 4;
    const high = (src[at + 8 + (j % 4)] >> (2 * (j >> 2))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
}

// ------------------------------------------------------------------------------------------------ Q2_K

/** Codes of a 2-bit 256-block in weight order (ggml's qs layout: 4 shifts over 32-byte groups). */
function unpack2bit(src: Uint8Array, qs: number, out: Int32Array): void {
  let y = 0;
  for (let n = 0; n < 2; n++) {
    const q = qs + 32 * n;
    for (let shift = 0; shift < 8; shift += 2) {
      for (let l = 0; l < 32; l++) out[y++] = (src[q + l] >> shift) & 3;
    }
  }
}

const Q2 = traits(GgmlType.Q2_K);
const {
  bytesPerBlock: Q2_BYTES,
  at: { scales: Q2_SCALES, qs: Q2_QS, d: Q2_D, dmin: Q2_DMIN },
} = Q2;

const q2K: QuantCodec = {
  subBlocksPerBlock: 16,
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q2_BYTES) {
      const d = f16(src, o + Q2_D);
      const min = f16(src, o + Q2_DMIN);
      let is = 0;
      for (let n = 0; n < 2; n++) {
        const q = o + Q2_QS + 32 * n;
        for (let shift = 0; shift < 8; shift += 2) {
          for (let half = 0; half < 2; half++) {
            const sc = src[o + Q2_SCALES + is++];
            const dl = fr(d * (sc & 0xf));
            const ml = fr(min * (sc >> 4));
            const qb = q + 16 * half;
            for (let l = 0; l < 16; l++) dst[y++] = fr(fr(dl * ((src[qb + l] >> shift) & 3)) - ml);
          }
        }
      }
    }
  },
  decodeBlock(src, o): BlockRecord {
    const codes = new Int32Array(QK_K);
    unpack2bit(src, o + Q2_QS, codes);
    const d = f16(src, o + Q2_D);
    const dmin = f16(src, o + Q2_DMIN);
    const sc = Array.from(src.subarray(o + Q2_SCALES, o + Q2_SCALES + 16));
    return {
      d,
      dmin,
      fields: [
        declaredField(
          Q2,
          'scales',
          sc.map((b) => b & 0xf),
          '4-bit sub-block scales (low nibbles; mins in the high nibbles)',
        ),
        declaredField(Q2, 'qs', codes, '2-bit codes 0..3 in weight order'),
        declaredField(Q2, 'd', [d], 'super-block scale of the sub-block scales (fp16)'),
        declaredField(Q2, 'dmin', [dmin], 'super-block scale of the sub-block mins (fp16)'),
      ],
    };
  },
  blockScales(src, nBlocks, out) {
    for (let i = 0, o = 0; i < nBlocks; i++, o += Q2_BYTES) {
      const d = f16(src, o + Q2_D);
      out.d[i] = d;
      if (out.dmin) out.dmin[i] = f16(src, o + Q2_DMIN);
      if (out.sub) for (let j = 0; j < 16; j++) out.sub[i * 16 + j] = fr(d * (src[o + Q2_SCALES + j] & 0xf));
    }
  },
};

// ------------------------------------------------------------------------------------------------ Q3_K

const Q3 = traits(GgmlType.Q3_K);
const {
  bytesPerBlock: Q3_BYTES,
  at: { hmask: Q3_HMASK, qs: Q3_QS, scales: Q3_SCALES, d: Q3_D },
} = Q3;

const q3K: QuantCodec = (() => {
  const scales = new Int32Array(16);
  return {
    subBlocksPerBlock: 16,
    dequantize(src, dst, nBlocks) {
      for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q3_BYTES) {
        const dAll = f16(src, o + Q3_D);
        q3Scales(src, o + Q3_SCALES, scales);
        let is = 0;
        let m = 1;
        for (let n = 0; n < 2; n++) {
          const q = o + Q3_QS + 32 * n;
          for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
            for (let half = 0; half < 2; half++) {
              const dl = fr(dAll * scales[is++]);
              const qb = q + 16 * half;
              const hb = o + Q3_HMASK + 16 * half;
              for (let l = 0; l < 16; l++) {
                const v = ((src[qb + l] >> shift) & 3) - (src[hb + l] & m ? 0 : 4);
                dst[y++] = fr(dl * v);
              }
            }
          }
        }
      }
    },
    decodeBlock(src, o): BlockRecord {
      const codes = new Int32Array(QK_K);
      unpack2bit(src, o + Q3_QS, codes);
      // High bit j of the 256 weights sits in hmask[j % 32], bit j / 32.
      for (let j = 0; j < QK_K; j++) codes[j] -= src[o + Q3_HMASK + (j % 32)] & (1 << (j >> 5)) ? 0 : 4;
      const hbits = Array.from({ length: QK_K }, (_, j) => (src[o + Q3_HMASK + (j % 32)] >> (j >> 5)) & 1);
      q3Scales(src, o + Q3_SCALES, scales);
      const d = f16(src, o + Q3_D);
      return {
        d,
        fields: [
          declaredField(Q3, 'hmask', hbits, 'high bit of each weight (0 means subtract 4)'),
          declaredField(Q3, 'qs', codes, '3-bit codes −4..3 in weight order'),
          declaredField(Q3, 'scales', scales, '6-bit sub-block scales, unpacked, minus 32'),
          declaredField(Q3, 'd', [d], 'super-block scale (fp16)'),
        ],
      };
    },
    blockScales(src, nBlocks, out) {
      for (let i = 0, o = 0; i < nBlocks; i++, o += Q3_BYTES) {
        const d = f16(src, o + Q3_D);
        out.d[i] = d;
        if (out.sub) {
          q3Scales(src, o + Q3_SCALES, scales);
          for (let j = 0; j < 16; j++) out.sub[i * 16 + j] = fr(d * scales[j]);
        }
      }
    },
  };
})();

// ------------------------------------------------------------------------------------------------ Q4_K / Q5_K

function q45K(bits: 4 | 5): QuantCodec {
  const ty = traits(bits === 4 ? GgmlType.Q4_K : GgmlType.Q5_K);
  const { bytesPerBlock: bytes, at } = ty;
  const { d: dAt, dmin: dminAt, scales: scAt, qs: qsAt, qh: qhAt } = at;
  const sm = new Int32Array(2);
  const codes = new Int32Array(QK_K);
  const unpack = (src: Uint8Array, o: number) => {
    for (let j = 0, y = 0, ql = o + qsAt, u1 = 1, u2 = 2; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2) {
      for (let l = 0; l < 32; l++) codes[y++] = (src[ql + l] & 0xf) + (bits === 5 && src[o + qhAt + l] & u1 ? 16 : 0);
      for (let l = 0; l < 32; l++) codes[y++] = (src[ql + l] >> 4) + (bits === 5 && src[o + qhAt + l] & u2 ? 16 : 0);
    }
  };
  return {
    subBlocksPerBlock: 8,
    dequantize(src, dst, nBlocks) {
      for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += bytes) {
        const d = f16(src, o + dAt);
        const min = f16(src, o + dminAt);
        for (let j = 0, ql = o + qsAt, u1 = 1, u2 = 2; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2) {
          scaleMinK4(2 * j, src, o + scAt, sm);
          const d1 = fr(d * sm[0]);
          const m1 = fr(min * sm[1]);
          scaleMinK4(2 * j + 1, src, o + scAt, sm);
          const d2 = fr(d * sm[0]);
          const m2 = fr(min * sm[1]);
          if (bits === 4) {
            for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d1 * (src[ql + l] & 0xf)) - m1);
            for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d2 * (src[ql + l] >> 4)) - m2);
          } else {
            const qh = o + qhAt;
            for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d1 * ((src[ql + l] & 0xf) + (src[qh + l] & u1 ? 16 : 0))) - m1);
            for (let l = 0; l < 32; l++) dst[y++] = fr(fr(d2 * ((src[ql + l] >> 4) + (src[qh + l] & u2 ? 16 : 0))) - m2);
          }
        }
      }
    },
    decodeBlock(src, o): BlockRecord {
      const d = f16(src, o + dAt);
      const dmin = f16(src, o + dminAt);
      const scales: number[] = [];
      const mins: number[] = [];
      for (let j = 0; j < 8; j++) {
        scaleMinK4(j, src, o + scAt, sm);
        scales.push(sm[0]);
        mins.push(sm[1]);
      }
      unpack(src, o);
      const fields: BlockField[] = [
        declaredField(ty, 'd', [d], 'super-block scale of the sub-block scales (fp16)'),
        declaredField(ty, 'dmin', [dmin], 'super-block scale of the sub-block mins (fp16)'),
        declaredField(ty, 'scales', [...scales, ...mins], '6-bit packed: 8 sub-block scales, then 8 sub-block mins, unpacked'),
      ];
      if (bits === 5)
        fields.push(
          declaredField(
            ty,
            'qh',
            Array.from(codes, (c) => c >> 4),
            'fifth bit of each weight, in weight order',
          ),
        );
      fields.push(
        declaredField(
          ty,
          'qs',
          bits === 5 ? Array.from(codes, (c) => c & 15) : codes,
          bits === 5 ? 'low 4 bits of each weight, in weight order' : '4-bit codes 0..15 in weight order',
        ),
      );
      return { d, dmin, fields };
    },
    blockScales(src, nBlocks, out) {
      for (let i = 0, o = 0; i < nBlocks; i++, o += bytes) {
        const d = f16(src, o + dAt);
        const dmin = f16(src, o + dminAt);
        out.d[i] = d;
        if (out.dmin) out.dmin[i] = dmin;
        if (out.sub) {
          for (let j = 0; j < 8; j++) {
            scaleMinK4(j, src, o + scAt, sm);
            out.sub[i * 8 + j] = fr(d * sm[0]);
          }
        }
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------ Q6_K

const Q6 = traits(GgmlType.Q6_K);
const {
  bytesPerBlock: Q6_BYTES,
  at: { ql: Q6_QL, qh: Q6_QH, scales: Q6_SCALES, d: Q6_D },
} = Q6;

const q6K: QuantCodec = {
  subBlocksPerBlock: 16,
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q6_BYTES, y += QK_K) {
      const d = f16(src, o + Q6_D);
      for (let n = 0; n < 2; n++) {
        const ql = o + Q6_QL + 64 * n;
        const qh = o + Q6_QH + 32 * n;
        const sc = o + Q6_SCALES + 8 * n;
        const yb = y + 128 * n;
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = src[qh + l];
          const q1 = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
          const q2 = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
          dst[yb + l] = fr(fr(d * ((src[sc + is] << 24) >> 24)) * q1);
          dst[yb + l + 32] = fr(fr(d * ((src[sc + is + 2] << 24) >> 24)) * q2);
          dst[yb + l + 64] = fr(fr(d * ((src[sc + is + 4] << 24) >> 24)) * q3);
          dst[yb + l + 96] = fr(fr(d * ((src[sc + is + 6] << 24) >> 24)) * q4);
        }
      }
    }
  },
  decodeBlock(src, o): BlockRecord {
    const codes = new Int32Array(QK_K);
    for (let n = 0; n < 2; n++) {
      const ql = o + Q6_QL + 64 * n;
      const qh = o + Q6_QH + 32 * n;
      for (let l = 0; l < 32; l++) {
        const h = src[qh + l];
        codes[128 * n + l] = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        codes[128 * n + l + 32] = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        codes[128 * n + l + 64] = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        codes[128 * n + l + 96] = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
      }
    }
    const d = f16(src, o + Q6_D);
    return {
      d,
      fields: [
        declaredField(
          Q6,
          'ql',
          Array.from(codes, (c) => (c + 32) & 0xf),
          'low 4 bits of each weight, in weight order',
        ),
        declaredField(
          Q6,
          'qh',
          Array.from(codes, (c) => (c + 32) >> 4),
          'high 2 bits of each weight, in weight order',
        ),
        declaredField(
          Q6,
          'scales',
          Array.from(src.subarray(o + Q6_SCALES, o + Q6_SCALES + 16), (b) => (b << 24) >> 24),
          'int8 sub-block scales',
        ),
        declaredField(Q6, 'd', [d], 'super-block scale (fp16); weight = d·scale·(q − 32)'),
      ],
    };
  },
  blockScales(src, nBlocks, out) {
    for (let i = 0, o = 0; i < nBlocks; i++, o += Q6_BYTES) {
      const d = f16(src, o + Q6_D);
      out.d[i] = d;
      if (out.sub) for (let j = 0; j < 16; j++) out.sub[i * 16 + j] = fr(d * ((src[o + Q6_SCALES + j] << 24) >> 24));
    }
  },
};

// ------------------------------------------------------------------------------------------------ Q8_K

const Q8K = traits(GgmlType.Q8_K);
const {
  bytesPerBlock: Q8K_BYTES,
  at: { d: Q8K_D, qs: Q8K_QS, bsums: Q8K_BSUMS },
} = Q8K;

const q8K: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q8K_BYTES) {
      const d = f32(src, o + Q8K_D);
      for (let j = 0; j < QK_K; j++) dst[y++] = fr(d * ((src[o + Q8K_QS + j] << 24) >> 24));
    }
  },
  decodeBlock(src, o) {
    const d = f32(src, o + Q8K_D);
    const bsums = Array.from({ length: 16 }, (_, j) => ((src[o + Q8K_BSUMS + 2 * j] | (src[o + Q8K_BSUMS + 1 + 2 * j] << 8)) << 16) >> 16);
    return {
      d,
      fields: [
        declaredField(Q8K, 'd', [d], 'block scale (float32)'),
        declaredField(
          Q8K,
          'qs',
          Array.from(src.subarray(o + Q8K_QS, o + Q8K_QS + QK_K), (b) => (b << 24) >> 24),
          'int8 codes',
        ),
        declaredField(Q8K, 'bsums', bsums, 'sums of the codes in groups of 16'),
      ],
    };
  },
  blockScales(src, nBlocks, out) {
    for (let i = 0; i < nBlocks; i++) out.d[i] = f32(src, i * Q8K_BYTES + Q8K_D);
  },
};

export const kQuantCodecs: Partial<Record<GgmlType, QuantCodec>> = {
  [GgmlType.Q2_K]: q2K,
  [GgmlType.Q3_K]: q3K,
  [GgmlType.Q4_K]: q45K(4),
  [GgmlType.Q5_K]: q45K(5),
  [GgmlType.Q6_K]: q6K,
  [GgmlType.Q8_K]: q8K,
};
