/**
 * Work spread over worker threads fails tensor by tensor, never as a crash: `stats --threads 2` with an
 * undecodable tensor, pool jobs that fail before they are awaited, chunk quantizers and what-if on helper threads,
 * and `compare` (CLI, report, worker job) flagging the tensor it cannot decode while comparing the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGgufHeader } from '../../src/core/formats/ggufWriter.ts';
import { Worker } from 'node:worker_threads';
import { WorkerPool } from '../../src/node/workerPool.ts';
import { JOB_QUEUED, JOB_STARTED, JOB_TAKEN_BACK, type WorkerRequest, type WorkerResponse } from '../../src/shared/workerProtocol.ts';
import { runJob, type JobContext } from '../../src/worker/jobs.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { unknownGgmlType } from '../../src/core/types.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { computeTensorStats } from '../../src/core/analysis/tensorStats.ts';
import { bundledCli, bundledWorker } from '../helpers/bundles.ts';
import { rng } from '../helpers/rng.ts';

const UNKNOWN_TYPE = 99;

interface Spec {
  name: string;
  /** ggml order (ne[0] first). */
  shape: number[];
  /** F32 values, or undefined for a tensor of the unknown type 99 (no data). */
  values?: Float32Array;
}

function writeGguf(dir: string, file: string, specs: Spec[]): string {
  const layout = buildGgufHeader(
    [{ key: 'general.architecture', type: 'STRING', value: 'llama' }],
    specs.map((s) => ({
      name: s.name,
      shape: s.shape,
      ggmlTypeId: s.values ? 0 : UNKNOWN_TYPE,
      nbytes: s.values ? s.values.length * 4 : 0,
    })),
  );
  const bytes = Buffer.alloc(layout.fileSize);
  bytes.set(layout.header);
  specs.forEach((s, i) => s.values && bytes.set(new Uint8Array(s.values.buffer), layout.dataOffset + layout.offsets[i]));
  const path = join(dir, file);
  writeFileSync(path, bytes);
  return path;
}

function randomValues(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() - 0.5) * (r() - 0.5);
  return v;
}

/** Exact count, min, max and zeros, and float64 mean and std, computed here from the values written. */
function expectedStats(v: Float32Array) {
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    zeros = 0;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
    if (x === 0) zeros++;
    sum += x;
  }
  const mean = sum / v.length;
  let dev = 0;
  for (const x of v) dev += (x - mean) ** 2;
  return { count: v.length, min, max, zero_count: zeros, mean, std: Math.sqrt(dev / v.length) };
}

function assertClose(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
}

/** No rejection goes unhandled while `f` runs (the listener replaces Node's crash for the duration). */
async function withoutUnhandledRejections(f: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const listener = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', listener);
  try {
    await f();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  assert.deepEqual(unhandled.map(String), [], 'no unhandled rejection');
}

test('stats --threads 2 with one undecodable tensor, 10 runs: exit 0, one warning line for it, exact stats for the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-threads-'));
  // the large tensors come first in the file and the bad one last: it fails on a worker while the CLI still
  // waits for the earlier ones (the rejection that used to go unhandled). 64 MB of F32, enough for the CLI to
  // start two workers (it runs small files on one thread).
  const good: Spec[] = [3, 2, 2, 1].map((k, i) => ({
    name: `blk.${i}.ffn_up.weight`,
    shape: [1024, 2048 * k],
    values: randomValues((2 << 20) * k, 11 + i),
  }));
  const bad: Spec = { name: 'blk.9.attn_q.weight', shape: [256, 4] };
  const path = writeGguf(dir, 'one-bad.gguf', [...good, bad]);
  const expected = good.map((t) => expectedStats(t.values!));
  for (let run = 0; run < 10; run++) {
    const r = spawnSync(process.execPath, [bundledCli(), 'stats', path, '--threads', '2', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `run ${run}: ${r.stderr}`);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    assert.deepEqual(
      warnings,
      [`warning: ${bad.name}: tensor ${bad.name} has unknown type ${UNKNOWN_TYPE}; it cannot be decoded`],
      `run ${run}`,
    );
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    const got = JSON.parse(r.stdout).tensors as { name: string; stats?: Record<string, number>; error?: string }[];
    assert.deepEqual(
      got.map((t) => t.name),
      [...good, bad].map((t) => t.name),
      'every tensor, in file order',
    );
    assert.match(got[4].error ?? '', /cannot be decoded/);
    for (const [i, t] of good.entries()) {
      const want = expected[i];
      const s = got[i].stats!;
      for (const k of ['count', 'min', 'max', 'zero_count'] as const) assert.equal(s[k], want[k], `${t.name} ${k}`);
      assertClose(s.mean, want.mean, `${t.name} mean`);
      assertClose(s.std, want.std, `${t.name} std`);
    }
  }
  // the text output: the good tensors' lines on stdout, the same single warning
  const text = spawnSync(process.execPath, [bundledCli(), 'stats', path, '--threads', '2'], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.deepEqual(
    text.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]),
    good.map((t) => t.name),
  );
  assert.equal(text.stderr.split('\n').filter((l) => l.startsWith('warning:')).length, 1);
});

test('spread: the calling thread takes the front job while no worker is ready, then the back ones; every result in job order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-threads-'));
  const specs: Spec[] = [1, 3, 2].map((k, i) => ({ name: `blk.${i}.w`, shape: [64, 16 * k], values: randomValues(1024 * k, 60 + i) }));
  const path = writeGguf(dir, 'three.gguf', specs);
  const model = await openModel(path);
  const jobs = specs.map((t) => ({ kind: 'stats' as const, path, tensor: t.name, bins: 16 }));
  const here = (ran: number[]) => (i: number) => {
    ran.push(i);
    return { kind: 'stats' as const, stats: computeTensorStats(model, model.tensors[i], { bins: 16 }) };
  };
  const check = async (handles: { promise: Promise<unknown> }[]) => {
    for (const [i, h] of handles.entries()) {
      const r = (await h.promise) as { kind: string; stats: { count: number; min: number; max: number } };
      const want = expectedStats(specs[i].values!);
      assert.deepEqual([r.kind, r.stats.count, r.stats.min, r.stats.max], ['stats', want.count, want.min, want.max], specs[i].name);
    }
  };
  const pool = new WorkerPool(bundledWorker(), 1);
  try {
    // a new pool: no worker can be ready before this thread yields, so the first job in order runs here
    const ranHere: number[] = [];
    await check(pool.spread(jobs, here(ranHere), [1, 2, 0]));
    assert.equal(ranHere[0], 1, 'the first job in the order ran on the calling thread');
    // a worker that has answered is ready: it is given the front job, this thread takes the back one
    await pool.run({ kind: 'close', path }).promise;
    const ranAfter: number[] = [];
    await check(pool.spread(jobs, here(ranAfter), [1, 2, 0]));
    assert.equal(ranAfter[0], 0, 'the last job in the order ran on the calling thread');
    assert.ok(!ranAfter.includes(1), 'the first went to the worker');
  } finally {
    await pool.dispose();
    await model.close();
  }
});

test('a worker answers a job its caller took back as cancelled without running it, and marks the jobs it starts', async () => {
  const w = new Worker(bundledWorker());
  try {
    const answers = new Map<number, WorkerResponse>();
    const answered = new Promise<void>((resolve) =>
      w.on('message', (m: WorkerResponse) => {
        if (m.type === 'ready') return;
        answers.set(m.id, m);
        if (answers.size === 2) resolve();
      }),
    );
    const flag = (state: number) => {
      const f = new SharedArrayBuffer(4);
      Atomics.store(new Int32Array(f), 0, state);
      return f;
    };
    const takenBack = flag(JOB_TAKEN_BACK);
    const queued = flag(JOB_QUEUED);
    const job = { kind: 'close' as const, path: '/nonexistent.gguf' };
    w.postMessage({ id: 1, job, cancel: takenBack } satisfies WorkerRequest);
    w.postMessage({ id: 2, job, cancel: queued } satisfies WorkerRequest);
    await answered;
    const first = answers.get(1);
    assert.deepEqual(
      [first?.type, first?.type === 'error' && first.code],
      ['error', 'cancelled'],
      'the taken-back job is answered as cancelled',
    );
    assert.equal(Atomics.load(new Int32Array(takenBack), 0), JOB_TAKEN_BACK);
    assert.deepEqual(answers.get(2), { id: 2, type: 'result', result: { kind: 'closed' } }, 'the queued job runs');
    assert.equal(Atomics.load(new Int32Array(queued), 0), JOB_STARTED, 'and is marked started');
  } finally {
    await w.terminate();
  }
});

test('a pool job that fails before it is awaited is not an unhandled rejection, and still rejects when awaited', async () => {
  const pool = new WorkerPool(bundledWorker(), 1);
  try {
    await withoutUnhandledRejections(async () => {
      const failing = pool.run({ kind: 'quantizeChunk', typeId: UNKNOWN_TYPE, values: new Float32Array(32), nRows: 1, nPerRow: 32 });
      // one worker runs jobs in order: when the later job is done, the failing one has long been rejected
      const later = pool.run({ kind: 'close', path: '/nonexistent.gguf' });
      assert.deepEqual(await later.promise, { kind: 'closed' });
      await assert.rejects(failing.promise, (e: Error) => e instanceof QuantLensError && e.message === `unknown ggml type ${UNKNOWN_TYPE}`);
    });
  } finally {
    await pool.dispose();
  }
});

test('jobs still queued or running when the pool closes reject as cancelled, none unhandled', async () => {
  await withoutUnhandledRejections(async () => {
    const pool = new WorkerPool(bundledWorker(), 1);
    const handles = Array.from({ length: 4 }, () => pool.run({ kind: 'close', path: '/nonexistent.gguf' }));
    await pool.dispose();
    for (const h of handles) await assert.rejects(h.promise, (e: Error & { code?: string }) => e.code === 'cancelled');
  });
});

test("a failing chunk of the pool's chunk quantizer is a one-line QuantLensError", async () => {
  const pool = new WorkerPool(bundledWorker(), 2);
  try {
    await withoutUnhandledRejections(async () => {
      const quantize = pool.chunkQuantizer();
      const chunks = [0, 1, 2].map(() => quantize(unknownGgmlType(UNKNOWN_TYPE), new Float32Array(256), 1, 256));
      for (const c of chunks) await assert.rejects(c, (e: Error) => e instanceof QuantLensError && !e.message.includes('\n'));
    });
  } finally {
    await pool.dispose();
  }
});

test('what-if on helper threads over a tensor that cannot be decoded: one-line error, nothing unhandled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ql-threads-'));
  const path = writeGguf(dir, 'bad-only.gguf', [{ name: 'blk.0.ffn_up.weight', shape: [1024, 1024] }]);
  let pools = 0;
  await withoutUnhandledRejections(async () => {
    await assert.rejects(
      runJob(
        { kind: 'whatIf', path, tensor: 'blk.0.ffn_up.weight', candidates: ['Q8_0', 'Q4_K', 'nf4', 'Q4_0'] },
        {
          onProgress: () => {},
          isCancelled: () => false,
          helpers: () => {
            pools++;
            return new WorkerPool(bundledWorker(), 2, { role: 'helper' });
          },
        },
      ),
      (e: Error) =>
        e instanceof QuantLensError && e.code === 'not-decodable' && /blk\.0\.ffn_up\.weight/.test(e.message) && !e.message.includes('\n'),
    );
  });
  assert.equal(pools, 1, 'the candidates went to helper threads');
});

/** A model whose tensors differ from the reference's by a known offset per tensor, and one it cannot decode. */
function comparePair() {
  const dir = mkdtempSync(join(tmpdir(), 'ql-threads-compare-'));
  const names = ['blk.0.attn_k.weight', 'blk.0.ffn_down.weight', 'blk.0.ffn_up.weight'];
  const refs = names.map((name, i) => ({ name, shape: [64, 32], values: randomValues(64 * 32, 40 + i) }));
  const deltas = [0.25, -0.125, 0.0625];
  const mine = refs.map((r, i) => ({ ...r, values: Float32Array.from(r.values, (x) => x + deltas[i]) }));
  const bad = 'blk.0.attn_v.weight';
  const reference = writeGguf(dir, 'ref.gguf', [
    ...refs.slice(0, 2),
    { name: bad, shape: [64, 32], values: randomValues(64 * 32, 49) },
    refs[2],
  ]);
  const model = writeGguf(dir, 'model.gguf', [...mine.slice(0, 2), { name: bad, shape: [64, 32] }, mine[2]]);
  // rmse and max |error| computed here, in float64, from the float32 values written
  const expected = new Map(
    names.map((name, i) => {
      let sq = 0,
        max = 0;
      for (let j = 0; j < refs[i].values.length; j++) {
        const d = mine[i].values[j] - refs[i].values[j];
        sq += d * d;
        max = Math.max(max, Math.abs(d));
      }
      return [name, { rmse: Math.sqrt(sq / refs[i].values.length), max_abs: max }];
    }),
  );
  return { model, reference, bad, expected };
}

function runCli(...args: string[]) {
  return spawnSync(process.execPath, [bundledCli(), ...args], { encoding: 'utf8' });
}

test('compare flags the tensor it cannot decode and compares the rest: JSON, text table, report', () => {
  const { model, reference, bad, expected } = comparePair();
  const json = runCli('compare', model, reference, '--json');
  assert.equal(json.status, 0, json.stderr);
  const got = JSON.parse(json.stdout);
  assert.deepEqual(got.tensors.map((t: { name: string }) => t.name).sort(), [...expected.keys()].sort());
  for (const t of got.tensors) {
    assertClose(t.rmse, expected.get(t.name)!.rmse, `${t.name} rmse`);
    assertClose(t.max_abs, expected.get(t.name)!.max_abs, `${t.name} max_abs`);
  }
  assert.equal(got.uncompared.length, 1);
  assert.equal(got.uncompared[0].name, bad);
  assert.match(got.uncompared[0].error, new RegExp(`^tensor ${bad.replace(/\./g, '\\.')} has unknown type ${UNKNOWN_TYPE}`));

  const text = runCli('compare', model, reference);
  assert.equal(text.status, 0, text.stderr);
  const flagged = text.stdout.split('\n').filter((l) => l.startsWith(bad));
  assert.equal(flagged.length, 1);
  assert.match(flagged[0], /not compared: .*cannot be decoded/);
  for (const name of expected.keys())
    assert.ok(
      text.stdout.split('\n').some((l) => l.startsWith(name)),
      `${name} in the table`,
    );

  const md = runCli('report', model, '--compare', reference, '--format', 'md');
  assert.equal(md.status, 0, md.stderr);
  assert.ok(
    md.stdout.split('\n').some((l) => l.includes(bad) && l.includes('not compared')),
    md.stdout,
  );
  const report = runCli('report', model, '--compare', reference, '--format', 'json');
  assert.equal(report.status, 0, report.stderr);
  const rows = JSON.parse(report.stdout).tensors as { name: string; error?: { rmse: number }; compare_error?: string }[];
  assert.match(rows.find((r) => r.name === bad)!.compare_error ?? '', /cannot be decoded/);
  for (const name of expected.keys())
    assertClose(rows.find((r) => r.name === name)!.error!.rmse, expected.get(name)!.rmse, `report ${name}`);
  const csv = runCli('report', model, '--compare', reference, '--format', 'csv').stdout.trim().split('\n');
  assert.equal(csv[0].split(',').at(-1), 'compare_error');
  assert.match(
    csv.find((l) => l.startsWith(bad))!,
    /cannot be decoded/,
  );
});

test('the compare job over helper threads lists the same uncompared tensor and the same metrics as one thread', async () => {
  const { model, reference, bad, expected } = comparePair();
  const job = { kind: 'compare' as const, path: model, reference };
  const quiet: JobContext = { onProgress: () => {}, isCancelled: () => false };
  const alone = await runJob(job, quiet);
  // helpers that have loaded before the job starts: the tensors go to them rather than to the job's own thread
  const helpers = new WorkerPool(bundledWorker(), 2, { role: 'helper' });
  await Promise.all([0, 1].map(() => helpers.run({ kind: 'close', path: model }).promise));
  let pools = 0;
  const spread = await runJob(job, { ...quiet, helpers: () => (pools++, helpers) });
  assert.equal(pools, 1);
  assert.ok(alone.kind === 'compare');
  assert.deepEqual(
    alone.comparison.uncompared.map((u) => u.name),
    [bad],
  );
  assert.deepEqual(alone.comparison.tensors.map((t) => t.name).sort(), [...expected.keys()].sort());
  assert.deepEqual(spread, alone);
});
