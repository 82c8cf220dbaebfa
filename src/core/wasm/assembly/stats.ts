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

// running squared-deviation sums of pass 2 (even and odd indices), carried between calls where a pass spans chunks
let dev0: f64 = 0;
let dev1: f64 = 0;
export function resetDev(): void { dev0 = 0; dev1 = 0; }
export function devSum(): f64 { return dev0 + dev1; }

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
  resetDev();
  secondPassCore(ptr, n, lo, scale, range, bins, mean, countsPtr);
  return dev0 + dev1;
}

/** Pass 2 continuing dev0 / dev1 (n even, so the even/odd split carries over). */
function secondPassCore(ptr: usize, n: i32, lo: f64, scale: f64, range: f64, bins: i32, mean: f64, countsPtr: usize): void {
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
  let dev = f64x2.replace_lane(f64x2.splat(dev0), 1, dev1);
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
  dev0 = f64x2.extract_lane(dev, 0);
  dev1 = f64x2.extract_lane(dev, 1);
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
}

// ---------------------------------------------------------------------------------------------- Q4_K, fused

/** binary16 bits -> binary32 value (exact, subnormals included; NaN/Inf kept). */
@inline
function halfToFloat(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp == 0) {
    const v = <f32>mant * <f32>5.9604644775390625e-8; // mant · 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return reinterpret<f32>(sign | 0x7f800000 | (mant << 13));
  return reinterpret<f32>(sign | ((exp + 112) << 23) | (mant << 13));
}


@inline
function scaleMin(o: usize, j: i32): i32 {
  // 6-bit scale in the low 8 bits, 6-bit min in the next 8 (ggml's get_scale_min_k4)
  // (u8 arithmetic would wrap: widen every byte first)
  const a = <i32>load<u8>(o + j);
  const b = <i32>load<u8>(o + 4 + j);
  const c = <i32>load<u8>(o + 8 + j);
  if (j < 4) return (b & 63) | ((c & 63) << 8);
  const sc = (c & 0xf) | ((a >> 6) << 4);
  const m = (c >> 4) | ((b >> 6) << 4);
  return sc | (m << 8);
}

/**
 * Pass 1 over nBlocks Q4_K blocks at src, decoding in registers (d·sc·q − dmin·m in float32, as ggml) and
 * accumulating exactly as firstPassF32 does over the decoded values in storage order. `dst` is unused.
 */
export function q4kFirstPass(src: usize, nBlocks: i32, dst: usize, min0: f32, max0: f32): i32 {
  void dst;
  let vmin = f32x4.splat(min0);
  let vmax = f32x4.splat(max0);
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let q01 = f64x2.splat(0);
  let q23 = f64x2.splat(0);
  let zeros = i32x4.splat(0);
  const zero4 = f32x4.splat(0);
  const mask = i32x4.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 144;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    for (let sb = 0; sb < 8; sb++) {
      const sm = scaleMin(o, sb);
      const d1 = f32x4.splat(d * <f32>(sm & 0xff));
      const m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      const qs = o + 16 + 32 * (sb >> 1);
      const high = sb & 1;
      for (let l = 0; l < 32; l += 4) {
        const w = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(qs + l)));
        const codes = high ? i32x4.shr_u(w, 4) : v128.and(w, mask);
        const v = f32x4.sub(f32x4.mul(d1, f32x4.convert_i32x4_u(codes)), m1);
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
    }
  }
  const sum = f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
  const sumSq = f64x2.extract_lane(q01, 0) + f64x2.extract_lane(q01, 1) + (f64x2.extract_lane(q23, 0) + f64x2.extract_lane(q23, 1));
  if (!isFinite(sum) || !isFinite(sumSq)) return 0;
  rMin = min(min(f32x4.extract_lane(vmin, 0), f32x4.extract_lane(vmin, 1)), min(f32x4.extract_lane(vmin, 2), f32x4.extract_lane(vmin, 3)));
  rMax = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
  rSum = sum;
  rSumSq = sumSq;
  rZero = i32x4.extract_lane(zeros, 0) + i32x4.extract_lane(zeros, 1) + i32x4.extract_lane(zeros, 2) + i32x4.extract_lane(zeros, 3);
  return 1;
}

// per sub-block tables of pass 2: the bin and the squared deviation of each of the 16 codes
// (static data below __heap_base, so the bump allocator never hands it out)
const binT = memory.data(16 * 4, 16);
const devT = memory.data(16 * 8, 16);

/**
 * Pass 2 over Q4_K blocks without a per-weight float computation: a sub-block of 32 weights takes at most 16
 * values, so their bins and squared deviations are computed once and looked up by code. The terms and their
 * order (even/odd indices, lane i % 4 histograms) are those of secondPassCore, so results are identical.
 */
export function q4kSecondPass(src: usize, nBlocks: i32, dst: usize, lo: f64, scale: f64, range: f64, bins: i32, mean: f64, countsPtr: usize): void {
  void dst;
  const last = bins - 1;
  const fbins = <f64>bins;
  const stride = <usize>bins << 3;
  let e0 = dev0;
  let e1 = dev1;
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 144;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    for (let sb = 0; sb < 8; sb++) {
      const sm = scaleMin(o, sb);
      const d1: f32 = d * <f32>(sm & 0xff);
      const m1: f32 = dmin * <f32>(sm >> 8);
      for (let q = 0; q < 16; q++) {
        const v: f32 = d1 * <f32>q - m1;
        const x = <f64>v;
        const dd = x - mean;
        store<f64>(devT + (<usize>q << 3), dd * dd);
        const t = (x - lo) * scale;
        const fl = Math.floor(t);
        let b = <i32>fl;
        const f = t - fl;
        if (f < 1e-7 || f > 1 - 1e-7) b = exactBin(x, lo, fbins, range);
        store<i32>(binT + (<usize>q << 2), clampBin(b, last));
      }
      const qs = o + 16 + 32 * (sb >> 1);
      const shift = (sb & 1) << 2;
      for (let l = 0; l < 32; l += 4) {
        const c0 = (<u32>load<u8>(qs + l) >> shift) & 0xf;
        const c1 = (<u32>load<u8>(qs + l + 1) >> shift) & 0xf;
        const c2 = (<u32>load<u8>(qs + l + 2) >> shift) & 0xf;
        const c3 = (<u32>load<u8>(qs + l + 3) >> shift) & 0xf;
        e0 += load<f64>(devT + (<usize>c0 << 3));
        e1 += load<f64>(devT + (<usize>c1 << 3));
        e0 += load<f64>(devT + (<usize>c2 << 3));
        e1 += load<f64>(devT + (<usize>c3 << 3));
        const p0 = countsPtr + (<usize>load<i32>(binT + (<usize>c0 << 2)) << 3);
        const p1 = countsPtr + stride + (<usize>load<i32>(binT + (<usize>c1 << 2)) << 3);
        const p2 = countsPtr + 2 * stride + (<usize>load<i32>(binT + (<usize>c2 << 2)) << 3);
        const p3 = countsPtr + 3 * stride + (<usize>load<i32>(binT + (<usize>c3 << 2)) << 3);
        store<f64>(p0, load<f64>(p0) + 1);
        store<f64>(p1, load<f64>(p1) + 1);
        store<f64>(p2, load<f64>(p2) + 1);
        store<f64>(p3, load<f64>(p3) + 1);
      }
    }
  }
  dev0 = e0;
  dev1 = e1;
}

function q4kDecode(src: usize, nBlocks: i32, dst: usize): void {
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 144;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    const y = dst + (<usize>i << 10);
    for (let j = 0; j < 4; j++) {
      const is0 = 2 * j;
      const is1 = 2 * j + 1;
      let sc0: i32, m0: i32, sc1: i32, m1: i32;
      if (is0 < 4) { sc0 = load<u8>(o + 4 + is0) & 63; m0 = load<u8>(o + 8 + is0) & 63; }
      else { sc0 = (load<u8>(o + 8 + is0) & 0xf) | ((load<u8>(o + is0) >> 6) << 4); m0 = (load<u8>(o + 8 + is0) >> 4) | ((load<u8>(o + 4 + is0) >> 6) << 4); }
      if (is1 < 4) { sc1 = load<u8>(o + 4 + is1) & 63; m1 = load<u8>(o + 8 + is1) & 63; }
      else { sc1 = (load<u8>(o + 8 + is1) & 0xf) | ((load<u8>(o + is1) >> 6) << 4); m1 = (load<u8>(o + 8 + is1) >> 4) | ((load<u8>(o + 4 + is1) >> 6) << 4); }
      const d1 = f32x4.splat(d * <f32>sc0);
      const mm1 = f32x4.splat(dmin * <f32>m0);
      const d2 = f32x4.splat(d * <f32>sc1);
      const mm2 = f32x4.splat(dmin * <f32>m1);
      const q = o + 16 + 32 * j;
      const out = y + (<usize>(64 * j) << 2);
      for (let l = 0; l < 32; l += 4) {
        const bytes = v128.load32_zero(q + l);
        const w = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes));
        const lowq = f32x4.convert_i32x4_u(v128.and(w, i32x4.splat(0xf)));
        const highq = f32x4.convert_i32x4_u(i32x4.shr_u(w, 4));
        v128.store(out + (<usize>l << 2), f32x4.sub(f32x4.mul(d1, lowq), mm1));
        v128.store(out + (<usize>(32 + l) << 2), f32x4.sub(f32x4.mul(d2, highq), mm2));
      }
    }
  }
}
