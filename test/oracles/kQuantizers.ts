/**
 * Test oracle: a literal JavaScript port of ggml's K-quant quantizers (quantize_row_q2_K .. q6_K, _ref and _impl),
 * kept only to compare the WebAssembly quantizers with on generated inputs (test/unit/wasmQuantizers.test.ts). The
 * product's quantizers for these types are the WebAssembly ones (src/core/wasm/assembly/quantize.ts); this port
 * gives other bytes than ggml on float32 subnormals and overflowing blocks (see JS_DIVERGES there).
 */
import type { Quantizer } from '../../src/core/quant/quantizer.ts';
import { putF16 } from '../../src/core/quant/encode.ts';
import { F16_TO_F32, fr, nearestInt } from '../../src/core/quant/scalars.ts';
import { GROUP_MAX_EPS, makeQpQuants, TENTH } from '../../src/core/quant/searches.ts';
import { clamp, makeQkxQuants, makeQxQuants, signedAbsMax } from './searches.ts';
import { scaleMinK4 } from '../../src/core/quant/kquants/decode.ts';
import { GgmlType } from '../../src/core/types.ts';

const QK_K = 256;
const scaleMin = new Int32Array(2);

/** make_q3_quants: symmetric scale with iterative refinement of single codes (weights x²). */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int32Array, lo: number, doRmse: boolean): number {
  const { max, amax } = signedAbsMax(x, xo, n);
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  const iscale = fr(-nmax / max);
  if (doRmse) {
    let sumlx = 0;
    let suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i];
      const l = clamp(nearestInt(fr(iscale * xi)), -nmax, nmax - 1);
      L[lo + i] = l;
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    for (let itry = 0; itry < 5; itry++) {
      let changed = 0;
      for (let i = 0; i < n; i++) {
        const xi = x[xo + i];
        const w = fr(xi * xi);
        const Li = L[lo + i];
        let slx = fr(sumlx - fr(fr(w * xi) * Li));
        if (slx > 0) {
          let sl2 = fr(suml2 - fr(fr(w * Li) * Li));
          const newL = clamp(nearestInt(fr(fr(xi * sl2) / slx)), -nmax, nmax - 1);
          if (newL !== Li) {
            slx = fr(slx + fr(fr(w * xi) * newL));
            sl2 = fr(sl2 + fr(fr(w * newL) * newL));
            if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
              L[lo + i] = newL;
              sumlx = slx;
              suml2 = sl2;
              changed++;
            }
          }
        }
      }
      if (!changed) break;
    }
    for (let i = 0; i < n; i++) L[lo + i] += nmax;
    return suml2 > 0 ? fr(sumlx / suml2) : 0;
  }
  for (let i = 0; i < n; i++) L[lo + i] = clamp(nearestInt(fr(iscale * x[xo + i])), -nmax, nmax - 1) + nmax;
  return fr(1 / iscale);
}

function pack2bit(L: Int32Array, out: Uint8Array, at: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) out[at + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
  }
}

/** Pack 6-bit scales and mins (8 each) into the 12-byte K-quant scales field. */
function pack6bitScales(ls: Int32Array, lm: Int32Array, out: Uint8Array, at: number): void {
  for (let j = 0; j < 12; j++) out[at + j] = 0;
  for (let j = 0; j < 8; j++) {
    const s = ls[j] & 0xff;
    const m = lm[j] & 0xff;
    if (j < 4) {
      out[at + j] = s;
      out[at + j + 4] = m;
    } else {
      out[at + j + 4] = (s & 0xf) | ((m & 0xf) << 4);
      out[at + j - 4] |= (s >> 4) << 6;
      out[at + j] |= (m >> 4) << 6;
    }
  }
}

// ---------------------------------------------------------------- Q2_K: scales[16] qs[64] d dmin (84 bytes)

function q2K(x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 84);
  const L = new Int32Array(QK_K);
  const weights = new Float32Array(16);
  const mins = new Float32Array(16);
  const scales = new Float32Array(16);
  const sw = new Float32Array(16);
  const Ls = new Int32Array(16);
  const Lm = new Int32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const o = i * 84;
    if (!imatrix) {
      let maxScale = 0;
      let maxMin = 0;
      for (let j = 0; j < 16; j++) {
        for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]);
        const s = makeQkxQuants(2, 16, 3, x, xo + 16 * j, weights, L, 16 * j, fr(-0.5), TENTH, 15, true, mins, j);
        const m = mins[j];
        scales[j] = s;
        if (s > maxScale) maxScale = s;
        if (m > maxMin) maxMin = m;
      }
      if (maxScale > 0) {
        const iscale = fr(15 / maxScale);
        for (let j = 0; j < 16; j++) out[o + j] = nearestInt(fr(iscale * scales[j])) & 0xff;
        putF16(out, o + 80, fr(maxScale / 15));
      } else {
        for (let j = 0; j < 16; j++) out[o + j] = 0;
        putF16(out, o + 80, 0);
      }
      if (maxMin > 0) {
        const iscale = fr(15 / maxMin);
        for (let j = 0; j < 16; j++) out[o + j] |= (nearestInt(fr(iscale * mins[j])) << 4) & 0xff;
        putF16(out, o + 82, fr(maxMin / 15));
      } else {
        putF16(out, o + 82, 0);
      }
    } else {
      sw.fill(0);
      let sumx2 = 0;
      for (let j = 0; j < QK_K; j++) sumx2 = fr(sumx2 + fr(x[xo + j] * x[xo + j]));
      const sigma2 = fr(sumx2 / QK_K);
      const qo = xo % nPerRow;
      for (let j = 0; j < 16; j++) {
        for (let l = 0; l < 16; l++) {
          const xv = x[xo + 16 * j + l];
          weights[l] = fr(imatrix[qo + 16 * j + l] * fr(Math.sqrt(fr(sigma2 + fr(xv * xv)))));
        }
        for (let l = 0; l < 16; l++) sw[j] = fr(sw[j] + weights[l]);
        scales[j] = makeQkxQuants(3, 16, 3, x, xo + 16 * j, weights, L, 16 * j, fr(-0.9), fr(0.05), 36, false, mins, j);
      }
      const dm = makeQpQuants(16, 15, scales, Ls, sw);
      const mm = makeQpQuants(16, 15, mins, Lm, sw);
      putF16(out, o + 80, dm);
      putF16(out, o + 82, mm);
      for (let j = 0; j < 16; j++) out[o + j] = (Ls[j] | (Lm[j] << 4)) & 0xff;
    }
    const d0 = F16_TO_F32[out[o + 80] | (out[o + 81] << 8)];
    const m0 = F16_TO_F32[out[o + 82] | (out[o + 83] << 8)];
    for (let j = 0; j < 16; j++) {
      const d = fr(d0 * (out[o + j] & 0xf));
      if (!d) continue;
      const dm = fr(m0 * (out[o + j] >> 4));
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(fr(fr(x[xo + 16 * j + ii] + dm) / d)), 0, 3);
    }
    pack2bit(L, out, o + 16);
  }
  return out;
}

// ---------------------------------------------------------------- Q3_K: hmask[32] qs[64] scales[12] d (110 bytes)

function packQ3Scales(Ls: Int32Array, out: Uint8Array, at: number): void {
  for (let j = 0; j < 12; j++) out[at + j] = 0;
  for (let j = 0; j < 16; j++) {
    let l = Ls[j];
    if (j < 8) out[at + j] = l & 0xf;
    else out[at + j - 8] |= (l & 0xf) << 4;
    l >>= 4;
    out[at + (j % 4) + 8] |= (l << (2 * Math.floor(j / 4))) & 0xff;
  }
}

function q3K(x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 110);
  const L = new Int32Array(QK_K);
  const scales = new Float32Array(16);
  const weight = new Float32Array(16);
  const sw = new Float32Array(16);
  const Ls = new Int32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const o = i * 110;
    if (!imatrix) {
      let maxScale = 0;
      let amax = 0;
      for (let j = 0; j < 16; j++) {
        scales[j] = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j, true);
        const s = Math.abs(scales[j]);
        if (s > amax) {
          amax = s;
          maxScale = scales[j];
        }
      }
      for (let j = 0; j < 12; j++) out[o + 96 + j] = 0;
      if (maxScale) {
        const iscale = fr(-32 / maxScale);
        for (let j = 0; j < 16; j++) {
          // int8_t l = nearest_int(...): the int is narrowed to int8 before MAX/MIN.
          const l8 = (nearestInt(fr(iscale * scales[j])) << 24) >> 24;
          Ls[j] = clamp(l8, -32, 31) + 32;
        }
        packQ3Scales(Ls, out, o + 96);
        putF16(out, o + 108, fr(1 / iscale));
      } else {
        putF16(out, o + 108, 0);
      }
    } else {
      let sumx2 = 0;
      for (let j = 0; j < QK_K; j++) sumx2 = fr(sumx2 + fr(x[xo + j] * x[xo + j]));
      const sigma2 = fr(fr(2 * sumx2) / QK_K);
      const qo = xo % nPerRow;
      for (let j = 0; j < 16; j++) {
        for (let l = 0; l < 16; l++) {
          const xv = x[xo + 16 * j + l];
          weight[l] = fr(imatrix[qo + 16 * j + l] * fr(Math.sqrt(fr(sigma2 + fr(xv * xv)))));
        }
        let sumw = 0;
        for (let l = 0; l < 16; l++) sumw = fr(sumw + weight[l]);
        sw[j] = sumw;
        scales[j] = makeQxQuants(16, 4, x, xo + 16 * j, L, 16 * j, 1, weight, 0);
      }
      const dBlock = makeQxQuants(16, 32, scales, 0, Ls, 0, 1, sw, 0);
      packQ3Scales(Ls, out, o + 96);
      putF16(out, o + 108, dBlock);
    }
    const d0 = F16_TO_F32[out[o + 108] | (out[o + 109] << 8)];
    for (let j = 0; j < 16; j++) {
      let sc = j < 8 ? out[o + 96 + j] & 0xf : out[o + 96 + j - 8] >> 4;
      sc = (sc | (((out[o + 96 + 8 + (j % 4)] >> (2 * Math.floor(j / 4))) & 3) << 4)) - 32;
      const d = fr(d0 * sc);
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(fr(x[xo + 16 * j + ii] / d)), -4, 3) + 4;
    }
    for (let j = 0; j < 32; j++) out[o + j] = 0;
    let m = 0;
    let hm = 1;
    for (let j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        out[o + m] |= hm;
        L[j] -= 4;
      }
      if (++m === 32) {
        m = 0;
        hm <<= 1;
      }
    }
    pack2bit(L, out, o + 32);
  }
  return out;
}

// ---------------------------------------------------------------- Q4_K / Q5_K: d dmin scales[12] (qh[32]) qs[128]

function q45K(bits: 4 | 5, x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const size = bits === 4 ? 144 : 176;
  const nmax = bits === 4 ? 15 : 31;
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * size);
  const L = new Int32Array(QK_K);
  const weights = new Float32Array(32);
  const mins = new Float32Array(8);
  const scales = new Float32Array(8);
  const sw = new Float32Array(8);
  const Ls = new Int32Array(8);
  const Lm = new Int32Array(8);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const o = i * size;
    if (!imatrix) {
      let maxScale = 0;
      let maxMin = 0;
      for (let j = 0; j < 8; j++) {
        let sumX2 = 0;
        for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[xo + 32 * j + l] * x[xo + 32 * j + l]));
        const avX = fr(Math.sqrt(fr(sumX2 / 32)));
        for (let l = 0; l < 32; l++) weights[l] = fr(avX + Math.abs(x[xo + 32 * j + l]));
        const s =
          bits === 4
            ? makeQkxQuants(2, 32, 15, x, xo + 32 * j, weights, L, 32 * j, -1, TENTH, 20, false, mins, j)
            : makeQkxQuants(2, 32, 31, x, xo + 32 * j, weights, L, 32 * j, fr(-0.5), TENTH, 15, false, mins, j);
        const m = mins[j];
        scales[j] = s;
        if (s > maxScale) maxScale = s;
        if (m > maxMin) maxMin = m;
      }
      const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
      const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
      for (let j = 0; j < 8; j++) {
        Ls[j] = Math.min(63, nearestInt(fr(invScale * scales[j])) & 0xff);
        Lm[j] = Math.min(63, nearestInt(fr(invMin * mins[j])) & 0xff);
      }
      pack6bitScales(Ls, Lm, out, o + 4);
      putF16(out, o, fr(maxScale / 63));
      putF16(out, o + 2, fr(maxMin / 63));
    } else {
      let sumX2 = 0;
      for (let l = 0; l < QK_K; l++) sumX2 = fr(sumX2 + fr(x[xo + l] * x[xo + l]));
      const sigma2 = fr(fr(2 * sumX2) / QK_K);
      const qo = xo % nPerRow;
      for (let j = 0; j < 8; j++) {
        for (let l = 0; l < 32; l++) {
          const xv = x[xo + 32 * j + l];
          weights[l] = fr(imatrix[qo + 32 * j + l] * fr(Math.sqrt(fr(sigma2 + fr(xv * xv)))));
        }
        let sumw = 0;
        for (let l = 0; l < 32; l++) sumw = fr(sumw + weights[l]);
        sw[j] = sumw;
        scales[j] = makeQkxQuants(3, 32, nmax, x, xo + 32 * j, weights, L, 32 * j, fr(-0.9), fr(0.05), 36, false, mins, j);
      }
      const dBlock = makeQpQuants(8, 63, scales, Ls, sw);
      const mBlock = makeQpQuants(8, 63, mins, Lm, sw);
      for (let j = 0; j < 8; j++) {
        Ls[j] = Math.min(63, Ls[j] & 0xff);
        Lm[j] = Math.min(63, Lm[j] & 0xff);
      }
      pack6bitScales(Ls, Lm, out, o + 4);
      putF16(out, o, dBlock);
      putF16(out, o + 2, mBlock);
    }
    const d0 = F16_TO_F32[out[o] | (out[o + 1] << 8)];
    const m0 = F16_TO_F32[out[o + 2] | (out[o + 3] << 8)];
    for (let j = 0; j < 8; j++) {
      scaleMinK4(j, out, o + 4, scaleMin);
      const sc = scaleMin[0];
      const m = scaleMin[1];
      const d = fr(d0 * sc);
      if (!d) continue;
      const dm = fr(m0 * m);
      for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = clamp(nearestInt(fr(fr(x[xo + 32 * j + ii] + dm) / d)), 0, nmax);
    }
    if (bits === 4) {
      for (let j = 0, q = o + 16; j < QK_K; j += 64, q += 32) {
        for (let l = 0; l < 32; l++) out[q + l] = L[j + l] | (L[j + l + 32] << 4);
      }
    } else {
      const qh = o + 16;
      for (let j = 0; j < 32; j++) out[qh + j] = 0;
      let m1 = 1;
      let m2 = 2;
      for (let n = 0, ql = o + 48; n < QK_K; n += 64, ql += 32) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j];
          if (l1 > 15) {
            l1 -= 16;
            out[qh + j] |= m1;
          }
          let l2 = L[n + j + 32];
          if (l2 > 15) {
            l2 -= 16;
            out[qh + j] |= m2;
          }
          out[ql + j] = l1 | (l2 << 4);
        }
        m1 <<= 2;
        m2 <<= 2;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- Q6_K: ql[128] qh[64] scales[16] d (210 bytes)

function q6K(x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 210);
  const L = new Int32Array(QK_K);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const o = i * 210;
    const qo = xo % nPerRow;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib, 1, imatrix, qo + 16 * ib);
      scales[ib] = scale;
      const a = Math.abs(scale);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      putF16(out, o + 208, 0);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const d0 = putF16(out, o + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) out[o + 192 + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]))) & 0xff;
    for (let j = 0; j < 16; j++) {
      const sc = (out[o + 192 + j] << 24) >> 24;
      const d = fr(d0 * sc);
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(fr(x[xo + 16 * j + ii] / d)), -32, 31) + 32;
    }
    for (let j = 0, ql = o, qh = o + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l] & 0xf;
        const q2 = L[j + l + 32] & 0xf;
        const q3 = L[j + l + 64] & 0xf;
        const q4 = L[j + l + 96] & 0xf;
        out[ql + l] = q1 | (q3 << 4);
        out[ql + l + 32] = q2 | (q4 << 4);
        out[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
    }
  }
  return out;
}

/**
 * Without an imatrix ggml_quantize_chunk runs the _ref quantizer over the whole chunk; with one, the _impl
 * quantizer row by row, the imatrix indexed by the column within the row.
 */
export const kQuantizers: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.Q2_K]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q2K(x, nPerRow, im) },
  [GgmlType.Q3_K]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q3K(x, nPerRow, im) },
  [GgmlType.Q4_K]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q45K(4, x, nPerRow, im) },
  [GgmlType.Q5_K]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q45K(5, x, nPerRow, im) },
  [GgmlType.Q6_K]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q6K(x, nPerRow, im) },
};
