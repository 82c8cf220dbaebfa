/**
 * Exact sums for the "exact" statistics: Σx and Σx² kept without rounding, and mean, std and rms rounded once,
 * correctly, from them.
 *
 * - ExactSum: Shewchuk's nonoverlapping expansion (the algorithm of Python's math.fsum) of float64 terms; terms
 *   too large for it (|x| ≥ 2^960, where a partial sum could overflow) and squares outside float64's exact range go
 *   to a BigInt side sum. Every sum is exact.
 * - Float32 values are summed faster through exponent bins, four float64 per exponent field (Σx, and Σx² as its
 *   high and low parts): the WebAssembly kernels (src/core/wasm/assembly/stats.ts) sum the integer significands
 *   and their squares in int64 and hand the bins over (addBins); they are then folded into ExactSums. Float32
 *   values the kernels do not take go through the float64 bins (addFloat64Bins), exact as well.
 * - The results come from BigInt arithmetic on the exact sums: mean = Σx / n, rms = √(Σx² / n) and
 *   std = √((n·Σx² − (Σx)²) / n²) (the exact Σ(x − mean)² over n, with the exact mean), each correctly rounded
 *   to float64 (round to nearest, ties to even).
 */

/** Scale of the BigInt form of Σx (every float64 is an integer multiple of 2^-1074). */
const SUM_SCALE = 1074n;
/** Scale of the BigInt form of Σx² (squares of float64 are multiples of 2^-2148). */
const SQUARE_SCALE = 2148n;
/** Terms at or above this magnitude go to the BigInt side sum (a partial sum of the expansion stays finite). */
const HUGE = 2 ** 960;
/** Squares of values in [SQUARE_LO, SQUARE_HI] are split exactly into two float64 (Dekker's product). */
export const SQUARE_LO = 2 ** -480;
export const SQUARE_HI = 2 ** 480;
const SPLITTER = 2 ** 27 + 1;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** x (finite) as the integer x · 2^scale. */
function scaledBigInt(x: number, scale: bigint): bigint {
  if (x === 0) return 0n;
  f64[0] = x;
  const hi = u32[1];
  const exp = (hi >>> 20) & 0x7ff;
  const mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(u32[0]);
  const m = exp === 0 ? mant : mant | (1n << 52n);
  const shift = BigInt(Math.max(exp, 1) - 1075) + scale;
  const v = shift >= 0n ? m << shift : m >> -shift; // scale is large enough that no bits are shifted out
  return hi >>> 31 ? -v : v;
}

/** An ExactSum as structured-cloneable data: its nonoverlapping partials and its BigInt side sum. */
export interface ExactSumState {
  parts: number[];
  side: bigint;
}

/** An exact sum of float64 terms. */
export class ExactSum {
  /** Nonoverlapping partials parts[0 .. size), increasing in magnitude. */
  private parts = new Float64Array(8);
  private size = 0;
  /** The terms that did not fit the expansion, times 2^scale. */
  private side = 0n;

  constructor(private readonly scale: bigint = SUM_SCALE) {}

  /** Adds a finite x exactly. */
  add(x: number): void {
    if (x === 0) return;
    if (!(Math.abs(x) < HUGE)) {
      this.side += scaledBigInt(x, this.scale);
      return;
    }
    const parts = this.parts;
    const size = this.size;
    let i = 0;
    for (let j = 0; j < size; j++) {
      let y = parts[j];
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) parts[i++] = lo;
      x = hi;
    }
    if (i === parts.length) {
      this.parts = new Float64Array(2 * i);
      this.parts.set(parts);
    }
    this.parts[i] = x;
    this.size = i + 1;
  }

  /**
   * Adds a·b exactly, for |a|, |b| < 2^960 and a product that is a multiple of 2^-scale (the products used are
   * a value times a count, and a square times a count).
   */
  addProduct(a: number, b: number): void {
    if (a === 0 || b === 0) return;
    const p = a * b;
    if (!(Math.abs(p) < HUGE) || Math.abs(p) < 2 ** -900) {
      // beyond the split's range: the exact product in BigInt (a·b·2^2148, shifted to this scale without loss)
      this.side += (scaledBigInt(a, SUM_SCALE) * scaledBigInt(b, SUM_SCALE)) >> (2n * SUM_SCALE - this.scale);
      return;
    }
    this.add(p);
    this.add(productError(a, b, p));
  }

  /** Adds x² exactly (the accumulator must have SQUARE_SCALE). */
  addSquare(x: number): void {
    const ax = Math.abs(x);
    if (ax >= SQUARE_LO && ax <= SQUARE_HI) {
      const p = x * x;
      this.add(p);
      this.add(productError(x, x, p));
    } else if (x !== 0) {
      const s = scaledBigInt(x, SUM_SCALE);
      this.side += s * s;
    }
  }

  /** Adds an integer that is already a value times 2^scale. */
  addScaled(v: bigint): void {
    this.side += v;
  }

  addSum(other: ExactSum): void {
    for (let j = 0; j < other.size; j++) this.add(other.parts[j]);
    this.side += other.side;
  }

  /** The sum as plain data (a worker's share of a split scan crosses threads so): addState adds it back exactly. */
  state(): ExactSumState {
    return { parts: Array.from(this.parts.subarray(0, this.size)), side: this.side };
  }

  addState(other: ExactSumState): void {
    for (const p of other.parts) this.add(p);
    this.side += other.side;
  }

  /** The sum times 2^scale, as an integer. */
  toBigInt(): bigint {
    let v = this.side;
    for (let j = 0; j < this.size; j++) v += scaledBigInt(this.parts[j], this.scale);
    return v;
  }
}

/** The rounding error of p = fl(a·b): a·b − p exactly (Dekker's product with Veltkamp's split). */
function productError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return al * bl - (p - ah * bh - al * bh - ah * bl);
}

export interface ExactMomentsState {
  sum: ExactSumState;
  sumSq: ExactSumState;
}

/** Σx and Σx² of the finite values added, exactly. */
export class ExactMoments {
  readonly sum = new ExactSum(SUM_SCALE);
  readonly sumSq = new ExactSum(SQUARE_SCALE);

  add(x: number): void {
    this.sum.add(x);
    this.sumSq.addSquare(x);
  }

  /** Adds `count` copies of x. */
  addRepeated(x: number, count: number): void {
    this.sum.addProduct(x, count);
    const ax = Math.abs(x);
    if (ax >= SQUARE_LO && ax <= SQUARE_HI) {
      const p = x * x;
      this.sumSq.addProduct(p, count);
      this.sumSq.addProduct(productError(x, x, p), count);
    } else if (x !== 0) {
      const s = scaledBigInt(x, SUM_SCALE);
      this.sumSq.addScaled(s * s * BigInt(count));
    }
  }

  /**
   * Folds in exponent bins: EXPONENT_BINS float64, four per exponent field, the first its Σx and the other three
   * adding up to its Σx² (see the file comment), each an exact float64.
   */
  addBins(bins: Float64Array): void {
    for (let j = 0; j < EXPONENT_BINS; j += 4) {
      if (bins[j + 1] === 0 && bins[j + 2] === 0 && bins[j + 3] === 0) continue; // only zeros (or nothing) here
      this.sum.add(bins[j]);
      this.sumSq.add(bins[j + 1]);
      this.sumSq.add(bins[j + 2]);
      this.sumSq.add(bins[j + 3]);
    }
  }

  /** Folds in the float64 bins of addFloat64Bins (DOUBLE_BINS exact float64 each for Σx and for Σx²). */
  addDoubleBins(sumBins: Float64Array, squareBins: Float64Array): void {
    for (let j = 0; j < DOUBLE_BINS; j++) {
      if (sumBins[j] !== 0) this.sum.add(sumBins[j]);
      if (squareBins[j] !== 0) this.sumSq.add(squareBins[j]);
    }
  }

  state(): ExactMomentsState {
    return { sum: this.sum.state(), sumSq: this.sumSq.state() };
  }

  addState(other: ExactMomentsState): void {
    this.sum.addState(other.sum);
    this.sumSq.addState(other.sumSq);
  }

  addMoments(other: ExactMoments): void {
    this.sum.addSum(other.sum);
    this.sumSq.addSum(other.sumSq);
  }

  /** mean, std and rms of n values, each the correctly rounded float64 (NaN for n = 0). */
  results(n: number): { mean: number; std: number; rms: number } {
    if (n === 0) return { mean: NaN, std: NaN, rms: NaN };
    const s1 = this.sum.toBigInt(); // Σx · 2^1074
    const s2 = this.sumSq.toBigInt(); // Σx² · 2^2148
    const bn = BigInt(n);
    const unit = 1n << SQUARE_SCALE;
    return {
      mean: ratioToNumber(s1, bn << SUM_SCALE),
      std: sqrtRatioToNumber(bn * s2 - s1 * s1, bn * bn * unit),
      rms: sqrtRatioToNumber(s2, bn * unit),
    };
  }
}

/** 4 float64 sums for each of the 256 float32 exponent fields. */
export const EXPONENT_BINS = 1024;

/** The number of bits of v > 0. */
/** 2 float64 (the top 26 and the low 27 significand bits) for each of the 2048 float64 exponent fields. */
export const DOUBLE_BINS = 4096;

/** ±2^(max(e, 1) − 1075) by sign and exponent field: the unit of a float64's last significand bit. */
const LAST_BIT_64 = Float64Array.from({ length: 4096 }, (_, k) => (k & 2048 ? -1 : 1) * 2 ** (Math.max(k & 2047, 1) - 1075));

/**
 * Adds d (given with its high and low 32-bit words, |d| < 2^960) to the bins of its exponent field: its top 26
 * significand bits to the first, the low 27 to the second. Within one exponent the first are multiples of one
 * power of two and below 2^26 of it, the second below 2^27: each bin is exact for 2^26 additions.
 */
function addToDoubleBins(bins: Float64Array, high: number, low: number, d: number): void {
  const k = high >>> 20;
  const lo = (low & 0x7ffffff) * LAST_BIT_64[k];
  const j = (k & 2047) << 1;
  bins[j] += d - lo;
  bins[j + 1] += lo;
}

const wordScratch = new Float64Array(1);
const f32Scratch = new Float32Array(1);
const f32Words = new Uint32Array(f32Scratch.buffer);
const words = new Uint32Array(wordScratch.buffer);

/**
 * Adds the finite values of v with SQUARE_LO ≤ |x| ≤ SQUARE_HI to the double bins, x to sumBins and x² (as its
 * float64 product and the product's rounding error) to squareBins; returns how many it skipped (zeros, NaN, ±Inf
 * and values outside that range, which the caller adds itself). v must hold fewer than 2^25 values.
 */
export function addFloat64Bins(v: Float64Array, sumBins: Float64Array, squareBins: Float64Array): number {
  const bits = new Uint32Array(v.buffer, v.byteOffset, 2 * v.length);
  let skipped = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const ax = Math.abs(x);
    if (!(ax >= SQUARE_LO && ax <= SQUARE_HI)) {
      skipped++;
      continue;
    }
    addToDoubleBins(sumBins, bits[2 * i + 1], bits[2 * i], x);
    const p = x * x;
    wordScratch[0] = p;
    addToDoubleBins(squareBins, words[1], words[0], p);
    const e = productError(x, x, p);
    if (e !== 0) {
      wordScratch[0] = e;
      addToDoubleBins(squareBins, words[1], words[0], e);
    }
  }
  return skipped;
}

/** Splits a float64 of at most 48 significant bits (a float32's square) into two of at most 24. */
const SPLITTER_24 = 2 ** 29 + 1;
/** A count times a value of at most 24 significant bits is exact in float64 below this. */
const MAX_BINNED_COUNT = 2 ** 29;

/**
 * Σ n·x and Σ n·x² of finite float32 values x given with their counts n, exact, through the float64 bins: n·x and
 * n·x² (x² exact in float64, split in two 24-bit halves) are each exact float64 terms, so a value with its count
 * costs three bin additions instead of three expansion sums. flush() folds the bins into `into` (it runs on its own
 * before a bin could lose a bit).
 */
export class RepeatedFloat32Moments {
  private readonly sumBins = new Float64Array(DOUBLE_BINS);
  private readonly squareBins = new Float64Array(DOUBLE_BINS);
  private terms = 0;

  constructor(private readonly into: ExactMoments) {}

  /** Adds n copies of a finite float32 value x (n a positive integer). */
  add(x: number, n: number): void {
    if (x === 0) return;
    if (n >= MAX_BINNED_COUNT) {
      this.into.addRepeated(x, n);
      return;
    }
    const p = x * x;
    const t = SPLITTER_24 * p;
    const hi = t - (t - p);
    this.addTerm(this.sumBins, x * n);
    this.addTerm(this.squareBins, hi * n);
    this.addTerm(this.squareBins, (p - hi) * n);
    // each bin is exact for 2^26 additions; a value adds at most two to one square bin
    if (++this.terms === 1 << 25) this.flush();
  }

  /**
   * Adds n·x for the pairs [from, to) of values and counts whose non-zero values are all finite, have magnitudes
   * in [minAbs, maxAbs] and whose counts add up to total; false (nothing added) when the run's values span too
   * many binades or its counts are too large. Every float32 value x there is an integer multiple m·u of the
   * float32 unit u of minAbs's last bit; with |m| < 2^35 and total < 2^17, Σn·m and, with m split as a·2^18 + c,
   * Σn·a², Σn·a·c and Σn·c² are integer sums below 2^53, so plain float64 arithmetic keeps them exact and the run
   * costs four exact additions instead of three bin additions a value.
   */
  addRun(values: Float32Array, counts: Int32Array, from: number, to: number, minAbs: number, maxAbs: number, total: number): boolean {
    f32Scratch[0] = minAbs;
    const u = 2 ** (Math.max((f32Words[0] >>> 23) & 255, 1) - 150);
    const perUnit = 1 / u;
    if (!(maxAbs * perUnit < 2 ** 35) || !(total < 2 ** 17)) return false;
    let sum = 0;
    let a2 = 0;
    let ac = 0;
    let c2 = 0;
    for (let i = from; i < to; i++) {
      const n = counts[i];
      const m = values[i] * perUnit;
      sum += n * m;
      const am = Math.abs(m);
      const a = Math.floor(am * 2 ** -18);
      const c = am - a * 2 ** 18;
      a2 += n * a * a;
      ac += n * a * c;
      c2 += n * c * c;
    }
    const uu = u * u;
    this.into.sum.add(sum * u);
    this.into.sumSq.add(a2 * 2 ** 36 * uu);
    this.into.sumSq.add(ac * 2 ** 19 * uu);
    this.into.sumSq.add(c2 * uu);
    return true;
  }

  private addTerm(bins: Float64Array, d: number): void {
    if (d === 0) return;
    wordScratch[0] = d;
    addToDoubleBins(bins, words[1], words[0], d);
  }

  flush(): void {
    this.into.addDoubleBins(this.sumBins, this.squareBins);
    this.sumBins.fill(0);
    this.squareBins.fill(0);
    this.terms = 0;
  }
}

function bitLength(v: bigint): number {
  return v.toString(2).length;
}

/** floor(log2(p / q)) for p, q > 0. */
function floorLog2Ratio(p: bigint, q: bigint): number {
  const e = bitLength(p) - bitLength(q); // p/q in [2^(e−1), 2^(e+1))
  return (e >= 0 ? p >= q << BigInt(e) : p << BigInt(-e) >= q) ? e : e - 1;
}

/** x · 2^k for an exactly representable result (k may be beyond one power's range). */
function scaleByPow2(x: number, k: number): number {
  while (k > 1000) {
    x *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    x *= 2 ** -1000;
    k += 1000;
  }
  return x * 2 ** k;
}

/** p / q (q > 0) correctly rounded to float64. */
function ratioToNumber(p: bigint, q: bigint): number {
  if (p === 0n) return 0;
  const negative = p < 0n;
  if (negative) p = -p;
  const e = floorLog2Ratio(p, q);
  // 53 significant bits for a normal result, fewer below 2^-1022 (the last bit is then 2^-1074)
  const shift = e >= -1022 ? 52 - e : 1074;
  const num = shift >= 0 ? p << BigInt(shift) : p;
  const den = shift >= 0 ? q : q << BigInt(-shift);
  let m = num / den;
  const twice = 2n * (num - m * den);
  if (twice > den || (twice === den && (m & 1n) === 1n)) m += 1n;
  const r = scaleByPow2(Number(m), -shift);
  return negative ? -r : r;
}

function isqrt(v: bigint): bigint {
  if (v < 2n) return v;
  let x = 1n << BigInt((bitLength(v) >> 1) + 1);
  for (;;) {
    const y = (x + v / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** √(p / q) (p ≥ 0, q > 0) correctly rounded to float64 (for a result in float64's normal range). */
function sqrtRatioToNumber(p: bigint, q: bigint): number {
  if (p <= 0n) return 0;
  // r = floor(√(p/q) · 2^s) with about 56 bits, then one sticky bit below it: Number() rounds correctly
  const s = Math.ceil((112 - (bitLength(p) - bitLength(q))) / 2);
  const num = s >= 0 ? p << BigInt(2 * s) : p;
  const den = s >= 0 ? q : q << BigInt(-2 * s);
  const t = num / den;
  const r = isqrt(t);
  const sticky = r * r !== t || t * den !== num ? 1n : 0n;
  return scaleByPow2(Number((r << 1n) | sticky), -(s + 1));
}
