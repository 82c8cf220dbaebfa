/**
 * Reference quantizers of the ternary, FP4 and low-bit types (TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0), byte-identical
 * to ggml_quantize_chunk in strict binary32. None of them uses an importance matrix (ggml ignores it for these).
 */
import type { Quantizer } from '../quantizer.ts';
import { putF16, roundHalfAway } from '../encode.ts';
import { FP4_DOUBLED, e8m0Half, ue4m3Half } from './decode.ts';
import { GgmlType } from '../../types.ts';
import { fr } from '../scalars.ts';

const QK_K = 256;

function absMax(x: Float32Array, from: number, n: number): number {
  let amax = 0;
  for (let j = 0; j < n; j++) amax = Math.max(amax, Math.abs(x[from + j]));
  return amax;
}

/** TQ1_0: trits packed 5 per byte (base 3, scaled to a byte by ceiling division), the last 16 weights 4 per byte. */
function tq1_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 54);
  for (let i = 0; i < nb; i++) {
    let p = i * QK_K;
    const o = i * 54;
    const d = absMax(x, p, QK_K);
    const id = d ? fr(1 / d) : 0;
    putF16(out, o + 52, d);
    const trit = (v: number) => roundHalfAway(fr(v * id)) + 1;
    const pack = (q: number) => Math.floor(((q & 0xff) * 256 + 242) / 243) & 0xff;
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(x[p + m + n * 32])) & 0xff;
      out[o + m] = pack(q);
    }
    p += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(x[p + m + n * 16])) & 0xff;
      out[o + 32 + m] = pack(q);
    }
    p += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) q = (q * 3 + trit(x[p + j + m * 4])) & 0xff;
      out[o + 48 + j] = pack((q * 3) & 0xff);
    }
  }
  return out;
}

/** TQ2_0: 2-bit codes t + 1 for t in {−1, 0, 1}, four per byte across 32-byte groups. */
function tq2_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 66);
  for (let i = 0; i < nb; i++) {
    const p = i * QK_K;
    const o = i * 66;
    const d = absMax(x, p, QK_K);
    const id = d ? fr(1 / d) : 0;
    putF16(out, o + 64, d);
    for (let j = 0; j < 64; j += 32) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q += ((roundHalfAway(fr(x[p + 4 * j + m + n * 32] * id)) + 1) & 3) << (2 * n);
        out[o + j + m] = q;
      }
    }
  }
  return out;
}

/** Index of the fp4 level nearest to x at scale e (first on ties), as ggml's best_index_mxfp4. */
function bestFp4(x: number, e: number): number {
  let best = 0;
  let bestErr = Math.abs(fr(fr(FP4_DOUBLED[0] * e) - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(fr(fr(FP4_DOUBLED[i] * e) - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

function mxfp4(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 17);
  for (let i = 0; i < nb; i++) {
    const p = i * 32;
    const amax = absMax(x, p, 32);
    // log2f is float: round the double logarithm to float before flooring
    const e = amax > 0 ? (Math.floor(fr(Math.log2(amax))) - 2 + 127) & 0xff : 0;
    const d = e8m0Half(e);
    out[i * 17] = e;
    for (let j = 0; j < 16; j++) out[i * 17 + 1 + j] = bestFp4(x[p + j], d) | (bestFp4(x[p + 16 + j], d) << 4);
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** ggml_fp32_to_ue4m3: unsigned E4M3 (bias 7), round half up on the mantissa, saturating at 0x7E. */
function toUe4m3(x: number): number {
  if (!(x > 0)) return 0;
  if (x > 448) x = 448;
  f32[0] = x;
  const bits = u32[0];
  const exp = ((bits >>> 23) & 0xff) - 127 + 7;
  if (exp <= 0) {
    const man = Math.min(7, Math.trunc(fr(fr(x * 512) + 0.5)));
    return man < 1 ? 0 : man;
  }
  if (exp >= 15) return 0x7e;
  let man = ((bits >>> 20) & 7) + ((bits >>> 19) & 1);
  let e = exp;
  if (man > 7) {
    man = 0;
    e++;
    if (e >= 15) return 0x7e;
  }
  return (e << 3) | man;
}

function nvfp4(x: Float32Array): Uint8Array {
  const nb = x.length / 64;
  const out = new Uint8Array(nb * 36);
  for (let i = 0; i < nb; i++) {
    for (let s = 0; s < 4; s++) {
      const p = i * 64 + s * 16;
      const ue = toUe4m3(fr(absMax(x, p, 16) / 6));
      out[i * 36 + s] = ue;
      const d = ue4m3Half(ue);
      for (let j = 0; j < 8; j++) out[i * 36 + 4 + 8 * s + j] = bestFp4(x[p + j], d) | (bestFp4(x[p + 8 + j], d) << 4);
    }
  }
  return out;
}

/** Q1_0: d = mean |x| per 128, one sign bit per weight. */
function q1_0(x: Float32Array): Uint8Array {
  const nb = x.length / 128;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const p = i * 128;
    let sumAbs = 0;
    for (let j = 0; j < 128; j++) sumAbs = fr(sumAbs + Math.abs(x[p + j]));
    putF16(out, i * 18, fr(sumAbs / 128));
    for (let j = 0; j < 128; j++) if (x[p + j] >= 0) out[i * 18 + 2 + (j >> 3)] |= 1 << (j & 7);
  }
  return out;
}

/** Q2_0: d = absmax per 64, codes round(x/d) + 1 clamped to 0..3. */
function q2_0(x: Float32Array): Uint8Array {
  const nb = x.length / 64;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const p = i * 64;
    const d = absMax(x, p, 64);
    const id = d > 0 ? fr(1 / d) : 0;
    putF16(out, i * 18, d);
    for (let j = 0; j < 64; j++) {
      const q = Math.max(0, Math.min(3, roundHalfAway(fr(x[p + j] * id)) + 1));
      out[i * 18 + 2 + (j >> 2)] |= q << ((j & 3) * 2);
    }
  }
  return out;
}

export const otherQuantizers: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.TQ1_0]: { imatrix: 'ignored', quantize: (x) => tq1_0(x) },
  [GgmlType.TQ2_0]: { imatrix: 'ignored', quantize: (x) => tq2_0(x) },
  [GgmlType.MXFP4]: { imatrix: 'ignored', quantize: (x) => mxfp4(x) },
  [GgmlType.NVFP4]: { imatrix: 'ignored', quantize: (x) => nvfp4(x) },
  [GgmlType.Q1_0]: { imatrix: 'ignored', quantize: (x) => q1_0(x) },
  [GgmlType.Q2_0]: { imatrix: 'ignored', quantize: (x) => q2_0(x) },
};
