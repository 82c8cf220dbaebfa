/** Simulated quantization of a safetensors checkpoint: chosen tensors become quantize -> dequantize, same dtype. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/core/formats/openModel.ts';
import { buildSafetensorsFile } from '../../src/core/formats/safetensorsWriter.ts';
import { parseSimulationRule, planSimulation, writeSimulated } from '../../src/core/requant/simulate.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { ggufToHf } from '../../src/core/compare/nameMap.ts';
import { encodeF16 } from '../../src/core/quant/encode.ts';
import { corpusPath, readF32, readJson, firstBitMismatch } from '../helpers/corpus.ts';
import { WorkerPool } from '../../src/node/workerPool.ts';
import { bundledWorker } from '../helpers/bundles.ts';

function checkpoint(dtype: 'F32' | 'F16'): string {
  const exp = readJson('gguf/llama-tiny-F32.expected.json');
  const tensors = exp.tensors.map((t: any) => {
    const v = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
    return { name: ggufToHf(t.name)!, dtype, shape: [...t.ne].reverse(), data: dtype === 'F32' ? new Uint8Array(v.buffer) : encodeF16(v) };
  });
  const dir = mkdtempSync(join(tmpdir(), 'ql-sim-'));
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, buildSafetensorsFile(tensors, { format: 'pt' }));
  return path;
}

test("q_proj at Q8_0 equals ggml's Q8_0 dequantized values; other tensors are copied unchanged", async () => {
  const src = checkpoint('F32');
  const out = join(src, '..', 'sim.safetensors');
  const m = await openModel(src);
  try {
    const plan = planSimulation(m, [parseSimulationRule('q_proj=q8_0'), parseSimulationRule('norm=q8_0')]);
    assert.deepEqual(
      plan.changes.map((c) => c.tensor.name),
      ['model.layers.0.self_attn.q_proj.weight'],
    );
    assert.ok(plan.skipped.every((s) => /one-dimensional/.test(s.reason)));
    const r = await writeSimulated(m, plan, out);
    assert.equal(r.errors.length, 1);
    assert.deepEqual(readdirSync(join(src, '..')).sort(), ['model.safetensors', 'sim.safetensors']);
  } finally {
    await m.close();
  }
  const sim = await openModel(out);
  const orig = await openModel(src);
  try {
    const exp = readJson('gguf/llama-tiny-Q8_0.expected.json').tensors.find((t: any) => t.name === 'blk.0.attn_q.weight');
    const q = sim.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    assert.equal(q.dtype, 'F32');
    assert.equal(
      firstBitMismatch(
        readTensorValues(sim, q),
        readF32(corpusPath('gguf', exp.dequant.file), exp.dequant.offset_bytes, exp.dequant.count),
      ),
      null,
    );
    const down = (mm: typeof sim) =>
      readTensorValues(
        mm,
        mm.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')!,
      );
    assert.equal(firstBitMismatch(down(sim), down(orig)), null);
    assert.match(String(sim.metadata.find((e) => e.key === 'quantlens.simulated')?.value), /q8_0|Q8_0/);
  } finally {
    await sim.close();
    await orig.close();
  }
});

test('F16 checkpoints stay F16; textbook schemes work too', async () => {
  const src = checkpoint('F16');
  const out = join(src, '..', 'sim16.safetensors');
  const m = await openModel(src);
  try {
    const plan = planSimulation(m, [parseSimulationRule('proj=int4-sym-g32')]);
    assert.equal(plan.changes.length, 2);
    const r = await writeSimulated(m, plan, out);
    for (const e of r.errors) assert.ok(e.metrics.rel_rmse > 0.05 && e.metrics.rel_rmse < 0.3, `${e.tensor} ${e.metrics.rel_rmse}`);
  } finally {
    await m.close();
  }
  const sim = await openModel(out);
  try {
    assert.ok(sim.tensors.every((t) => t.dtype === 'F16'));
  } finally {
    await sim.close();
  }
});

test('ggml candidates quantized on helper threads give the same file as one thread, schemes alongside', async () => {
  const src = checkpoint('F16');
  const m = await openModel(src);
  const pool = new WorkerPool(bundledWorker(), 2);
  try {
    const plan = planSimulation(m, [
      parseSimulationRule('proj=q4_K'),
      parseSimulationRule('embed=int4-sym-tensor'),
      parseSimulationRule('down=nf4'),
    ]);
    assert.equal(plan.changes.length, 3);
    const one = join(src, '..', 'one.safetensors');
    const many = join(src, '..', 'many.safetensors');
    const serial = await writeSimulated(m, plan, one);
    const parallel = await writeSimulated(m, plan, many, { quantize: pool.chunkQuantizer(), inFlight: 3 });
    assert.ok(readFileSync(one).equals(readFileSync(many)), 'identical files');
    assert.deepEqual(parallel.errors, serial.errors);
  } finally {
    await pool.dispose();
    await m.close();
  }
});
