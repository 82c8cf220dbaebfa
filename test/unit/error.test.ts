/** Error metrics against the corpus's error_vs_source, and the textbook schemes against hand-computed values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel } from '../../src/core/formats/openModel.ts';
import { readTensorValues } from '../../src/core/analysis/tensorValues.ts';
import { errorMetrics } from '../../src/core/analysis/errorMetrics.ts';
import { computeWhatIf, parseCandidate, predictCandidateError, roundTrip } from '../../src/core/analysis/whatIf.ts';
import { simulate, bitsPerWeight, schemeName, NF4_LEVELS, type Scheme } from '../../src/core/quant/schemes.ts';
import { corpusPath, readF32, readJson, TINY_TYPES } from '../helpers/corpus.ts';

const rel = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.abs(b);

test('error metrics of F32/F16/BF16 files against their float32 source match the corpus', async () => {
  for (const type of ['F32', 'F16', 'BF16']) {
    const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
    const m = await openModel(corpusPath('gguf', exp.file));
    try {
      for (const t of exp.tensors) {
        const src = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
        const got = errorMetrics(
          readTensorValues(
            m,
            m.tensors.find((x) => x.name === t.name)!,
          ),
          src,
        );
        const want = t.stats.error_vs_source;
        assert.ok(rel(got.rmse, want.rmse), `${type} ${t.name} rmse ${got.rmse} vs ${want.rmse}`);
        assert.equal(got.max_abs, want.max_abs_err);
        assert.ok(Math.abs(got.mean_err - want.mean_err) <= 1e-9 * Math.abs(want.mean_err) + 1e-18);
        assert.ok(rel(got.rel_rmse, want.rel_rmse));
        if (want.snr_db === null) assert.equal(got.snr_db, null);
        else assert.ok(Math.abs(got.snr_db! - want.snr_db) < 1e-9);
      }
    } finally {
      await m.close();
    }
  }
});

test('error metrics of every quantized type against the source match the corpus', async () => {
  for (const type of TINY_TYPES) {
    const exp = readJson(`gguf/llama-tiny-${type}.expected.json`);
    const m = await openModel(corpusPath('gguf', exp.file));
    try {
      for (const t of exp.tensors) {
        const src = readF32(corpusPath('gguf', t.quantizer.source.file), t.quantizer.source.offset_bytes, t.n_elements);
        const got = errorMetrics(
          readTensorValues(
            m,
            m.tensors.find((x) => x.name === t.name)!,
          ),
          src,
        );
        const want = t.stats.error_vs_source;
        assert.ok(rel(got.rmse, want.rmse), `${type} ${t.name} rmse ${got.rmse} vs ${want.rmse}`);
        assert.equal(got.max_abs, want.max_abs_err, `${type} ${t.name} max_abs`);
      }
    } finally {
      await m.close();
    }
  }
});

test('cosine and SNR by hand', () => {
  const ref = Float32Array.from([1, 2, 3, 4]);
  const rec = Float32Array.from([1, 2, 3, 5]);
  const e = errorMetrics(rec, ref);
  assert.equal(e.rmse, Math.sqrt(1 / 4));
  assert.equal(e.max_abs, 1);
  assert.ok(Math.abs(e.cosine - 34 / Math.sqrt(30 * 39)) < 1e-15);
  assert.ok(Math.abs(e.snr_db! - 20 * Math.log10(Math.sqrt(30 / 4) / 0.5)) < 1e-12);
});

test('symmetric INT4 per tensor: scale = absmax / 7, values snap to multiples of it', () => {
  const x = Float32Array.from([0.7, -0.36, 0.1, 0.26, -0.7, 0.04, 0, 0.33]);
  const s: Scheme = { kind: 'int', bits: 4, symmetric: true, granularity: 'tensor' };
  const y = simulate(s, x, 8);
  const scale = Math.fround(0.7) / 7;
  assert.deepEqual(Array.from(y), Array.from(Float32Array.from([7, -4, 1, 3, -7, 0, 0, 3].map((q) => q * scale))));
  assert.equal(bitsPerWeight(s, 8, 1), 4 + 16 / 8);
  assert.equal(schemeName(s), 'INT4 sym per tensor');
});

test('asymmetric INT2 per group: min and max are exact, zero-point shifts the grid', () => {
  const x = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
  const y = simulate({ kind: 'int', bits: 2, symmetric: false, granularity: { group: 4 } }, x, 8);
  assert.deepEqual(Array.from(y), [0, 1, 2, 3, 10, 11, 12, 13]);
});

test('an outlier stretches a per-tensor scale; per-group scales contain the damage', () => {
  const x = new Float32Array(256);
  for (let i = 0; i < 256; i++) x[i] = Math.sin(i) * 0.1;
  x[5] = 10;
  const perTensor = simulate({ kind: 'int', bits: 4, symmetric: true, granularity: 'tensor' }, x, 256);
  const perGroup = simulate({ kind: 'int', bits: 4, symmetric: true, granularity: { group: 32 } }, x, 256);
  // With one scale for the tensor, absmax/7 = 1.43 rounds every small weight to 0; a per-group scale confines
  // that to the outlier's own group of 32.
  const outside = (y: Float32Array) => errorMetrics(y.subarray(32), x.subarray(32)).rmse;
  assert.ok(outside(perTensor) > 0.06, `per-tensor error outside the outlier's group: ${outside(perTensor)}`);
  assert.ok(outside(perGroup) < outside(perTensor) / 5, `${outside(perGroup)} vs ${outside(perTensor)}`);
});

test('NF4 maps absmax to ±1 and keeps exact zero; FP8 E4M3 keeps the absmax', () => {
  assert.equal(NF4_LEVELS.length, 16);
  const x = Float32Array.from([2, -2, 0, 1]);
  const y = simulate({ kind: 'nf4', group: 4 }, x, 4);
  assert.equal(y[0], 2);
  assert.equal(y[1], -2);
  assert.equal(y[2], 0);
  const z = simulate({ kind: 'fp8', format: 'E4M3' }, Float32Array.from([448, 1, -3]), 3);
  assert.equal(z[0], 448);
  assert.equal(z[1], 1);
  assert.equal(z[2], -3);
});

test('an importance matrix drives the ggml quantizers and weights the error by column', async () => {
  const { computeWhatIf, parseCandidate } = await import('../../src/core/analysis/whatIf.ts');
  const { quantizerFor } = await import('../../src/core/quant/quantizers.ts');
  const { codecForType } = await import('../../src/core/quant/index.ts');
  const { typeByName } = await import('../../src/core/types.ts');
  const exp = readJson('gguf/llama-tiny-F32.expected.json');
  const t = exp.tensors.find((x: any) => x.name === 'blk.0.attn_q.weight');
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const tensor = m.tensors.find((x) => x.name === t.name)!;
    const imatrix = readF32(corpusPath('gguf', 'llama-tiny.imatrix.f32'), 1024, 256);
    const [row] = computeWhatIf(m, tensor, [parseCandidate('q4_K')], { imatrix });
    // independently: quantize with the imatrix, decode, and weight the squared error by column
    const src = readTensorValues(m, tensor);
    const ty = typeByName('Q4_K')!;
    const rec = new Float32Array(src.length);
    codecForType(ty)!.dequantize(quantizerFor(ty)!.quantize(src, 256, 256, imatrix), rec, src.length / 256);
    let se = 0;
    let sr = 0;
    for (let i = 0; i < src.length; i++) {
      se += imatrix[i % 256] * (rec[i] - src[i]) ** 2;
      sr += imatrix[i % 256] * src[i] ** 2;
    }
    assert.ok(row.imatrix);
    assert.ok(Math.abs(row.metrics.weighted_rel_rmse! - Math.sqrt(se / sr)) < 1e-12);
    assert.equal(row.metrics.max_abs, errorMetrics(rec, src).max_abs);
    assert.throws(() => computeWhatIf(m, tensor, [parseCandidate('q4_K')], { imatrix: new Float32Array(10) }));
  } finally {
    await m.close();
  }
});

test('the error distribution of one what-if candidate, against an independent computation', async () => {
  const { candidateErrorStats, parseCandidate } = await import('../../src/core/analysis/whatIf.ts');
  const exp = readJson('gguf/llama-tiny-Q8_0.expected.json').tensors.find((x: any) => x.name === 'blk.0.attn_q.weight');
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const tensor = m.tensors.find((x) => x.name === exp.name)!;
    const s = candidateErrorStats(m, tensor, parseCandidate('q8_0'), { bins: 32 });
    // ggml's own Q8_0 values of the same source are in the corpus: error = dequant − source
    const deq = readF32(corpusPath('gguf', exp.dequant.file), exp.dequant.offset_bytes, exp.dequant.count);
    const src = readF32(corpusPath('gguf', exp.quantizer.source.file), exp.quantizer.source.offset_bytes, exp.n_elements);
    const err = Array.from(deq, (x, i) => x - src[i]);
    assert.equal(s.count, exp.n_elements);
    assert.equal(s.min, Math.min(...err));
    assert.equal(s.max, Math.max(...err));
    assert.equal(s.zero_count, err.filter((e) => e === 0).length);
    assert.ok(Math.abs(s.mean - exp.stats.error_vs_source.mean_err) <= 1e-9 * Math.abs(exp.stats.error_vs_source.mean_err));
    assert.equal(
      s.histogram!.counts.reduce((a: number, b: number) => a + b, 0),
      exp.n_elements,
    );
  } finally {
    await m.close();
  }
});

test("the requantize preview's predicted error: exact for a small tensor, close from spread rows of a large one", async () => {
  const m = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    const t = m.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!;
    const q4k = parseCandidate('q4_K');
    const whole = computeWhatIf(m, t, [q4k])[0].metrics;
    const exact = predictCandidateError(m, t, q4k, { sampleWeights: t.nElements });
    assert.equal(exact.exact, true);
    assert.equal(exact.sampledWeights, t.nElements);
    assert.deepEqual(exact.metrics, whole);
    // 32 of 256 rows, in 8 runs of 4 spread over the tensor; each sampled row is quantized exactly as in the full run
    const sampled = predictCandidateError(m, t, q4k, { sampleWeights: 32 * 512 });
    assert.equal(sampled.exact, false);
    assert.equal(sampled.sampledWeights, 32 * 512);
    assert.ok(
      Math.abs(sampled.metrics.rel_rmse - whole.rel_rmse) < 0.15 * whole.rel_rmse,
      `${sampled.metrics.rel_rmse} vs ${whole.rel_rmse}`,
    );
    const rows = [0, 36, 72, 108, 144, 180, 216, 252];
    const ref = new Float32Array(32 * 512);
    rows.forEach((r, i) => ref.set(readTensorValues(m, t, r * 512, 4 * 512), i * 4 * 512));
    const rec = new Float32Array(ref.length);
    rows.forEach((_, i) => rec.set(roundTrip(q4k, ref.subarray(i * 2048, (i + 1) * 2048), 512, { min: NaN, max: NaN }), i * 2048));
    assert.ok(
      Math.abs(sampled.metrics.rmse - errorMetrics(rec, ref).rmse) <= 1e-12 * sampled.metrics.rmse,
      'the spread rows are the ones sampled',
    );
  } finally {
    await m.close();
  }
});

test('what-if candidates include the tensor own type and its neighbours for a shape no K-quant fits, and the user own', async () => {
  const { whatIfCandidates } = await import('../../src/core/analysis/whatIf.ts');
  const { typeByName } = await import('../../src/core/types.ts');
  const tensor = { type: typeByName('Q5_1')!, rowLength: 192 };
  const names = whatIfCandidates(tensor, ['int3-asym-g32', 'q5_1']);
  // ggml's legacy and IQ4_NL blocks (32) divide 192; the K-quants' 256 does not
  for (const want of ['Q5_1', 'Q5_0', 'Q4_1', 'IQ4_NL', 'int3-asym-g32']) assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
  assert.equal(names.filter((n) => n === 'Q5_1').length, 1);
  assert.throws(() => whatIfCandidates(tensor, ['q9_z']), /unknown candidate q9_z/);
});
