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
  for (const k of ['count', 'finite_count', 'nan_count', 'posinf_count', 'neginf_count', 'zero_count'] as const) assert.equal(got[k], want[k], `${what} ${k}`);
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

async function checkFile(dir: string, file: string, expectedFile: string): Promise<void> {
  const exp = readJson(dir, expectedFile);
  const m = await openModel(corpusPath(dir, file));
  try {
    for (const t of exp.tensors) {
      const tensor = m.tensors.find((x) => x.name === t.name)!;
      const stats = computeTensorStats(m, tensor, { bins: t.stats?.histogram?.bins ?? 64, chunkElements: 4096 });
      assertStatsMatch(stats, t.stats, `${file} ${t.name}`);
    }
  } finally {
    await m.close();
  }
}

for (const f of readdirSync(corpusPath('gguf')).filter((f) => f.endsWith('.gguf') && !/-of-/.test(f))) {
  test(`stats: ${f}`, () => checkFile('gguf', f, f.replace(/\.gguf$/, '.expected.json')));
}
test('stats: dtypes.safetensors', () => checkFile('safetensors', 'dtypes.safetensors', 'dtypes.expected.json'));
test('stats: sharded safetensors', async () => {
  const exp = readJson('safetensors/sharded/sharded.expected.json');
  for (const shard of exp.shards) await checkFile('safetensors/sharded', shard.file, `../sharded/${shard.file.replace('.safetensors', '.expected.json')}`).catch(async () => {
    // Shard expectations are embedded in sharded.expected.json.
    const m = await openModel(corpusPath('safetensors/sharded', 'model.safetensors.index.json'));
    try {
      for (const t of shard.tensors) assertStatsMatch(computeTensorStats(m, m.tensors.find((x) => x.name === t.name)!), t.stats, t.name);
    } finally {
      await m.close();
    }
  });
});
