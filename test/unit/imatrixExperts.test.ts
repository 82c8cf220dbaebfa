/**
 * Importance matrices as llama.cpp writes them, wherever Quant Lens uses one: a 3-D expert tensor's entry holds
 * ne0 values per expert, and each expert is quantized and weighted with its own (the what-if table, the requantize
 * preview's prediction, the candidate error histogram and the CLI's `error`, as the requantizer already does);
 * and an imatrix file is checked when it is loaded (format, entries, that it is for this model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { computeWhatIf, parseCandidate, predictCandidateError, candidateErrorStats } from '../../src/core/analysis/whatIf.ts';
import { checkImatrixFile, imatrixFor } from '../../src/core/requant/imatrix.ts';
import { estimateMemory } from '../../src/core/analysis/memoryFit.ts';
import { requireQuantizer } from '../../src/core/quant/quantizers.ts';
import { codecForType } from '../../src/core/quant/index.ts';
import { typeByName } from '../../src/core/types.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { corpusPath } from '../helpers/corpus.ts';
import { rng } from '../helpers/rng.ts';
import { bundledCli } from '../helpers/bundles.ts';

const [NE0, NE1, EXPERTS] = [256, 6, 4];
const NAME = 'blk.0.ffn_down_exps.weight';

function legacyImatrix(entries: { name: string; values: ArrayLike<number> }[]): Uint8Array {
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
  const parts: Buffer[] = [i32(entries.length)];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    parts.push(i32(name.length), name, i32(1), i32(e.values.length), Buffer.from(Float32Array.from(e.values).buffer));
  }
  return Buffer.concat(parts);
}

/** A MoE model with one F32 expert tensor [256, 6, 4], and an imatrix whose experts weight very different columns. */
function moeFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'ql-moe-imatrix-'));
  const r = rng(7);
  const values = Float32Array.from({ length: NE0 * NE1 * EXPERTS }, () => r() * 2 - 1);
  const model = join(dir, 'moe.gguf');
  writeFileSync(
    model,
    buildGgufFile(
      [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
      [{ name: NAME, shape: [NE0, NE1, EXPERTS], ggmlTypeId: 0, nbytes: values.byteLength, data: new Uint8Array(values.buffer) }],
    ),
  );
  // expert e cares about columns near e * 64 only
  const importance = Float32Array.from({ length: NE0 * EXPERTS }, (_, i) => {
    const e = Math.floor(i / NE0);
    const col = i % NE0;
    return Math.abs(col - e * 64) < 16 ? 100 : 0.01;
  });
  const dat = join(dir, 'moe.imatrix.dat');
  writeFileSync(dat, legacyImatrix([{ name: NAME, values: importance }]));
  return { dir, values, model, importance, dat };
}

/** Independently: each expert's rows quantized with its own importance, decoded, the error weighted by its own columns. */
function expected(typeName: string, values: Float32Array, importance: Float32Array) {
  const ty = typeByName(typeName)!;
  let se = 0;
  let sr = 0;
  let plain = 0;
  let ref = 0;
  for (let e = 0; e < EXPERTS; e++) {
    const src = values.subarray(e * NE0 * NE1, (e + 1) * NE0 * NE1);
    const w = importance.subarray(e * NE0, (e + 1) * NE0);
    const rec = new Float32Array(src.length);
    codecForType(ty)!.dequantize(requireQuantizer(ty).quantize(src, NE1, NE0, w), rec, src.length / ty.blockSize);
    for (let i = 0; i < src.length; i++) {
      const d = rec[i] - src[i];
      se += w[i % NE0] * d * d;
      sr += w[i % NE0] * src[i] * src[i];
      plain += d * d;
      ref += src[i] * src[i];
    }
  }
  return { weighted: Math.sqrt(se / sr), rel: Math.sqrt(plain / ref) };
}

test('what-if, prediction and error histogram quantize and weight each expert with its own importance', async () => {
  const f = moeFixture();
  const m = await openModel(f.model);
  try {
    const t = m.tensors[0];
    const imatrix = await imatrixFor(f.dat, t);
    assert.equal(imatrix?.length, NE0 * EXPERTS);
    const rows = computeWhatIf(m, t, ['Q4_K', 'IQ2_XXS', 'Q4_0'].map(parseCandidate), { imatrix });
    assert.deepEqual(
      rows.map((r) => r.candidate),
      ['Q4_K', 'IQ2_XXS', 'Q4_0'],
    );
    for (const row of rows) {
      const want = expected(row.candidate, f.values, f.importance);
      assert.ok(Math.abs(row.metrics.weighted_rel_rmse! - want.weighted) < 1e-12, `${row.candidate} weighted`);
      assert.ok(Math.abs(row.metrics.rel_rmse - want.rel) < 1e-12, `${row.candidate} rel`);
    }
    // the requantize preview on a tensor this small is exact, and must agree
    const p = predictCandidateError(m, t, parseCandidate('IQ2_XXS'), { imatrix, sampleWeights: 2 * NE0 });
    assert.ok(!p.exact);
    const whole = predictCandidateError(m, t, parseCandidate('IQ2_XXS'), { imatrix });
    assert.ok(whole.exact);
    assert.ok(Math.abs(whole.metrics.weighted_rel_rmse! - expected('IQ2_XXS', f.values, f.importance).weighted) < 1e-12);
    const hist = candidateErrorStats(m, t, parseCandidate('IQ2_XXS'), { imatrix });
    assert.equal(hist.count, NE0 * NE1 * EXPERTS);
    // without one, a type that needs it says so in words (not a CLI flag)
    assert.throws(
      () => predictCandidateError(m, t, parseCandidate('IQ2_XXS')),
      (e: unknown) => e instanceof QuantLensError && /IQ2_XXS needs an importance matrix/.test(e.message) && !/--/.test(e.message),
    );
    // the averaged importance of all experts is not what llama.cpp uses: the figures differ
    const mean = new Float32Array(NE0);
    for (let i = 0; i < f.importance.length; i++) mean[i % NE0] += f.importance[i] / EXPERTS;
    const averaged = computeWhatIf(m, t, [parseCandidate('Q4_K')], { imatrix: mean })[0];
    assert.notEqual(averaged.metrics.rel_rmse, rows[0].metrics.rel_rmse);
    assert.throws(() => computeWhatIf(m, t, [parseCandidate('Q4_K')], { imatrix: new Float32Array(NE0 * 3) }), /takes 256 or 256 x 4/);
  } finally {
    await m.close();
  }
});

test('the CLI error command takes an expert tensor with a per-expert imatrix', () => {
  const f = moeFixture();
  const r = spawnSync(process.execPath, [bundledCli(), 'error', f.model, '--candidates', 'iq2_xxs,q4_k', '--imatrix', f.dat, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning/);
  const [t] = JSON.parse(r.stdout).tensors;
  assert.equal(t.name, NAME);
  const iq2 = t.candidates.find((c: { candidate: string }) => c.candidate === 'IQ2_XXS');
  assert.ok(Math.abs(iq2.metrics.weighted_rel_rmse - expected('IQ2_XXS', f.values, f.importance).weighted) < 1e-12);
});

test('an imatrix file is checked when it is loaded: its format, its entries, and that it is for this model', async () => {
  const f = moeFixture();
  const m = await openModel(f.model);
  try {
    assert.deepEqual(await checkImatrixFile(f.dat, m.tensors), { entries: 1, covered: 1, matrices: 1 });
    const refused = async (path: string, why: RegExp) =>
      assert.rejects(checkImatrixFile(path, m.tensors), (e: unknown) => e instanceof QuantLensError && why.test(e.message));
    // a raw float32 file (here: the corpus's per-column values for llama-tiny)
    await refused(
      corpusPath('gguf', 'llama-tiny.imatrix.f32'),
      /^llama-tiny\.imatrix\.f32 is not a llama\.cpp importance matrix .*declares \d+ entries/,
    );
    // a model GGUF, not an imatrix GGUF
    await refused(corpusPath('gguf', 'llama-tiny-F32.gguf'), /is not a llama\.cpp importance matrix: it has no entries/);
    // a legacy file for another model
    const other = join(f.dir, 'other.dat');
    writeFileSync(other, legacyImatrix([{ name: 'blk.0.attn_q.weight', values: new Float32Array(64).fill(1) }]));
    await refused(other, /has 1 entries but none for a tensor of this model/);
    // an entry of the wrong length for its tensor
    const wrong = join(f.dir, 'wrong.dat');
    writeFileSync(wrong, legacyImatrix([{ name: NAME, values: new Float32Array(NE0 * 3).fill(1) }]));
    await refused(wrong, /has 768 values; tensor blk\.0\.ffn_down_exps\.weight .* needs 256 x 4 = 1024/);
    // truncated inside an entry
    const cut = join(f.dir, 'cut.dat');
    writeFileSync(cut, legacyImatrix([{ name: NAME, values: f.importance }]).subarray(0, 100));
    await refused(cut, /is not a llama\.cpp importance matrix .*ends inside entry/);
  } finally {
    await m.close();
  }
});

test('a GGUF imatrix opened as a file says it is an importance matrix, not a model that fits somewhere', async () => {
  const f = moeFixture();
  const sums = new Float32Array(NE0 * EXPERTS).fill(4);
  const counts = Float32Array.from([4, 4, 4, 4]);
  const path = join(f.dir, 'imatrix.gguf');
  writeFileSync(
    path,
    buildGgufFile(
      [{ key: 'general.type', type: 'STRING', value: 'imatrix' }],
      [
        { name: `${NAME}.in_sum2`, shape: [NE0, EXPERTS], ggmlTypeId: 0, nbytes: sums.byteLength, data: new Uint8Array(sums.buffer) },
        { name: `${NAME}.counts`, shape: [1, EXPERTS], ggmlTypeId: 0, nbytes: counts.byteLength, data: new Uint8Array(counts.buffer) },
      ],
    ),
  );
  const m = await openModel(path);
  try {
    assert.match(estimateMemory(m).notAModel!, /llama\.cpp importance matrix \(1 entries\), not a model/);
  } finally {
    await m.close();
  }
  // and it loads as one into the model's editor
  const model = await openModel(f.model);
  try {
    assert.deepEqual(await checkImatrixFile(path, model.tensors), { entries: 1, covered: 1, matrices: 1 });
  } finally {
    await model.close();
  }
  const tiny = await openModel(corpusPath('gguf', 'llama-tiny-F32.gguf'));
  try {
    assert.equal(estimateMemory(tiny).notAModel, undefined);
  } finally {
    await tiny.close();
  }
});
