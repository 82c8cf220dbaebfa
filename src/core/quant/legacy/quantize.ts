/**
 * Reference quantizers of ggml's legacy types (quantize_row_q4_0_ref ... q5_1_ref), byte-identical in strict
 * binary32: every float operation is rounded with Math.fround as C rounds it, and C's float -> int casts
 * truncate toward zero.
 */
import type { Quantizer } from '../quantizer.ts';
import { putF16 } from '../encode.ts';
import { makeQkxQuants, makeQxQuants } from '../searches.ts';
import { GgmlType } from '../../types.ts';
import { fr } from '../scalars.ts';

const QK = 32;

/** The value of largest magnitude (first one wins on ties), as ggml's symmetric legacy quantizers pick it. */
function signedAbsMax(x: Float32Array, from: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j];
    const a = Math.abs(v);
    if (amax < a) {
      amax = a;
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, from: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < QK; j++) {
    const v = x[from + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function q4_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const d = fr(signedAbsMax(x, from) / -8);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 18, d);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(x[from + j] * id);
      const x1 = fr(x[from + QK / 2 + j] * id);
      const xi0 = Math.min(15, Math.trunc(fr(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(fr(x1 + 8.5)));
      out[i * 18 + 2 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

function q4_1(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 20);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const [min, max] = minMax(x, from);
    const d = fr(fr(max - min) / 15);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 20, d);
    putF16(out, i * 20 + 2, min);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(fr(x[from + j] - min) * id);
      const x1 = fr(fr(x[from + QK / 2 + j] - min) * id);
      const xi0 = Math.min(15, Math.trunc(fr(x0 + 0.5)));
      const xi1 = Math.min(15, Math.trunc(fr(x1 + 0.5)));
      out[i * 20 + 4 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

function putQh(out: Uint8Array, at: number, qh: number): void {
  out[at] = qh & 0xff;
  out[at + 1] = (qh >>> 8) & 0xff;
  out[at + 2] = (qh >>> 16) & 0xff;
  out[at + 3] = (qh >>> 24) & 0xff;
}

function q5_0(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 22);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const d = fr(signedAbsMax(x, from) / -16);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 22, d);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(x[from + j] * id);
      const x1 = fr(x[from + QK / 2 + j] * id);
      const xi0 = Math.min(31, Math.trunc(fr(x0 + 16.5)));
      const xi1 = Math.min(31, Math.trunc(fr(x1 + 16.5)));
      out[i * 22 + 6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >>> 4) << j;
      qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
    }
    putQh(out, i * 22 + 2, qh);
  }
  return out;
}

function q5_1(x: Float32Array): Uint8Array {
  const nb = x.length / QK;
  const out = new Uint8Array(nb * 24);
  for (let i = 0; i < nb; i++) {
    const from = i * QK;
    const [min, max] = minMax(x, from);
    const d = fr(fr(max - min) / 31);
    const id = d ? fr(1 / d) : 0;
    putF16(out, i * 24, d);
    putF16(out, i * 24 + 2, min);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const x0 = fr(fr(x[from + j] - min) * id);
      const x1 = fr(fr(x[from + QK / 2 + j] - min) * id);
      const xi0 = Math.trunc(fr(x0 + 0.5)) & 0xff;
      const xi1 = Math.trunc(fr(x1 + 0.5)) & 0xff;
      out[i * 24 + 8 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >>> 4) << j;
      qh |= ((xi1 & 0x10) >>> 4) << (j + QK / 2);
    }
    putQh(out, i * 24 + 4, qh);
  }
  return out;
}

/**
 * With an importance matrix, ggml quantizes row by row: weights w = imatrix · sqrt(σ² + x²) with σ² the row's
 * mean square, then a weighted least-squares scale search (make_qx_quants for the symmetric types,
 * make_qkx3_quants with a min for the _1 types).
 */
function legacyWithImatrix(bits: 4 | 5, asymmetric: boolean, x: Float32Array, nPerRow: number, imatrix: Float32Array): Uint8Array {
  const bytes = (bits === 4 ? 18 : 22) + (asymmetric ? 2 : 0);
  const out = new Uint8Array((x.length / QK) * bytes);
  const L = new Int32Array(QK);
  const weight = new Float32Array(QK);
  const theMin = new Float32Array(1);
  for (let row = 0; row < x.length / nPerRow; row++) {
    const ro = row * nPerRow;
    let sumX2 = 0;
    for (let j = 0; j < nPerRow; j++) sumX2 = fr(sumX2 + fr(x[ro + j] * x[ro + j]));
    const sigma2 = fr(sumX2 / nPerRow);
    for (let ib = 0; ib < nPerRow / QK; ib++) {
      const xo = ro + QK * ib;
      const o = (xo / QK) * bytes;
      for (let j = 0; j < QK; j++) weight[j] = fr(imatrix[QK * ib + j] * fr(Math.sqrt(fr(sigma2 + fr(x[xo + j] * x[xo + j])))));
      if (asymmetric) {
        const d = makeQkxQuants(3, QK, bits === 4 ? 15 : 31, x, xo, weight, L, 0, fr(-0.9), fr(0.05), 36, false, theMin, 0);
        putF16(out, o, d);
        putF16(out, o + 2, -theMin[0]);
      } else {
        putF16(out, o, makeQxQuants(QK, bits === 4 ? 8 : 16, x, xo, L, 0, 1, weight, 0));
      }
      const qs = o + bytes - 16;
      let qh = 0;
      for (let j = 0; j < 16; j++) {
        out[qs + j] = (L[j] & 0x0f) | ((L[j + 16] & 0x0f) << 4);
        qh |= ((L[j] & 0x10) >>> 4) << j;
        qh |= ((L[j + 16] & 0x10) >>> 4) << (j + 16);
      }
      if (bits === 5) putQh(out, o + (asymmetric ? 4 : 2), qh);
    }
  }
  return out;
}

/** ggml_quantize_chunk: the _ref quantizers without an importance matrix, the weighted search with one. */
export const legacyQuantizers: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.Q4_0]: { imatrix: 'used', quantize: (x, _r, n, im) => (im ? legacyWithImatrix(4, false, x, n, im) : q4_0(x)) },
  [GgmlType.Q4_1]: { imatrix: 'used', quantize: (x, _r, n, im) => (im ? legacyWithImatrix(4, true, x, n, im) : q4_1(x)) },
  [GgmlType.Q5_0]: { imatrix: 'used', quantize: (x, _r, n, im) => (im ? legacyWithImatrix(5, false, x, n, im) : q5_0(x)) },
  [GgmlType.Q5_1]: { imatrix: 'used', quantize: (x, _r, n, im) => (im ? legacyWithImatrix(5, true, x, n, im) : q5_1(x)) },
};
