/**
 * Test oracle: a literal JavaScript port of ggml's IQ4_NL and IQ4_XS quantizers (quantize_iq4_nl / quantize_iq4_xs,
 * which search 15 trial scales per 32 weights), kept only to compare the WebAssembly quantizers with on generated
 * inputs (test/unit/wasmQuantizers.test.ts). The product's quantizers for these types are the WebAssembly ones.
 */
import type { Quantizer } from '../../src/core/quant/quantizer.ts';
import { f32ToF16Bits } from '../../src/core/quant/encode.ts';
import { IQ4NL_LEVELS } from '../../src/core/quant/iquants/grids.ts';
import { GgmlType } from '../../src/core/types.ts';
import { fr, nearestInt } from '../../src/core/quant/scalars.ts';
import { GROUP_MAX_EPS } from '../../src/core/quant/searches.ts';

const NTRY = 7;

/** For each integer k in [-128, 127] (at k + 128): the last level <= k, so that a level pair brackets any x in [k, k + 1). */
const LEVEL_BELOW = (() => {
  const t = new Int32Array(256);
  for (let k = -128; k < 128; k++) {
    let j = 0;
    while (j < 15 && IQ4NL_LEVELS[j + 1] <= k) j++;
    t[k + 128] = j;
  }
  return t;
})();
const LEVELS = Float64Array.from(IQ4NL_LEVELS);

/**
 * ggml's best_index_int8: the level nearest to x, ties to the upper level. ggml's binary search ends at the two
 * levels around x; the levels are integers, so the lower one is found from floor(x) in a table.
 */
function bestIndex(x: number): number {
  const v = LEVELS;
  if (x <= v[0]) return 0;
  if (!(x < v[15])) return 15; // NaN too, as the search ends there
  const lo = LEVEL_BELOW[Math.floor(x) + 128];
  // as a number rather than a branch: which way a weight falls is unpredictable
  return lo + 1 - +(Math.fround(x - v[lo]) < Math.fround(v[lo + 1] - x));
}

// Scratch of the trial search (32 weights): this trial's codes and those of the last trial whose float sums were
// taken, with that trial's terms and running sums.
const CL = new Float64Array(32);
const PL = new Float64Array(32);
const T = new Float64Array(64);
const S = new Float64Array(64);
/** Σ w·q·x, Σ w·q², Σ |w·q·x| of the codes CL, in double. */
const E = new Float64Array(3);
/** Float32 sums of 32 terms, each rounded twice, are within this much of the exact sums (relative to Σ|term|). */
const SUM_EPS = 1e-5;
const TINY = 1e-44;

/**
 * quantize_row_iq4_nl_impl for one super-block of `size` weights (32 for IQ4_NL, 256 for IQ4_XS) at x[xo]:
 * returns the fp16 bits of d and fills L (level indices), and for IQ4_XS the 6-bit sub-block scales.
 */
function iq4Block(
  size: number,
  x: Float32Array,
  xo: number,
  qw: Float32Array | undefined,
  qo: number,
  L: Int32Array,
  scaleCodes: Int32Array,
  scales: Float32Array,
  weight: Float32Array,
): number {
  const values = IQ4NL_LEVELS;
  let sigma2 = 0;
  for (let j = 0; j < size; j++) sigma2 = fr(sigma2 + fr(x[xo + j] * x[xo + j]));
  sigma2 = fr(sigma2 * fr(2 / size));
  let maxScale = 0;
  let amaxScale = 0;
  const nb = size / 32;
  for (let ib = 0; ib < nb; ib++) {
    const b = xo + 32 * ib;
    for (let j = 0; j < 32; j++) {
      const v = x[b + j];
      weight[j] = qw ? fr(qw[qo + 32 * ib + j] * fr(Math.sqrt(fr(sigma2 + fr(v * v))))) : fr(v * v);
    }
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const ax = Math.abs(x[b + j]);
      if (ax > amax) {
        amax = ax;
        max = x[b + j];
      }
    }
    if (amax < GROUP_MAX_EPS) {
      scales[ib] = 0;
      continue;
    }
    let d = fr(-max / values[0]);
    let id = fr(1 / d);
    let sumqx = 0;
    let sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const l = bestIndex(fr(id * x[b + j]));
      L[32 * ib + j] = l;
      const q = values[l];
      const w = weight[j];
      sumqx = fr(sumqx + fr(fr(w * q) * x[b + j]));
      sumq2 = fr(sumq2 + fr(fr(w * q) * q));
    }
    d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
    let best = fr(d * sumqx);
    // ggml's 15 trial scales, with its float sums taken only where they can matter (see makeQxQuants)
    let nonNegative = true;
    for (let j = 0; j < 32; j++) {
      CL[j] = NaN;
      PL[j] = NaN;
      if (weight[j] < 0) nonNegative = false;
    }
    E[0] = 0;
    E[1] = 0;
    E[2] = 0;
    for (let itry = -NTRY; itry <= NTRY; itry++) {
      id = fr((itry + values[0]) / max);
      let changed = false;
      for (let j = 0; j < 32; j++) {
        const l = bestIndex(fr(id * x[b + j]));
        const old = CL[j];
        if (l !== old) {
          const q = values[l];
          const wx = weight[j] * x[b + j];
          if (old === old) {
            const qo = values[old];
            E[0] -= wx * qo;
            E[1] -= weight[j] * qo * qo;
            E[2] -= Math.abs(wx * qo);
          }
          E[0] += wx * q;
          E[1] += weight[j] * q * q;
          E[2] += Math.abs(wx * q);
          CL[j] = l;
          changed = true;
        }
      }
      if (!changed) continue;
      if (nonNegative) {
        const ax = Math.abs(E[0]) + SUM_EPS * E[2] + TINY;
        if (ax * ax * (1 + 1e-12) <= best * (E[1] * (1 - SUM_EPS) - TINY) * (1 - 1e-12)) continue;
      }
      let first = 0;
      while (first < 32 && CL[first] === PL[first]) first++;
      if (first === 32) continue;
      sumqx = first ? S[2 * first - 2] : 0;
      sumq2 = first ? S[2 * first - 1] : 0;
      for (let j = first; j < 32; j++) {
        const l = CL[j];
        if (l !== PL[j]) {
          PL[j] = l;
          const q = values[l];
          const wq = fr(weight[j] * q);
          T[2 * j] = fr(wq * x[b + j]);
          T[2 * j + 1] = fr(wq * q);
        }
        sumqx = fr(sumqx + T[2 * j]);
        sumq2 = fr(sumq2 + T[2 * j + 1]);
        S[2 * j] = sumqx;
        S[2 * j + 1] = sumq2;
      }
      if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
        d = fr(sumqx / sumq2);
        best = fr(d * sumqx);
      }
    }
    scales[ib] = d;
    const absD = Math.abs(d);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = d;
    }
  }
  if (nb > 1) {
    const d = fr(-maxScale / 32);
    const id = d ? fr(1 / d) : 0;
    for (let ib = 0; ib < nb; ib++) {
      const l = Math.max(-32, Math.min(31, nearestInt(fr(id * scales[ib]))));
      const dl = fr(d * l);
      const idl = dl ? fr(1 / dl) : 0;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(fr(idl * x[xo + 32 * ib + j]));
      scaleCodes[ib] = l + 32;
    }
    return f32ToF16Bits(d);
  }
  const id = scales[0] ? fr(1 / scales[0]) : 0;
  for (let j = 0; j < 32; j++) L[j] = bestIndex(fr(id * x[xo + j]));
  return f32ToF16Bits(scales[0]);
}

function packNibbles(L: Int32Array, size: number, out: Uint8Array, at: number): void {
  for (let i = 0; i < size / 32; i++) {
    for (let j = 0; j < 16; j++) out[at + 16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4);
  }
}

function iq4(size: 32 | 256, x: Float32Array, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const bytes = size === 32 ? 18 : 136;
  const nb = x.length / size;
  const out = new Uint8Array(nb * bytes);
  const L = new Int32Array(size);
  const codes = new Int32Array(8);
  const scales = new Float32Array(8);
  const weight = new Float32Array(32);
  for (let i = 0; i < nb; i++) {
    const xo = i * size;
    const o = i * bytes;
    const h = iq4Block(size, x, xo, imatrix, xo % nPerRow, L, codes, scales, weight);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    if (size === 32) {
      packNibbles(L, 32, out, o + 2);
    } else {
      let scalesH = 0;
      for (let ib = 0; ib < 8; ib++) {
        const l = codes[ib];
        if (ib % 2 === 0) out[o + 4 + (ib >> 1)] = l & 0xf;
        else out[o + 4 + (ib >> 1)] |= (l & 0xf) << 4;
        scalesH |= (l >> 4) << (2 * ib);
      }
      out[o + 2] = scalesH & 0xff;
      out[o + 3] = scalesH >> 8;
      packNibbles(L, 256, out, o + 8);
    }
  }
  return out;
}

export const iqQuantizers: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.IQ4_NL]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => iq4(32, x, nPerRow, im) },
  [GgmlType.IQ4_XS]: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => iq4(256, x, nPerRow, im) },
};
