// AssemblyScript, compiled to dist/kernels.wasm by scripts/build-wasm.mjs (WebAssembly SIMD).
// The exact-statistics inner loops of src/core/analysis/tensorStats.ts, with the same summation order, so the
// JavaScript and WebAssembly paths give identical results. Inputs live in this module's memory.

let heapTop: usize = __heap_base;

/** A buffer of `bytes` in linear memory (bump allocation; `reset` frees everything). */
export function alloc(bytes: i32): usize {
  const ptr = (heapTop + 15) & ~(<usize>15);
  const end = ptr + <usize>bytes;
  const pages = <i32>((end + 0xffff) >> 16) - memory.size();
  if (pages > 0) memory.grow(pages);
  heapTop = end;
  return ptr;
}

export function reset(): void {
  heapTop = __heap_base;
}

// pass-1 results
let rMin: f32 = 0;
let rMax: f32 = 0;
let rSum: f64 = 0;
let rSumSq: f64 = 0;
let rZero: i32 = 0;

export function resultMin(): f32 { return rMin; }
export function resultMax(): f32 { return rMax; }
export function resultSum(): f64 { return rSum; }
export function resultSumSq(): f64 { return rSumSq; }
export function resultZero(): i32 { return rZero; }

/**
 * Pass 1 over n finite float32 values at ptr: min, max, zeros, and the sum and sum of squares in float64 with
 * four accumulators (lane i % 4), combined as s0 + s1 + (s2 + s3). Returns 0 when a NaN or infinity leaves the
 * sums non-finite (the caller then takes its careful path).
 */
export function firstPassF32(ptr: usize, n: i32, min0: f32, max0: f32): i32 {
  let vmin = f32x4.splat(min0);
  let vmax = f32x4.splat(max0);
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let q01 = f64x2.splat(0);
  let q23 = f64x2.splat(0);
  let zeros = i32x4.splat(0);
  const zero4 = f32x4.splat(0);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const v = v128.load(ptr + (<usize>i << 2));
    vmin = f32x4.min(vmin, v);
    vmax = f32x4.max(vmax, v);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    s01 = f64x2.add(s01, lo);
    s23 = f64x2.add(s23, hi);
    q01 = f64x2.add(q01, f64x2.mul(lo, lo));
    q23 = f64x2.add(q23, f64x2.mul(hi, hi));
    zeros = i32x4.sub(zeros, f32x4.eq(v, zero4));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  const s1 = f64x2.extract_lane(s01, 1);
  const s2 = f64x2.extract_lane(s23, 0);
  const s3 = f64x2.extract_lane(s23, 1);
  let q0 = f64x2.extract_lane(q01, 0);
  const q1 = f64x2.extract_lane(q01, 1);
  const q2 = f64x2.extract_lane(q23, 0);
  const q3 = f64x2.extract_lane(q23, 1);
  let mn = min(min(f32x4.extract_lane(vmin, 0), f32x4.extract_lane(vmin, 1)), min(f32x4.extract_lane(vmin, 2), f32x4.extract_lane(vmin, 3)));
  let mx = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  let z = i32x4.extract_lane(zeros, 0) + i32x4.extract_lane(zeros, 1) + i32x4.extract_lane(zeros, 2) + i32x4.extract_lane(zeros, 3);
  for (; i < n; i++) {
    const a = load<f32>(ptr + (<usize>i << 2));
    if (a < mn) mn = a;
    if (a > mx) mx = a;
    const d = <f64>a;
    s0 += d;
    q0 += d * d;
    if (a == 0) z++;
  }
  const sum = s0 + s1 + (s2 + s3);
  const sumSq = q0 + q1 + (q2 + q3);
  if (!isFinite(sum) || !isFinite(sumSq)) return 0;
  rMin = mn;
  rMax = mx;
  rSum = sum;
  rSumSq = sumSq;
  rZero = z;
  return 1;
}

@inline
function exactBin(x: f64, lo: f64, fbins: f64, range: f64): i32 {
  return range == 0 ? 0 : <i32>Math.floor(((x - lo) * fbins) / range);
}

@inline
function clampBin(b: i32, last: i32): i32 {
  return b > last ? last : b < 0 ? 0 : b;
}

/**
 * Pass 2 over n finite float32 values: histogram counts with bin = floor((x − lo)·scale), the exact
 * floor(((x − lo)·bins)/range) within 1e-7 of an edge, clamped. Counts go to four arrays of `bins` f64 at
 * countsPtr (one per lane i % 4, so repeated increments of one bin do not wait on each other; the caller adds
 * them up). Returns the squared deviations from mean, accumulated in two float64 sums (even and odd i).
 */
export function secondPassF32(ptr: usize, n: i32, lo: f64, scale: f64, range: f64, bins: i32, mean: f64, countsPtr: usize): f64 {
  const last = bins - 1;
  const fbins = <f64>bins;
  const stride = <usize>bins << 3;
  const c0 = countsPtr;
  const c1 = countsPtr + stride;
  const c2 = countsPtr + 2 * stride;
  const c3 = countsPtr + 3 * stride;
  const lo2 = f64x2.splat(lo);
  const mean2 = f64x2.splat(mean);
  const scale2 = f64x2.splat(scale);
  const eps = f64x2.splat(1e-7);
  const oneMinusEps = f64x2.splat(1 - 1e-7);
  let dev = f64x2.splat(0);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const v = v128.load(ptr + (<usize>i << 2));
    const x01 = f64x2.promote_low_f32x4(v);
    const x23 = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    const d01 = f64x2.sub(x01, mean2);
    const d23 = f64x2.sub(x23, mean2);
    dev = f64x2.add(dev, f64x2.mul(d01, d01));
    dev = f64x2.add(dev, f64x2.mul(d23, d23));
    const t01 = f64x2.mul(f64x2.sub(x01, lo2), scale2);
    const t23 = f64x2.mul(f64x2.sub(x23, lo2), scale2);
    const f01 = f64x2.floor(t01);
    const f23 = f64x2.floor(t23);
    const r01 = f64x2.sub(t01, f01);
    const r23 = f64x2.sub(t23, f23);
    const near = v128.or(v128.or(f64x2.lt(r01, eps), f64x2.gt(r01, oneMinusEps)), v128.or(f64x2.lt(r23, eps), f64x2.gt(r23, oneMinusEps)));
    let b0 = <i32>f64x2.extract_lane(f01, 0);
    let b1 = <i32>f64x2.extract_lane(f01, 1);
    let b2 = <i32>f64x2.extract_lane(f23, 0);
    let b3 = <i32>f64x2.extract_lane(f23, 1);
    if (v128.any_true(near)) {
      const a0 = f64x2.extract_lane(r01, 0), a1 = f64x2.extract_lane(r01, 1), a2 = f64x2.extract_lane(r23, 0), a3 = f64x2.extract_lane(r23, 1);
      if (a0 < 1e-7 || a0 > 1 - 1e-7) b0 = exactBin(f64x2.extract_lane(x01, 0), lo, fbins, range);
      if (a1 < 1e-7 || a1 > 1 - 1e-7) b1 = exactBin(f64x2.extract_lane(x01, 1), lo, fbins, range);
      if (a2 < 1e-7 || a2 > 1 - 1e-7) b2 = exactBin(f64x2.extract_lane(x23, 0), lo, fbins, range);
      if (a3 < 1e-7 || a3 > 1 - 1e-7) b3 = exactBin(f64x2.extract_lane(x23, 1), lo, fbins, range);
    }
    const p0 = c0 + (<usize>clampBin(b0, last) << 3);
    const p1 = c1 + (<usize>clampBin(b1, last) << 3);
    const p2 = c2 + (<usize>clampBin(b2, last) << 3);
    const p3 = c3 + (<usize>clampBin(b3, last) << 3);
    store<f64>(p0, load<f64>(p0) + 1);
    store<f64>(p1, load<f64>(p1) + 1);
    store<f64>(p2, load<f64>(p2) + 1);
    store<f64>(p3, load<f64>(p3) + 1);
  }
  let dev0 = f64x2.extract_lane(dev, 0);
  let dev1 = f64x2.extract_lane(dev, 1);
  for (; i < n; i++) {
    const x = <f64>load<f32>(ptr + (<usize>i << 2));
    const d = x - mean;
    if (i & 1) dev1 += d * d;
    else dev0 += d * d;
    const t = (x - lo) * scale;
    const fl = Math.floor(t);
    let b = <i32>fl;
    const f = t - fl;
    if (f < 1e-7 || f > 1 - 1e-7) b = exactBin(x, lo, fbins, range);
    const at = c0 + (<usize>clampBin(b, last) << 3);
    store<f64>(at, load<f64>(at) + 1);
  }
  return dev0 + dev1;
}
