/**
 * A tensor's exact stats scanned in shares of its rows (pass 1 per share, merged, then pass 2 per share over the
 * merged range) are bit-identical to one thread's scan, and match the corpus's reference statistics; on worker
 * threads (src/worker/splitStats.ts) and through `quantlens stats --tensor` alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../../src/core/formats/openModel.ts';
import {
  computeTensorStats,
  mergedFirstPass,
  rowsFirstPass,
  rowsHistogram,
  splitRows,
  statsOfShares,
  statsOfTallies,
  tensorRowCount,
  type TensorStats,
} from '../../src/core/analysis/tensorStats.ts';
import type { Model, TensorInfo } from '../../src/core/model.ts';
import { buildGgufHeader } from '../../src/core/formats/ggufWriter.ts';
import { WorkerPool } from '../../src/node/workerPool.ts';
import { SPLIT_MIN_ELEMENTS, splitTensorStats } from '../../src/worker/splitStats.ts';
import { bundledCli, bundledWorker } from '../helpers/bundles.ts';
import { runJob } from '../../src/worker/jobs.ts';
import { availableParallelism } from 'node:os';
import { corpusPath, readJson } from '../helpers/corpus.ts';

function sharedStats(model: Model, tensor: TensorInfo, parts: number, bins: number, chunkElements?: number): TensorStats {
  const shares = splitRows(tensor, parts);
  const passes = shares.map((rows) => rowsFirstPass(model, tensor, rows, { bins, chunkElements }));
  const tallies = passes.flatMap((p) => ('tallies' in p ? [p.tallies] : []));
  if (tallies.length) return statsOfTallies(tensor, bins, tallies);
  const totals = passes.flatMap((p) => ('totals' in p ? [p.totals] : []));
  const range = mergedFirstPass(bins, totals).histogramRange();
  const counts = shares.map((rows) => rowsHistogram(model, tensor, rows, range, { bins, chunkElements }));
  return statsOfShares(bins, totals, counts);
}

interface ExpectedTensor {
  name: string;
  stats?: {
    count: number;
    min: number;
    max: number;
    zero_count: number;
    nan_count: number;
    histogram?: { bins: number; counts: number[] };
  };
}

for (const file of [
  'llama-tiny-Q4_K',
  'llama-tiny-Q6_K',
  'llama-tiny-Q8_0',
  'llama-tiny-IQ4_XS',
  'llama-tiny-F16',
  'llama-tiny-BF16',
  'edge-cases',
]) {
  test(`${file}: every tensor split in 2, 3 and 5 row shares gives one thread's stats exactly, and the corpus's`, async () => {
    const expected = readJson<{ tensors: ExpectedTensor[] }>('gguf', `${file}.expected.json`);
    const model = await openModel(corpusPath('gguf', `${file}.gguf`));
    try {
      let compared = 0;
      for (const e of expected.tensors) {
        const tensor = model.tensors.find((t) => t.name === e.name)!;
        const bins = e.stats?.histogram?.bins ?? 64;
        let one: TensorStats;
        try {
          one = computeTensorStats(model, tensor, { bins });
        } catch {
          continue; // a type without a decoder (its error is tested elsewhere)
        }
        if (e.stats) {
          // the reference, computed by the corpus's own tool from ggml's dequantized values
          const split = sharedStats(model, tensor, 3, bins);
          assert.equal(split.count, e.stats.count, `${e.name} count`);
          assert.equal(split.nan_count, e.stats.nan_count, `${e.name} nan`);
          assert.equal(split.zero_count, e.stats.zero_count, `${e.name} zeros`);
          if (e.stats.count > e.stats.nan_count) {
            assert.equal(split.min, e.stats.min, `${e.name} min`);
            assert.equal(split.max, e.stats.max, `${e.name} max`);
          }
          if (e.stats.histogram) assert.deepEqual(split.histogram?.counts, e.stats.histogram.counts, `${e.name} histogram`);
        }
        for (const parts of [2, 3, 5])
          for (const chunkElements of [undefined, 256])
            assert.deepEqual(
              sharedStats(model, tensor, parts, bins, chunkElements),
              one,
              `${e.name} in ${parts} shares, chunks ${chunkElements}`,
            );
        compared++;
      }
      assert.ok(compared >= 3, `${compared} tensors compared`);
    } finally {
      await model.close();
    }
  });
}

test('row shares: whole rows, in order, covering the tensor, none empty', async () => {
  const model = await openModel(corpusPath('gguf', 'llama-tiny-Q4_K.gguf'));
  try {
    const t = model.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!;
    const rows = tensorRowCount(t);
    assert.equal(rows, t.shape[1]);
    for (const parts of [1, 2, 7, rows, rows + 5]) {
      const shares = splitRows(t, parts);
      assert.equal(shares.length, Math.min(parts, rows));
      let next = 0;
      for (const s of shares) {
        assert.equal(s.firstRow, next);
        assert.ok(s.nRows > 0);
        next += s.nRows;
      }
      assert.equal(next, rows);
    }
    assert.throws(() => rowsFirstPass(model, t, { firstRow: rows - 1, nRows: 2 }), /outside/);
  } finally {
    await model.close();
  }
});

/** A GGUF of one Q4_K tensor `w`: the corpus's blk.0.ffn_down.weight tiled `tiles` times along its rows. */
function tiledQ4K(tiles: number): string {
  const expected = readJson<{ file: string; tensors: { name: string; ne: number[]; absolute_offset: number; nbytes: number }[] }>(
    'gguf',
    'llama-tiny-Q4_K.expected.json',
  );
  const t = expected.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!;
  const src = readFileSync(corpusPath('gguf', expected.file)).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
  const layout = buildGgufHeader(
    [{ key: 'general.architecture', type: 'STRING', value: 'llama' }],
    [{ name: 'w', shape: [t.ne[0], t.ne[1] * tiles], ggmlTypeId: 12, nbytes: t.nbytes * tiles }],
  );
  const file = Buffer.alloc(layout.fileSize);
  file.set(layout.header);
  for (let i = 0; i < tiles; i++) file.set(src, layout.dataOffset + layout.offsets[0] + i * t.nbytes);
  const path = join(mkdtempSync(join(tmpdir(), 'ql-split-')), 'tiled.gguf');
  writeFileSync(path, file);
  return path;
}

test('a tensor split across worker threads and this one: the stats of one thread, with progress to the end', async () => {
  const path = tiledQ4K(64);
  const model = await openModel(path);
  const pool = new WorkerPool(bundledWorker(), 2, undefined, 2);
  try {
    const t = model.tensors[0];
    const progress: number[] = [];
    const split = await splitTensorStats(pool, path, model, t, 256, { onProgress: (done, total) => progress.push(done / total) });
    assert.deepEqual(split, computeTensorStats(model, t, { bins: 256 }));
    assert.equal(progress.at(-1), 1);
  } finally {
    await pool.dispose();
    await model.close();
  }
});

test("F16 and BF16 tensors split across worker threads: the shares hand their bit-pattern counts over, one thread's stats", async () => {
  const pool = new WorkerPool(bundledWorker(), 2, undefined, 2);
  try {
    for (const file of ['llama-tiny-F16', 'llama-tiny-BF16', 'edge-cases']) {
      const path = corpusPath('gguf', `${file}.gguf`);
      const model = await openModel(path);
      try {
        for (const t of model.tensors.filter((x) => x.type.name === 'F16' || x.type.name === 'BF16')) {
          const rows = splitRows(t, 3);
          assert.ok('tallies' in rowsFirstPass(model, t, rows[0]), `${t.name}: its share counted bit patterns`);
          assert.deepEqual(
            await splitTensorStats(pool, path, model, t, 64),
            computeTensorStats(model, t, { bins: 64 }),
            `${file} ${t.name}`,
          );
        }
      } finally {
        await model.close();
      }
    }
  } finally {
    await pool.dispose();
  }
});

test('stats --tensor of a huge tensor on two threads (its rows split): the JSON of one thread', () => {
  // twice the split threshold (131072 weights a tile): 38 MB, enough for the CLI to start a worker
  const path = tiledQ4K((2 * SPLIT_MIN_ELEMENTS) / 131072);
  const run = (threads: string) => {
    const r = spawnSync(
      process.execPath,
      [bundledCli(), 'stats', path, '--tensor', '^w$', '--bins', '256', '--json', '--threads', threads],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const one = run('1');
  assert.ok(one.tensors[0].stats.count >= SPLIT_MIN_ELEMENTS);
  assert.deepEqual(run('2'), one);
});

test(
  "the editor's stats job on a huge tensor shares its rows with helper threads: one thread's stats, cancellable",
  { skip: availableParallelism() < 2 },
  async () => {
    const path = tiledQ4K(SPLIT_MIN_ELEMENTS / 131072);
    const job = { kind: 'stats' as const, path, tensor: 'w', bins: 64 };
    const sizes: (number | undefined)[] = [];
    const helpers = (size?: number) => {
      sizes.push(size);
      return new WorkerPool(bundledWorker(), size ?? 1, { role: 'helper' }, 2);
    };
    const progress: number[][] = [];
    const split = await runJob(job, { onProgress: (done, total) => progress.push([done, total]), isCancelled: () => false, helpers });
    assert.deepEqual(sizes, [availableParallelism() - 1], 'one pool of helpers beside this thread');
    const alone = await runJob(job, { onProgress: () => {}, isCancelled: () => false });
    assert.deepEqual(split, alone);
    const [done, total] = progress.at(-1)!;
    assert.equal(done, total);
    await assert.rejects(
      runJob(job, { onProgress: () => {}, isCancelled: () => true, helpers }),
      (e: unknown) => e instanceof Error && /cancelled/.test(e.message),
    );
  },
);
