// AssemblyScript (part of dist/kernels.wasm, see kernels.ts): the exact-statistics inner loops of
// src/core/analysis/tensorStats.ts. Pass 1 sums into the exponent bins of src/core/analysis/exactSum.ts (exact, so
// the JavaScript and WebAssembly paths give identical results; Q4_K, Q6_K, Q8_0 and IQ4_XS from integer sums of
// their codes), pass 2 counts the histogram (Q4_K and IQ4_XS by counting the codes of each sub-block). Histogram bins are always exactly binOf's. Inputs live in this module's
// memory.
import { halfToFloat } from './common/half';
import { plane, planePairs, popcnt32x4 } from './common/codePlanes';
import { scaleMin } from './common/scales';
import { decodeBlocks, iq4xsScale, q6kCodes, storeAffine16 } from './decode';
import { IQ4_XS_BYTES, IQ4_XS_D, IQ4_XS_QS, Q4_K_BYTES, Q4_K_D, Q4_K_DMIN, Q4_K_QS, Q4_K_SCALES, Q6_K_BYTES, Q6_K_D, Q6_K_QH, Q6_K_QL, Q6_K_SCALES, Q8_0_BYTES, Q8_0_D, Q8_0_QS, TYPE_IQ4_XS, TYPE_Q4_K, TYPE_Q6_K, TYPE_Q8_0 } from './generated/layout';


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
  publishTotals(mn, mx, z);
  return 1;
}

/** Scales the totals (integer sums in units u_e, u_e²) into resultBins() and publishes min, max and zeros. */
function publishTotals(mn: f32, mx: f32, z: i32): void {
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

// -------------------------------------------------------------------- code counting (sub-blocks of 4-bit codes)
// A sub-block of 32 weights with 4-bit codes takes at most 16 distinct values, so pass 2 counts how often each code
// occurs (by bit planes, common/codePlanes.ts) and bins each distinct value once.

/** Parameters of pass 2, set by setBins before the kernels run. */
let bLo: f64 = 0;
let bRange: f64 = 0;
let bBins: f64 = 1;
let bLast: i32 = 0;
let bLo32: f32 = 0;
let bScale32: f32 = 0;
let bMargin: f32 = 0;
/** Every value takes the exact formula (the float32 estimate cannot be trusted for this range). */
let bExactOnly = false;

/** Histogram [lo, lo + range] in `bins` bins, for the pass-2 kernels. */
export function setBins(lo: f64, range: f64, bins: i32): void {
  bLo = lo;
  bRange = range;
  bBins = <f64>bins;
  bLast = bins - 1;
  bLo32 = <f32>lo;
  bScale32 = range > 0 ? <f32>(<f64>bins / range) : 0;
  bMargin = <f32>(<f64>bins * 4e-7);
  // A zero, subnormal or infinite scale has too few bits, and a range near float32's limit lets x − lo overflow to
  // infinity: then every value takes the exact formula.
  bExactOnly = !(bScale32 >= <f32>1.1754943508222875e-38 && bScale32 < Infinity && range < 1.7014118346046923e38);
}

/**
 * Pass 2 for four codes of a sub-block: the histogram counters at `at` (binAddresses) occur c (i32x4) times.
 */
@inline
function binCounted(at: v128, c: v128): void {
  const p0 = <usize>i32x4.extract_lane(at, 0);
  const p1 = <usize>i32x4.extract_lane(at, 1);
  const p2 = <usize>i32x4.extract_lane(at, 2);
  const p3 = <usize>i32x4.extract_lane(at, 3);
  store<i32>(p0, load<i32>(p0) + i32x4.extract_lane(c, 0));
  store<i32>(p1, load<i32>(p1) + i32x4.extract_lane(c, 1));
  store<i32>(p2, load<i32>(p2) + i32x4.extract_lane(c, 2));
  store<i32>(p3, load<i32>(p3) + i32x4.extract_lane(c, 3));
}

/** 2^23 as float32: adding it to an integer float in [0, 2^23) puts the integer in the low bits. */
const TWO_23: f32 = 8388608;

/**
 * What binAddresses adds: each lane's partial histogram (hist + l·stride in lane l, so that adjacent values do not
 * wait on each other's counter), less the bits of 2^23 times 4.
 */
@inline
function laneHistograms(hist: usize, stride: usize): v128 {
  const starts = i32x4.add(i32x4.splat(<i32>hist), i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(<i32>stride)));
  return i32x4.sub(starts, i32x4.splat(reinterpret<i32>(TWO_23) << 2));
}

/**
 * The addresses of the counters of bins b (whole float32 numbers), clamped to [0, last], in their lane's partial
 * histogram (`lanes` from laneHistograms). The bits of b + 2^23 are those of 2^23 plus b, so no float-to-integer
 * conversion is needed.
 */
@inline
function binAddresses(b: v128, lanes: v128): v128 {
  const clamped = f32x4.pmax(f32x4.pmin(b, f32x4.splat(<f32>bLast)), f32x4.splat(0));
  return i32x4.add(i32x4.shl(f32x4.add(clamped, f32x4.splat(TWO_23)), 2), lanes);
}

/**
 * The float32 bin estimate t = (x − lo)·scale of each lane. It is within bins·1.8e-7 of the real quotient
 * (x − lo)·bins/range (three roundings of 2⁻²⁴), so where t lies more than the margin (bins·4e-7) from an
 * integer its floor is the bin binOf computes (floor(((x − lo)·bins)/range) in float64); the other lanes take that
 * float64 formula (exactSubBlockBins).
 */
@inline
function binEstimate(v: v128): v128 {
  return f32x4.mul(f32x4.sub(v, f32x4.splat(bLo32)), f32x4.splat(bScale32));
}

/**
 * floor(t − margin), t's bin wherever it equals floor(t + margin) (binAbove): no integer then lies within the
 * margin of t. Rounding t ± margin to float32 moves it by at most bins·6e-8, which leaves more than the estimate's
 * error; NaN (an estimate of no use) never equals itself.
 */
@inline
function binBelow(t: v128): v128 {
  return f32x4.floor(f32x4.sub(t, f32x4.splat(bMargin)));
}

/** floor(t + margin): see binBelow. */
@inline
function binAbove(t: v128): v128 {
  return f32x4.floor(f32x4.add(t, f32x4.splat(bMargin)));
}

const exactBins16 = memory.data(16 * 4, 16);

/** The exact bins of the 16 values v0..v3, as float32, to exactBins16 (the rare slow path of the pass-2 loops). */
function exactSubBlockBins(v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(exactBins16, v0);
  v128.store(exactBins16 + 16, v1);
  v128.store(exactBins16 + 32, v2);
  v128.store(exactBins16 + 48, v3);
  for (let q = 0; q < 16; q++) {
    const at = exactBins16 + (<usize>q << 2);
    store<f32>(at, <f32>clampBin(exactBin(<f64>load<f32>(at), bLo, bBins, bRange), bLast));
  }
}

// called through a function reference, so it is never inlined (the loops keep their registers)
let exactSubBlockBinsOutOfLine = exactSubBlockBins;

/**
 * Pass 2 of a sub-block of 32 weights given as the bit planes p0..p3 of its codes and the values of codes 0..15
 * (v0 = codes 0..3, ..., v3 = codes 12..15).
 */
@inline
function subBlockPass2(p0: u32, p1: u32, p2: u32, p3: u32, v0: v128, v1: v128, v2: v128, v3: v128, lanes: v128): void {
  const t0 = binEstimate(v0);
  const t1 = binEstimate(v1);
  const t2 = binEstimate(v2);
  const t3 = binEstimate(v3);
  let b0 = binBelow(t0);
  let b1 = binBelow(t1);
  let b2 = binBelow(t2);
  let b3 = binBelow(t3);
  const edge = v128.or(v128.or(f32x4.ne(b0, binAbove(t0)), f32x4.ne(b1, binAbove(t1))), v128.or(f32x4.ne(b2, binAbove(t2)), f32x4.ne(b3, binAbove(t3))));
  if (bExactOnly || v128.any_true(edge)) {
    exactSubBlockBinsOutOfLine(v0, v1, v2, v3);
    b0 = v128.load(exactBins16);
    b1 = v128.load(exactBins16 + 16);
    b2 = v128.load(exactBins16 + 32);
    b3 = v128.load(exactBins16 + 48);
  }
  const low = planePairs(p0, p1);
  const high = planePairs(p2, p3);
  binCounted(binAddresses(b0, lanes), popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 0, 0, 0, 0))));
  binCounted(binAddresses(b1, lanes), popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 1, 1, 1, 1))));
  binCounted(binAddresses(b2, lanes), popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 2, 2, 2, 2))));
  binCounted(binAddresses(b3, lanes), popcnt32x4(v128.and(low, v128.shuffle<i32>(high, high, 3, 3, 3, 3))));
}

/** Pass 2 over Q4_K blocks by code counting (subBlockPass2): histogram counts equal the per-weight path's. */
function q4kSecondPass(src: usize, nBlocks: i32, hist: usize): void {
  const lanes = laneHistograms(hist, <usize>(bLast + 1) << 2);
  const q0 = f32x4(0, 1, 2, 3);
  const q1 = f32x4(4, 5, 6, 7);
  const q2 = f32x4(8, 9, 10, 11);
  const q3 = f32x4(12, 13, 14, 15);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * Q4_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + Q4_K_D));
    const dmin = halfToFloat(<u32>load<u16>(o + Q4_K_DMIN));
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + Q4_K_QS + 32 * j);
      const b = v128.load(o + Q4_K_QS + 16 + 32 * j);
      // sub-block 2j: low nibbles; 2j + 1: high nibbles
      let sm = scaleMin(o + Q4_K_SCALES, 2 * j);
      let d1 = f32x4.splat(d * <f32>(sm & 0xff));
      let m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      subBlockPass2(plane(a, b, 7), plane(a, b, 6), plane(a, b, 5), plane(a, b, 4),
        f32x4.sub(f32x4.mul(d1, q0), m1), f32x4.sub(f32x4.mul(d1, q1), m1), f32x4.sub(f32x4.mul(d1, q2), m1), f32x4.sub(f32x4.mul(d1, q3), m1),
        lanes);
      sm = scaleMin(o + Q4_K_SCALES, 2 * j + 1);
      d1 = f32x4.splat(d * <f32>(sm & 0xff));
      m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      subBlockPass2(plane(a, b, 3), plane(a, b, 2), plane(a, b, 1), plane(a, b, 0),
        f32x4.sub(f32x4.mul(d1, q0), m1), f32x4.sub(f32x4.mul(d1, q1), m1), f32x4.sub(f32x4.mul(d1, q2), m1), f32x4.sub(f32x4.mul(d1, q3), m1),
        lanes);
    }
  }
}

// ------------------------------------------------------------------------------------------------ IQ4_XS

/** Pass 2 over IQ4_XS blocks by code counting (as q4kSecondPass). */
function iq4xsSecondPass(src: usize, nBlocks: i32, hist: usize): void {
  const lanes = laneHistograms(hist, <usize>(bLast + 1) << 2);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * IQ4_XS_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + IQ4_XS_D));
    for (let ib = 0; ib < 8; ib++) {
      const dl = f32x4.splat(d * <f32>(iq4xsScale(o, ib) - 32));
      const a = v128.load(o + IQ4_XS_QS + 16 * ib);
      const hi = i8x16.shr_u(a, 4);
      subBlockPass2(plane(a, hi, 7), plane(a, hi, 6), plane(a, hi, 5), plane(a, hi, 4),
        f32x4.mul(dl, f32x4(-127, -104, -83, -65)), f32x4.mul(dl, f32x4(-49, -35, -22, -10)), f32x4.mul(dl, f32x4(1, 13, 25, 38)), f32x4.mul(dl, f32x4(53, 69, 89, 113)),
        lanes);
    }
  }
}

/** Pass 2 by code counting over nBlocks blocks of `type` (the types whose table row says wasmFusedScan: 'codes'). */
export function countedSecondPass(type: i32, src: usize, nBlocks: i32, hist: usize): void {
  switch (type) {
    case TYPE_Q4_K: q4kSecondPass(src, nBlocks, hist); break;
    case TYPE_IQ4_XS: iq4xsSecondPass(src, nBlocks, hist); break;
  }
}

// ------------------------------------------------------------------------------ decoded weight by weight
// Pass 2 of the types with too many codes per sub-block to count (Q8_0, Q6_K), and pass 1 of a fused type without
// a pass from the codes: each piece of blocks is decoded (decode.ts) into a scratch buffer that stays in the L1
// cache and scanned by the float32 loops, in the generic path's order (so the results are identical to it).

const SCRATCH_WEIGHTS = 4096;
const scratch = memory.data(SCRATCH_WEIGHTS * 4, 16);

/** Adds 1 to the histogram counters at `at` (binAddresses) of four weights. */
@inline
function countWeights(at: v128): void {
  const p0 = <usize>i32x4.extract_lane(at, 0);
  const p1 = <usize>i32x4.extract_lane(at, 1);
  const p2 = <usize>i32x4.extract_lane(at, 2);
  const p3 = <usize>i32x4.extract_lane(at, 3);
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
  const lanes = laneHistograms(hist, <usize>(bLast + 1) << 2);
  const exactOnly = bExactOnly;
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
    let b0 = binBelow(t0);
    let b1 = binBelow(t1);
    let b2 = binBelow(t2);
    let b3 = binBelow(t3);
    const edge = v128.or(v128.or(f32x4.ne(b0, binAbove(t0)), f32x4.ne(b1, binAbove(t1))), v128.or(f32x4.ne(b2, binAbove(t2)), f32x4.ne(b3, binAbove(t3))));
    if (exactOnly || v128.any_true(edge)) {
      exactSubBlockBinsOutOfLine(v0, v1, v2, v3);
      b0 = v128.load(exactBins16);
      b1 = v128.load(exactBins16 + 16);
      b2 = v128.load(exactBins16 + 32);
      b3 = v128.load(exactBins16 + 48);
    }
    countWeights(binAddresses(b0, lanes));
    countWeights(binAddresses(b1, lanes));
    countWeights(binAddresses(b2, lanes));
    countWeights(binAddresses(b3, lanes));
  }
}

/**
 * Pass 1 over nBlocks (< 2^20) blocks of `type` (a type with a wasmFusedScan in the table): the results of
 * firstPassF32 over the decoded values, from the codes for Q8_0 and IQ4_XS (codeFirstPass), else by decoding.
 */
export function blocksFirstPass(type: i32, src: usize, nBlocks: i32, blockBytes: i32, blockWeights: i32, min0: f32, max0: f32): i32 {
  switch (type) {
    case TYPE_Q8_0: return q80FirstPass(src, nBlocks, min0, max0);
    case TYPE_IQ4_XS: return iq4xsFirstPass(src, nBlocks, min0, max0);
    case TYPE_Q4_K: return q4kFirstPass(src, nBlocks, min0, max0);
    case TYPE_Q6_K: return q6kFirstPass(src, nBlocks, min0, max0);
  }
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

// ------------------------------------------------------------------------------------- pass 1 from the codes
// In Q8_0 and IQ4_XS every weight is an exact float32 product d·s·k: d the block's fp16 scale (md·2^u, md its
// signed 11-bit integer significand, u = max(E, 1) − 25 for its exponent field E), s an integer sub-block scale
// (ls − 32 for IQ4_XS, 1 for Q8_0) and k an integer code value (|md·s·k| ≤ 2047·32·127 < 2^24). So a block adds
// md·Σ s·Σk to Σx in units 2^u and md²·Σ s²·Σk² to Σx² in units 2^2u, exactly, from integer sums of its codes
// (no decode); its extremes are d·s times each sub-block's extreme code values; its zeros those of s = 0 or k = 0.
// A non-finite d makes a value NaN or infinite (d·0 or d·s·k): then the caller takes its careful path, as after
// firstPassF32.

/** Per unit 2^u (u = −24..6, at u + 24): Σx in units 2^u, and Σx² in units 2^2u as its high and low 32 bits (int64). */
const CODE_SUMS_BYTES: usize = 24;
const codeSums = memory.data(<i32>(31 * CODE_SUMS_BYTES), 16);

/** Adds sum (|sum| < 2^32) to Σx in units 2^u and sq (0 ≤ sq < 2^56) to Σx² in units 2^2u. */
@inline
function addUnitSums(u: i32, sum: i64, sq: i64): void {
  const at = codeSums + <usize>(u + 24) * CODE_SUMS_BYTES;
  store<i64>(at, load<i64>(at) + sum);
  store<i64>(at + 8, load<i64>(at + 8) + (sq >>> 32));
  store<i64>(at + 16, load<i64>(at + 16) + (sq & 0xffffffff));
}

/** The fp16 bits h (finite) as md·2^u, u = max(E, 1) − 25: md, signed. */
@inline
function signedSignificand(h: u32): i64 {
  const md = <i64>((h & 0x3ff) | (h & 0x7c00 ? 0x400 : 0));
  return h & 0x8000 ? -md : md;
}

/** Adds a block with fp16 scale bits h and code sums Σ s·Σk (|.| < 2^21), Σ s²·Σk² (< 2^33). */
@inline
function addCodeSums(h: u32, sumK: i64, sumK2: i64): void {
  const md = signedSignificand(h);
  addUnitSums(max(<i32>((h >> 10) & 0x1f), 1) - 25, md * sumK, md * md * sumK2);
}

// running extremes of the code passes
let cMin: f32 = 0;
let cMax: f32 = 0;

/**
 * Takes x and y into the running extremes. By comparisons, not f32.min and f32.max, whose ordering of NaN and ±0
 * V8 pays for with a longer instruction sequence: no NaN comes here (the scales are finite, every product is far
 * below float32's max), and a zero extreme sends the scan to the careful path (fusedFirstPass), so which zero is
 * kept does not matter.
 */
@inline
function takeValues(x: f32, y: f32): void {
  const lo = x < y ? x : y;
  const hi = x < y ? y : x;
  if (lo < cMin) cMin = lo;
  if (hi > cMax) cMax = hi;
}

/** Starts a pass 1 from the codes (the lane tables too, for the weights that take the per-value path). */
function codesBegin(min0: f32, max0: f32): void {
  firstBegin(min0, max0);
  memory.fill(codeSums, 0, 31 * CODE_SUMS_BYTES);
  cMin = min0;
  cMax = max0;
}

/**
 * Adds the code sums to the totals of float32 exponent u + 150 (whose unit is 2^u), with what the per-value path
 * added, and publishes the results. Exact for fewer than 2^21 additions: every total stays below 2^53.
 */
function codeSumsEnd(zeros: i32): i32 {
  flushLaneBins();
  for (let i = 0; i < 31; i++) {
    const at = codeSums + <usize>i * CODE_SUMS_BYTES;
    const t = totals + <usize>(i - 24 + 150) * TOTAL_BYTES;
    store<f64>(t, load<f64>(t) + <f64>load<i64>(at));
    store<f64>(t + 8, load<f64>(t + 8) + <f64>load<i64>(at + 8));
    store<f64>(t + 16, load<f64>(t + 16) + <f64>load<i64>(at + 16));
  }
  const mn = min(min(min(f32x4.extract_lane(fMin, 0), f32x4.extract_lane(fMin, 1)), min(f32x4.extract_lane(fMin, 2), f32x4.extract_lane(fMin, 3))), cMin);
  const mx = max(max(max(f32x4.extract_lane(fMax, 0), f32x4.extract_lane(fMax, 1)), max(f32x4.extract_lane(fMax, 2), f32x4.extract_lane(fMax, 3))), cMax);
  const z = i32x4.extract_lane(fZeros, 0) + i32x4.extract_lane(fZeros, 1) + i32x4.extract_lane(fZeros, 2) + i32x4.extract_lane(fZeros, 3);
  publishTotals(mn, mx, zeros + z);
  return 1;
}

/** Lanes 0, 1 of the result: Σ of the int32 lanes of s and of q. */
@inline
function sumPairs(s: v128, q: v128): v128 {
  const t = i32x4.add(v128.shuffle<i32>(s, q, 0, 1, 4, 5), v128.shuffle<i32>(s, q, 2, 3, 6, 7));
  return i32x4.add(t, v128.shuffle<i32>(t, t, 1, 0, 3, 2));
}

/** Σk (lane 0) and Σk² (lane 2) of the 32 int8 codes a, b. */
@inline
function codeSums32(a: v128, b: v128): v128 {
  const s = i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extadd_pairwise_i8x16_s(a), i16x8.extadd_pairwise_i8x16_s(b)));
  const a0 = i16x8.extend_low_i8x16_s(a);
  const a1 = i16x8.extend_high_i8x16_s(a);
  const b0 = i16x8.extend_low_i8x16_s(b);
  const b1 = i16x8.extend_high_i8x16_s(b);
  const q = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a0, a0), i32x4.dot_i16x8_s(a1, a1)), i32x4.add(i32x4.dot_i16x8_s(b0, b0), i32x4.dot_i16x8_s(b1, b1)));
  return sumPairs(s, q);
}

/** Σk (lane 0) and Σk² (lane 2) of the 16 int8 codes a. */
@inline
function codeSums16(a: v128): v128 {
  const s = i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(a));
  const a0 = i16x8.extend_low_i8x16_s(a);
  const a1 = i16x8.extend_high_i8x16_s(a);
  return sumPairs(s, i32x4.add(i32x4.dot_i16x8_s(a0, a0), i32x4.dot_i16x8_s(a1, a1)));
}

/** The least (lane 0) and minus the greatest (lane 4) of the 32 int8 codes a, b, as int16. */
@inline
function codeRange32(a: v128, b: v128): v128 {
  const lo = i8x16.min_s(a, b);
  const hi = i8x16.max_s(a, b);
  const mins = i16x8.min_s(i16x8.extend_low_i8x16_s(lo), i16x8.extend_high_i8x16_s(lo));
  const negMaxes = i16x8.min_s(i16x8.neg(i16x8.extend_low_i8x16_s(hi)), i16x8.neg(i16x8.extend_high_i8x16_s(hi)));
  let r = i16x8.min_s(v128.shuffle<i16>(mins, negMaxes, 0, 1, 2, 3, 8, 9, 10, 11), v128.shuffle<i16>(mins, negMaxes, 4, 5, 6, 7, 12, 13, 14, 15));
  r = i16x8.min_s(r, v128.shuffle<i16>(r, r, 2, 3, 0, 1, 6, 7, 4, 5));
  return i16x8.min_s(r, v128.shuffle<i16>(r, r, 1, 0, 3, 2, 5, 4, 7, 6));
}

/** Takes the values f·k of the codes k in [kLo, kHi] (f·k exact) into the running extremes. */
@inline
function takeExtremes(f: f32, range: v128): void {
  const x = f * <f32>i16x8.extract_lane_s(range, 0);
  const y = -f * <f32>i16x8.extract_lane_s(range, 4);
  takeValues(x, y);
}

/** Pass 1 over Q8_0 blocks from their codes (w = d·q). */
function q80FirstPass(src: usize, nBlocks: i32, min0: f32, max0: f32): i32 {
  codesBegin(min0, max0);
  let zeros = 0;
  const zero = i8x16.splat(0);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * Q8_0_BYTES;
    const h = <u32>load<u16>(o + Q8_0_D);
    if ((h & 0x7c00) == 0x7c00) return 0;
    const a = v128.load(o + Q8_0_QS);
    const b = v128.load(o + Q8_0_QS + 16);
    const sums = codeSums32(a, b);
    addCodeSums(h, <i64>i32x4.extract_lane(sums, 0), <i64>i32x4.extract_lane(sums, 2));
    takeExtremes(halfToFloat(h), codeRange32(a, b));
    zeros += h & 0x7fff ? popcnt(i8x16.bitmask(i8x16.eq(a, zero)) | (i8x16.bitmask(i8x16.eq(b, zero)) << 16)) : 32;
  }
  return codeSumsEnd(zeros);
}

/** Pass 1 over IQ4_XS blocks from their codes (w = (d·(ls − 32))·level[q]; no level is 0). */
function iq4xsFirstPass(src: usize, nBlocks: i32, min0: f32, max0: f32): i32 {
  const levels = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const m4 = i8x16.splat(0xf);
  codesBegin(min0, max0);
  let zeros = 0;
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * IQ4_XS_BYTES;
    const h = <u32>load<u16>(o + IQ4_XS_D);
    if ((h & 0x7c00) == 0x7c00) return 0;
    const d = halfToFloat(h);
    let sumK: i64 = 0;
    let sumK2: i64 = 0;
    let zeroScales = 0;
    for (let ib = 0; ib < 8; ib++) {
      const s = iq4xsScale(o, ib) - 32;
      const a = v128.load(o + IQ4_XS_QS + 16 * ib);
      const ka = i8x16.swizzle(levels, v128.and(a, m4));
      const kb = i8x16.swizzle(levels, i8x16.shr_u(a, 4));
      const sums = codeSums32(ka, kb);
      sumK += <i64>(s * i32x4.extract_lane(sums, 0));
      sumK2 += <i64>(s * s) * <i64>i32x4.extract_lane(sums, 2);
      takeExtremes(d * <f32>s, codeRange32(ka, kb));
      if (s == 0) zeroScales++;
    }
    addCodeSums(h, sumK, sumK2);
    zeros += h & 0x7fff ? 32 * zeroScales : 256;
  }
  return codeSumsEnd(zeros);
}

// Σ sc·Σk and Σ sc²·Σk² of the Q6_K block being summed
let q6kSumK: i64 = 0;
let q6kSumK2: i64 = 0;

/** Adds a Q6_K group of 16 weights (codes k = q − 32, scale sc) to the block's sums and the extremes; its zeros. */
@inline
function q6kGroup(k: v128, d: f32, sc: i32): i32 {
  const sums = codeSums16(k);
  q6kSumK += <i64>(sc * i32x4.extract_lane(sums, 0));
  q6kSumK2 += <i64>(sc * sc) * <i64>i32x4.extract_lane(sums, 2);
  takeExtremes(d * <f32>sc, codeRange32(k, k));
  return sc ? popcnt(i8x16.bitmask(i8x16.eq(k, i8x16.splat(0)))) : 16;
}

/** Pass 1 over Q6_K blocks from their codes (w = (d·sc)·(q − 32), the groups of 16 as decodeQ6K reads them). */
function q6kFirstPass(src: usize, nBlocks: i32, min0: f32, max0: f32): i32 {
  codesBegin(min0, max0);
  let zeros = 0;
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * Q6_K_BYTES;
    const h = <u32>load<u16>(o + Q6_K_D);
    if ((h & 0x7c00) == 0x7c00) return 0;
    const d = halfToFloat(h);
    q6kSumK = 0;
    q6kSumK2 = 0;
    let z = 0;
    for (let n = 0; n < 2; n++) {
      const ql = o + Q6_K_QL + 64 * n;
      const qh = o + Q6_K_QH + 32 * n;
      const sc = o + Q6_K_SCALES + 8 * n;
      for (let is = 0; is < 2; is++) {
        const l = 16 * is;
        const a = v128.load(ql + l);
        const b = v128.load(ql + l + 32);
        const hb = v128.load(qh + l);
        for (let g = 0; g < 4; g++) z += q6kGroup(q6kCodes(a, b, hb, g), d, <i32>load<i8>(sc + is + 2 * g));
      }
    }
    addCodeSums(h, q6kSumK, q6kSumK2);
    zeros += h & 0x7fff ? z : 256;
  }
  return codeSumsEnd(zeros);
}

/** Σx, Σx² and zeros of a Q4_K sub-block: see q4kFirstPass. */
@inline
function q4kSubBlock(qa: v128, qb: v128, d: f32, dmin: f32, sm: i32, md: i64, mm: i64, u: i32): i32 {
  const sc = sm & 0xff;
  const m = sm >> 8;
  const d1 = d * <f32>sc;
  const m1 = dmin * <f32>m;
  const range = codeRange32(qa, qb);
  const x = d1 * <f32>i16x8.extract_lane_s(range, 0) - m1;
  const y = d1 * <f32>(-i16x8.extract_lane_s(range, 4)) - m1;
  takeValues(x, y);
  const a = md * <i64>sc;
  const b = mm * <i64>m;
  const top = 15 * a - b;
  if (b < -0xffffff || b > 0xffffff || top < -0xffffff || top > 0xffffff) {
    // a rounded difference: these 32 weights go through the per-value path
    storeAffine16(scratch, qa, f32x4.splat(d1), f32x4.splat(m1));
    storeAffine16(scratch + 64, qb, f32x4.splat(d1), f32x4.splat(m1));
    firstCore(scratch, 32);
    return 0;
  }
  const sums = codeSums32(qa, qb);
  const sumQ = <i64>i32x4.extract_lane(sums, 0);
  addUnitSums(u, a * sumQ - 32 * b, a * a * <i64>i32x4.extract_lane(sums, 2) - 2 * a * b * sumQ + 32 * b * b);
  // a weight is 0 where a·q = b
  if (a == 0) return b == 0 ? 32 : 0;
  const q0 = <f64>b / <f64>a; // an integer only when a divides b (|a|, |b| < 2^26)
  if (!(q0 >= 0 && q0 <= 15 && q0 == Math.floor(q0))) return 0;
  const c = i8x16.splat(<i8>q0);
  return popcnt(i8x16.bitmask(i8x16.eq(qa, c)) | (i8x16.bitmask(i8x16.eq(qb, c)) << 16));
}

/**
 * Pass 1 over Q4_K blocks from their codes. A weight is fl(d1·q − m1) with d1 = d·sc and m1 = dmin·m exact: in
 * units 2^u (u the smaller of d's and dmin's), d1 = a·2^u and m1 = b·2^u for integers a, b, so where |b| and
 * |15a − b| are below 2^24 every difference a·q − b is exact and the sub-block adds a·Σq − 32b to Σx and
 * a²·Σq² − 2ab·Σq + 32b² to Σx²; other sub-blocks (d and dmin binades apart) are decoded and summed value by value.
 */
function q4kFirstPass(src: usize, nBlocks: i32, min0: f32, max0: f32): i32 {
  const m4 = i8x16.splat(0xf);
  codesBegin(min0, max0);
  let zeros = 0;
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * Q4_K_BYTES;
    const hd = <u32>load<u16>(o + Q4_K_D);
    const hm = <u32>load<u16>(o + Q4_K_DMIN);
    if ((hd & 0x7c00) == 0x7c00 || (hm & 0x7c00) == 0x7c00) return 0;
    const ed = max(<i32>((hd >> 10) & 0x1f), 1) - 25;
    const em = max(<i32>((hm >> 10) & 0x1f), 1) - 25;
    const u = min(ed, em);
    const md = signedSignificand(hd) << <i64>(ed - u);
    const mm = signedSignificand(hm) << <i64>(em - u);
    const d = halfToFloat(hd);
    const dmin = halfToFloat(hm);
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + Q4_K_QS + 32 * j);
      const b = v128.load(o + Q4_K_QS + 16 + 32 * j);
      zeros += q4kSubBlock(v128.and(a, m4), v128.and(b, m4), d, dmin, scaleMin(o + Q4_K_SCALES, 2 * j), md, mm, u);
      zeros += q4kSubBlock(i8x16.shr_u(a, 4), i8x16.shr_u(b, 4), d, dmin, scaleMin(o + Q4_K_SCALES, 2 * j + 1), md, mm, u);
    }
  }
  return codeSumsEnd(zeros);
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
