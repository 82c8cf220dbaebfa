/** Streaming stats match the corpus's numpy statistics for every tensor of every file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { openModel } from '../../src/core/formats/openModel.ts';
import { computeTensorStats, type TensorStats } from '../../src/core/analysis/tensorStats.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';

function close(actual: number, expected: number, what: string, absTol = 0): void {
  if (Number.isNaN(expected)) return assert.ok(Number.isNaN(actual), what);
  const tol = Math.max(absTol, 1e-9 * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

export function assertStatsMatch(got: TensorStats, want: any, what: string): void {
  for (const k of ['count', 'finite_count', 'nan_count', 'posinf_count', 'neginf_count', 'zero_count'] as const)
    assert.equal(got[k], want[k], `${what} ${k}`);
  for (const k of ['min', 'max', 'absmax'] as const) assert.equal(got[k], want[k] ?? NaN, `${what} ${k}`);
  // The corpus notes one tensor mixing ±3.4e38 whose mean is rounding noise: absolute tolerance ~1e-12 x absmax there.
  const absTol = 1e-12 * (want.absmax ?? 0);
  close(got.mean, want.mean ?? NaN, `${what} mean`, absTol);
  close(got.std, want.std ?? NaN, `${what} std`, absTol);
  close(got.rms, want.rms ?? NaN, `${what} rms`);
  if (want.histogram === null) return assert.equal(got.histogram, null, `${what} histogram`);
  assert.equal(got.histogram?.bins, want.histogram.bins, `${what} bins`);
  assert.deepEqual(got.histogram?.counts, want.histogram.counts, `${what} histogram`);
}

/** Check every tensor listed in `want` against the stats Quant Lens computes from the model at `file`. */
async function checkTensors(file: string, want: { name: string; stats: any }[]): Promise<void> {
  const m = await openModel(file);
  try {
    for (const t of want) {
      const tensor = m.tensors.find((x) => x.name === t.name);
      assert.ok(tensor, `${file}: tensor ${t.name} is listed`);
      const stats = computeTensorStats(m, tensor, { bins: t.stats?.histogram?.bins ?? 64, chunkElements: 4096 });
      assertStatsMatch(stats, t.stats, `${file} ${t.name}`);
    }
  } finally {
    await m.close();
  }
}

// every GGUF of the corpus, the two shards of the split model included (each has its own expected.json)
for (const f of readdirSync(corpusPath('gguf')).filter((f) => f.endsWith('.gguf'))) {
  test(`stats: ${f}`, () => checkTensors(corpusPath('gguf', f), readJson('gguf', f.replace(/\.gguf$/, '.expected.json')).tensors));
}
test('stats: dtypes.safetensors', () =>
  checkTensors(corpusPath('safetensors', 'dtypes.safetensors'), readJson('safetensors', 'dtypes.expected.json').tensors));

// sharded.expected.json holds each shard's expectations: every shard opened on its own, then the whole model from its index
const sharded = readJson('safetensors/sharded/sharded.expected.json');
for (const shard of sharded.shards) {
  test(`stats: sharded safetensors, ${shard.file} alone`, () => checkTensors(corpusPath('safetensors/sharded', shard.file), shard.tensors));
}
test('stats: sharded safetensors through model.safetensors.index.json', async () => {
  const all = sharded.shards.flatMap((shard: { tensors: unknown[] }) => shard.tensors);
  assert.equal(all.length, sharded.n_tensors);
  await checkTensors(corpusPath('safetensors/sharded', sharded.index_file), all);
});
