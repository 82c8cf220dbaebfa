// AssemblyScript, compiled to dist/kernels.wasm by scripts/build-wasm.mjs (WebAssembly SIMD).
// The exact-statistics inner loops of src/core/analysis/tensorStats.ts: pass 1 sums into the exponent bins of
// src/core/analysis/exactSum.ts (exact, so the JavaScript and WebAssembly paths give identical results), pass 2
// counts the histogram (Q4_K and IQ4_XS by counting the codes of each sub-block). Histogram bins are always
// exactly binOf's. Inputs live in this module's memory.

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
let rZero: i32 = 0;

export function resultMin(): f32 { return rMin; }
export function resultMax(): f32 { return rMax; }
export function resultZero(): i32 { return rZero; }

// Exponent bins of pass 1 (src/core/analysis/exactSum.ts). A float32 x with exponent field e is m·u_e, with m its
// signed 24-bit integer significand and u_e = 2^(max(e, 1) − 150). Each value adds m and m² to the int64 pair of
// its exponent in the table of its lane (i % 4, so equal exponents in adjacent lanes do not wait on each other).
// m² < 2^48, so a lane's bins are emptied into float64 totals (Σm, and Σm² as its high and low 32 bits, all
// exact integers) every 2^15 values per lane; firstEnd scales the totals by u_e and u_e² into resultBins()
// (Σx, Σx² high, Σx² low, 0 per exponent: exactSum.ts's layout). Exact while a call adds fewer than 2^28 values.
const LANE_BINS_BYTES: usize = 256 * 16;
const laneBins = memory.data(<i32>(4 * LANE_BINS_BYTES), 16);
const TOTAL_BYTES: usize = 32;
const totals = memory.data(<i32>(256 * TOTAL_BYTES), 16);
const tail = memory.data(16, 16);
/** Four-value groups a lane table takes before it is emptied (each adds m² < 2^48 to an int64). */
const GROUPS_PER_FLUSH: i32 = 1 << 15;
let pendingGroups: i32 = 0;

/** The exponent bins of the last pass 1 (256 × Σx, Σx² high part, Σx² low part, 0; float64). */
export function resultBins(): usize { return totals; }

/** Empties the lane tables into the float64 totals. */
function flushLaneBins(): void {
  for (let e: usize = 0; e < 256; e++) {
    let sm: i64 = 0;
    let hi: i64 = 0;
    let lo: i64 = 0;
    for (let l: usize = 0; l < 4; l++) {
      const p = laneBins + l * LANE_BINS_BYTES + (e << 4);
      const sq = load<i64>(p + 8);
      sm += load<i64>(p);
      hi += sq >>> 32;
      lo += sq & 0xffffffff;
    }
    const t = totals + e * TOTAL_BYTES;
    store<f64>(t, load<f64>(t) + <f64>sm);
    store<f64>(t + 8, load<f64>(t + 8) + <f64>hi);
    store<f64>(t + 16, load<f64>(t + 16) + <f64>lo);
  }
  memory.fill(laneBins, 0, 4 * LANE_BINS_BYTES);
  pendingGroups = 0;
}

// pass-1 running state of the float32 loop (lane i % 4), carried across the pieces of one chunk
let fMin: v128 = f32x4.splat(Infinity);
let fMax: v128 = f32x4.splat(-Infinity);
let fZeros: v128 = i32x4.splat(0);

function firstBegin(min0: f32, max0: f32): void {
  fMin = f32x4.splat(min0);
  fMax = f32x4.splat(max0);
  fZeros = i32x4.splat(0);
  memory.fill(laneBins, 0, 4 * LANE_BINS_BYTES);
  memory.fill(totals, 0, 256 * TOTAL_BYTES);
  pendingGroups = 0;
}

/** Adds the int64 pair [m, m²] to the bin at `at`. */
@inline
function addToBin(at: usize, pair: v128): void {
  v128.store(at, i64x2.add(v128.load(at), pair));
}

/** Adds the four values v to the exponent bins (lane l to table l). */
@inline
function binFour(v: v128): void {
  const e = v128.and(i32x4.shr_u(v, 23), i32x4.splat(0xff));
  const implicit = v128.and(v128.not(i32x4.eq(e, i32x4.splat(0))), i32x4.splat(0x800000));
  const negative = i32x4.shr_s(v, 31);
  const m = i32x4.sub(v128.xor(v128.or(v128.and(v, i32x4.splat(0x7fffff)), implicit), negative), negative);
  const m01 = i64x2.extend_low_i32x4_s(m);
  const m23 = i64x2.extend_high_i32x4_s(m);
  const sq01 = i64x2.extmul_low_i32x4_s(m, m);
  const sq23 = i64x2.extmul_high_i32x4_s(m, m);
  const at = i32x4.shl(e, 4);
  addToBin(laneBins + <usize>i32x4.extract_lane(at, 0), v128.shuffle<i64>(m01, sq01, 0, 2));
  addToBin(laneBins + LANE_BINS_BYTES + <usize>i32x4.extract_lane(at, 1), v128.shuffle<i64>(m01, sq01, 1, 3));
  addToBin(laneBins + 2 * LANE_BINS_BYTES + <usize>i32x4.extract_lane(at, 2), v128.shuffle<i64>(m23, sq23, 0, 2));
  addToBin(laneBins + 3 * LANE_BINS_BYTES + <usize>i32x4.extract_lane(at, 3), v128.shuffle<i64>(m23, sq23, 1, 3));
}

/** Pass 1 over n (a multiple of 4) float32 values at ptr, continuing the running state. */
function firstCore(ptr: usize, n: i32): void {
  let vmin = fMin;
  let vmax = fMax;
  let zeros = fZeros;
  const zero4 = f32x4.splat(0);
  let i = 0;
  while (i < n) {
    const end = min(n, i + 4 * (GROUPS_PER_FLUSH - pendingGroups));
    pendingGroups += (end - i) >> 2;
    for (; i < end; i += 4) {
      const v = v128.load(ptr + (<usize>i << 2));
      // pmin/pmax keep the running extreme on ties, as the JavaScript loop (NaN and ±0 extremes take its path)
      vmin = f32x4.pmin(vmin, v);
      vmax = f32x4.pmax(vmax, v);
      zeros = i32x4.sub(zeros, f32x4.eq(v, zero4));
      binFour(v);
    }
    if (pendingGroups == GROUPS_PER_FLUSH) flushLaneBins();
  }
  fMin = vmin;
  fMax = vmax;
  fZeros = zeros;
}

/** 2^k as float64 (−1022 ≤ k ≤ 1023). */
@inline
function pow2(k: i32): f64 {
  return reinterpret<f64>(<i64>(k + 1023) << 52);
}

/**
 * Adds the n (< 4) values at ptr, empties the lane tables, scales the totals into resultBins(), then publishes
 * the results (resultMin() ...); 0 if a value is NaN or infinite (exponent field 255).
 */
function firstEnd(ptr: usize, n: i32): i32 {
  let mn = min(min(f32x4.extract_lane(fMin, 0), f32x4.extract_lane(fMin, 1)), min(f32x4.extract_lane(fMin, 2), f32x4.extract_lane(fMin, 3)));
  let mx = max(max(f32x4.extract_lane(fMax, 0), f32x4.extract_lane(fMax, 1)), max(f32x4.extract_lane(fMax, 2), f32x4.extract_lane(fMax, 3)));
  let z = i32x4.extract_lane(fZeros, 0) + i32x4.extract_lane(fZeros, 1) + i32x4.extract_lane(fZeros, 2) + i32x4.extract_lane(fZeros, 3);
  // the tail goes to the lanes as one more group, zero-padded (a zero adds nothing)
  if (n) {
    v128.store(tail, i32x4.splat(0));
    memory.copy(tail, ptr, <usize>n << 2);
    binFour(v128.load(tail));
  }
  for (let i = 0; i < n; i++) {
    const a = load<f32>(ptr + (<usize>i << 2));
    if (a < mn) mn = a;
    if (a > mx) mx = a;
    if (a == 0) z++;
  }
  flushLaneBins();
  // exponent field 255 (NaN, ±Inf): m² is not 0
  if (load<f64>(totals + 255 * TOTAL_BYTES + 8) != 0 || load<f64>(totals + 255 * TOTAL_BYTES + 16) != 0) return 0;
  for (let e = 0; e < 255; e++) {
    const t = totals + <usize>e * TOTAL_BYTES;
    const u = max(e, 1) - 150;
    store<f64>(t, load<f64>(t) * pow2(u));
    store<f64>(t + 8, load<f64>(t + 8) * pow2(2 * u + 32));
    store<f64>(t + 16, load<f64>(t + 16) * pow2(2 * u));
  }
  rMin = mn;
  rMax = mx;
  rZero = z;
  return 1;
}

/**
 * Pass 1 over n (< 2^28) float32 values at ptr: min, max, zeros and the exponent bins. Returns 0 when a value is
 * NaN or infinite (the caller then takes its careful path).
 */
export function firstPassF32(ptr: usize, n: i32, min0: f32, max0: f32): i32 {
  const n4 = n & ~3;
  firstBegin(min0, max0);
  firstCore(ptr, n4);
  return firstEnd(ptr + (<usize>n4 << 2), n - n4);
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
 * Pass 2 over n finite float32 values at ptr, for the histogram set by setBins: the bins, estimated in float32
 * with the exact float64 formula near an edge (secondCore), added to the four int32 partial histograms at hist.
 */
export function secondPassF32(ptr: usize, n: i32, hist: usize): void {
  const n16 = n & ~15;
  secondCore(ptr, n16, hist);
  for (let i = n16; i < n; i++) {
    const x = <f64>load<f32>(ptr + (<usize>i << 2));
    const at = hist + (<usize>clampBin(exactBin(x, bLo, bBins, bRange), bLast) << 2);
    store<i32>(at, load<i32>(at) + 1);
  }
}

// ------------------------------------------------------------------------------------------- block fields

/** binary16 bits -> binary32 value (exact, subnormals included; NaN quieted with sign and payload kept, as ggml). */
@inline
function halfToFloat(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp == 0) {
    const v = <f32>mant * <f32>5.9604644775390625e-8; // mant · 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return reinterpret<f32>(sign | (mant ? 0x7fc00000 : 0x7f800000) | (mant << 13));
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

// -------------------------------------------------------------------- code counting (sub-blocks of 4-bit codes)
// A sub-block of 32 weights with 4-bit codes takes at most 16 distinct values, so pass 2 counts how often each code
// occurs and bins each distinct value once. The codes are read as four 32-bit bit planes (bit k of every code);
// the count of code c is the popcount of the AND of the planes (or their complements) that c's bits select.

/** Per-lane population count of four 32-bit words. */
@inline
function popcnt32x4(x: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(x))); // lanes ≤ 16: signed = unsigned
}

/** Lane l (0..3) holds the weights whose two code bits (planes a = low bit, b = high bit) spell l. */
@inline
function planePairs(a: u32, b: u32): v128 {
  return v128.and(v128.xor(i32x4.splat(a), i32x4(-1, 0, -1, 0)), v128.xor(i32x4.splat(b), i32x4(-1, -1, 0, 0)));
}

/** Bit plane k of 32 codes held in the low (shift 7 − k) or high (shift 3 − k) nibbles of the bytes of a, then b. */
@inline
function plane(a: v128, b: v128, shift: i32): u32 {
  return <u32>i8x16.bitmask(i16x8.shl(a, shift)) | (<u32>i8x16.bitmask(i16x8.shl(b, shift)) << 16);
}

/** Parameters of pass 2, set by setBins before the kernels run. */
let bLo: f64 = 0;
let bRange: f64 = 0;
let bBins: f64 = 1;
let bLast: i32 = 0;
let bLo32: f32 = 0;
let bScale32: f32 = 0;
let bMargin: f32 = 0;

/** Histogram [lo, lo + range] in `bins` bins, for the pass-2 kernels. */
export function setBins(lo: f64, range: f64, bins: i32): void {
  bLo = lo;
  bRange = range;
  bBins = <f64>bins;
  bLast = bins - 1;
  bLo32 = <f32>lo;
  bScale32 = range > 0 ? <f32>(<f64>bins / range) : 0;
  // a subnormal scale has fewer bits: then every lane takes the exact formula (no r lies in [1, 0])
  bMargin = bScale32 >= <f32>1.1754943508222875e-38 ? <f32>(<f64>bins * 4e-7) : 1;
}

/**
 * Pass 2 for four codes of a sub-block: bins b (i32x4) occurring c (i32x4) times. Adds c to the int32 histograms
 * at hist (lane l to the partial histogram l, so adjacent codes do not wait on each other).
 */
@inline
function binCounted(b: v128, c: v128, hist: usize, stride: usize): void {
  const p0 = hist + (<usize>i32x4.extract_lane(b, 0) << 2);
  const p1 = hist + stride + (<usize>i32x4.extract_lane(b, 1) << 2);
  const p2 = hist + 2 * stride + (<usize>i32x4.extract_lane(b, 2) << 2);
  const p3 = hist + 3 * stride + (<usize>i32x4.extract_lane(b, 3) << 2);
  store<i32>(p0, load<i32>(p0) + i32x4.extract_lane(c, 0));
  store<i32>(p1, load<i32>(p1) + i32x4.extract_lane(c, 1));
  store<i32>(p2, load<i32>(p2) + i32x4.extract_lane(c, 2));
  store<i32>(p3, load<i32>(p3) + i32x4.extract_lane(c, 3));
}

/**
 * The float32 bin estimate t = (x − lo)·scale of each lane. It is within bins·1.8e-7 of the real quotient
 * (x − lo)·bins/range (three roundings of 2⁻²⁴), so where t lies more than the margin (bins·4e-7) from an
 * integer its floor is the bin binOf computes (floor(((x − lo)·bins)/range) in float64); the other lanes (and NaN
 * from an overflowing range) take that float64 formula (exactSubBlockBins).
 */
@inline
function binEstimate(v: v128): v128 {
  return f32x4.mul(f32x4.sub(v, f32x4.splat(bLo32)), f32x4.splat(bScale32));
}

/** The bins of estimates t: floor(t), clamped. */
@inline
function estimatedBins(t: v128): v128 {
  return i32x4.max_s(i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.floor(t)), i32x4.splat(bLast)), i32x4.splat(0));
}

/** Lanes whose estimate t lies within the margin of an integer (or is NaN): their floor may not be the bin. */
@inline
function nearEdge(t: v128): v128 {
  const r = f32x4.sub(t, f32x4.floor(t));
  return v128.not(v128.and(f32x4.ge(r, f32x4.splat(bMargin)), f32x4.le(r, f32x4.splat(1 - bMargin))));
}

const exactBins16 = memory.data(16 * 4, 16);

/** The exact bins of the 16 values v0..v3, to exactBins16 (the rare slow path of subBlockPass2). */
function exactSubBlockBins(v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(exactBins16, v0);
  v128.store(exactBins16 + 16, v1);
  v128.store(exactBins16 + 32, v2);
  v128.store(exactBins16 + 48, v3);
  for (let q = 0; q < 16; q++) {
    const at = exactBins16 + (<usize>q << 2);
    store<i32>(at, clampBin(exactBin(<f64>load<f32>(at), bLo, bBins, bRange), bLast));
  }
}

// called through a function reference, so it is never inlined (the loops keep their registers)
let exactSubBlockBinsOutOfLine = exactSubBlockBins;

/**
 * Pass 2 of a sub-block of 32 weights given as the bit planes p0..p3 of its codes and the values of codes 0..15
 * (v0 = codes 0..3, ..., v3 = codes 12..15).
 */
@inline
function subBlockPass2(p0: u32, p1: u32, p2: u32, p3: u32, v0: v128, v1: v128, v2: v128, v3: v128, hist: usize, stride: usize): void {
  const t0 = binEstimate(v0);
  const t1 = binEstimate(v1);
  const t2 = binEstimate(v2);
  const t3 = binEstimate(v3);
  let b0 = estimatedBins(t0);
  let b1 = estimatedBins(t1);
  let b2 = estimatedBins(t2);
  let b3 = estimatedBins(t3);
  if (v128.any_true(v128.or(v128.or(nearEdge(t0), nearEdge(t1)), v128.or(nearEdge(t2), nearEdge(t3))))) {
    exactSubBlockBinsOutOfLine(v0, v1, v2, v3);
    b0 = v128.load(exactBins16);
    b1 = v128.load(exactBins16 + 16);
    b2 = v128.load(exactBins16 + 32);
    b3 = v128.load(exactBins16 + 48);
  }
  const low = planePairs(p0, p1);
  const high = planePairs(p2, p3);
  binCounted(b0, popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 0, 0, 0, 0))), hist, stride);
  binCounted(b1, popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 1, 1, 1, 1))), hist, stride);
  binCounted(b2, popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 2, 2, 2, 2))), hist, stride);
  binCounted(b3, popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 3, 3, 3, 3))), hist, stride);
}

/** Pass 2 over Q4_K blocks by code counting (subBlockPass2): histogram counts equal the per-weight path's. */
export function q4kSecondPass(src: usize, nBlocks: i32, hist: usize): void {
  const stride = <usize>(bLast + 1) << 2;
  const q0 = f32x4(0, 1, 2, 3);
  const q1 = f32x4(4, 5, 6, 7);
  const q2 = f32x4(8, 9, 10, 11);
  const q3 = f32x4(12, 13, 14, 15);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 144;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + 16 + 32 * j);
      const b = v128.load(o + 32 + 32 * j);
      // sub-block 2j: low nibbles; 2j + 1: high nibbles
      let sm = scaleMin(o, 2 * j);
      let d1 = f32x4.splat(d * <f32>(sm & 0xff));
      let m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      subBlockPass2(plane(a, b, 7), plane(a, b, 6), plane(a, b, 5), plane(a, b, 4),
        f32x4.sub(f32x4.mul(d1, q0), m1), f32x4.sub(f32x4.mul(d1, q1), m1), f32x4.sub(f32x4.mul(d1, q2), m1), f32x4.sub(f32x4.mul(d1, q3), m1),
        hist, stride);
      sm = scaleMin(o, 2 * j + 1);
      d1 = f32x4.splat(d * <f32>(sm & 0xff));
      m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      subBlockPass2(plane(a, b, 3), plane(a, b, 2), plane(a, b, 1), plane(a, b, 0),
        f32x4.sub(f32x4.mul(d1, q0), m1), f32x4.sub(f32x4.mul(d1, q1), m1), f32x4.sub(f32x4.mul(d1, q2), m1), f32x4.sub(f32x4.mul(d1, q3), m1),
        hist, stride);
    }
  }
}

// ------------------------------------------------------------------------------------------------ IQ4_XS

/** Pass 2 over IQ4_XS blocks by code counting (as q4kSecondPass). */
export function iq4xsSecondPass(src: usize, nBlocks: i32, hist: usize): void {
  const stride = <usize>(bLast + 1) << 2;
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 136;
    const d = halfToFloat(<u32>load<u16>(o));
    for (let ib = 0; ib < 8; ib++) {
      const dl = f32x4.splat(d * <f32>(iq4xsScale(o, ib) - 32));
      const a = v128.load(o + 8 + 16 * ib);
      const hi = i8x16.shr_u(a, 4);
      subBlockPass2(plane(a, hi, 7), plane(a, hi, 6), plane(a, hi, 5), plane(a, hi, 4),
        f32x4.mul(dl, f32x4(-127, -104, -83, -65)), f32x4.mul(dl, f32x4(-49, -35, -22, -10)), f32x4.mul(dl, f32x4(1, 13, 25, 38)), f32x4.mul(dl, f32x4(53, 69, 89, 113)),
        hist, stride);
    }
  }
}

/** The 6-bit scale of sub-block ib: 4 bits from scales_l, 2 from scales_h. */
@inline
function iq4xsScale(o: usize, ib: i32): i32 {
  return ((<i32>load<u8>(o + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 0xf) | (((<i32>load<u16>(o + 2) >> (2 * ib)) & 3) << 4);
}

// ------------------------------------------------------------------------------ decoded weight by weight
// Pass 1 of every fused type, and pass 2 of the types with too many codes per sub-block to count (Q8_0, Q6_K):
// each piece of blocks is decoded into a scratch buffer that stays in the L1 cache and scanned by the float32
// loops, in the generic path's order (so the results are identical to it).

const SCRATCH_WEIGHTS = 4096;
const scratch = memory.data(SCRATCH_WEIGHTS * 4, 16);

/** Stores the 16 int8 codes q times `scale` (float32 products, as the JavaScript decoders) at dst. */
@inline
function storeScaled16(dst: usize, q: v128, scale: v128): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), scale));
  v128.store(dst + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), scale));
  v128.store(dst + 32, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), scale));
  v128.store(dst + 48, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), scale));
}

/** Q8_0 { d; qs[32] int8 }: w = q·d. */
function decodeQ80(src: usize, nBlocks: i32, dst: usize): void {
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 34;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o)));
    const y = dst + (<usize>i << 7);
    storeScaled16(y, v128.load(o + 2), d);
    storeScaled16(y + 64, v128.load(o + 18), d);
  }
}

/** Q6_K { ql[128]; qh[64]; scales[16] int8; d }: w = (d·scale)·(q − 32), q = 4 low bits from ql, 2 high from qh. */
function decodeQ6K(src: usize, nBlocks: i32, dst: usize): void {
  const m4 = i8x16.splat(0xf);
  const m2 = i8x16.splat(3);
  const bias = i8x16.splat(32);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 210;
    const d = halfToFloat(<u32>load<u16>(o + 208));
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const sc = o + 192 + 8 * n;
      const y = dst + (<usize>(i * 256 + 128 * n) << 2);
      for (let is = 0; is < 2; is++) {
        const l = 16 * is;
        const a = v128.load(ql + l);
        const b = v128.load(ql + l + 32);
        const h = v128.load(qh + l);
        const q1 = v128.or(v128.and(a, m4), i8x16.shl(v128.and(h, m2), 4));
        const q2 = v128.or(v128.and(b, m4), i8x16.shl(v128.and(i8x16.shr_u(h, 2), m2), 4));
        const q3 = v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), m2), 4));
        const q4 = v128.or(i8x16.shr_u(b, 4), i8x16.shl(i8x16.shr_u(h, 6), 4));
        storeScaled16(y + (<usize>l << 2), i8x16.sub(q1, bias), f32x4.splat(d * <f32>load<i8>(sc + is)));
        storeScaled16(y + (<usize>(l + 32) << 2), i8x16.sub(q2, bias), f32x4.splat(d * <f32>load<i8>(sc + is + 2)));
        storeScaled16(y + (<usize>(l + 64) << 2), i8x16.sub(q3, bias), f32x4.splat(d * <f32>load<i8>(sc + is + 4)));
        storeScaled16(y + (<usize>(l + 96) << 2), i8x16.sub(q4, bias), f32x4.splat(d * <f32>load<i8>(sc + is + 6)));
      }
    }
  }
}

/** Q4_K { d; dmin; scales[12]; qs[128] }: w = (d·sc)·q − dmin·m per sub-block of 32. */
function decodeQ4K(src: usize, nBlocks: i32, dst: usize): void {
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 144;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    const y = dst + (<usize>i << 10);
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + 16 + 32 * j);
      const b = v128.load(o + 32 + 32 * j);
      let sm = scaleMin(o, 2 * j);
      storeAffine16(y + (<usize>(64 * j) << 2), v128.and(a, m4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      storeAffine16(y + (<usize>(64 * j + 16) << 2), v128.and(b, m4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      sm = scaleMin(o, 2 * j + 1);
      storeAffine16(y + (<usize>(64 * j + 32) << 2), i8x16.shr_u(a, 4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      storeAffine16(y + (<usize>(64 * j + 48) << 2), i8x16.shr_u(b, 4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
    }
  }
}

/** Stores q·d1 − m1 for the 16 unsigned codes q (float32, as the JavaScript decoder) at dst. */
@inline
function storeAffine16(dst: usize, q: v128, d1: v128, m1: v128): void {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  v128.store(dst, f32x4.sub(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo))), m1));
  v128.store(dst + 16, f32x4.sub(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo))), m1));
  v128.store(dst + 32, f32x4.sub(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi))), m1));
  v128.store(dst + 48, f32x4.sub(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi))), m1));
}

/** IQ4_XS { d; scales_h; scales_l[4]; qs[128] }: w = (d·(ls − 32))·level[q], low nibbles first per sub-block. */
function decodeIQ4XS(src: usize, nBlocks: i32, dst: usize): void {
  const levels = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 136;
    const d = halfToFloat(<u32>load<u16>(o));
    const y = dst + (<usize>i << 10);
    for (let ib = 0; ib < 8; ib++) {
      const dl = f32x4.splat(d * <f32>(iq4xsScale(o, ib) - 32));
      const a = v128.load(o + 8 + 16 * ib);
      storeScaled16(y + (<usize>(32 * ib) << 2), i8x16.swizzle(levels, v128.and(a, m4)), dl);
      storeScaled16(y + (<usize>(32 * ib + 16) << 2), i8x16.swizzle(levels, i8x16.shr_u(a, 4)), dl);
    }
  }
}

/** Q4_0 { d; qs[16] } (w = d·(q − 8)) and IQ4_NL { d; qs[16] } (w = d·level[q]): byte j holds weights j, j + 16. */
function decodeQ40(src: usize, nBlocks: i32, dst: usize, nonLinear: bool): void {
  const levels = nonLinear ? i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113) : i8x16(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 18;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o)));
    const a = v128.load(o + 2);
    const y = dst + (<usize>i << 7);
    storeScaled16(y, i8x16.swizzle(levels, v128.and(a, m4)), d);
    storeScaled16(y + 64, i8x16.swizzle(levels, i8x16.shr_u(a, 4)), d);
  }
}

/** The fifth bits 0..15 (half 0) or 16..31 (half 1) of the 32-bit field qh, as 0x10 or 0 per byte. */
@inline
function fifthBits(qh: v128, half: i32): v128 {
  const bytes = half ? i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3) : i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(i8x16.swizzle(qh, bytes), bit), bit), i8x16.splat(0x10));
}

/**
 * The legacy types with 4-bit codes, a fifth bit or a min (Q4_1, Q5_0, Q5_1): w = d·(q − bias) or d·q + m,
 * bytes `bytes` per block, m at minAt (0: none), qh at qhAt (0: none), qs at qsAt.
 */
@inline
function decodeLegacy(src: usize, nBlocks: i32, dst: usize, bytes: i32, minAt: i32, qhAt: i32, qsAt: i32): void {
  const m4 = i8x16.splat(0xf);
  const bias = i8x16.splat(minAt ? 0 : 16);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * bytes;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o)));
    const a = v128.load(o + qsAt);
    let lo = v128.and(a, m4);
    let hi = i8x16.shr_u(a, 4);
    if (qhAt) {
      const qh = i32x4.splat(load<u32>(o + qhAt));
      lo = v128.or(lo, fifthBits(qh, 0));
      hi = v128.or(hi, fifthBits(qh, 1));
    }
    const y = dst + (<usize>i << 7);
    if (minAt) {
      // d·q + m is d·q − (−m) exactly (IEEE subtraction adds the negation)
      const m = f32x4.neg(f32x4.splat(halfToFloat(<u32>load<u16>(o + minAt))));
      storeAffine16(y, lo, d, m);
      storeAffine16(y + 64, hi, d, m);
    } else {
      storeScaled16(y, i8x16.sub(lo, bias), d);
      storeScaled16(y + 64, i8x16.sub(hi, bias), d);
    }
  }
}

/** Q5_K { d; dmin; scales[12]; qh[32]; qs[128] }: as Q4_K, with the fifth bit of weight l of pair j in bit 2j (2j + 1) of qh[l]. */
function decodeQ5K(src: usize, nBlocks: i32, dst: usize): void {
  const m4 = i8x16.splat(0xf);
  const one = i8x16.splat(1);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 176;
    const d = halfToFloat(<u32>load<u16>(o));
    const dmin = halfToFloat(<u32>load<u16>(o + 2));
    const h0 = v128.load(o + 16);
    const h1 = v128.load(o + 32);
    const y = dst + (<usize>i << 10);
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + 48 + 32 * j);
      const b = v128.load(o + 64 + 32 * j);
      let sm = scaleMin(o, 2 * j);
      let d1 = f32x4.splat(d * <f32>(sm & 0xff));
      let m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      storeAffine16(y + (<usize>(64 * j) << 2), v128.or(v128.and(a, m4), i8x16.shl(v128.and(i8x16.shr_u(h0, 2 * j), one), 4)), d1, m1);
      storeAffine16(y + (<usize>(64 * j + 16) << 2), v128.or(v128.and(b, m4), i8x16.shl(v128.and(i8x16.shr_u(h1, 2 * j), one), 4)), d1, m1);
      sm = scaleMin(o, 2 * j + 1);
      d1 = f32x4.splat(d * <f32>(sm & 0xff));
      m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      storeAffine16(y + (<usize>(64 * j + 32) << 2), v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h0, 2 * j + 1), one), 4)), d1, m1);
      storeAffine16(y + (<usize>(64 * j + 48) << 2), v128.or(i8x16.shr_u(b, 4), i8x16.shl(v128.and(i8x16.shr_u(h1, 2 * j + 1), one), 4)), d1, m1);
    }
  }
}

/**
 * Q3_K { hmask[32]; qs[64]; scales[12]; d }: 16 × 16, w = (d·(sc − 32))·q with q = 2 bits of qs minus 4 where the
 * weight's hmask bit is clear. Weights 32k + l: qs bits 2(k % 4) of byte 32(k / 4) + l, hmask bit k of byte l.
 */
function decodeQ3K(src: usize, nBlocks: i32, dst: usize): void {
  const m2 = i8x16.splat(3);
  const one = i8x16.splat(1);
  const four = i8x16.splat(4);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 110;
    const d = halfToFloat(<u32>load<u16>(o + 108));
    const y = dst + (<usize>i << 10);
    for (let s = 0; s < 16; s++) {
      // sub-block s: weights 16s .. 16s + 15, k = s / 2, bytes l = 16(s % 2) ..
      const k = s >> 1;
      const half = 16 * (s & 1);
      const low = s < 8 ? <i32>load<u8>(o + 96 + s) & 0xf : <i32>load<u8>(o + 96 + s - 8) >> 4;
      const high = (<i32>load<u8>(o + 104 + (s & 3)) >> (2 * (s >> 2))) & 3;
      const dl = f32x4.splat(d * <f32>((low | (high << 4)) - 32));
      const q = v128.and(i8x16.shr_u(v128.load(o + 32 + 32 * (k >> 2) + half), 2 * (k & 3)), m2);
      const h = i8x16.shl(v128.and(i8x16.shr_u(v128.load(o + half), k), one), 2);
      storeScaled16(y + (<usize>(16 * s) << 2), i8x16.sub(v128.or(q, h), four), dl);
    }
  }
}

/**
 * Q2_K { scales[16] (4-bit scale | 4-bit min); qs[64]; d; dmin }: 16 × 16, w = (d·sc)·q − dmin·m, with the
 * codes laid out as Q3_K's qs.
 */
function decodeQ2K(src: usize, nBlocks: i32, dst: usize): void {
  const m2 = i8x16.splat(3);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * 84;
    const d = halfToFloat(<u32>load<u16>(o + 80));
    const dmin = halfToFloat(<u32>load<u16>(o + 82));
    const y = dst + (<usize>i << 10);
    for (let s = 0; s < 16; s++) {
      const k = s >> 1;
      const sc = <i32>load<u8>(o + s);
      const q = v128.and(i8x16.shr_u(v128.load(o + 16 + 32 * (k >> 2) + 16 * (s & 1)), 2 * (k & 3)), m2);
      storeAffine16(y + (<usize>(16 * s) << 2), q, f32x4.splat(d * <f32>(sc & 0xf)), f32x4.splat(dmin * <f32>(sc >> 4)));
    }
  }
}

/** Four binary16 patterns (low 16 bits of each i32 lane) as binary32, exactly as halfToFloat. */
@inline
function halfToFloat4(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const bits = i32x4.shl(em, 13);
  // normal and subnormal halves: the shifted bits times 2^112 (exact); Inf and NaN: exponent all ones, payload
  // kept, and the quiet bit set for NaN
  const finite = f32x4.mul(bits, f32x4.splat(reinterpret<f32>(0x77800000)));
  const quiet = v128.and(i32x4.gt_s(em, i32x4.splat(0x7c00)), i32x4.splat(0x00400000));
  const special = v128.or(v128.or(bits, i32x4.splat(0x7f800000)), quiet);
  const value = v128.bitselect(special, finite, i32x4.ge_s(em, i32x4.splat(0x7c00)));
  return v128.or(value, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** n F16 values (halfToFloat4, eight at a time). */
function decodeF16(src: usize, n: i32, dst: usize): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), halfToFloat4(i32x4.extend_low_i16x8_u(h)));
    v128.store(dst + (<usize>i << 2) + 16, halfToFloat4(i32x4.extend_high_i16x8_u(h)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), halfToFloat(<u32>load<u16>(src + (<usize>i << 1))));
}

/** n BF16 values: the upper halves of binary32. */
function decodeBF16(src: usize, n: i32, dst: usize): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(dst + (<usize>i << 2) + 16, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16));
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}

/** nBlocks blocks of ggml type `type` at src, as float32 to dst (F16 and BF16: nBlocks values). */
@inline
function decodeBlocks(type: i32, src: usize, nBlocks: i32, dst: usize): void {
  switch (type) {
    case 1: decodeF16(src, nBlocks, dst); break;
    case 2: decodeQ40(src, nBlocks, dst, false); break;
    case 3: decodeLegacy(src, nBlocks, dst, 20, 2, 0, 4); break;
    case 6: decodeLegacy(src, nBlocks, dst, 22, 0, 2, 6); break;
    case 7: decodeLegacy(src, nBlocks, dst, 24, 2, 4, 8); break;
    case 8: decodeQ80(src, nBlocks, dst); break;
    case 10: decodeQ2K(src, nBlocks, dst); break;
    case 11: decodeQ3K(src, nBlocks, dst); break;
    case 12: decodeQ4K(src, nBlocks, dst); break;
    case 13: decodeQ5K(src, nBlocks, dst); break;
    case 14: decodeQ6K(src, nBlocks, dst); break;
    case 20: decodeQ40(src, nBlocks, dst, true); break;
    case 23: decodeIQ4XS(src, nBlocks, dst); break;
    case 30: decodeBF16(src, nBlocks, dst); break;
  }
}

/**
 * Dequantize: nBlocks blocks of ggml type `type` at src to float32 at dst, bit-identical to the JavaScript codecs
 * (src/core/quant/). Types: F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
 */
export function dequantize(type: i32, src: usize, nBlocks: i32, dst: usize): void {
  decodeBlocks(type, src, nBlocks, dst);
}

/** Adds 1 to the bins b (i32x4) of four weights, lane l to the partial histogram l. */
@inline
function countWeights(b: v128, hist: usize, stride: usize): void {
  const p0 = hist + (<usize>i32x4.extract_lane(b, 0) << 2);
  const p1 = hist + stride + (<usize>i32x4.extract_lane(b, 1) << 2);
  const p2 = hist + 2 * stride + (<usize>i32x4.extract_lane(b, 2) << 2);
  const p3 = hist + 3 * stride + (<usize>i32x4.extract_lane(b, 3) << 2);
  store<i32>(p0, load<i32>(p0) + 1);
  store<i32>(p1, load<i32>(p1) + 1);
  store<i32>(p2, load<i32>(p2) + 1);
  store<i32>(p3, load<i32>(p3) + 1);
}

/**
 * Pass 2 over n (a multiple of 16) finite float32 values, binning in float32 (as subBlockPass2, one edge check
 * per 16 values) into the int32 histograms at hist.
 */
function secondCore(ptr: usize, n: i32, hist: usize): void {
  const stride = <usize>(bLast + 1) << 2;
  for (let i = 0; i < n; i += 16) {
    const at = ptr + (<usize>i << 2);
    const v0 = v128.load(at);
    const v1 = v128.load(at + 16);
    const v2 = v128.load(at + 32);
    const v3 = v128.load(at + 48);
    const t0 = binEstimate(v0);
    const t1 = binEstimate(v1);
    const t2 = binEstimate(v2);
    const t3 = binEstimate(v3);
    let b0 = estimatedBins(t0);
    let b1 = estimatedBins(t1);
    let b2 = estimatedBins(t2);
    let b3 = estimatedBins(t3);
    if (v128.any_true(v128.or(v128.or(nearEdge(t0), nearEdge(t1)), v128.or(nearEdge(t2), nearEdge(t3))))) {
      exactSubBlockBinsOutOfLine(v0, v1, v2, v3);
      b0 = v128.load(exactBins16);
      b1 = v128.load(exactBins16 + 16);
      b2 = v128.load(exactBins16 + 32);
      b3 = v128.load(exactBins16 + 48);
    }
    countWeights(b0, hist, stride);
    countWeights(b1, hist, stride);
    countWeights(b2, hist, stride);
    countWeights(b3, hist, stride);
  }
}

/** Pass 1 over nBlocks blocks of `type` (8 = Q8_0, 12 = Q4_K, 14 = Q6_K, 23 = IQ4_XS), exactly as firstPassF32 over the decoded values. */
export function decodedFirstPass(type: i32, src: usize, nBlocks: i32, blockBytes: i32, blockWeights: i32, min0: f32, max0: f32): i32 {
  const per = SCRATCH_WEIGHTS / blockWeights;
  firstBegin(min0, max0);
  for (let b = 0; b < nBlocks; b += per) {
    const n = min(per, nBlocks - b);
    decodeBlocks(type, src + <usize>b * blockBytes, n, scratch);
    firstCore(scratch, n * blockWeights);
  }
  return firstEnd(scratch, 0);
}

/** Pass 2 over nBlocks blocks of `type` (secondCore). */
export function decodedSecondPass(type: i32, src: usize, nBlocks: i32, blockBytes: i32, blockWeights: i32, hist: usize): void {
  const per = SCRATCH_WEIGHTS / blockWeights;
  for (let b = 0; b < nBlocks; b += per) {
    const n = min(per, nBlocks - b);
    decodeBlocks(type, src + <usize>b * blockBytes, n, scratch);
    secondCore(scratch, n * blockWeights, hist);
  }
}

// ------------------------------------------------------------------------------------------- F16 / BF16

/**
 * Adds the n 16-bit patterns at src to two int32 tables of 65536 counts at table (even elements to the first,
 * odd to the second, so a repeated pattern does not wait on its own increment).
 */
export function countHalves(src: usize, n: i32, table: usize): void {
  const odd = table + (65536 << 2);
  const pairs = n >> 1;
  for (let i = 0; i < pairs; i++) {
    const w = load<u32>(src + (<usize>i << 2));
    const a = table + (<usize>(w & 0xffff) << 2);
    const b = odd + (<usize>(w >>> 16) << 2);
    store<i32>(a, load<i32>(a) + 1);
    store<i32>(b, load<i32>(b) + 1);
  }
  if (n & 1) {
    const a = table + (<usize>load<u16>(src + (<usize>(n - 1) << 1)) << 2);
    store<i32>(a, load<i32>(a) + 1);
  }
}
