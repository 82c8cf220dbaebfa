/**
 * "Exact" statistics are exact: on adversarial tensors (±max of BF16 around small values, cancellation, huge
 * dynamic range, subnormals, all-equal values, one value, a large random tensor) mean, std and rms are the
 * correctly rounded float64 of the exact values, which this test computes itself in BigInt fractions over the
 * float64 values. Every path is checked: the WebAssembly float32 kernels, the JavaScript float32 and float64
 * loops, the F16/BF16 pattern counting, and the fused Q8_0 kernel through computeTensorStats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsAccumulator, computeTensorStats, type TensorStats } from '../../src/core/analysis/tensorStats.ts';
import { setWasmEnabled, wasmKernel } from '../../src/core/wasm/kernels.ts';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { rng } from '../helpers/rng.ts';
import { ExactMoments, RepeatedFloat32Moments } from '../../src/core/analysis/exactSum.ts';

// ------------------------------------------------------------------ exact rational reference (this test's own)

const view = new DataView(new ArrayBuffer(8));

/** A finite float64 x as the integer x · 2^1074. */
function scaled(x: number): bigint {
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = exp === 0 ? frac : frac | (1n << 52n);
  const v = m << BigInt(Math.max(exp, 1) - 1);
  return bits >> 63n ? -v : v;
}

function nextUp(x: number): number {
  if (x === 0) return 5e-324;
  view.setFloat64(0, x);
  view.setBigInt64(0, view.getBigInt64(0) + (x > 0 ? 1n : -1n));
  return view.getFloat64(0);
}
function nextDown(x: number): number {
  return -nextUp(-x);
}
const abs = (v: bigint) => (v < 0n ? -v : v);

/** Σx·2^1074, Σx²·2^2148 and n of the values. */
function exactSums(values: ArrayLike<number>) {
  let s1 = 0n;
  let s2 = 0n;
  for (let i = 0; i < values.length; i++) {
    const v = scaled(values[i]);
    s1 += v;
    s2 += v * v;
  }
  return { s1, s2, n: BigInt(values.length) };
}

/** Asserts that m is a float64 nearest to num / den (den > 0), both scaled by 2^1074 (so m·2^1074 is an integer). */
function assertNearest(what: string, m: number, num: bigint, den: bigint): void {
  const err = (x: number) => abs(scaled(x) * den - num);
  assert.ok(
    err(m) <= err(nextUp(m)) && err(m) <= err(nextDown(m)),
    `${what}: ${m} is not the nearest float64 (neighbours ${nextDown(m)}, ${nextUp(m)})`,
  );
}

/** Asserts that r is a float64 nearest to √(num / den) (num ≥ 0 scaled by 2^2148, den > 0). */
function assertNearestSqrt(what: string, r: number, num: bigint, den: bigint): void {
  // r is nearest iff the midpoints to its neighbours bracket the root: ((r⁻ + r)/2)² ≤ num/den ≤ ((r + r⁺)/2)²;
  // midpoints times 2^1075 are integers, their squares times 2^2150 (= num · 4 · 2^2148 scale)
  const lo = scaled(r) + scaled(Math.max(0, nextDown(r)));
  const hi = scaled(r) + scaled(nextUp(r));
  const target = num * 4n;
  assert.ok(lo * lo * den <= target * 1n && target <= hi * hi * den, `${what}: ${r} is not the nearest float64 to the root`);
}

function assertExact(label: string, got: TensorStats, values: ArrayLike<number>): void {
  const { s1, s2, n } = exactSums(values);
  assert.equal(got.finite_count, values.length, `${label}: finite count`);
  assertNearest(`${label} mean`, got.mean, s1, n);
  assertNearestSqrt(`${label} rms`, got.rms, s2, n);
  assertNearestSqrt(`${label} std`, got.std, n * s2 - s1 * s1, n * n);
}

// ------------------------------------------------------------------ adversarial tensors

const r = rng(11);
const BF16_MAX = 3.3895313892515355e38; // 0x7f7f
const F32_MAX = 3.4028234663852886e38;
const bf16 = (x: number) => {
  view.setFloat32(0, x);
  view.setUint16(2, 0); // truncate to bfloat16
  return view.getFloat32(0);
};

/** The case: +max and −max of BF16 with small negative values between (true mean −0.049). */
const bf16Extremes = Float32Array.from({ length: 4096 }, (_, i) => (i === 0 ? BF16_MAX : i === 4095 ? -BF16_MAX : bf16(-0.098 * r())));

const TENSORS: Record<string, Float32Array> = {
  'BF16 ±max with small values between': bf16Extremes,
  'cancellation (1e30, small, −1e30 repeated)': Float32Array.from({ length: 3000 }, (_, i) => [1e30, 1 + r(), -1e30][i % 3]),
  'huge dynamic range (2^-149 .. float32 max, both signs)': Float32Array.from({ length: 5003 }, (_, i) =>
    i === 0 ? F32_MAX : i === 1 ? -F32_MAX : (r() < 0.5 ? -1 : 1) * Math.fround(2 ** (-149 + Math.floor(r() * 277)) * (1 + r())),
  ),
  'subnormals only': Float32Array.from({ length: 2049 }, () => Math.fround((r() - 0.5) * 2 ** -126)),
  'all equal (0.1f)': new Float32Array(10000).fill(0.1),
  'one value': Float32Array.of(-7.25),
  'random, 2^17 + 3 values': Float32Array.from({ length: (1 << 17) + 3 }, () => Math.fround((r() - 0.5) * 2 ** Math.floor(r() * 40 - 20))),
};

function statsOf(values: Float32Array | Float64Array): TensorStats {
  const acc = new StatsAccumulator(16);
  acc.addFirstPass(values);
  acc.addSecondPass(values);
  return acc.result();
}

test('kernels loaded (the WebAssembly paths must run)', () => {
  assert.ok(wasmKernel(), 'dist/kernels.wasm loads (node scripts/build-wasm.mjs)');
});

test("the issue's BF16 tensor: mean is −0.049, not 0", () => {
  const mean = statsOf(bf16Extremes).mean;
  assert.ok(mean < -0.04 && mean > -0.06, `mean ${mean}`);
});

for (const [name, values] of Object.entries(TENSORS)) {
  test(`${name}: mean, std and rms correctly rounded on every path`, async () => {
    assertExact('WebAssembly float32', statsOf(values), values);
    setWasmEnabled(false);
    try {
      assertExact('JavaScript float32', statsOf(values), values);
      assertExact('JavaScript float64', statsOf(Float64Array.from(values)), values);
    } finally {
      setWasmEnabled(true);
    }
    // the same values in an F32 tensor, and where they fit exactly, BF16 (pattern counting)
    const data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    assertExact('F32 tensor', await tensorStats(0, values.length, data), values);
    if (values.every((x) => bf16(x) === x)) {
      const bits = new Uint32Array(data.buffer);
      const half = Uint16Array.from(bits, (b) => b >>> 16);
      assertExact('BF16 tensor', await tensorStats(30, values.length, new Uint8Array(half.buffer)), values);
    }
  });
}

test("float64 values over the whole double range (subnormal to 1.7e308, sums beyond float64's range): exact", () => {
  const extremes = [1.7e308, -1.7e308, 1e308, 1e-310, -5e-324, 2 ** 500, -(2 ** -500), 0];
  const values = Float64Array.from({ length: 3001 }, (_, i) =>
    i < extremes.length ? extremes[i] : (r() - 0.5) * 10 ** Math.floor(r() * 600 - 300),
  );
  assertExact('JavaScript float64', statsOf(values), values);
});

async function tensorStats(ggmlTypeId: number, n: number, data: Uint8Array, options = {}): Promise<TensorStats> {
  const file = buildGgufFile(
    [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
    [{ name: 't', shape: [n], ggmlTypeId, nbytes: data.length, data }],
  );
  const model = await openModelFromSource(new MemoryByteSource(file));
  // chunks of 40000 values: sums carried across chunks (and a partial last chunk)
  return computeTensorStats(model, model.tensors[0], { bins: 16, chunkElements: 40000, ...options });
}

/** binary16 bits -> value (this test's own decoding). */
function half(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  return (h & 0x8000 ? -1 : 1) * (e ? (1024 + m) * 2 ** (e - 25) : m * 2 ** -24);
}

test('Q8_0 (fused WebAssembly kernel): ±65504·127 blocks around small blocks, exact; F16 pattern counting too', async () => {
  const blocks = 2048;
  const raw = new Uint8Array(blocks * 34);
  const values = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    const d = b === 0 || b === blocks - 1 ? 0x7bff : 0x1000 + Math.floor(r() * 0x1000); // 65504, or small
    raw[b * 34] = d & 0xff;
    raw[b * 34 + 1] = d >> 8;
    for (let j = 0; j < 32; j++) {
      const q = b === 0 ? 127 : b === blocks - 1 ? -127 : Math.floor(r() * 255) - 127;
      raw[b * 34 + 2 + j] = q & 0xff;
      values[b * 32 + j] = Math.fround(half(d) * q);
    }
  }
  assertExact('Q8_0 tensor', await tensorStats(8, values.length, raw), values);
  assertExact('Q8_0 tensor, generic path', await tensorStats(8, values.length, raw, { generic: true }), values);
  const halves = Uint16Array.from({ length: 70000 }, (_, i) =>
    i === 0 ? 0x7bff : i === 1 ? 0xfbff : Math.floor(r() * 0x7c00) | (r() < 0.6 ? 0x8000 : 0),
  );
  assertExact('F16 tensor', await tensorStats(1, halves.length, new Uint8Array(halves.buffer)), Array.from(halves, half));
});

/** Asserts that moments hold Σn·x and Σn·x² of the values x with their counts n (mean, std and rms correctly rounded). */
function assertCountedMoments(label: string, moments: ExactMoments, values: ArrayLike<number>, counts: ArrayLike<number>): void {
  let s1 = 0n;
  let s2 = 0n;
  let n = 0n;
  for (let i = 0; i < values.length; i++) {
    const v = scaled(values[i]);
    s1 += v * BigInt(counts[i]);
    s2 += v * v * BigInt(counts[i]);
    n += BigInt(counts[i]);
  }
  const got = moments.results(Number(n));
  assertNearest(`${label}mean`, got.mean, s1, n);
  assertNearestSqrt(`${label}rms`, got.rms, s2, n);
  assertNearestSqrt(`${label}std`, got.std, n * s2 - s1 * s1, n * n);
}

test('RepeatedFloat32Moments (float32 values with counts): Σn·x and Σn·x² exact', () => {
  // more values than one batch (4096) and than one bin fold would take unchecked; exponents from subnormal to
  // near float32's max, signs mixed, counts 1 to 2^28 (the binned path) and above (added as expansion sums)
  const f = new Float32Array(1);
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < 20000; i++) {
    f[0] = (r() - 0.5) * 2 ** Math.floor(r() * 250 - 140);
    values.push(f[0]);
    counts.push(i % 997 === 0 ? 2 ** 29 + (i % 5) : 1 + Math.floor(r() * (i % 3 === 0 ? 2 ** 28 : 4096)));
  }
  values.push(0, -0, 1.401298464324817e-45, -F32_MAX, F32_MAX);
  counts.push(7, 9, 3, 2, 2);
  const moments = new ExactMoments();
  const repeated = new RepeatedFloat32Moments(moments);
  values.forEach((x, i) => repeated.add(x, counts[i]));
  repeated.flush();
  assertCountedMoments('', moments, values, counts);
});

test('RepeatedFloat32Moments.addRun (a run of values within 2^11 of each other, as one exact integer sum): exact', () => {
  const f = new Float32Array(1);
  for (const [lowExp, span] of [
    [-149, 11], // subnormals and the smallest normals
    [-130, 11], // across the subnormal boundary
    [-10, 7], // an LLM.int8 row: codes up to 127 times one scale
    [116.9, 11], // up to float32's max
  ]) {
    const values = new Float32Array(256);
    const counts = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      f[0] = (r() < 0.5 ? -1 : 1) * 2 ** (lowExp + r() * span);
      values[i] = i % 17 === 0 ? (i % 2 ? 0 : -0) : f[0];
      counts[i] = 1 + Math.floor(r() * 500);
    }
    let minAbs = Infinity;
    let maxAbs = 0;
    let total = 0;
    for (let i = 0; i < 256; i++)
      if (values[i] !== 0) {
        minAbs = Math.min(minAbs, Math.abs(values[i]));
        maxAbs = Math.max(maxAbs, Math.abs(values[i]));
        total += counts[i];
      }
    const moments = new ExactMoments();
    const added = new RepeatedFloat32Moments(moments).addRun(values, counts, 0, 256, minAbs, maxAbs, total);
    assert.ok(added, `2^${lowExp}, ${span} binades: taken`);
    assertCountedMoments(`2^${lowExp} `, moments, values, counts);
  }
  // too wide a run, or too many values in it: refused, nothing added
  const moments = new ExactMoments();
  const sums = new RepeatedFloat32Moments(moments);
  assert.equal(sums.addRun(new Float32Array([1, 2 ** 13]), new Int32Array([1, 1]), 0, 2, 1, 2 ** 13, 2), false);
  assert.equal(sums.addRun(new Float32Array([1, 2]), new Int32Array([2 ** 16, 2 ** 16]), 0, 2, 1, 2, 2 ** 17), false);
  assert.equal(moments.results(0).mean, NaN);
});
