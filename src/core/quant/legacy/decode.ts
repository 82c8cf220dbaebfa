/**
 * ggml's legacy quants: blocks of 32 weights with one fp16 scale d (and an fp16 min m for the _1 types); the
 * layouts are the rows of the type table (src/core/types.ts). Their quantizers are in quantize.ts beside this file.
 *   Q4_0  w = d · (q − 8)       Q4_1  w = d · q + m       Q5_0  w = d · (q − 16)       Q5_1  w = d · q + m
 *   Q8_0  w = d · q (int8 codes)
 * Nibble order: byte j holds weight j (low nibble) and weight j + 16 (high nibble); qh bit j is the fifth bit
 * of weight j. Decoding is exact: every product and sum is rounded to float32 as ggml's C does.
 */
import type { BlockRecord, QuantCodec } from '../codec.ts';
import { declaredField, f16BlockScales } from '../blockFields.ts';
import { f16, fr, u32 } from '../scalars.ts';
import { GgmlType, traits } from '../../types.ts';

const QK = 32;

interface LegacyLayout {
  bytes: number;
  /** Offset of the fp16 scale d. */
  dAt: number;
  /** Offset of the fp16 min m, for the asymmetric types. */
  minAt?: number;
  /** Offset of the 4-byte fifth-bit field, for the 5-bit types. */
  qhAt?: number;
  qsAt: number;
  /** Subtracted from the unsigned code for the symmetric types. */
  bias: number;
}

/** The layout of a 4/5-bit legacy type from its row of the type table. */
function layoutOf(id: GgmlType, bias: number): LegacyLayout {
  const { bytesPerBlock, at } = traits(id);
  return { bytes: bytesPerBlock, dAt: at.d, minAt: at.m, qhAt: at.qh, qsAt: at.qs, bias };
}

/** Unsigned codes (0..15 or 0..31) of one block, in weight order. */
function codes(src: Uint8Array, o: number, layout: LegacyLayout, out: Int32Array): void {
  const qs = o + layout.qsAt;
  const qh = layout.qhAt !== undefined ? u32(src, o + layout.qhAt) : 0;
  for (let j = 0; j < 16; j++) {
    const b = src[qs + j];
    out[j] = (b & 0x0f) | (((qh >>> j) << 4) & 0x10);
    out[j + 16] = (b >> 4) | ((qh >>> (j + 12)) & 0x10);
  }
}

function nibbleCodec(layout: LegacyLayout): QuantCodec {
  const { bytes, dAt, minAt, bias } = layout;
  const q = new Int32Array(QK);
  return {
    dequantize(src, dst, nBlocks) {
      for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += bytes, y += QK) {
        const d = f16(src, o + dAt);
        codes(src, o, layout, q);
        if (minAt === undefined) {
          for (let j = 0; j < QK; j++) dst[y + j] = fr((q[j] - bias) * d);
        } else {
          const m = f16(src, o + minAt);
          for (let j = 0; j < QK; j++) dst[y + j] = fr(fr(q[j] * d) + m);
        }
      }
    },
    decodeBlock(src, offset): BlockRecord {
      codes(src, offset, layout, q);
      const d = f16(src, offset + dAt);
      const fields = [{ name: 'd', offset: dAt, size: 2, values: [d], note: 'block scale (fp16)' }];
      let m: number | undefined;
      if (minAt !== undefined) {
        m = f16(src, offset + minAt);
        fields.push({ name: 'm', offset: minAt, size: 2, values: [m], note: 'block minimum (fp16), added to every weight' });
      }
      if (layout.qhAt !== undefined) {
        const qh = u32(src, offset + layout.qhAt);
        fields.push({
          name: 'qh',
          offset: layout.qhAt,
          size: 4,
          values: Array.from({ length: QK }, (_, j) => (qh >>> j) & 1),
          note: 'fifth bit of each weight',
        });
      }
      fields.push({
        name: 'qs',
        offset: layout.qsAt,
        size: 16,
        values: Array.from(q, (v) => v - bias),
        note: bias ? `codes in weight order, minus ${bias} (w = d·q)` : 'codes in weight order (w = d·q + m)',
      });
      return { d, dmin: m, fields };
    },
    blockScales(src, nBlocks, out) {
      for (let i = 0; i < nBlocks; i++) {
        out.d[i] = f16(src, i * bytes + dAt);
        if (minAt !== undefined && out.dmin) out.dmin[i] = f16(src, i * bytes + minAt);
      }
    },
  };
}

const Q8_0 = traits(GgmlType.Q8_0);
const {
  bytesPerBlock: Q8_BYTES,
  at: { d: Q8_D, qs: Q8_QS },
} = Q8_0;

const q8_0: QuantCodec = {
  dequantize(src, dst, nBlocks) {
    for (let i = 0, o = 0, y = 0; i < nBlocks; i++, o += Q8_BYTES, y += QK) {
      const d = f16(src, o + Q8_D);
      for (let j = 0; j < QK; j++) dst[y + j] = fr(((src[o + Q8_QS + j] << 24) >> 24) * d);
    }
  },
  decodeBlock(src, offset) {
    const d = f16(src, offset + Q8_D);
    return {
      d,
      fields: [
        declaredField(Q8_0, 'd', [d], 'block scale (fp16)'),
        declaredField(
          Q8_0,
          'qs',
          Array.from(src.subarray(offset + Q8_QS, offset + Q8_QS + QK), (b) => (b << 24) >> 24),
          'int8 codes (w = d·q)',
        ),
      ],
    };
  },
  blockScales: f16BlockScales(Q8_0),
};

export const legacyCodecs: Partial<Record<GgmlType, QuantCodec>> = {
  [GgmlType.Q4_0]: nibbleCodec(layoutOf(GgmlType.Q4_0, 8)),
  [GgmlType.Q4_1]: nibbleCodec(layoutOf(GgmlType.Q4_1, 0)),
  [GgmlType.Q5_0]: nibbleCodec(layoutOf(GgmlType.Q5_0, 16)),
  [GgmlType.Q5_1]: nibbleCodec(layoutOf(GgmlType.Q5_1, 0)),
  [GgmlType.Q8_0]: q8_0,
};
