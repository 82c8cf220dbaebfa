// AssemblyScript, compiled to dist/quantizers.wasm by scripts/build-wasm.mjs.
// ggml's quantizers (ggml_quantize_chunk) for Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS, with and without an importance
// matrix, in native binary32: every f32 operation here is one IEEE binary32 operation (WebAssembly has no implicit
// FMA and no reassociation), in the order of ggml's C source, with C's int/float conversions and integer
// truncations. These are the only implementation of these types' quantizers (tests pin ggml's bytes). Inputs and
// outputs live in this module's memory; the caller passes whole rows.
import { f32ToF16, halfToFloat, putF16 } from './common/half';
import { scaleMin } from './common/scales';
import * as T from './generated/layout';


const QK_K = 256;
const GROUP_MAX_EPS: f32 = 1e-15;

// scratch (one block at a time)
const SL: usize = memory.data(256, 16); // codes of the super-block (uint8)
const SLAUX: usize = memory.data(32, 16); // trial codes of a sub-block
const SW: usize = memory.data(32 * 4, 16); // weights of a sub-block
const SMINS: usize = memory.data(16 * 4, 16);
const SSCALES: usize = memory.data(16 * 4, 16);
const SSW: usize = memory.data(16 * 4, 16);
const SLS: usize = memory.data(16, 16);
const SLM: usize = memory.data(16, 16);
// SIMD trial scratch (n <= 32): this trial's codes (i32), those of the last trial whose sums were taken, its codes
// as float, its terms and running sums (per element), and error terms
const TC: usize = memory.data(32 * 4, 16);
const PC: usize = memory.data(32 * 4, 16);
const FL: usize = memory.data(32 * 4, 16);
const T0: usize = memory.data(32 * 4, 16);
const T1: usize = memory.data(32 * 4, 16);
const T2: usize = memory.data(32 * 4, 16);
const S0: usize = memory.data(32 * 4, 16);
const S1: usize = memory.data(32 * 4, 16);
const S2: usize = memory.data(32 * 4, 16);
const TE: usize = memory.data(32 * 4, 16);
const WX: usize = memory.data(32 * 4, 16);
// make_qx_quants' weights x that are finite, 0 for the others (trialSums)
const XR: usize = memory.data(32 * 4, 16);

/** nearest_int of four floats (the same bit trick per lane). */
@inline export function nearestInt4(f: v128): v128 {
  const val = f32x4.add(f, f32x4.splat(<f32>12582912.0));
  return i32x4.sub(v128.and(val, i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
}

/** The low bytes of the lanes of a, b, c, d: sixteen bytes. */
@inline export function low8(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i8x16.shuffle(a, b, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  const cd = i8x16.shuffle(c, d, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
  return i8x16.shuffle(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

/**
 * The codes of the 16 weights at x, MAX(lo, MIN(hi, nearest_int((x + dm) / d))) + add, as 16 bytes to L (dm 0 for
 * nearest_int(x / d): adding 0 changes only a -0, which gives the same code), four at a time.
 */
@inline function codes16(x: usize, dm: f32, d: f32, lo: i32, hi: i32, add: i32, L: usize): void {
  const dmv = f32x4.splat(dm);
  const dv = f32x4.splat(d);
  const lov = i32x4.splat(lo);
  const hiv = i32x4.splat(hi);
  const addv = i32x4.splat(add);
  const c0 = i32x4.add(i32x4.max_s(lov, i32x4.min_s(hiv, nearestInt4(f32x4.div(f32x4.add(v128.load(x), dmv), dv)))), addv);
  const c1 = i32x4.add(i32x4.max_s(lov, i32x4.min_s(hiv, nearestInt4(f32x4.div(f32x4.add(v128.load(x + 16), dmv), dv)))), addv);
  const c2 = i32x4.add(i32x4.max_s(lov, i32x4.min_s(hiv, nearestInt4(f32x4.div(f32x4.add(v128.load(x + 32), dmv), dv)))), addv);
  const c3 = i32x4.add(i32x4.max_s(lov, i32x4.min_s(hiv, nearestInt4(f32x4.div(f32x4.add(v128.load(x + 48), dmv), dv)))), addv);
  v128.store(L, low8(c0, c1, c2, c3));
}

/** kvalues_iq4nl as float, and for each integer k in [-128, 127] (at k + 128) the last level <= k. */
const IQ4_VALUES: usize = memory.data<f32>([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], 16);
const IQ4_BELOW: usize = memory.data(256, 16);
let iq4Ready = false;

/** make_qkx*_quants' *the_min */
let theMin: f32 = 0;

/** *the_min of the last makeQkx call. */
export function lastMin(): f32 {
  return theMin;
}

// (named so: the search helpers' locals min/max shadow the builtins)
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}
@inline function imax(a: i32, b: i32): i32 {
  return a > b ? a : b;
}
@inline function ldf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
@inline function stf(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}
@inline function ldb(p: usize, i: i32): i32 {
  return <i32>load<u8>(p + <usize>i);
}
@inline function stb(p: usize, i: i32, v: i32): void {
  store<u8>(p + <usize>i, <u8>v);
}

/** Σ x² over the QK_K weights of a super-block at x, in order (float32, as ggml sums it). */
@inline function sumSquares(x: usize): f32 {
  let sum: f32 = 0;
  for (let l = 0; l < QK_K; l++) {
    const v = ldf(x, l);
    sum += v * v;
  }
  return sum;
}

/** The importance weights qw·√(σ² + x²) of the n values at xs (imatrix at q) into w; returns their sum, in order. */
@inline export function imatrixWeights(xs: usize, q: usize, sigma2: f32, n: i32, w: usize): f32 {
  let sum: f32 = 0;
  for (let l = 0; l < n; l++) {
    const v = ldf(xs, l);
    const wl = ldf(q, l) * sqrt<f32>(sigma2 + v * v);
    stf(w, l, wl);
    sum += wl;
  }
  return sum;
}

/** ggml's nearest_int: the bits of fval + 1.5·2^23 (exactly, for any argument). */
@inline export function nearestInt(fval: f32): i32 {
  const val: f32 = fval + <f32>12582912.0;
  return (reinterpret<i32>(val) & 0x007fffff) - 0x00400000;
}


// ------------------------------------------------------------------------------------------------ search helpers

/**
 * make_qkx2_quants (v3 false: empty when max == min) and make_qkx3_quants with weights (v3: empty when
 * max <= min). n values at x, weights at w, codes to L (uint8); returns the scale, the_min in theMin.
 */
export function makeQkx(n: i32, nmax: i32, x: usize, w: usize, L: usize, rmin: f32, rdelta: f32, nstep: i32, useMad: bool, v3: bool): f32 {
  let min = ldf(x, 0);
  let max = min;
  let sumW = ldf(w, 0);
  let sumX: f32 = sumW * min;
  for (let i = 1; i < n; i++) {
    const xi = ldf(x, i);
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const wi = ldf(w, i);
    sumW += wi;
    sumX += wi * xi;
  }
  if (min > 0) min = 0;
  if (v3 ? max <= min : max == min) {
    memory.fill(L, 0, <usize>n);
    theMin = -min;
    return 0;
  }
  let iscale: f32 = <f32>nmax / (max - min);
  let scale: f32 = <f32>1 / iscale;
  let bestError: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = ldf(x, i);
    let l = nearestInt(iscale * (xi - min));
    l = imax(0, imin(nmax, l));
    stb(L, i, l);
    let diff: f32 = scale * <f32>l + min - xi;
    diff = useMad ? abs<f32>(diff) : diff * diff;
    bestError += ldf(w, i) * diff;
  }
  if (nstep < 1) {
    theMin = -min;
    return scale;
  }
  // ggml's trials, four codes and terms at a time (each lane the same binary32 operations), the float sums in
  // ggml's order. A trial whose codes equal those of the last trial whose sums were taken repeats its outcome (same
  // sums, scale, min and error: taken, it cannot beat itself; not taken, nothing changed since), so it is skipped;
  // otherwise the sums restart at the first code that differs (the float sums before it are the same).
  const nmaxV = i32x4.splat(nmax);
  const zeroV = i32x4.splat(0);
  for (let i = 0; i < n; i += 4) v128.store(PC + (<usize>i << 2), i32x4.splat(-1));
  for (let is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * <f32>is + <f32>nmax) / (max - min);
    const iv = f32x4.splat(iscale);
    const mv = f32x4.splat(min);
    let first = n;
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      const xv = v128.load(x + o);
      const lv = i32x4.max_s(zeroV, i32x4.min_s(nmaxV, nearestInt4(f32x4.mul(iv, f32x4.sub(xv, mv)))));
      v128.store(TC + o, lv);
      if (first == n) {
        const ne = i32x4.bitmask(i32x4.ne(lv, v128.load(PC + o)));
        if (ne != 0) first = i + <i32>ctz(ne);
      }
    }
    if (first == n) continue;
    for (let i = first & ~3; i < n; i += 4) {
      const o = <usize>i << 2;
      const lv = v128.load(TC + o);
      v128.store(PC + o, lv);
      const fl = f32x4.convert_i32x4_s(lv);
      v128.store(FL + o, fl);
      const wl = f32x4.mul(v128.load(w + o), fl);
      v128.store(T0 + o, wl);
      v128.store(T1 + o, f32x4.mul(wl, fl));
      v128.store(T2 + o, f32x4.mul(wl, v128.load(x + o)));
    }
    let sumL: f32 = first ? ldf(S0, first - 1) : 0;
    let sumL2: f32 = first ? ldf(S1, first - 1) : 0;
    let sumXL: f32 = first ? ldf(S2, first - 1) : 0;
    for (let i = first; i < n; i++) {
      sumL += ldf(T0, i);
      sumL2 += ldf(T1, i);
      sumXL += ldf(T2, i);
      stf(S0, i, sumL);
      stf(S1, i, sumL2);
      stf(S2, i, sumXL);
    }
    const D: f32 = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale: f32 = (sumW * sumXL - sumX * sumL) / D;
      let thisMin: f32 = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      const sv = f32x4.splat(thisScale);
      const tm = f32x4.splat(thisMin);
      for (let i = 0; i < n; i += 4) {
        const o = <usize>i << 2;
        const diff = f32x4.sub(f32x4.add(f32x4.mul(sv, v128.load(FL + o)), tm), v128.load(x + o));
        v128.store(TE + o, f32x4.mul(v128.load(w + o), useMad ? f32x4.abs(diff) : f32x4.mul(diff, diff)));
      }
      let cur: f32 = 0;
      for (let i = 0; i < n; i++) cur += ldf(TE, i);
      if (cur < bestError) {
        for (let i = 0; i < n; i++) stb(L, i, load<i32>(PC + (<usize>i << 2)));
        bestError = cur;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  theMin = -min;
  return scale;
}

/** make_qp_quants: n values at x to codes 0..nmax (uint8, as ggml stores them) at L, weights qw. */
export function makeQp(n: i32, nmax: i32, x: usize, L: usize, qw: usize): f32 {
  let max: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = ldf(x, i);
    max = max > xi ? max : xi;
  }
  if (max < GROUP_MAX_EPS) {
    memory.fill(L, 0, <usize>n);
    return 0;
  }
  let iscale: f32 = <f32>nmax / max;
  for (let i = 0; i < n; i++) stb(L, i, nearestInt(iscale * ldf(x, i)));
  const scale: f32 = <f32>1 / iscale;
  let bestMse: f32 = 0;
  for (let i = 0; i < n; i++) {
    const diff: f32 = ldf(x, i) - scale * <f32>ldb(L, i);
    bestMse += ldf(qw, i) * diff * diff;
  }
  for (let is = -4; is <= 4; is++) {
    if (is == 0) continue;
    const iscaleIs: f32 = (<f32>0.1 * <f32>is + <f32>nmax) / max;
    const scaleIs: f32 = <f32>1 / iscaleIs;
    let mse: f32 = 0;
    for (let i = 0; i < n; i++) {
      const xi = ldf(x, i);
      const l = imin(nmax, nearestInt(iscaleIs * xi));
      const diff: f32 = xi - scaleIs * <f32>l;
      mse += ldf(qw, i) * diff * diff;
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = ldf(x, i);
    const l = imin(nmax, nearestInt(iscale * xi));
    stb(L, i, l);
    const w = ldf(qw, i);
    sumlx += w * xi * <f32>l;
    suml2 += w * <f32>l * <f32>l;
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = ldf(qw, i);
      const xi = ldf(x, i);
      const Li = <f32>ldb(L, i);
      let slx: f32 = sumlx - w * xi * Li;
      let sl2: f32 = suml2 - w * Li * Li;
      if (slx > 0 && sl2 > 0) {
        const newL = imin(nmax, nearestInt(xi * sl2 / slx));
        if (newL != ldb(L, i)) {
          slx += w * xi * <f32>newL;
          sl2 += w * <f32>newL * <f32>newL;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            stb(L, i, newL);
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return suml2 > 0 ? sumlx / suml2 : 0;
}

/**
 * Each trial's sumlx and suml2: lane t holds make_qx_quants' trial is = t - 9, so lane 9 is its first fit (is 0:
 * iscale -nmax / max) and lanes 0..8, 10..18 its 18 trials; lane 19 is padding.
 */
const TRIAL_SUMLX: usize = memory.data(20 * 4, 16);
const TRIAL_SUML2: usize = memory.data(20 * 4, 16);

/**
 * The trials' iscale = -(nmax + 0.1·is) / max of lanes from..from + 3 (is = lane - 9). For is 0 this is ggml's first
 * iscale, -nmax / max: 0.1·0 adds +0 to nmax, and negating before or after the division gives the same float.
 */
@inline function trialScales(nmax: i32, max: f32, from: i32): v128 {
  const is = i32x4.add(i32x4.splat(from - 9), i32x4(0, 1, 2, 3));
  const a = f32x4.add(f32x4.splat(<f32>nmax), f32x4.mul(f32x4.splat(<f32>0.1), f32x4.convert_i32x4_s(is)));
  return f32x4.div(f32x4.neg(a), f32x4.splat(max));
}

/**
 * sumlx and suml2 of the four trials from `from` (one trial a lane) of n weights (the finite ones at XR, their
 * weights at T2, weights·x at WX) into TRIAL_SUMLX/SUML2: each lane does ggml's operations of its trial in ggml's
 * order (l clamped to [-nmax, nmax - 1], sumlx += w·x·l, suml2 += w·l·l, i = 0..n-1), so its sums are ggml's bit
 * for bit. The codes are rounded and clamped as floats: for a finite x, |iscale·x| is about nmax + 1 at most
 * (|x| <= |max|), far below 2^22, where nearest_int's bit trick rounds half to even as f32x4.nearest does; ggml's
 * code of a NaN or infinite x (iscale·x is NaN then, nearest_int gives 0) is that of the 0 at XR. (A code's zero sign cannot change a sum: the terms of a
 * zero code are zeros, and a float sum from +0 never turns -0.)
 */
@inline function trialSums(n: i32, nmax: i32, max: f32, from: i32): void {
  const iv = trialScales(nmax, max, from);
  const lo = f32x4.splat(<f32>-nmax);
  const hi = f32x4.splat(<f32>(nmax - 1));
  let sumlx = f32x4.splat(0);
  let suml2 = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const xv = v128.load32_splat(XR + o);
    const wv = v128.load32_splat(T2 + o);
    const wx = v128.load32_splat(WX + o);
    const l = f32x4.pmax(f32x4.pmin(f32x4.nearest(f32x4.mul(iv, xv)), hi), lo);
    sumlx = f32x4.add(sumlx, f32x4.mul(wx, l));
    suml2 = f32x4.add(suml2, f32x4.mul(f32x4.mul(wv, l), l));
  }
  v128.store(TRIAL_SUMLX + (<usize>from << 2), sumlx);
  v128.store(TRIAL_SUML2 + (<usize>from << 2), suml2);
}

/**
 * make_qx_quants with rmse_type 1 for n values (a multiple of 16, at most 32) at x: weights qw (or x² when qw is 0);
 * codes l + nmax (int8 in ggml) at L.
 */
export function makeQx(n: i32, nmax: i32, x: usize, L: usize, qw: usize): f32 {
  // ggml's max is the first value of the largest magnitude (a NaN's magnitude is never larger): the largest
  // magnitude four lanes at a time (pmax keeps its first operand against a NaN), then its first value
  let av = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) av = f32x4.pmax(av, f32x4.abs(v128.load(x + (<usize>i << 2))));
  av = f32x4.pmax(av, i32x4.shuffle(av, av, 2, 3, 0, 1));
  av = f32x4.pmax(av, i32x4.shuffle(av, av, 1, 0, 3, 2));
  const amax = f32x4.extract_lane(av, 0);
  if (amax < GROUP_MAX_EPS) {
    memory.fill(L, 0, <usize>n);
    return 0;
  }
  let at = 0;
  while (true) {
    const eq = i32x4.bitmask(f32x4.eq(f32x4.abs(v128.load(x + (<usize>at << 2))), av));
    if (eq != 0) {
      at += <i32>ctz(eq);
      break;
    }
    at += 4;
  }
  const max = ldf(x, at);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const xv = v128.load(x + o);
    const w = qw ? v128.load(qw + o) : f32x4.mul(xv, xv);
    v128.store(T2 + o, w);
    v128.store(WX + o, f32x4.mul(w, xv));
    v128.store(XR + o, v128.and(xv, f32x4.lt(f32x4.abs(xv), f32x4.splat(Infinity))));
  }
  // ggml's first fit and its 18 trials: their sums four trials a vector (none depends on another), then ggml's
  // tests in its order
  trialSums(n, nmax, max, 0);
  trialSums(n, nmax, max, 4);
  trialSums(n, nmax, max, 8);
  trialSums(n, nmax, max, 12);
  trialSums(n, nmax, max, 16);
  let sumlx = ldf(TRIAL_SUMLX, 9);
  let suml2 = ldf(TRIAL_SUML2, 9);
  let scale: f32 = suml2 != 0 ? sumlx / suml2 : 0;
  let best: f32 = scale * sumlx;
  let taken = 9;
  for (let t = 0; t < 19; t++) {
    if (t == 9) continue;
    sumlx = ldf(TRIAL_SUMLX, t);
    suml2 = ldf(TRIAL_SUML2, t);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      scale = sumlx / suml2;
      best = scale * sumlx;
      taken = t;
    }
  }
  // the codes of the last trial taken (or of the first fit)
  const iv = f32x4.splat(-(<f32>nmax + <f32>0.1 * <f32>(taken - 9)) / max);
  const lo = i32x4.splat(-nmax);
  const hi = i32x4.splat(nmax - 1);
  const add = i32x4.splat(nmax);
  for (let i = 0; i < n; i += 16) {
    const p = x + (<usize>i << 2);
    const c0 = i32x4.add(i32x4.max_s(lo, i32x4.min_s(hi, nearestInt4(f32x4.mul(iv, v128.load(p))))), add);
    const c1 = i32x4.add(i32x4.max_s(lo, i32x4.min_s(hi, nearestInt4(f32x4.mul(iv, v128.load(p + 16))))), add);
    const c2 = i32x4.add(i32x4.max_s(lo, i32x4.min_s(hi, nearestInt4(f32x4.mul(iv, v128.load(p + 32))))), add);
    const c3 = i32x4.add(i32x4.max_s(lo, i32x4.min_s(hi, nearestInt4(f32x4.mul(iv, v128.load(p + 48))))), add);
    v128.store(L + <usize>i, low8(c0, c1, c2, c3));
  }
  return scale;
}

// ------------------------------------------------------------------------------------------------ Q4_K / Q5_K

/** The 12-byte scales field of Q4_K/Q5_K from 6-bit codes ls[j], lm[j] (uint8 as ggml holds them). */
function packScalesK4(q: usize, clamp63: bool): void {
  memory.fill(q, 0, 12);
  for (let j = 0; j < 8; j++) {
    let ls = ldb(SLS, j);
    let lm = ldb(SLM, j);
    if (clamp63) {
      ls = imin(63, ls);
      lm = imin(63, lm);
    }
    if (j < 4) {
      stb(q, j, ls);
      stb(q, j + 4, lm);
    } else {
      stb(q, j + 4, (ls & 0xf) | ((lm & 0xf) << 4));
      stb(q, j - 4, ldb(q, j - 4) | ((ls >> 4) << 6));
      stb(q, j, ldb(q, j) | ((lm >> 4) << 6));
    }
  }
}

/**
 * nb super-blocks of Q4_K (bits 4) or Q5_K (bits 5) from x to y: quantize_row_q*_K_ref
 * over the whole chunk when qw is 0, else quantize_row_q*_K_impl row by row (rows of nPerRow weights; the
 * importance matrix at qw indexed by the column).
 */
export function quantizeQ45K(bits: i32, x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  const size = bits == 4 ? T.Q4_K_BYTES : T.Q5_K_BYTES;
  const atD = bits == 4 ? T.Q4_K_D : T.Q5_K_D;
  const atDmin = bits == 4 ? T.Q4_K_DMIN : T.Q5_K_DMIN;
  const atScales = bits == 4 ? T.Q4_K_SCALES : T.Q5_K_SCALES;
  const nmax = bits == 4 ? 15 : 31;
  const L = SL;
  const weights = SW;
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 10);
    const y = y0 + <usize>i * <usize>size;
    if (qw0 == 0) {
      let maxScale: f32 = 0;
      let maxMin: f32 = 0;
      for (let j = 0; j < 8; j++) {
        const xs = x + (<usize>j << 7);
        let sumX2: f32 = 0;
        for (let l = 0; l < 32; l++) {
          const v = ldf(xs, l);
          sumX2 += v * v;
        }
        const avX = sqrt<f32>(sumX2 / <f32>32);
        for (let l = 0; l < 32; l++) stf(weights, l, avX + abs<f32>(ldf(xs, l)));
        const s = bits == 4
          ? makeQkx(32, 15, xs, weights, L + (<usize>j << 5), <f32>-1, <f32>0.1, 20, false, false)
          : makeQkx(32, 31, xs, weights, L + (<usize>j << 5), <f32>-0.5, <f32>0.1, 15, false, false);
        stf(SSCALES, j, s);
        stf(SMINS, j, theMin);
        if (s > maxScale) maxScale = s;
        if (theMin > maxMin) maxMin = theMin;
      }
      const invScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
      const invMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
      for (let j = 0; j < 8; j++) {
        stb(SLS, j, nearestInt(invScale * ldf(SSCALES, j)));
        stb(SLM, j, nearestInt(invMin * ldf(SMINS, j)));
      }
      packScalesK4(y + atScales, true);
      putF16(y + atD, maxScale / <f32>63);
      putF16(y + atDmin, maxMin / <f32>63);
    } else {
      const qw = qw0 + (((<usize>i << 8) % <usize>nPerRow) << 2);
      const sigma2: f32 = <f32>2 * sumSquares(x) / <f32>QK_K;
      for (let j = 0; j < 8; j++) {
        const xs = x + (<usize>j << 7);
        const q = qw + (<usize>j << 7);
        stf(SSW, j, imatrixWeights(xs, q, sigma2, 32, weights));
        stf(SSCALES, j, makeQkx(32, nmax, xs, weights, L + (<usize>j << 5), <f32>-0.9, <f32>0.05, 36, false, true));
        stf(SMINS, j, theMin);
      }
      const dBlock = makeQp(8, 63, SSCALES, SLS, SSW);
      const mBlock = makeQp(8, 63, SMINS, SLM, SSW);
      // quantize_row_q5_K_impl clamps the codes to 63, quantize_row_q4_K_impl does not
      packScalesK4(y + atScales, bits == 5);
      putF16(y + atD, dBlock);
      putF16(y + atDmin, mBlock);
    }
    const d0 = halfToFloat(<u32>load<u16>(y + atD));
    const m0 = halfToFloat(<u32>load<u16>(y + atDmin));
    for (let j = 0; j < 8; j++) {
      const sm = scaleMin(y + atScales, j);
      const s = sm & 0xff;
      const m = sm >> 8;
      const d: f32 = d0 * <f32>s;
      if (d == 0) continue;
      const dm: f32 = m0 * <f32>m;
      const xs = x + (<usize>j << 7);
      codes16(xs, dm, d, 0, nmax, 0, L + (<usize>j << 5));
      codes16(xs + 64, dm, d, 0, nmax, 0, L + (<usize>j << 5) + 16);
    }
    if (bits == 4) {
      let q = y + T.Q4_K_QS;
      for (let j = 0; j < QK_K; j += 64) {
        for (let l = 0; l < 32; l++) stb(q, l, ldb(L, j + l) | (ldb(L, j + l + 32) << 4));
        q += 32;
      }
    } else {
      const qh = y + T.Q5_K_QH;
      let ql = y + T.Q5_K_QS;
      memory.fill(qh, 0, 32);
      let m1 = 1;
      let m2 = 2;
      for (let n = 0; n < QK_K; n += 64) {
        for (let j = 0; j < 32; j++) {
          let l1 = ldb(L, n + j);
          if (l1 > 15) {
            l1 -= 16;
            stb(qh, j, ldb(qh, j) | m1);
          }
          let l2 = ldb(L, n + j + 32);
          if (l2 > 15) {
            l2 -= 16;
            stb(qh, j, ldb(qh, j) | m2);
          }
          stb(ql, j, l1 | (l2 << 4));
        }
        ql += 32;
        m1 <<= 2;
        m2 <<= 2;
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ Q6_K

/** nb super-blocks of Q6_K: quantize_row_q6_K_ref when qw is 0, else quantize_row_q6_K_impl per row. */
export function quantizeQ6K(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  const L = SL;
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 10);
    const y = y0 + <usize>i * T.Q6_K_BYTES;
    const qw: usize = qw0 == 0 ? 0 : qw0 + (((<usize>i << 8) % <usize>nPerRow) << 2);
    let maxScale: f32 = 0;
    let maxAbsScale: f32 = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQx(16, 32, x + (<usize>ib << 6), L + (<usize>ib << 4), qw == 0 ? <usize>0 : qw + (<usize>ib << 6));
      stf(SSCALES, ib, scale);
      const a = abs<f32>(scale);
      if (a > maxAbsScale) {
        maxAbsScale = a;
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      memory.fill(y, 0, T.Q6_K_BYTES);
      continue;
    }
    const iscale: f32 = <f32>-128 / maxScale;
    const d0 = putF16(y + T.Q6_K_D, <f32>1 / iscale);
    const scales = y + T.Q6_K_SCALES;
    for (let ib = 0; ib < 16; ib++) stb(scales, ib, imin(127, nearestInt(iscale * ldf(SSCALES, ib))));
    for (let j = 0; j < 16; j++) {
      const d: f32 = d0 * <f32>load<i8>(scales + <usize>j);
      if (d == 0) continue;
      codes16(x + (<usize>j << 6), 0, d, -32, 31, 32, L + (<usize>j << 4));
    }
    let ql = y + T.Q6_K_QL;
    let qh = y + T.Q6_K_QH;
    const low = i8x16.splat(0xf);
    for (let j = 0; j < QK_K; j += 128) {
      for (let l = 0; l < 32; l += 16) {
        const a = v128.load(L + <usize>(j + l));
        const b = v128.load(L + <usize>(j + l + 32));
        const c = v128.load(L + <usize>(j + l + 64));
        const e = v128.load(L + <usize>(j + l + 96));
        v128.store(ql + <usize>l, v128.or(v128.and(a, low), i8x16.shl(c, 4)));
        v128.store(ql + <usize>(l + 32), v128.or(v128.and(b, low), i8x16.shl(e, 4)));
        const h = v128.or(v128.or(i8x16.shr_u(a, 4), i8x16.shl(i8x16.shr_u(b, 4), 2)), v128.or(i8x16.shl(i8x16.shr_u(c, 4), 4), i8x16.shl(i8x16.shr_u(e, 4), 6)));
        v128.store(qh + <usize>l, h);
      }
      ql += 64;
      qh += 32;
    }
  }
}

// ------------------------------------------------------------------------------------------------ IQ4_NL / IQ4_XS

function iq4Init(): void {
  for (let k = -128; k < 128; k++) {
    let j = 0;
    while (j < 15 && ldf(IQ4_VALUES, j + 1) <= <f32>k) j++;
    stb(IQ4_BELOW, k + 128, j);
  }
  iq4Ready = true;
}

/**
 * best_index_int8(16, kvalues_iq4nl, x): the nearest level, ties to the upper one. Its binary search ends at the
 * last level <= x (levels are integers, so that is the last level <= floor(x), from a table); NaN gives 15.
 */
@inline function bestIndex(x: f32): i32 {
  if (x <= <f32>-127) return 0;
  if (!(x < <f32>113)) return 15;
  const lo = ldb(IQ4_BELOW, <i32>floor<f32>(x) + 128);
  return x - ldf(IQ4_VALUES, lo) < ldf(IQ4_VALUES, lo + 1) - x ? lo : lo + 1;
}

/**
 * quantize_row_iq4_nl_impl with ntry 7 for one super-block of sbs weights (32: IQ4_NL; 256: IQ4_XS) at x, importance weights at qw (or 0), output block at y.
 */
function iq4Block(sbs: i32, x: usize, qw: usize, y: usize): void {
  const L = SL;
  const weight = SW;
  const scales = SSCALES;
  const V = IQ4_VALUES;
  let sigma2: f32 = 0;
  for (let j = 0; j < sbs; j++) {
    const v = ldf(x, j);
    sigma2 += v * v;
  }
  sigma2 *= <f32>2 / <f32>sbs;
  const nb = sbs >> 5;
  let maxScale: f32 = 0;
  let amaxScale: f32 = 0;
  for (let ib = 0; ib < nb; ib++) {
    const xb = x + (<usize>ib << 7);
    const Lb = L + (<usize>ib << 5);
    if (qw != 0) {
      const q = qw + (<usize>ib << 7);
      for (let j = 0; j < 32; j++) {
        const v = ldf(xb, j);
        stf(weight, j, ldf(q, j) * sqrt<f32>(sigma2 + v * v));
      }
    } else {
      for (let j = 0; j < 32; j++) {
        const v = ldf(xb, j);
        stf(weight, j, v * v);
      }
    }
    let amax: f32 = 0;
    let max: f32 = 0;
    for (let j = 0; j < 32; j++) {
      const v = ldf(xb, j);
      const ax = abs<f32>(v);
      if (ax > amax) {
        amax = ax;
        max = v;
      }
    }
    if (amax < GROUP_MAX_EPS) {
      stf(scales, ib, 0);
      continue;
    }
    let d: f32 = -max / <f32>-127;
    let id: f32 = <f32>1 / d;
    let sumqx: f32 = 0;
    let sumq2: f32 = 0;
    for (let j = 0; j < 32; j++) {
      const v = ldf(xb, j);
      const l = bestIndex(id * v);
      stb(Lb, j, l);
      const q = ldf(V, l);
      const w = ldf(weight, j);
      sumqx += w * q * v;
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0;
    let best: f32 = d * sumqx;
    for (let itry = -7; itry <= 7; itry++) {
      id = <f32>(itry - 127) / max;
      sumqx = 0;
      sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const v = ldf(xb, j);
        const q = ldf(V, bestIndex(id * v));
        const w = ldf(weight, j);
        sumqx += w * q * v;
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    stf(scales, ib, d);
    const absD = abs<f32>(d);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = d;
    }
  }
  if (nb > 1) {
    const d: f32 = -maxScale / <f32>32;
    store<u16>(y + T.IQ4_XS_D, <u16>f32ToF16(d));
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    let scalesH = 0;
    const scalesL = y + T.IQ4_XS_SCALES_L;
    for (let ib = 0; ib < nb; ib++) {
      let l = imax(-32, imin(31, nearestInt(id * ldf(scales, ib))));
      const dl: f32 = d * <f32>l;
      const idl: f32 = dl != 0 ? <f32>1 / dl : 0;
      const xb = x + (<usize>ib << 7);
      const Lb = L + (<usize>ib << 5);
      for (let j = 0; j < 32; j++) stb(Lb, j, bestIndex(idl * ldf(xb, j)));
      l += 32;
      const lLo = l & 0xf;
      const lHi = (l >> 4) & 0xff;
      if (ib % 2 == 0) stb(scalesL, ib >> 1, lLo);
      else stb(scalesL, ib >> 1, ldb(scalesL, ib >> 1) | (lLo << 4));
      scalesH |= lHi << (2 * (ib % 8));
    }
    store<u16>(y + T.IQ4_XS_SCALES_H, <u16>scalesH);
  } else {
    const s0 = ldf(scales, 0);
    store<u16>(y + T.IQ4_NL_D, <u16>f32ToF16(s0));
    const id: f32 = s0 != 0 ? <f32>1 / s0 : 0;
    for (let j = 0; j < sbs; j++) stb(L, j, bestIndex(id * ldf(x, j)));
  }
  const q4 = y + (nb > 1 ? T.IQ4_XS_QS : T.IQ4_NL_QS);
  for (let i = 0; i < nb; i++) {
    for (let j = 0; j < 16; j++) stb(q4, 16 * i + j, ldb(L, 32 * i + j) | (ldb(L, 32 * i + 16 + j) << 4));
  }
}

/** nb blocks of IQ4_NL (sbs 32) or IQ4_XS (sbs 256): quantize_iq4_nl / quantize_iq4_xs over whole rows. */
export function quantizeIQ4(sbs: i32, x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  if (!iq4Ready) iq4Init();
  const bytes: usize = sbs == 32 ? T.IQ4_NL_BYTES : T.IQ4_XS_BYTES;
  for (let i = 0; i < nb; i++) {
    const off = <usize>i * <usize>sbs;
    const qw: usize = qw0 == 0 ? 0 : qw0 + ((off % <usize>nPerRow) << 2);
    iq4Block(sbs, x0 + (off << 2), qw, y0 + <usize>i * bytes);
  }
}

// ------------------------------------------------------------------------------------------------ Q2_K

/** Codes of 256 weights (uint8, 0..3 each) packed four to a byte as Q2_K and Q3_K do, to 64 bytes at q. */
function pack2bit(q: usize): void {
  const L = SL;
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l += 16) {
      const p = L + <usize>(j + l);
      const a = v128.load(p);
      const b = i8x16.shl(v128.load(p + 32), 2);
      const c = i8x16.shl(v128.load(p + 64), 4);
      const e = i8x16.shl(v128.load(p + 96), 6);
      v128.store(q + <usize>((j >> 2) + l), v128.or(v128.or(a, b), v128.or(c, e)));
    }
  }
}

/** nb super-blocks of Q2_K (84 bytes): quantize_row_q2_K_ref over the chunk when qw is 0, else quantize_row_q2_K_impl per row. */
export function quantizeQ2K(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  const L = SL;
  const weights = SW;
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 10);
    const y = y0 + <usize>i * T.Q2_K_BYTES;
    const sc = y + T.Q2_K_SCALES;
    if (qw0 == 0) {
      let maxScale: f32 = 0;
      let maxMin: f32 = 0;
      for (let j = 0; j < 16; j++) {
        const xs = x + (<usize>j << 6);
        for (let l = 0; l < 16; l++) stf(weights, l, abs<f32>(ldf(xs, l)));
        const s = makeQkx(16, 3, xs, weights, L + (<usize>j << 4), <f32>-0.5, <f32>0.1, 15, true, false);
        stf(SSCALES, j, s);
        stf(SMINS, j, theMin);
        if (s > maxScale) maxScale = s;
        if (theMin > maxMin) maxMin = theMin;
      }
      if (maxScale > 0) {
        const iscale: f32 = <f32>15 / maxScale;
        for (let j = 0; j < 16; j++) stb(sc, j, nearestInt(iscale * ldf(SSCALES, j)));
        putF16(y + T.Q2_K_D, maxScale / <f32>15);
      } else {
        memory.fill(sc, 0, 16);
        putF16(y + T.Q2_K_D, 0);
      }
      if (maxMin > 0) {
        const iscale: f32 = <f32>15 / maxMin;
        for (let j = 0; j < 16; j++) stb(sc, j, ldb(sc, j) | (nearestInt(iscale * ldf(SMINS, j)) << 4));
        putF16(y + T.Q2_K_DMIN, maxMin / <f32>15);
      } else {
        putF16(y + T.Q2_K_DMIN, 0);
      }
    } else {
      const qw = qw0 + (((<usize>i << 8) % <usize>nPerRow) << 2);
      const sigma2: f32 = sumSquares(x) / <f32>QK_K;
      for (let j = 0; j < 16; j++) {
        const xs = x + (<usize>j << 6);
        const q = qw + (<usize>j << 6);
        stf(SSW, j, imatrixWeights(xs, q, sigma2, 16, weights));
        stf(SSCALES, j, makeQkx(16, 3, xs, weights, L + (<usize>j << 4), <f32>-0.9, <f32>0.05, 36, false, true));
        stf(SMINS, j, theMin);
      }
      const dm = makeQp(16, 15, SSCALES, SLS, SSW);
      const mm = makeQp(16, 15, SMINS, SLM, SSW);
      putF16(y + T.Q2_K_D, dm);
      putF16(y + T.Q2_K_DMIN, mm);
      for (let j = 0; j < 16; j++) stb(sc, j, ldb(SLS, j) | (ldb(SLM, j) << 4));
    }
    const d0 = halfToFloat(<u32>load<u16>(y + T.Q2_K_D));
    const m0 = halfToFloat(<u32>load<u16>(y + T.Q2_K_DMIN));
    for (let j = 0; j < 16; j++) {
      const scj = ldb(sc, j);
      const d: f32 = d0 * <f32>(scj & 0xf);
      if (d == 0) continue;
      const dm: f32 = m0 * <f32>(scj >> 4);
      const xs = x + (<usize>j << 6);
      codes16(xs, dm, d, 0, 3, 0, L + (<usize>j << 4));
    }
    pack2bit(y + T.Q2_K_QS);
  }
}

// ------------------------------------------------------------------------------------------------ Q3_K

const Q3L: usize = memory.data(16 * 4, 16); // make_q3_quants' codes (int8 in ggml, signed while it searches)

const Q3W: usize = memory.data(16 * 4, 16); // x² of each value (make_q3_quants' weight w)
const Q3WX: usize = memory.data(16 * 4, 16); // w·x

/**
 * The values of make_q3_quants' pass at or after `from` that would try a new code under the current sums sumlx and
 * suml2, as a bitmask (bit i: slx = sumlx - w·x·L > 0 and new_l = clamp(nearest_int(x·sl2 / slx)) != L), four at a
 * time with each lane the same binary32 operations as the scalar pass (the 16 values of a sub-block).
 */
@inline function q3Candidates(nmax: i32, x: usize, sumlx: f32, suml2: f32, from: i32): i32 {
  const slxV = f32x4.splat(sumlx);
  const sl2V = f32x4.splat(suml2);
  const lo = i32x4.splat(-nmax);
  const hi = i32x4.splat(nmax - 1);
  let mask = 0;
  for (let i = from & ~3; i < 16; i += 4) {
    const o = <usize>i << 2;
    const l = v128.load(Q3L + o);
    const lf = f32x4.convert_i32x4_s(l);
    const w = v128.load(Q3W + o);
    const slx = f32x4.sub(slxV, f32x4.mul(v128.load(Q3WX + o), lf));
    const sl2 = f32x4.sub(sl2V, f32x4.mul(f32x4.mul(w, lf), lf));
    const nl = i32x4.max_s(lo, i32x4.min_s(hi, nearestInt4(f32x4.div(f32x4.mul(v128.load(x + o), sl2), slx))));
    mask |= i32x4.bitmask(v128.and(f32x4.gt(slx, f32x4.splat(0)), i32x4.ne(nl, l))) << i;
  }
  return mask & ~((1 << from) - 1);
}

/**
 * make_q3_quants with do_rmse (weights x²) of the 16 values at x: codes l + nmax (uint8) to L; returns the scale.
 * Its passes try each value in turn, and only a value whose new code differs can change anything: those are found
 * four at a time under the current sums (q3Candidates), tried one by one in order as ggml does, and found again
 * after each accepted change (the sums change then).
 */
function makeQ3(nmax: i32, x: usize, L: usize): f32 {
  const n = 16;
  let max: f32 = 0;
  let amax: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = ldf(x, i);
    const ax = abs<f32>(xi);
    if (ax > amax) {
      amax = ax;
      max = xi;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    memory.fill(L, 0, <usize>n);
    return 0;
  }
  const iscale: f32 = <f32>(-nmax) / max;
  const Q = Q3L;
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = ldf(x, i);
    const l = imax(-nmax, imin(nmax - 1, nearestInt(iscale * xi)));
    store<i32>(Q + (<usize>i << 2), l);
    const w: f32 = xi * xi;
    stf(Q3W, i, w);
    stf(Q3WX, i, w * xi);
    sumlx += w * xi * <f32>l;
    suml2 += w * <f32>l * <f32>l;
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    let mask = q3Candidates(nmax, x, sumlx, suml2, 0);
    while (mask != 0) {
      const i = <i32>ctz(mask);
      mask &= mask - 1;
      const xi = ldf(x, i);
      const w = ldf(Q3W, i);
      const Li = load<i32>(Q + (<usize>i << 2));
      let slx: f32 = sumlx - ldf(Q3WX, i) * <f32>Li;
      let sl2: f32 = suml2 - w * <f32>Li * <f32>Li;
      const newL = imax(-nmax, imin(nmax - 1, nearestInt(xi * sl2 / slx)));
      slx += ldf(Q3WX, i) * <f32>newL;
      sl2 += w * <f32>newL * <f32>newL;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        store<i32>(Q + (<usize>i << 2), newL);
        sumlx = slx;
        suml2 = sl2;
        changed++;
        if (i < n - 1) mask = q3Candidates(nmax, x, sumlx, suml2, i + 1);
      }
    }
    if (changed == 0) break;
  }
  for (let i = 0; i < n; i++) stb(L, i, load<i32>(Q + (<usize>i << 2)) + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0;
}

/** nb super-blocks of Q3_K (110 bytes): quantize_row_q3_K_ref over the chunk when qw is 0, else quantize_row_q3_K_impl per row. */
export function quantizeQ3K(x0: usize, nb: i32, nPerRow: i32, qw0: usize, y0: usize): void {
  const L = SL;
  const weight = SW;
  for (let i = 0; i < nb; i++) {
    const x = x0 + (<usize>i << 10);
    const y = y0 + <usize>i * T.Q3_K_BYTES;
    const sc = y + T.Q3_K_SCALES;
    const hmask = y + T.Q3_K_HMASK;
    memory.fill(sc, 0, 12);
    if (qw0 == 0) {
      let maxScale: f32 = 0;
      let amax: f32 = 0;
      for (let j = 0; j < 16; j++) {
        const s = makeQ3(4, x + (<usize>j << 6), L + (<usize>j << 4));
        stf(SSCALES, j, s);
        const a = abs<f32>(s);
        if (a > amax) {
          amax = a;
          maxScale = s;
        }
      }
      if (maxScale != 0) {
        const iscale: f32 = <f32>-32 / maxScale;
        for (let j = 0; j < 16; j++) {
          // int8_t l = nearest_int(...): narrowed to int8 before the clamp
          const l8 = <i32><i8>nearestInt(iscale * ldf(SSCALES, j));
          stb(SLS, j, imax(-32, imin(31, l8)) + 32);
        }
        putF16(y + T.Q3_K_D, <f32>1 / iscale);
      } else {
        memory.fill(SLS, 0, 16);
        putF16(y + T.Q3_K_D, 0);
      }
    } else {
      const qw = qw0 + (((<usize>i << 8) % <usize>nPerRow) << 2);
      const sigma2: f32 = <f32>2 * sumSquares(x) / <f32>QK_K;
      for (let j = 0; j < 16; j++) {
        const xs = x + (<usize>j << 6);
        const q = qw + (<usize>j << 6);
        stf(SSW, j, imatrixWeights(xs, q, sigma2, 16, weight));
        stf(SSCALES, j, makeQx(16, 4, xs, L + (<usize>j << 4), weight));
      }
      putF16(y + T.Q3_K_D, makeQx(16, 32, SSCALES, SLS, SSW));
    }
    // (the ref path leaves the scales 0 when max_scale is 0: SLS is all 0 then)
    for (let j = 0; j < 16; j++) {
      let l = ldb(SLS, j);
      if (j < 8) stb(sc, j, l & 0xf);
      else stb(sc, j - 8, ldb(sc, j - 8) | ((l & 0xf) << 4));
      l >>= 4;
      stb(sc, (j & 3) + 8, ldb(sc, (j & 3) + 8) | (l << (2 * (j >> 2))));
    }
    const d0 = halfToFloat(<u32>load<u16>(y + T.Q3_K_D));
    for (let j = 0; j < 16; j++) {
      let s = j < 8 ? ldb(sc, j) & 0xf : ldb(sc, j - 8) >> 4;
      s = (s | (((ldb(sc, 8 + (j & 3)) >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const d: f32 = d0 * <f32>s;
      if (d == 0) continue;
      codes16(x + (<usize>j << 6), 0, d, -4, 3, 4, L + (<usize>j << 4));
    }
    // codes above 3 set bit k of hmask[m] (weight 32k + m) and lose 4
    let h0 = i8x16.splat(0);
    let h1 = i8x16.splat(0);
    const three = i8x16.splat(3);
    const four = i8x16.splat(4);
    for (let k = 0; k < 8; k++) {
      const bit = i32x4.splat(0x01010101 << k);
      const p = L + (<usize>k << 5);
      const a = v128.load(p);
      const b = v128.load(p + 16);
      const ga = i8x16.gt_u(a, three);
      const gb = i8x16.gt_u(b, three);
      h0 = v128.or(h0, v128.and(ga, bit));
      h1 = v128.or(h1, v128.and(gb, bit));
      v128.store(p, i8x16.sub(a, v128.and(ga, four)));
      v128.store(p + 16, i8x16.sub(b, v128.and(gb, four)));
    }
    v128.store(hmask, h0);
    v128.store(hmask + 16, h1);
    pack2bit(y + T.Q3_K_QS);
  }
}
