/** The code-counting fast paths give the generic decode-every-weight path's statistics, on real and adversarial data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { openModelFromSource } from '../../src/core/formats/openModel.ts';
import { computeTensorStats, type TensorStats } from '../../src/core/analysis/tensorStats.ts';
import { f32ToF16Bits } from '../../src/core/quant/encode.ts';
import { rng } from '../helpers/rng.ts';


function same(fast: TensorStats, generic: TensorStats, what: string): void {
  for (const k of ['count', 'finite_count', 'nan_count', 'posinf_count', 'neginf_count', 'zero_count'] as const) assert.equal(fast[k], generic[k], `${what} ${k}`);
  for (const k of ['min', 'max', 'absmax'] as const) assert.ok(Object.is(fast[k], generic[k]) || fast[k] === generic[k], `${what} ${k}: ${fast[k]} vs ${generic[k]}`);
  for (const k of ['mean', 'std', 'rms'] as const) {
    const tol = 1e-12 * Math.max(Math.abs(generic[k]), generic.absmax || 0);
    assert.ok(Number.isNaN(generic[k]) ? Number.isNaN(fast[k]) : Math.abs(fast[k] - generic[k]) <= tol, `${what} ${k}: ${fast[k]} vs ${generic[k]}`);
  }
  assert.deepEqual(fast.histogram, generic.histogram, `${what} histogram`);
}

async function compareOn(typeId: number, data: Uint8Array, n: number, what: string, bins = 64): Promise<void> {
  const file = buildGgufFile([{ key: 'general.architecture', type: 'STRING', value: 'test' }], [{ name: 't', shape: [n], ggmlTypeId: typeId, nbytes: data.length, data }]);
  const m = await openModelFromSource(new MemoryByteSource(file));
  const t = m.tensors[0];
  for (const chunkElements of [256, 1 << 20]) {
    same(computeTensorStats(m, t, { bins, chunkElements }), computeTensorStats(m, t, { bins, chunkElements, generic: true }), `${what} (chunks of ${chunkElements})`);
  }
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
});

test('BF16: every bit pattern', async () => {
  const all = new Uint8Array(65536 * 2);
  for (let b = 0; b < 65536; b++) {
    all[2 * b] = b & 0xff;
    all[2 * b + 1] = b >> 8;
  }
  await compareOn(30, all, 65536, 'all bf16 patterns');
});

test('the WebAssembly kernels give exactly the JavaScript loops\' statistics', async () => {
  const { setWasmEnabled, wasmKernel } = await import('../../src/core/analysis/wasmStats.ts');
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

test('Q4_K decoded inside the WebAssembly kernels gives exactly the generic statistics', async () => {
  const { readFileSync } = await import('node:fs');
  const { openModel } = await import('../../src/core/formats/openModel.ts');
  const { corpusPath } = await import('../helpers/corpus.ts');
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  try {
    for (const t of m.tensors.filter((x) => x.type.name === 'Q4_K')) {
      for (const chunkElements of [4096, 1 << 20]) {
        assert.deepEqual(computeTensorStats(m, t, { bins: 256, chunkElements }), computeTensorStats(m, t, { bins: 256, chunkElements, generic: true }), `${t.name} chunks of ${chunkElements}`);
      }
    }
  } finally {
    await m.close();
  }
  // a tensor larger than the generic path keeps in memory (pass 2 then streams chunk by chunk), plus bad blocks
  const exp = JSON.parse(readFileSync(corpusPath('gguf', 'llama-tiny-Q4_K.expected.json'), 'utf8'));
  const t = exp.tensors.find((x: any) => x.name === 'blk.0.ffn_down.weight');
  const tile = new Uint8Array(readFileSync(corpusPath('gguf', exp.file))).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
  const tiles = 130;
  const big = new Uint8Array(tile.length * tiles);
  for (let i = 0; i < tiles; i++) big.set(tile, i * tile.length);
  const file = buildGgufFile([], [{ name: 'w', shape: [512, 256 * tiles], ggmlTypeId: 12, nbytes: big.length, data: big }]);
  const mm = await openModelFromSource(new MemoryByteSource(file));
  assert.ok(mm.tensors[0].nElements > 16 << 20);
  assert.deepEqual(computeTensorStats(mm, mm.tensors[0], { bins: 64 }), computeTensorStats(mm, mm.tensors[0], { bins: 64, generic: true }));
  const withInf = big.slice(0, 144 * 64);
  withInf[144 * 5 + 1] = 0x7c; // d = +Inf in block 5
  withInf[144 * 5] = 0;
  const f2 = buildGgufFile([], [{ name: 'w', shape: [256, 64], ggmlTypeId: 12, nbytes: withInf.length, data: withInf }]);
  const m2 = await openModelFromSource(new MemoryByteSource(f2));
  assert.deepEqual(computeTensorStats(m2, m2.tensors[0], { bins: 64 }), computeTensorStats(m2, m2.tensors[0], { bins: 64, generic: true }));
});
