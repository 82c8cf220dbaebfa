/** Worker jobs that hand parts of their work to helper threads give what one thread gives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGgufHeader } from '../../src/core/formats/ggufWriter.ts';
import { runJob, type JobContext } from '../../src/worker/jobs.ts';
import { WorkerPool } from '../../src/node/workerPool.ts';
import { bundledWorker } from '../helpers/bundles.ts';
import { rng } from '../helpers/rng.ts';
import { corpusPath } from '../helpers/corpus.ts';

/** A GGUF holding one F32 tensor of `rows` rows of 1024 heavy-tailed values, with a few outlier columns. */
function bigF32Model(rows = 1024): string {
  const cols = 1024;
  const layout = buildGgufHeader(
    [{ key: 'general.architecture', type: 'STRING', value: 'llama' }],
    [{ name: 'blk.0.ffn_up.weight', shape: [cols, rows], ggmlTypeId: 0, nbytes: rows * cols * 4 }],
  );
  const values = new Float32Array(rows * cols);
  const r = rng(7);
  for (let i = 0; i < values.length; i++) values[i] = (r() - 0.5) * (r() - 0.5) * 0.2 * (i % cols === 77 ? 25 : 1);
  const file = Buffer.alloc(layout.fileSize);
  file.set(layout.header);
  file.set(new Uint8Array(values.buffer), layout.dataOffset + layout.offsets[0]);
  const path = join(mkdtempSync(join(tmpdir(), 'ql-jobs-')), 'big.gguf');
  writeFileSync(path, file);
  return path;
}

test('what-if over helper threads: the same rows, in the order asked for, with progress to the end', async () => {
  const path = bigF32Model();
  const job = {
    kind: 'whatIf' as const,
    path,
    tensor: 'blk.0.ffn_up.weight',
    candidates: ['Q8_0', 'nf4', 'Q4_K', 'int4-sym-g32', 'Q4_0', 'int8-asym-channel'],
  };
  const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };
  const alone = await runJob(job, quiet);
  const progress: number[][] = [];
  let pools = 0;
  const spread = await runJob(job, {
    onProgress: (done, total) => progress.push([done, total]),
    isCancelled: () => false,
    helpers: () => {
      pools++;
      return new WorkerPool(bundledWorker(), 2, { role: 'helper' });
    },
  });
  assert.equal(pools, 1, 'the job used helper threads');
  assert.equal(alone.kind, 'whatIf');
  assert.deepEqual(spread, alone);
  assert.deepEqual(alone.kind === 'whatIf' && alone.rows.map((r) => r.candidate), [
    'Q8_0',
    'nf4',
    'Q4_K',
    'int4-sym-g32',
    'Q4_0',
    'int8-asym-channel',
  ]);
  const [done, total] = progress.at(-1)!;
  assert.equal(done, total);
});

test('a what-if on helper threads, cancelled at its first progress report, stops with a cancelled error', async () => {
  // three what-if chunks (2^20 weights each) per helper: each reports after its first, and looks at the cancel
  // flag before its third, so the job cannot end before it sees the cancel
  const path = bigF32Model(3 * 1024);
  const reports: number[][] = [];
  const result = runJob(
    { kind: 'whatIf', path, tensor: 'blk.0.ffn_up.weight', candidates: ['Q4_K', 'Q5_K', 'Q6_K', 'Q3_K', 'Q2_K', 'IQ4_XS'] },
    {
      onProgress: (done, total) => reports.push([done, total]),
      // cancelled as soon as the job has shown it is under way: no timer decides when
      isCancelled: () => reports.length > 0,
      helpers: () => new WorkerPool(bundledWorker(), 2, { role: 'helper' }),
    },
  );
  await assert.rejects(result, (e: Error & { code?: string }) => e.code === 'cancelled');
  assert.ok(reports.length > 0, 'the job reported progress before it was cancelled');
  const [done, total] = reports[0];
  assert.ok(done < total, `the first report (${done} of ${total}) came before the end`);
});

test('the report and the text dump with stats: the same text from helper threads as from one thread', async () => {
  const path = corpusPath('gguf', 'llama-mix-Q4_K_M.gguf');
  const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };
  const withHelpers: JobContext = { ...quiet, helpers: () => new WorkerPool(bundledWorker(), 2, { role: 'helper' }) };
  for (const job of [
    { kind: 'report' as const, path, format: 'json' as const },
    { kind: 'dump' as const, path, withStats: true },
  ]) {
    const alone = await runJob(job, quiet);
    const spread = await runJob(job, withHelpers);
    assert.equal(alone.kind, 'text');
    assert.deepEqual(spread, alone, job.kind);
  }
});

test("compare over helper threads: every tensor's metrics as one thread gives them, in file order", async () => {
  const job = {
    kind: 'compare' as const,
    path: corpusPath('gguf', 'llama-tiny-Q4_K.gguf'),
    reference: corpusPath('gguf', 'llama-tiny-F32.gguf'),
  };
  const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };
  const alone = await runJob(job, quiet);
  const spread = await runJob(job, { ...quiet, helpers: () => new WorkerPool(bundledWorker(), 2, { role: 'helper' }) });
  assert.equal(alone.kind === 'compare' && alone.comparison.tensors.length, 5);
  assert.deepEqual(spread, alone);
});
