/** The code-counting fast paths give the generic decode-every-weight path's statistics, on real and adversarial data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { computeTensorStats, type TensorStats } from '../../src/core/analysis/tensorStats.ts';
import { f32ToF16Bits } from '../../src/core/quant/encode.ts';
import { rng } from '../helpers/rng.ts';
import * as wasm from '../../src/core/analysis/wasmStats.ts';
import { setWasmEnabled, wasmKernel } from '../../src/core/wasm/kernels.ts';

function same(fast: TensorStats, generic: TensorStats, what: string): void {
  for (const k of ['count', 'finite_count', 'nan_count', 'posinf_count', 'neginf_count', 'zero_count'] as const)
    assert.equal(fast[k], generic[k], `${what} ${k}`);
  for (const k of ['min', 'max', 'absmax'] as const)
    assert.ok(Object.is(fast[k], generic[k]) || fast[k] === generic[k], `${what} ${k}: ${fast[k]} vs ${generic[k]}`);
  for (const k of ['mean', 'std', 'rms'] as const) {
    const tol = 1e-12 * Math.max(Math.abs(generic[k]), generic.absmax || 0);
    assert.ok(
      Number.isNaN(generic[k]) ? Number.isNaN(fast[k]) : Math.abs(fast[k] - generic[k]) <= tol,
      `${what} ${k}: ${fast[k]} vs ${generic[k]}`,
    );
  }
  assert.deepEqual(fast.histogram, generic.histogram, `${what} histogram`);
}

/**
 * Every fused kernel (Q8_0, Q4_K, Q6_K, IQ4_XS) sums exactly in pass 1 (from the codes, or value by value in exponent
 * bins) and bins exactly in pass 2 (decoding, or counting codes), so its results must be identical to the generic
 * path's, std included.
 */
const FUSED_KERNELS = new Set([8, 12, 14, 23]);

/** The fast path against the generic one (the F16/BF16 count tables: `same`'s tolerance on all sums). */
function checkFused(typeId: number, fast: TensorStats, generic: TensorStats, what: string): void {
  if (FUSED_KERNELS.has(typeId)) return assert.deepEqual(fast, generic, what);
  same(fast, generic, what);
}

/** Compares the fast and generic paths; returns how many fused WebAssembly scans ran. */
async function compareOn(typeId: number, data: Uint8Array, n: number, what: string, bins = 64, chunks = [256, 1 << 20]): Promise<number> {
  const before = wasm.fusedScansDone;
  const file = buildGgufFile(
    [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
    [{ name: 't', shape: [n], ggmlTypeId: typeId, nbytes: data.length, data }],
  );
  const m = await openModelFromSource(new MemoryByteSource(file));
  const t = m.tensors[0];
  for (const chunkElements of chunks) {
    checkFused(
      typeId,
      computeTensorStats(m, t, { bins, chunkElements }),
      computeTensorStats(m, t, { bins, chunkElements, generic: true }),
      `${what} (chunks of ${chunkElements})`,
    );
  }
  return wasm.fusedScansDone - before;
}

const h16 = (x: number) => f32ToF16Bits(x);

test('F16: special values, ±0, subnormals, every bit pattern', async () => {
  const all = new Uint8Array(65536 * 2);
  for (let b = 0; b < 65536; b++) {
    all[2 * b] = b & 0xff;
    all[2 * b + 1] = b >> 8;
  }
  await compareOn(1, all, 65536, 'all f16 patterns');
  const r = rng(1);
  const vals = Array.from({ length: 4096 }, () => (r() - 0.5) * 4);
  vals[7] = -0;
  vals[8] = 0;
  vals[9] = 6e-8;
  const data = new Uint8Array(vals.length * 2);
  vals.forEach((v, i) => {
    const b = h16(v);
    data[2 * i] = b & 0xff;
    data[2 * i + 1] = b >> 8;
  });
  await compareOn(1, data, vals.length, 'random f16', 256);
  // an odd length (the counting kernel's tail), and the JavaScript loop with the kernels off
  await compareOn(1, data.subarray(0, 2 * 4095), 4095, 'random f16, odd length', 256);
  setWasmEnabled(false);
  try {
    await compareOn(1, all, 65536, 'all f16 patterns, JavaScript only');
    await compareOn(1, data.subarray(0, 2 * 4095), 4095, 'random f16, JavaScript only', 256);
  } finally {
    setWasmEnabled(true);
  }
});

test('BF16: every bit pattern', async () => {
  const all = new Uint8Array(65536 * 2);
  for (let b = 0; b < 65536; b++) {
    all[2 * b] = b & 0xff;
    all[2 * b + 1] = b >> 8;
  }
  await compareOn(30, all, 65536, 'all bf16 patterns');
});

test("the WebAssembly kernels give exactly the JavaScript loops' statistics", async () => {
  const { openModel } = await import('../../src/core/formats/openModel.ts');
  const { corpusPath } = await import('../helpers/corpus.ts');
  assert.ok(wasmKernel(), 'dist/kernels.wasm is built and loads');
  for (const file of ['llama-mix-Q4_K_M.gguf', 'llama-tiny-F32.gguf', 'edge-cases.gguf']) {
    const m = await openModel(corpusPath('gguf', file));
    try {
      for (const t of m.tensors) {
        const opts = { bins: 256, chunkElements: 8192, generic: true };
        setWasmEnabled(true);
        const withWasm = computeTensorStats(m, t, opts);
        setWasmEnabled(false);
        const jsOnly = computeTensorStats(m, t, opts);
        assert.deepEqual(withWasm, jsOnly, `${file} ${t.name}`);
      }
    } finally {
      setWasmEnabled(true);
      await m.close();
    }
  }
});

/** The ggml types with a fused WebAssembly kernel: type id, bytes per block, weights per block, where the f16 scales sit. */
const FUSED_TYPES = [
  { name: 'Q4_K', id: 12, bytes: 144, weights: 256, halves: [0, 2] },
  { name: 'IQ4_XS', id: 23, bytes: 136, weights: 256, halves: [0] },
  { name: 'Q8_0', id: 8, bytes: 34, weights: 32, halves: [0] },
  { name: 'Q6_K', id: 14, bytes: 210, weights: 256, halves: [208] },
];

/** Random blocks of a type with finite f16 scales (random sign and magnitude); `edit` may change each block. */
function randomBlocks(
  ty: (typeof FUSED_TYPES)[number],
  nBlocks: number,
  seed: number,
  edit?: (block: Uint8Array, r: () => number) => void,
): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(ty.bytes * nBlocks);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  for (let b = 0; b < nBlocks; b++) {
    const block = out.subarray(b * ty.bytes, (b + 1) * ty.bytes);
    for (const at of ty.halves) {
      const h = h16((r() - 0.5) * 2 ** Math.floor(r() * 12 - 10));
      block[at] = h & 0xff;
      block[at + 1] = h >> 8;
    }
    edit?.(block, r);
  }
  return out;
}

function corpusTile(type: string): Uint8Array {
  const { readFileSync } = require('node:fs');
  const { corpusPath } = require('../helpers/corpus.ts');
  const exp = JSON.parse(readFileSync(corpusPath('gguf', `llama-tiny-${type}.expected.json`), 'utf8'));
  const t = exp.tensors.find((x: any) => x.name === 'blk.0.ffn_down.weight');
  return new Uint8Array(readFileSync(corpusPath('gguf', exp.file))).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
}

for (const ty of FUSED_TYPES) {
  test(`${ty.name} scanned inside the WebAssembly kernels gives the generic statistics (corpus)`, async () => {
    const { openModel } = await import('../../src/core/formats/openModel.ts');
    const { corpusPath } = await import('../helpers/corpus.ts');
    const { readdirSync } = await import('node:fs');
    let seen = 0;
    for (const file of readdirSync(corpusPath('gguf')).filter((f) => f.endsWith('.gguf'))) {
      const m = await openModel(corpusPath('gguf', file));
      try {
        for (const t of m.tensors.filter((x) => x.type.ggmlId === ty.id)) {
          seen++;
          for (const chunkElements of [4096, 1 << 20]) {
            checkFused(
              ty.id,
              computeTensorStats(m, t, { bins: 256, chunkElements }),
              computeTensorStats(m, t, { bins: 256, chunkElements, generic: true }),
              `${file} ${t.name} chunks of ${chunkElements}`,
            );
          }
        }
      } finally {
        await m.close();
      }
    }
    assert.ok(seen > 0, `the corpus has ${ty.name} tensors`);
    // the corpus tensor tiled past what the generic path keeps in memory (pass 2 then streams chunk by chunk)
    const tile = corpusTile(ty.name);
    const tiles = Math.ceil((17 << 20) / ((tile.length / ty.bytes) * ty.weights));
    const big = new Uint8Array(tile.length * tiles);
    for (let i = 0; i < tiles; i++) big.set(tile, i * tile.length);
    assert.equal(
      await compareOn(ty.id, big, (big.length / ty.bytes) * ty.weights, `${ty.name} tiled ×${tiles}`, 64, [1 << 20]),
      1,
      'the fused kernel ran',
    );
  });

  test(`${ty.name} scanned inside the WebAssembly kernels gives the generic statistics (generated blocks)`, async () => {
    const n = 97;
    const put16 = (block: Uint8Array, at: number, x: number) => {
      const h = h16(x);
      block[at] = h & 0xff;
      block[at + 1] = h >> 8;
    };
    assert.equal(await compareOn(ty.id, randomBlocks(ty, n, 1), n * ty.weights, `${ty.name} random`, 256), 2, 'the fused kernel ran');
    assert.equal(
      await compareOn(
        ty.id,
        randomBlocks(ty, n, 2, (b) => ty.halves.forEach((at) => (b[at + 1] |= 0x80))),
        n * ty.weights,
        `${ty.name} negative scales`,
        64,
      ),
      2,
    );
    await compareOn(
      ty.id,
      randomBlocks(ty, n, 3, (b) => put16(b, ty.halves[0], 0)),
      n * ty.weights,
      `${ty.name} zero scale`,
      64,
    );
    await compareOn(
      ty.id,
      randomBlocks(ty, n, 4, (b) => ty.halves.forEach((at) => put16(b, at, 6e-8))),
      n * ty.weights,
      `${ty.name} subnormal scales`,
      64,
    );
    await compareOn(
      ty.id,
      randomBlocks(ty, n, 5, (b) => ty.halves.forEach((at) => put16(b, at, 0))),
      n * ty.weights,
      `${ty.name} all zero`,
      64,
    );
    // a few bins over a small range, so many values fall on bin edges
    await compareOn(
      ty.id,
      randomBlocks(ty, n, 6, (b) => ty.halves.forEach((at) => put16(b, at, 1))),
      n * ty.weights,
      `${ty.name} unit scales`,
      7,
    );
    await compareOn(
      ty.id,
      randomBlocks(ty, n, 7, (b) => ty.halves.forEach((at) => put16(b, at, 1))),
      n * ty.weights,
      `${ty.name} unit scales`,
      15,
    );
    await compareOn(ty.id, randomBlocks(ty, n, 8), n * ty.weights, `${ty.name} random, 1000 bins`, 1000);
    // every block the same: an all-equal tensor when the block's weights are equal
    const one = randomBlocks(ty, 1, 9);
    const same16 = new Uint8Array(ty.bytes * n);
    for (let i = 0; i < n; i++) same16.set(one, i * ty.bytes);
    await compareOn(ty.id, same16, n * ty.weights, `${ty.name} repeated block`, 64);
    // an infinite or NaN scale takes the careful path
    for (const bad of [Infinity, NaN, 65504]) {
      await compareOn(
        ty.id,
        randomBlocks(ty, n, 10, (b, r) => r() < 0.05 && put16(b, ty.halves[0], bad)),
        n * ty.weights,
        `${ty.name} with scale ${bad}`,
        64,
      );
    }
  });
}

test('Q4_K: all-equal sub-blocks (zero scales), a constant tensor', async () => {
  const q4k = FUSED_TYPES.find((t) => t.name === 'Q4_K')!;
  const n = 40;
  // scales bytes 4..15 zero: d1 = 0 for every sub-block, so every weight is −dmin·m with m = 0: all zeros
  await compareOn(
    12,
    randomBlocks(q4k, n, 11, (b) => b.fill(0, 4, 16)),
    n * 256,
    'Q4_K zero sub-block scales and mins',
    64,
  );
  // scales zero, mins 1: every weight is −dmin
  const constant = randomBlocks(q4k, n, 12, (b) => {
    b.fill(0, 4, 16);
    b.fill(1, 8, 12); // mins of sub-blocks 0..3
    b.fill(0x10, 12, 16); // mins of sub-blocks 4..7 (high nibbles)
    b[0] = 0x00;
    b[1] = 0x3c;
    b[2] = 0x00;
    b[3] = 0x3c; // d = dmin = 1
  });
  assert.equal(await compareOn(12, constant, 40 * 256, 'Q4_K constant sub-blocks', 64), 2, 'the fused kernel ran');
});

/**
 * Pass 1 from the codes (Q8_0, IQ4_XS: integer sums of the codes, extremes from each group's extreme codes): the
 * extreme codes in only a few blocks, sub-block scales 0 and −32, ±0 block scales, against the generic path.
 */
test('pass 1 from the codes: extreme codes in a few blocks, zero and negative scales, ±0 scales', async () => {
  const n = 97;
  const q80 = FUSED_TYPES.find((t) => t.name === 'Q8_0')!;
  const iq4xs = FUSED_TYPES.find((t) => t.name === 'IQ4_XS')!;
  for (const [seed, negativeZero] of [
    [20, false],
    [21, true],
  ] as const) {
    const signedZero = negativeZero ? 0x80 : 0;
    // Q8_0: codes within [-100, 100] but in blocks 37, 60 and 61; every 9th scale ±0
    const q8 = randomBlocks(q80, n, seed, (b, r) => {
      for (let i = 2; i < 34; i++) b[i] = (Math.floor(r() * 201) - 100) & 0xff;
      if (r() < 1 / 9) b.set([0, signedZero], 0);
    });
    // the tensor's extremes: 127 times the largest scales, +4 (max) and -4 (min); -128 in block 61
    q8.set([0x00, 0x44], 37 * 34);
    q8[37 * 34 + 2 + 5] = 127;
    q8.set([0x00, 0xc4], 60 * 34);
    q8[60 * 34 + 2 + 31] = 127;
    q8[61 * 34 + 2 + 31] = 0x80;
    assert.equal(await compareOn(8, q8, n * 32, `Q8_0 extreme codes, seed ${seed}`, 256), 2, 'the fused kernel ran');
    // IQ4_XS: codes 1..14 but for code 15 in blocks 11, 80 and code 0 in block 30; sub-block scales ls = 32 (zero) and
    // ls = 0 (−32) in some sub-blocks; every 9th block scale ±0
    const iq = randomBlocks(iq4xs, n, seed, (b, r) => {
      for (let i = 8; i < 136; i++) b[i] = (1 + Math.floor(r() * 14)) | ((1 + Math.floor(r() * 14)) << 4);
      if (r() < 0.3) b[4] = (b[4] & 0xf0) | 0x0; // sub-block 0: ls low bits 0
      if (r() < 0.3) b[2] = (b[2] & ~3) | 2; // sub-block 0: ls high bits 2 (ls = 32 with low bits 0)
      if (r() < 0.3) b[5] = 0; // sub-blocks 2, 3: low bits 0
      if (r() < 1 / 9) b.set([0, signedZero], 0);
    });
    // the tensor's extremes: level[15] = 113 in sub-block 0 (ls = 63) of the two blocks with d = +4 (max) and -4 (min)
    for (const [block, d] of [
      [11, 0x44],
      [80, 0xc4],
    ]) {
      const o = block * 136;
      iq.set([0x00, d], o);
      iq[o + 2] |= 3;
      iq[o + 4] |= 0xf;
      iq[o + 8 + 3] |= 0xf;
    }
    iq[30 * 136 + 8 + 100] &= 0x0f;
    assert.equal(await compareOn(23, iq, n * 256, `IQ4_XS extreme codes, seed ${seed}`, 256), 2, 'the fused kernel ran');
  }
});

/**
 * Q4_K's pass 1 from the codes: sub-blocks where m1 = d1·q0 for a code q0 (zeros found from a·q = b), d and dmin
 * binades apart (the per-value path) next to exact sub-blocks, extreme codes in a few blocks, against the generic path.
 * Q6_K's: scales −128 and 0, codes 0 and 63 in a few blocks.
 */
test('pass 1 from the codes: Q4_K exact and rounded sub-blocks, zeros from a·q = b; Q6_K extreme scales and codes', async () => {
  const n = 97;
  const q4k = FUSED_TYPES.find((t) => t.name === 'Q4_K')!;
  const q6k = FUSED_TYPES.find((t) => t.name === 'Q6_K')!;
  const q4 = randomBlocks(q4k, n, 30, (b, r) => {
    // codes 1..14 (0 and 15 go in below)
    for (let i = 16; i < 144; i++) b[i] = (1 + Math.floor(r() * 14)) | ((1 + Math.floor(r() * 14)) << 4);
    const kind = Math.floor(r() * 4);
    if (kind === 0) {
      // d = dmin: sub-blocks 0..3 get m = sc·q0, so the weights of code q0 are 0
      b.set([0x00, 0x3c, 0x00, 0x3c], 0);
      for (let j = 0; j < 4; j++) {
        const sc = 1 + Math.floor(r() * 4);
        b[4 + j] = (b[4 + j] & 0xc0) | sc;
        b[8 + j] = (b[8 + j] & 0xc0) | (sc * (1 + Math.floor(r() * 14)));
      }
    } else if (kind === 1)
      b.set([0x00, 0x3c, 0x01, 0x04], 0); // dmin 2^-14 binades below d = 1
    else if (kind === 2) b.set([0x01, 0x04, 0x00, 0xbc], 0); // d 2^-14 binades below dmin = -1
  });
  for (const [block, code] of [
    [7, 0x00],
    [50, 0xff],
  ])
    q4[block * 144 + 16 + 9] = code;
  assert.equal(await compareOn(12, q4, n * 256, 'Q4_K exact and rounded sub-blocks', 256), 2, 'the fused kernel ran');
  const q6 = randomBlocks(q6k, n, 31, (b, r) => {
    for (let i = 0; i < 128; i++) b[i] = (1 + Math.floor(r() * 14)) | ((1 + Math.floor(r() * 14)) << 4);
    for (let i = 128; i < 192; i++) b[i] = Math.floor(r() * 256);
    for (let g = 0; g < 16; g++) if (r() < 0.2) b[192 + g] = r() < 0.5 ? 0x80 : 0;
  });
  // code 0 (ql 0, qh 0) and code 63 of the first group in blocks 20 and 70
  q6[20 * 210 + 3] &= 0xf0;
  q6[20 * 210 + 128 + 3] &= 0xfc;
  q6[70 * 210 + 5] |= 0x0f;
  q6[70 * 210 + 128 + 5] |= 0x03;
  assert.equal(await compareOn(14, q6, n * 256, 'Q6_K extreme scales and codes', 256), 2, 'the fused kernel ran');
});

test("float32 pass 2 in WebAssembly (float32 bin estimate, exact near edges) gives the JavaScript loop's exact result", async () => {
  const { binOf } = await import('../../src/core/analysis/tensorStats.ts');
  const r = rng(2026);
  // float32 values within a few ulps either side of every bin edge of [lo, hi] with 7 bins (and lo, hi themselves)
  const nearEdges = (lo: number, hi: number, bins: number) => {
    const out = [lo, hi].map(Math.fround);
    const f = new Float32Array(1);
    const u = new Int32Array(f.buffer);
    for (let k = 1; k < bins; k++) {
      f[0] = lo + (k * (out[1] - out[0])) / bins;
      const at = u[0];
      for (let d = -3; d <= 3; d++) {
        u[0] = at + d;
        out.push(f[0]);
      }
    }
    return Float32Array.from({ length: Math.max(2048, out.length + 5) }, (_, i) => out[i % out.length]);
  };
  const cases: [string, Float32Array, number][] = [
    ['ulps around every edge', nearEdges(-1.3, 2.7, 7), 7],
    ['ulps around every edge, 1000 bins', nearEdges(0.1, 0.7, 1000), 1000],
    // integers 0..64 with 64 bins over [0, 64]: every value sits exactly on a bin edge
    ['integers on every edge', Float32Array.from({ length: 100_003 }, (_, i) => i % 65), 64],
    ['edges with 7 bins', Float32Array.from({ length: 4099 }, (_, i) => (i % 15) / 2), 7],
    ['heavy tails', Float32Array.from({ length: 65_537 }, () => (r() - 0.5) / Math.max(1e-3, r())), 256],
    ['a tiny range', Float32Array.from({ length: 1031 }, () => 1 + Math.fround(r() * 1e-6)), 1000],
    ['subnormal range', Float32Array.from({ length: 517 }, () => Math.fround(r() * 1e-40)), 64],
    ['near float32 max', Float32Array.from({ length: 515 }, () => Math.fround((r() - 0.5) * 6e38)), 64],
    ['all equal', new Float32Array(333).fill(0.25), 64],
    ['fewer than 16', Float32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]), 4],
  ];
  for (const [what, v, bins] of cases) {
    const data = new Uint8Array(v.buffer);
    const file = buildGgufFile(
      [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
      [{ name: 't', shape: [v.length], ggmlTypeId: 0, nbytes: data.length, data }],
    );
    const m = await openModelFromSource(new MemoryByteSource(file));
    try {
      const t = m.tensors[0];
      for (const chunkElements of [undefined, 4096]) {
        const withWasm = computeTensorStats(m, t, { bins, chunkElements });
        setWasmEnabled(false);
        let jsOnly: TensorStats;
        try {
          jsOnly = computeTensorStats(m, t, { bins, chunkElements });
        } finally {
          setWasmEnabled(true);
        }
        assert.deepEqual(withWasm, jsOnly, `${what} (chunks ${chunkElements ?? 'default'})`);
        // and both are the histogram's definition, value by value
        const counts = new Array<number>(bins).fill(0);
        for (const x of v) counts[binOf(x, withWasm.min, withWasm.max, bins)]++;
        assert.deepEqual(withWasm.histogram!.counts, counts, `${what} histogram`);
      }
    } finally {
      await m.close();
    }
  }
});
