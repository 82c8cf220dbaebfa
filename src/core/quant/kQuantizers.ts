/**
 * ggml's K-quant quantizers (Q2_K .. Q6_K), with and without an importance matrix, byte-identical to
 * ggml_quantize_chunk in strict binary32. Every float operation is rounded with `fr` (Math.fround) exactly where
 * C rounds to float; expression order follows the C source; integer casts truncate as C's do. The search
 * helpers (make_qx_quants, make_q3_quants, make_qkx2/3_quants, make_qp_quants) are the ones ggml uses.
 */
import type { Quantizer } from './quantizers.ts';
import { f32ToF16Bits } from './encode.ts';
import { F16_TO_F32 } from './scalars.ts';

const fr = Math.fround;
const QK_K = 256;
const GROUP_MAX_EPS = fr(1e-15);
const TENTH = fr(0.1);

/** ggml's nearest_int: round half to even through the float 1.5·2^23 trick (the argument is a float). */
function nearestInt(f: number): number {
  return fr(f + 12582912) - 12582912;
}

/** Store x as f16 at out[at] and return the float value that was stored. */
function putF16(out: Uint8Array, at: number, x: number): number {
  const h = f32ToF16Bits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
  return F16_TO_F32[h];
}

/**
 * v clamped to [lo, hi]; NaN stays NaN. (Math.min/max keep the result a double: a ternary mixing v with an integer
 * argument makes V8 box it.) Only -0 differs from the comparisons, and the codes clamped here are never -0.
 */
function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

// Scratch of makeQxQuants (n <= 256), float64 copies of float32 values.
const QX_X = new Float64Array(256);
const QX_W = new Float64Array(256);
/** fr(w·x), the same in every trial. */
const QX_WX = new Float64Array(256);
/** This trial's codes, and those of the last trial whose float sums were taken, with its terms and running sums. */
const QX_CL = new Float64Array(256);
const QX_PL = new Float64Array(256);
const QX_T = new Float64Array(2 * 256);
const QX_S = new Float64Array(2 * 256);
/** Σ fr(w·x)·l and Σ w·l² of the codes QX_CL, in double. */
const QX_E = new Float64Array(2);
/** Float32 sums of n <= 32 same-signed terms, each rounded twice, are within this relative distance of the exact sums. */
const SUM_EPS = 1e-5;

/**
 * Symmetric search of one scale for n values (make_qx_quants). Writes codes L[off..off+n) offset by nmax;
 * weights `qw` (or x² / 1 / |x| / sqrt|x| by rmse_type) shape the least-squares fit.
 *
 * The trials take ggml's float32 sums only where they can matter: a trial whose codes equal those of the last
 * summed trial repeats its outcome; one whose exact (double) sums show that even the float sums' worst rounding
 * cannot pass ggml's test sumlx² > best·suml2 is rejected; otherwise the float sums restart at the first code that
 * differs from the last summed trial's.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int32Array, lo: number, rmseType: number, qw?: Float32Array, qo = 0): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  let iscale = fr(-nmax / max);
  if (rmseType === 0) {
    for (let i = 0; i < n; i++) L[lo + i] = nmax + clamp(nearestInt(fr(iscale * x[xo + i])), -nmax, nmax - 1);
    return fr(1 / iscale);
  }
  let returnEarly = false;
  if (rmseType < 0) {
    rmseType = -rmseType;
    returnEarly = true;
  }
  const X = QX_X;
  const W = QX_W;
  const WX = QX_WX;
  const CL = QX_CL;
  const PL = QX_PL;
  const T = QX_T;
  const S = QX_S;
  const E = QX_E;
  let nonNegative = true;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const w = qw ? qw[qo + i] : rmseType === 1 ? fr(xi * xi) : rmseType === 2 ? 1 : rmseType === 3 ? Math.abs(xi) : fr(Math.sqrt(Math.abs(xi)));
    X[i] = xi;
    W[i] = w;
    WX[i] = fr(w * xi);
    CL[i] = NaN;
    PL[i] = NaN;
    if (w < 0) nonNegative = false;
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(roundEven(fr(iscale * X[i])), -nmax, nmax - 1);
    L[lo + i] = l + nmax;
    sumlx = fr(sumlx + fr(WX[i] * l));
    suml2 = fr(suml2 + fr(fr(W[i] * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  if (returnEarly) return suml2 > 0 ? fr(0.5 * fr(scale + fr(1 / iscale))) : fr(1 / iscale);
  let best = fr(scale * sumlx);
  E[0] = 0;
  E[1] = 0;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(TENTH * is)) / max);
    let changed = false;
    for (let i = 0; i < n; i++) {
      const l = clamp(roundEven(fr(iscale * X[i])), -nmax, nmax - 1);
      const old = CL[i];
      if (l !== old) {
        const o = old === old ? old : 0;
        E[0] += WX[i] * (l - o);
        E[1] += W[i] * (l * l - o * o);
        CL[i] = l;
        changed = true;
      }
    }
    if (!changed) continue;
    if (nonNegative) {
      // the terms of sumlx all have the sign of iscale, those of suml2 are >= 0; fr is monotonic
      const ax = Math.abs(E[0]) * (1 + SUM_EPS) + TINY;
      if (ax * ax * (1 + 1e-12) <= best * (E[1] * (1 - SUM_EPS) - TINY) * (1 - 1e-12)) continue;
    }
    let first = 0;
    while (first < n && CL[first] === PL[first]) first++;
    if (first === n) continue;
    sumlx = first ? S[2 * first - 2] : 0;
    suml2 = first ? S[2 * first - 1] : 0;
    for (let i = first; i < n; i++) {
      const l = CL[i];
      if (l !== PL[i]) {
        PL[i] = l;
        T[2 * i] = fr(WX[i] * l);
        T[2 * i + 1] = fr(fr(W[i] * l) * l);
      }
      sumlx = fr(sumlx + T[2 * i]);
      suml2 = fr(suml2 + T[2 * i + 1]);
      S[2 * i] = sumlx;
      S[2 * i + 1] = suml2;
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + CL[i];
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** make_q3_quants: symmetric scale with iterative refinement of single codes (weights x²). */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int32Array, lo: number, doRmse: boolean): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
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

/** ggml's nearest_int for a result that is then clamped to a small range: round half to even in double. */
function roundEven(f: number): number {
  // equal to nearestInt(f) for |f| < 2^22; beyond, both keep the sign and a magnitude >= 2^22, so any clamp
  // to [-2^21, 2^21] gives the same code. NaN and infinities pass through alike.
  return f + 6755399441055744 - 6755399441055744;
}

// Scratch of makeQkxQuants (n <= 32), float64 so that loads need no conversion (all values are float32 ones).
const QKX_X = new Float64Array(32);
const QKX_W = new Float64Array(32);
/** x - min for the current min. */
const QKX_XM = new Float64Array(32);
/** The codes of the last summed trial, and its terms w·l, w·l·l, w·l·x and running sums per element. */
const QKX_L = new Float64Array(32);
const QKX_T = new Float64Array(3 * 32);
const QKX_S = new Float64Array(3 * 32);
/** Σwl², Σwl, Σwlx of the codes in QKX_L, in double (kept in memory: V8 boxes such loop-carried sums). */
const QKX_E = new Float64Array(3);
/** binary32's unit roundoff. */
const U = 2 ** -24;
/** A float32 sum of n <= 32 non-negative terms, each rounded twice, is at least this factor of the exact sum. */
const SUM_SLACK = 1 - 1e-5;
/** Absolute slack for float32 underflow of the terms (2^-150 per rounding, and more). */
const TINY = 1e-44;

/**
 * make_qkx2_quants (weights required) and make_qkx3_quants (weights optional, x² by default): an asymmetric
 * scale and min for n values, searched over nstep+1 trial scales. Returns the scale and stores the_min at mins[mi].
 *
 * Same float32 operations as ggml's loop, minus work whose result is known: a trial's codes only change in a few
 * places from the previous trial's, so the sums restart at the first changed code (the float sums up to there are
 * the same) and an unchanged trial is skipped (it repeats the previous one, which was taken or not). A trial's
 * error is first bounded in double: when even the bound cannot beat the best error, the float sum cannot either.
 */
export function makeQkxQuants(
  variant: 2 | 3, n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array | undefined,
  L: Int32Array, lo: number, rmin: number, rdelta: number, nstep: number, useMad: boolean,
  mins: Float32Array, mi: number,
): number {
  const X = QKX_X;
  const W = QKX_W;
  const xm = QKX_XM;
  const PL = QKX_L;
  const T = QKX_T;
  const S = QKX_S;
  // with no negative weight every error term is >= 0 (or NaN): that is what the error bounds rely on
  let nonNegative = true;
  // exact (double) sums for the error bound: Σw, Σwx, Σw|x|, Σwx², max|x|; and Σwl², Σwl, Σwlx of the codes PL
  let C = 0;
  let Q = 0;
  let Qabs = 0;
  let R = 0;
  let maxAbsX = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const wi = weights ? weights[i] : fr(xi * xi);
    X[i] = xi;
    W[i] = wi;
    PL[i] = NaN;
    if (wi < 0) nonNegative = false;
    C += wi;
    Q += wi * xi;
    Qabs += wi * Math.abs(xi);
    R += wi * xi * xi;
    if (Math.abs(xi) > maxAbsX) maxAbsX = Math.abs(xi);
  }
  const E = QKX_E;
  E[0] = 0;
  E[1] = 0;
  E[2] = 0;
  let min = X[0];
  let max = X[0];
  let sumW = W[0];
  let sumX = fr(sumW * X[0]);
  for (let i = 1; i < n; i++) {
    const xi = X[i];
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const wi = W[i];
    sumW = fr(sumW + wi);
    sumX = fr(sumX + fr(wi * xi));
  }
  if (min > 0) min = 0;
  if (variant === 2 ? max === min : max <= min) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    mins[mi] = -min;
    return 0;
  }
  let range = fr(max - min);
  for (let i = 0; i < n; i++) xm[i] = fr(X[i] - min);
  let iscale = fr(nmax / range);
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(roundEven(fr(iscale * xm[i])), 0, nmax);
    L[lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - X[i]);
    bestError = fr(bestError + fr(W[i] * (useMad ? Math.abs(diff) : fr(diff * diff))));
  }
  if (nstep < 1) {
    mins[mi] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / range);
    let first = 0;
    while (first < n && clamp(roundEven(fr(iscale * xm[first])), 0, nmax) === PL[first]) first++;
    if (first === n) continue;
    let sumL = first ? S[3 * first - 3] : 0;
    let sumL2 = first ? S[3 * first - 2] : 0;
    let sumXL = first ? S[3 * first - 1] : 0;
    for (let i = first; i < n; i++) {
      const l = clamp(roundEven(fr(iscale * xm[i])), 0, nmax);
      if (l !== PL[i]) {
        const old = PL[i] === PL[i] ? PL[i] : 0;
        const wi = W[i];
        E[0] += wi * (l * l - old * old);
        E[1] += wi * (l - old);
        E[2] += wi * X[i] * (l - old);
        PL[i] = l;
        const wl = fr(wi * l);
        T[3 * i] = wl;
        T[3 * i + 1] = fr(wl * l);
        T[3 * i + 2] = fr(wl * X[i]);
      }
      sumL = fr(sumL + T[3 * i]);
      sumL2 = fr(sumL2 + T[3 * i + 1]);
      sumXL = fr(sumXL + T[3 * i + 2]);
      S[3 * i] = sumL;
      S[3 * i + 1] = sumL2;
      S[3 * i + 2] = sumXL;
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
    let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = fr(sumXL / sumL2);
    }
    if (nonNegative && !useMad && errorLowerBound(thisScale, thisMin, nmax, n, E[0], E[1], C, E[2], Q, Qabs, R, maxAbsX) >= bestError) continue;
    if (nonNegative && useMad) {
      let bound = 0;
      for (let i = 0; i < n; i++) bound += W[i] * Math.abs(fr(fr(fr(thisScale * PL[i]) + thisMin) - X[i]));
      if (bound * SUM_SLACK - TINY * (C + n) >= bestError) continue;
    }
    let err = 0;
    for (let i = 0; i < n; i++) {
      const diff = fr(fr(fr(thisScale * PL[i]) + thisMin) - X[i]);
      err = fr(err + fr(W[i] * (useMad ? Math.abs(diff) : fr(diff * diff))));
    }
    if (err < bestError) {
      for (let k = 0; k < n; k++) L[lo + k] = PL[k];
      bestError = err;
      scale = thisScale;
      // later trials search from the new min, as ggml's loop does
      min = thisMin;
      range = fr(max - min);
      for (let k = 0; k < n; k++) xm[k] = fr(X[k] - min);
    }
  }
  mins[mi] = -min;
  return scale;
}

/**
 * A lower bound of ggml's float32 error sum Σ w·(fr(fr(fr(s·l) + m) - x))² (weights >= 0, codes 0..nmax), from
 * exact sums: the real error E = Σ w(s·l + m - x)² in closed form (A = Σwl², B = Σwl, C = Σw, P = Σwlx, Q = Σwx,
 * R = Σwx²), less what the float32 roundings can take off. Each computed difference is within δ of the real one,
 * so the sum is at least E - 2δ·sqrt(E·C) (Cauchy-Schwarz), and the float sum of the rounded squares at least
 * SUM_SLACK of that. epsE covers the double rounding of the sums (accumulated over many updates) and of E.
 */
function errorLowerBound(s: number, m: number, nmax: number, n: number, A: number, B: number, C: number, P: number, Q: number, Qabs: number, R: number, maxAbsX: number): number {
  const E = s * s * A + 2 * s * m * B + m * m * C - 2 * s * P - 2 * m * Q + R;
  const as = Math.abs(s);
  const am = Math.abs(m);
  const epsE = 1e-11 * ((as * nmax + am) * (as * nmax + am) * C + 2 * (as * nmax + am) * Qabs + R);
  const delta = U * 1.001 * (3 * as * nmax + 2 * am + maxAbsX) + TINY;
  return SUM_SLACK * (E - epsE - 2 * delta * Math.sqrt(Math.max(E + epsE, 0) * C)) - TINY * (C + n);
}

/**
 * make_qp_quants: values to codes 0..nmax with weights (K-quant sub-block scales and mins; IQ2 magnitudes). ggml
 * stores the codes in uint8, so a negative code wraps to 256 + code wherever the C reads it back: emulated here.
 */
export function makeQpQuants(n: number, nmax: number, x: Float32Array, L: Int32Array, qw: Float32Array): number {
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i]);
  if (max < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[i] = 0;
    return 0;
  }
  let iscale = fr(nmax / max);
  for (let i = 0; i < n; i++) L[i] = nearestInt(fr(iscale * x[i])) & 0xff;
  const scale = fr(1 / iscale);
  let bestMse = 0;
  for (let i = 0; i < n; i++) {
    const diff = fr(x[i] - fr(scale * L[i]));
    bestMse = fr(bestMse + fr(fr(qw[i] * diff) * diff));
  }
  for (let is = -4; is <= 4; is++) {
    if (is === 0) continue;
    const iscaleIs = fr(fr(fr(TENTH * is) + nmax) / max);
    const scaleIs = fr(1 / iscaleIs);
    let mse = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.min(nmax, nearestInt(fr(iscaleIs * x[i])));
      const diff = fr(x[i] - fr(scaleIs * l));
      mse = fr(mse + fr(fr(qw[i] * diff) * diff));
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.min(nmax, nearestInt(fr(iscale * x[i])));
    L[i] = l & 0xff;
    sumlx = fr(sumlx + fr(fr(qw[i] * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(qw[i] * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = qw[i];
      let slx = fr(sumlx - fr(fr(w * x[i]) * L[i]));
      let sl2 = fr(suml2 - fr(fr(w * L[i]) * L[i]));
      if (slx > 0 && sl2 > 0) {
        const newL = Math.min(nmax, nearestInt(fr(fr(x[i] * sl2) / slx)));
        if (newL !== L[i]) {
          slx = fr(slx + fr(fr(w * x[i]) * newL));
          sl2 = fr(sl2 + fr(fr(w * newL) * newL));
          if (fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[i] = newL & 0xff;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/** Pack 2-bit codes of a 256-block into 64 bytes, ggml's qs layout for Q2_K / Q3_K. */
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

function scaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j] & 63, q[at + j + 4] & 63];
  return [(q[at + j + 4] & 0xf) | ((q[at + j - 4] >> 6) << 4), (q[at + j + 4] >> 4) | ((q[at + j] >> 6) << 4)];
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
      const qo = (xo % nPerRow);
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
          const l8 = ((nearestInt(fr(iscale * scales[j])) << 24) >> 24);
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
        const s = bits === 4
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
      const [sc, m] = scaleMinK4(j, out, o + 4);
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
export const kQuantizers: Record<number, Quantizer> = {
  10: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q2K(x, nPerRow, im) },
  11: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q3K(x, nPerRow, im) },
  12: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q45K(4, x, nPerRow, im) },
  13: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q45K(5, x, nPerRow, im) },
  14: { imatrix: 'used', quantize: (x, _rows, nPerRow, im) => q6K(x, nPerRow, im) },
};
