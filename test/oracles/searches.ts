/**
 * JavaScript ports of ggml's make_qx_quants and make_qkx2/3_quants for the K-quant oracles (kQuantizers.ts), in
 * strict binary32 (every float operation rounded with `fr` where C rounds to float, in the C source's order). The
 * product's searches are the WebAssembly ones (src/core/wasm/assembly/quantize.ts).
 */
import { fr, nearestInt } from '../../src/core/quant/scalars.ts';
import { GROUP_MAX_EPS, TENTH } from '../../src/core/quant/searches.ts';

/**
 * v clamped to [lo, hi]; NaN stays NaN. (Math.min/max keep the result a double: a ternary mixing v with an integer
 * argument makes V8 box it.) Only -0 differs from the comparisons, and the codes clamped here are never -0.
 */
/** The element of largest magnitude (the first of equals) and that magnitude, as ggml's searches start. */
export function signedAbsMax(x: Float32Array, xo: number, n: number): { max: number; amax: number } {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  return { max, amax };
}

export function clamp(v: number, lo: number, hi: number): number {
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
export function makeQxQuants(
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  L: Int32Array,
  lo: number,
  rmseType: number,
  qw?: Float32Array,
  qo = 0,
): number {
  const { max, amax } = signedAbsMax(x, xo, n);
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
    const w = qw
      ? qw[qo + i]
      : rmseType === 1
        ? fr(xi * xi)
        : rmseType === 2
          ? 1
          : rmseType === 3
            ? Math.abs(xi)
            : fr(Math.sqrt(Math.abs(xi)));
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

/** ggml's nearest_int for a result that is then clamped to a small range: round half to even in double. */
export function roundEven(f: number): number {
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
  variant: 2 | 3,
  n: number,
  nmax: number,
  x: Float32Array,
  xo: number,
  weights: Float32Array | undefined,
  L: Int32Array,
  lo: number,
  rmin: number,
  rdelta: number,
  nstep: number,
  useMad: boolean,
  mins: Float32Array,
  mi: number,
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
    if (nonNegative && !useMad && errorLowerBound(thisScale, thisMin, nmax, n, E[0], E[1], C, E[2], Q, Qabs, R, maxAbsX) >= bestError)
      continue;
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
function errorLowerBound(
  s: number,
  m: number,
  nmax: number,
  n: number,
  A: number,
  B: number,
  C: number,
  P: number,
  Q: number,
  Qabs: number,
  R: number,
  maxAbsX: number,
): number {
  const E = s * s * A + 2 * s * m * B + m * m * C - 2 * s * P - 2 * m * Q + R;
  const as = Math.abs(s);
  const am = Math.abs(m);
  const epsE = 1e-11 * ((as * nmax + am) * (as * nmax + am) * C + 2 * (as * nmax + am) * Qabs + R);
  const delta = U * 1.001 * (3 * as * nmax + 2 * am + maxAbsX) + TINY;
  return SUM_SLACK * (E - epsE - 2 * delta * Math.sqrt(Math.max(E + epsE, 0) * C)) - TINY * (C + n);
}
