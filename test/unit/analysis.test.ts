/** Summaries, the quant-mix map, memory estimates, tokenizer lookups and block views on real corpus files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel } from '../../src/core/formats/openModel.ts';
import { summarize } from '../../src/core/analysis/summary.ts';
import { buildQuantMap, blockOf } from '../../src/core/analysis/quantMap.ts';
import { estimateMemory, fitTotal, shapeFromHfConfig } from '../../src/core/analysis/memoryFit.ts';
import { findTokens, tokenById, tokenPage } from '../../src/core/analysis/tokenizer.ts';
import { readBlock, computeScaleDistribution } from '../../src/core/analysis/blocks.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { computeHeatmap } from '../../src/core/analysis/heatmap.ts';
import { corpusPath, readF32, readJson } from '../helpers/corpus.ts';

test('summary of the Q4_K_M mix speaks llama.cpp', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  try {
    const s = summarize(m);
    const exp = readJson('gguf/llama-mix-Q4_K_M.expected.json');
    assert.equal(s.fileType, 'Q4_K_M');
    assert.equal(s.architecture, 'llama');
    assert.equal(s.tensorCount, exp.n_tensors);
    assert.equal(
      s.parameterCount,
      exp.tensors.reduce((a: number, t: any) => a + t.n_elements, 0),
    );
    assert.deepEqual(s.byType.map((b) => b.type).sort(), ['F32', 'Q4_K', 'Q6_K']);
    const bytes = exp.tensors.reduce((a: number, t: any) => a + t.nbytes, 0);
    assert.equal(s.tensorBytes, bytes);
    assert.ok(Math.abs(s.averageBitsPerWeight - (8 * bytes) / s.parameterCount) < 1e-12);
  } finally {
    await m.close();
  }
});

test('quant-mix map: blocks x kinds with Q6_K where Q4_K_M puts it', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-mix-Q4_K_M.gguf'));
  try {
    const map = buildQuantMap(m);
    assert.deepEqual(map.blocks, [0, 1]);
    assert.equal(map.kinds[0], 'attn_norm');
    const cell = (b: number, k: string) => map.cells.find((c) => c.block === b && c.kind === k)?.type;
    assert.equal(cell(0, 'attn_v'), 'Q6_K');
    assert.equal(cell(1, 'ffn_down'), 'Q6_K');
    assert.equal(cell(0, 'attn_q'), 'Q4_K');
    assert.ok(map.outside.some((o) => o.tensor === 'token_embd.weight'));
  } finally {
    await m.close();
  }
  assert.deepEqual(blockOf('model.layers.12.self_attn.q_proj.weight'), { block: 12, kind: 'self_attn.q_proj' });
});

test('memory estimate: weights + KV cache from llama metadata', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  try {
    const fit = estimateMemory(m, 2048);
    // 1 layer, 1 KV head, head_dim 256/4 = 64, K and V in f16.
    assert.equal(fit.kvCacheBytes, 1 * 2048 * 1 * (64 + 64) * 2);
    assert.equal(
      fit.weightsBytes,
      m.tensors.reduce((a, t) => a + t.nbytes, 0),
    );
    assert.ok(fit.fits.every((f) => f.fits));
    // compute buffers: the logits of a 512-token batch over the vocabulary (float32) plus 512 MiB
    const vocab = m.metadata.find((e) => e.key === 'tokenizer.ggml.tokens')!.value as { length: number };
    assert.equal(fit.computeBytes, 512 * 2 ** 20 + vocab.length * 512 * 4);
    assert.equal(fit.totalBytes, fit.weightsBytes + fit.kvCacheBytes! + fit.computeBytes);
    // a q8_0 cache: 34 bytes per 32 elements
    assert.equal(estimateMemory(m, 2048, 34 / 32).kvCacheBytes, 1 * 2048 * 1 * (64 + 64) * (34 / 32));
  } finally {
    await m.close();
  }
});

test('5.82 GiB of weights do not fit in 6 GiB once the compute buffers are counted', () => {
  const weights = 5.82 * 2 ** 30;
  const { fits, totalBytes } = fitTotal(weights, undefined, 4096, 2, 512 * 2 ** 20);
  assert.ok(totalBytes > 6 * 2 ** 30);
  assert.equal(fits.find((f) => f.gib === 6)!.fits, false);
  assert.equal(fits.find((f) => f.gib === 8)!.fits, true);
});

test('a safetensors model sizes its KV cache from the config.json beside it', async () => {
  const m = await openModel(corpusPath('safetensors', 'dtypes.safetensors'));
  try {
    assert.match(estimateMemory(m).note!, /config\.json/);
    // Llama-3-8B's config: 32 layers, 8 KV heads of 128 (4096 / 32)
    const config = {
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      hidden_size: 4096,
      max_position_embeddings: 8192,
      vocab_size: 128256,
    };
    const fit = estimateMemory(m, 8192, 2, config);
    assert.equal(fit.note, undefined);
    assert.equal(fit.kvCacheBytes, 32 * 8192 * 8 * (128 + 128) * 2); // 1 GiB, as llama.cpp reports for Llama-3-8B at 8k
    assert.equal(fit.kvCacheBytes, 2 ** 30);
    assert.equal(shapeFromHfConfig({ text_config: config })?.kvHeads, 8);
  } finally {
    await m.close();
  }
});

test('tokenizer lookups page the token array from the file', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  try {
    assert.deepEqual(await tokenById(m, 1), { id: 1, text: '<s>', decoded: '<s>' });
    const page = await tokenPage(m, 1020, 10); // crosses the 1024-element index stride
    const walk = await tokenPage(m, 0, 1030);
    assert.deepEqual(page, walk.slice(1020, 1030));
    const found = await findTokens(m, '</s>');
    assert.equal(found[0].id, 2);
    assert.equal(await tokenById(m, 5000), undefined);
  } finally {
    await m.close();
  }
});

test('block view: raw bytes, decoded values equal to the tensor values', async () => {
  const m = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  try {
    const t = m.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
    const b = readBlock(m, t, 3);
    assert.equal(b.blockCount, t.nElements / 256);
    assert.equal(b.raw.length, 144);
    assert.deepEqual(b.values, readTensorValues(m, t, 3 * 256, 256));
    const exp = readJson('gguf/llama-tiny-Q4_K.expected.json').tensors.find((x: any) => x.name === t.name);
    assert.deepEqual(b.values, readF32(corpusPath('gguf', exp.dequant.file), exp.dequant.offset_bytes + 3 * 256 * 4, 256));
    const dist = computeScaleDistribution(m, t)!;
    assert.equal(dist.blocks, t.nElements / 256);
    assert.equal(dist.d.count, dist.blocks);
    assert.ok(dist.dmin && dist.sub, 'Q4_K has dmin and sub-block scales');
    assert.equal(dist.sub!.count, dist.blocks * dist.subBlocksPerBlock);
  } finally {
    await m.close();
  }
});

test('the |w| heatmap: every cell is the max |w| of exactly its rows and columns, whatever the chunking', async () => {
  // a cell-by-cell definition, independent of the streaming code: cell (y, x) holds rows r with
  // floor(r·h/rows) = y and columns c with floor(c·w/cols) = x
  const naive = (v: Float32Array, cols: number, rows: number, w: number, h: number) => {
    const cells = new Array<number>(w * h).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const cell = Math.floor((r * h) / rows) * w + Math.floor((c * w) / cols);
        cells[cell] = Math.max(cells[cell], Math.abs(v[r * cols + c]));
      }
    }
    return cells;
  };
  const m = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  try {
    for (const name of ['blk.0.ffn_down.weight', 'token_embd.weight', 'blk.0.attn_norm.weight']) {
      const t = m.tensors.find((x) => x.name === name)!;
      const cols = t.shape[0];
      const rows = t.nElements / cols;
      const v = readTensorValues(m, t, 0, t.nElements);
      for (const [w, h] of [
        [256, 256],
        [7, 5],
        [100, 3],
        [cols, rows],
        [1, 1],
        [cols + 9, 1],
      ]) {
        for (const chunkElements of [undefined, 256 * 3, 256]) {
          const got = computeHeatmap(m, t, w, h, { chunkElements });
          const ww = Math.min(w, cols);
          const hh = Math.min(h, rows);
          assert.equal(got.width, ww);
          assert.equal(got.height, hh);
          assert.deepEqual(got.cells, naive(v, cols, rows, ww, hh), `${name} ${w}x${h} chunk ${chunkElements}`);
          assert.equal(
            got.max,
            got.cells.reduce((a, b) => Math.max(a, b), 0),
          );
        }
      }
    }
  } finally {
    await m.close();
  }
});
