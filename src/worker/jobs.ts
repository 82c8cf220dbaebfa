/**
 * What the worker does, free of worker_threads and vscode so tests can call it directly: each job opens (or
 * reuses) its model by path and runs one core analysis, reporting progress and honouring cancellation.
 */
import { availableParallelism } from 'node:os';
import type { Model, TensorInfo } from '../core/model.ts';
import { oneLine, QuantLensError } from '../core/errors.ts';
import { computeTensorStats, DEFAULT_BINS, rowsFirstPass, rowsHistogram, type TensorStats } from '../core/analysis/tensorStats.ts';
import { SPLIT_MIN_ELEMENTS, splitTensorStats } from './splitStats.ts';
import { computeScaleDistribution } from '../core/analysis/blocks.ts';
import { inspectBlock } from '../core/analysis/inspectedBlock.ts';
import {
  whatIfOf,
  parseCandidate,
  candidateErrorStatsOf,
  candidateId,
  predictCandidateError,
  type WhatIfRow,
} from '../core/analysis/whatIf.ts';
import {
  compareModels,
  comparePair,
  compareTensorDetail,
  pairTensors,
  type ComparedTensor,
  type UncomparedTensor,
} from '../core/compare/compare.ts';
import { buildReport } from '../core/report/report.ts';
import { dumpModel } from '../core/report/textDump.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../core/requant/requantize.ts';
import type { WorkerPool } from '../node/workerPool.ts';
import { requireQuantizer } from '../core/quant/quantizers.ts';
import { ggmlType } from '../core/types.ts';
import { parseSimulationRule, planSimulation, writeSimulated } from '../core/requant/simulate.ts';
import { imatrixFor, readImatrix } from '../core/requant/imatrix.ts';
import type { JobKind, JobOf, JobResults, ResultOf, WorkerJob } from '../shared/workerProtocol.ts';
import { heatmapOf } from '../core/analysis/heatmap.ts';
import type { ValueSource } from '../core/analysis/valueSource.ts';
import { openModelAndWeights, quantizedViewOf, type QuantizedModel } from '../core/hfquant/open.ts';
import type { LogicalWeight } from '../core/hfquant/weights.ts';
import { statsEntries, valueSourceOf, type OpenedModel } from '../core/hfquant/source.ts';
import { groupScaleDistribution, logicalWeightStats } from '../core/hfquant/stats.ts';
import { mayBeCut, openCutModel } from '../core/formats/openModel.ts';

export interface JobContext {
  onProgress: (done: number, total: number) => void;
  isCancelled: () => boolean;
  /**
   * A new pool of `size` helper threads (by default one per core) that a long job may hand parts of its work to
   * (the caller disposes of it).
   */
  helpers?: (size?: number) => WorkerPool;
}

const models = new Map<string, Promise<{ model: Model; view?: QuantizedModel }>>();

/** The model at a path (and its logical weights when it is a quantized Hugging Face checkpoint), opened once. */
function openedAt(path: string): Promise<{ model: Model; view?: QuantizedModel }> {
  let m = models.get(path);
  if (!m) {
    // a file cut short opens as far as it goes, as the editor opened it (its tensors are those with data)
    m = openModelAndWeights(path).catch(async (e: unknown) => {
      const cut = mayBeCut(e) ? await openCutModel(path) : undefined;
      if (!cut) throw e;
      try {
        return { model: cut, view: await quantizedViewOf(cut, path) };
      } catch (viewError) {
        await cut.close();
        throw viewError;
      }
    });
    models.set(path, m);
    m.catch(() => models.delete(path));
  }
  return m;
}

async function modelAt(path: string): Promise<Model> {
  return (await openedAt(path)).model;
}

/** The logical weight of that exact name in a quantized checkpoint (a component's name is its tensor, not the weight). */
async function logicalWeightAt(path: string, name: string): Promise<LogicalWeight | undefined> {
  return (await openedAt(path)).view?.weights.find((w) => w.name === name);
}

/** A logical weight (by its logical name) or a tensor as the streaming views read it. */
async function sourceAt(path: string, name: string): Promise<ValueSource> {
  const source = valueSourceOf(await openedAt(path), name);
  if (!source) throw new QuantLensError('usage', `no tensor named ${name}`);
  return source;
}

export async function closeModel(path: string): Promise<void> {
  const m = models.get(path);
  models.delete(path);
  if (m) await (await m).model.close().catch(() => undefined);
}

/**
 * The loaded importance matrix's values for a tensor (every expert's, for a 3-D expert tensor); none for a logical
 * weight of a quantized checkpoint (llama.cpp's imatrix entries name GGUF tensors).
 */
async function importanceOf(path: string, imatrix: string | undefined, name: string): Promise<Float32Array | undefined> {
  if (!imatrix) return undefined;
  const tensor = (await modelAt(path)).tensors.find((t) => t.name === name);
  return tensor ? imatrixFor(imatrix, tensor) : undefined;
}

function tensorOf(model: Model, name: string): TensorInfo {
  const t = model.tensors.find((x) => x.name === name);
  if (!t) throw new QuantLensError('usage', `no tensor named ${name}`);
  return t;
}

/** Tensors of at least this many weights spread their what-if candidates over helper threads. */
const FAN_OUT_ELEMENTS = 1 << 20;

/** A rough relative cost of one candidate's round trip: the K- and I-quant searches dominate. */
function candidateCost(name: string): number {
  const c = parseCandidate(name);
  if (c.kind === 'scheme') return 1;
  return c.type.family === 'k-quant' || c.type.family === 'i-quant' ? 12 : 2;
}

/**
 * The what-if table with its candidates split over helper threads (each streams the whole tensor for its share,
 * the costliest candidates spread first), merged back in the order asked for.
 */
async function whatIfOnHelpers(job: JobOf<'whatIf'>, helpers: WorkerPool, ctx: JobContext): Promise<WhatIfRow[]> {
  const groups: { candidates: string[]; cost: number }[] = Array.from({ length: helpers.size }, () => ({ candidates: [], cost: 0 }));
  for (const name of [...job.candidates].sort((a, b) => candidateCost(b) - candidateCost(a))) {
    const cheapest = groups.reduce((a, b) => (b.cost < a.cost ? b : a));
    cheapest.candidates.push(name);
    cheapest.cost += candidateCost(name);
  }
  const busy = groups.filter((g) => g.candidates.length);
  const progress = busy.map(() => ({ done: 0, total: 1 }));
  const handles = busy.map((g, i) =>
    helpers.run({ ...job, candidates: g.candidates }, (done, total) => {
      progress[i] = { done, total };
      ctx.onProgress(
        progress.reduce((a, p) => a + p.done / p.total, 0),
        progress.length,
      );
    }),
  );
  const watch = setInterval(() => ctx.isCancelled() && handles.forEach((h) => h.cancel()), 100);
  try {
    const rows = (await Promise.all(handles.map((h) => h.promise))).flatMap((r) => r.rows);
    const order = job.candidates.map((name) => candidateId(parseCandidate(name)));
    return rows.sort((a, b) => order.indexOf(a.candidate) - order.indexOf(b.candidate));
  } finally {
    clearInterval(watch);
  }
}

/** Tensor-by-tensor jobs run on this thread too (WorkerPool.spread): one helper fewer than the cores. */
const HELPERS_BESIDE_THIS_THREAD = availableParallelism() - 1;

/**
 * Stats of every tensor that can be decoded (the others are left out), on helper threads when there are some
 * (largest tensors first, so a huge one does not start last); `onTensorDone` counts finished tensors.
 */
async function everyTensorStats(
  opened: OpenedModel,
  path: string,
  ctx: JobContext,
  onTensorDone: (done: number) => void,
): Promise<Map<string, TensorStats>> {
  const stats = new Map<string, TensorStats>();
  const entries = statsEntries(opened);
  const undecodable = (e: unknown) => {
    if (!(e instanceof QuantLensError) || e.code === 'cancelled') throw e;
  };
  let done = 0;
  const helpers = entries.length > 1 && HELPERS_BESIDE_THIS_THREAD ? ctx.helpers?.(HELPERS_BESIDE_THIS_THREAD) : undefined;
  if (!helpers) {
    for (const t of entries) {
      if (ctx.isCancelled()) throw new QuantLensError('cancelled', 'cancelled');
      try {
        stats.set(t.name, t.stats({ isCancelled: ctx.isCancelled }));
      } catch (e) {
        undecodable(e);
      }
      onTensorDone(++done);
    }
    return stats;
  }
  try {
    // the helpers' stats job resolves a logical weight's name to its dequantized values as this thread does
    const results = await tensorByTensor(
      helpers,
      ctx,
      entries,
      (t) => ({ kind: 'stats', path, tensor: t.name, bins: DEFAULT_BINS }),
      (t) => ({ kind: 'stats', stats: t.stats({ bins: DEFAULT_BINS, isCancelled: ctx.isCancelled }) }),
      (e) => {
        undecodable(e);
        return undefined;
      },
      () => onTensorDone(++done),
    );
    for (const [i, t] of entries.entries()) {
      const r = results[i];
      if (r) stats.set(t.name, r.stats);
    }
    return stats;
  } finally {
    await helpers.dispose();
  }
}

/**
 * One job per tensor on the helper threads, largest tensors first (so a huge one does not start last and run
 * alone), and on this thread too with `runHere` (WorkerPool.spread); results in the order of `tensors`. A job's
 * error goes to `onError`, which rethrows or gives a stand-in.
 */
async function tensorByTensor<E extends { name: string; nElements: number }, J extends WorkerJob, T>(
  helpers: WorkerPool,
  ctx: JobContext,
  tensors: E[],
  jobFor: (t: E) => J,
  runHere: (t: E, index: number) => ResultOf<J>,
  onError: (e: unknown) => T,
  onDone: () => void,
): Promise<(ResultOf<J> | T)[]> {
  const largestFirst = tensors.map((t, i) => i).sort((a, b) => tensors[b].nElements - tensors[a].nElements || a - b);
  const handles = helpers.spread(tensors.map(jobFor), (i) => runHere(tensors[i], i), largestFirst);
  const watch = setInterval(() => ctx.isCancelled() && handles.forEach((h) => h.cancel()), 100);
  try {
    return await Promise.all(handles.map((h) => h.promise.then((r) => r, onError).finally(onDone)));
  } finally {
    clearInterval(watch);
  }
}

/**
 * compareModels over every paired tensor, on helper threads when there are some. A tensor whose job fails (it
 * cannot be decoded, or its helper thread died) is listed as uncompared; cancelling stops the whole comparison.
 */
async function compareOnHelpers(
  model: OpenedModel,
  ref: OpenedModel,
  job: JobOf<'compare'>,
  ctx: JobContext,
): Promise<ReturnType<typeof compareModels>> {
  const pairing = pairTensors(model, ref);
  const helpers = pairing.pairs.length > 1 && HELPERS_BESIDE_THIS_THREAD ? ctx.helpers?.(HELPERS_BESIDE_THIS_THREAD) : undefined;
  if (!helpers) return compareModels(model, ref, { isCancelled: ctx.isCancelled, onProgress: (d, t) => ctx.onProgress(d, t) });
  try {
    let done = 0;
    const results = await tensorByTensor(
      helpers,
      ctx,
      pairing.pairs.map((p) => p.tensor),
      (t) => ({ ...job, tensors: [t.name] }),
      (t, i) => {
        const row = comparePair(model, ref, pairing.pairs[i], ctx.isCancelled);
        const [tensors, uncompared] = 'compared' in row ? [[row.compared], []] : [[], [row.uncompared]];
        return {
          kind: 'compare' as const,
          comparison: { reference: job.reference, tensors, uncompared, missingInReference: [], missingInModel: [], shapeMismatches: [] },
        };
      },
      (e) => {
        if (!(e instanceof QuantLensError) || e.code === 'cancelled') throw e;
        return { failed: e.message };
      },
      () => ctx.onProgress(++done, pairing.pairs.length),
    );
    const tensors: ComparedTensor[] = [];
    const uncompared: UncomparedTensor[] = [];
    for (const [i, r] of results.entries()) {
      if ('failed' in r) uncompared.push({ name: pairing.pairs[i].name, reference_name: pairing.pairs[i].reference.name, error: r.failed });
      else {
        tensors.push(...r.comparison.tensors);
        uncompared.push(...r.comparison.uncompared);
      }
    }
    return { pairing, tensors, uncompared };
  } finally {
    await helpers.dispose();
  }
}

type Handler<K extends JobKind> = (job: JobOf<K>, ctx: JobContext) => Promise<JobResults[K]>;

/** One handler per job kind, answering with that kind's result (src/shared/workerProtocol.ts). */
const HANDLERS: { [K in JobKind]: Handler<K> } = {
  close: async (job) => {
    await closeModel(job.path);
    return { kind: 'closed' };
  },
  quantizeChunk: async (job) => {
    const to = ggmlType(job.typeId);
    if (!to) throw new QuantLensError('usage', `unknown ggml type ${job.typeId}`);
    return { kind: 'quantized', bytes: requireQuantizer(to).quantize(job.values, job.nRows, job.nPerRow, job.imatrix) };
  },
  stats: async (job, ctx) => {
    const model = await modelAt(job.path);
    const weight = await logicalWeightAt(job.path, job.tensor);
    if (weight)
      return {
        kind: 'stats',
        stats: logicalWeightStats(weight, { bins: job.bins, onProgress: ctx.onProgress, isCancelled: ctx.isCancelled }),
      };
    const tensor = tensorOf(model, job.tensor);
    // a huge tensor's rows are shared with helper threads (as many as the cores beside this one)
    if (tensor.nElements >= SPLIT_MIN_ELEMENTS && HELPERS_BESIDE_THIS_THREAD && ctx.helpers) {
      const helpers = ctx.helpers(HELPERS_BESIDE_THIS_THREAD);
      try {
        return { kind: 'stats', stats: await splitTensorStats(helpers, job.path, model, tensor, job.bins, ctx) };
      } finally {
        await helpers.dispose();
      }
    }
    return {
      kind: 'stats',
      stats: computeTensorStats(model, tensor, { bins: job.bins, onProgress: ctx.onProgress, isCancelled: ctx.isCancelled }),
    };
  },
  statsFirstPass: async (job, ctx) => {
    const model = await modelAt(job.path);
    return { kind: 'statsFirstPass', share: rowsFirstPass(model, tensorOf(model, job.tensor), job.rows, ctx) };
  },
  statsHistogram: async (job, ctx) => {
    const model = await modelAt(job.path);
    const counts = rowsHistogram(model, tensorOf(model, job.tensor), job.rows, job.range, { bins: job.bins, ...ctx });
    return { kind: 'statsHistogram', counts };
  },
  scales: async (job, ctx) => {
    const model = await modelAt(job.path);
    const weight = await logicalWeightAt(job.path, job.tensor);
    if (weight) return { kind: 'scales', scales: groupScaleDistribution(weight, job.bins) };
    return {
      kind: 'scales',
      scales: computeScaleDistribution(model, tensorOf(model, job.tensor), {
        bins: job.bins,
        onProgress: ctx.onProgress,
        isCancelled: ctx.isCancelled,
      }),
    };
  },
  block: async (job) => {
    const model = await modelAt(job.path);
    return { kind: 'block', view: inspectBlock(model, tensorOf(model, job.tensor), job.index) };
  },
  group: async (job) => {
    const weight = await logicalWeightAt(job.path, job.tensor);
    if (!weight) throw new QuantLensError('usage', `no logical weight named ${job.tensor}`);
    return { kind: 'group', record: weight.inspectGroup(job.row, job.group) };
  },
  weightChecks: async (job) => {
    const weight = await logicalWeightAt(job.path, job.tensor);
    if (!weight) throw new QuantLensError('usage', `no logical weight named ${job.tensor}`);
    const error = weight.load();
    return {
      kind: 'weightChecks',
      checks: {
        tensor: weight.name,
        scheme: weight.scheme,
        diagnostics: [...weight.diagnostics],
        ...(error ? { error: oneLine(error) } : {}),
      },
    };
  },
  heatmap: async (job, ctx) => {
    const source = await sourceAt(job.path, job.tensor);
    return { kind: 'heatmap', heatmap: heatmapOf(source, job.width, job.height, ctx) };
  },
  whatIf: async (job, ctx) => {
    const source = await sourceAt(job.path, job.tensor);
    if (job.candidates.length > 1 && source.nElements >= FAN_OUT_ELEMENTS && ctx.helpers) {
      const helpers = ctx.helpers();
      try {
        if (helpers.size > 1) return { kind: 'whatIf', rows: await whatIfOnHelpers(job, helpers, ctx) };
      } finally {
        await helpers.dispose();
      }
    }
    const imatrix = await importanceOf(job.path, job.imatrix, job.tensor);
    return {
      kind: 'whatIf',
      rows: whatIfOf(source, job.candidates.map(parseCandidate), {
        onProgress: ctx.onProgress,
        isCancelled: ctx.isCancelled,
        imatrix,
      }),
    };
  },
  candidateError: async (job, ctx) => {
    const source = await sourceAt(job.path, job.tensor);
    const imatrix = await importanceOf(job.path, job.imatrix, job.tensor);
    const stats = candidateErrorStatsOf(source, parseCandidate(job.candidate), {
      bins: job.bins,
      imatrix,
      isCancelled: ctx.isCancelled,
    });
    return { kind: 'candidateError', candidate: job.candidate, stats };
  },
  report: async (job, ctx) => {
    const opened = await openedAt(job.path);
    const n = statsEntries(opened).length;
    const stats = await everyTensorStats(opened, job.path, ctx, (done) => ctx.onProgress(done, n * (job.reference ? 2 : 1)));
    let comparison;
    if (job.reference) {
      const ref = await openModelAndWeights(job.reference);
      try {
        const { tensors, uncompared } = compareModels(opened, ref, {
          isCancelled: ctx.isCancelled,
          onProgress: (done, total) => ctx.onProgress(n + (done * n) / total, 2 * n),
        });
        comparison = { reference: job.reference, tensors, uncompared };
      } finally {
        await ref.model.close();
      }
    }
    return { kind: 'text', text: buildReport({ model: opened.model, view: opened.view, stats, comparison }, job.format) };
  },
  compare: async (job, ctx) => {
    const model = await openedAt(job.path);
    // a helper's share reuses the reference it opened; the whole comparison opens it for itself
    const ref = job.tensors ? await openedAt(job.reference) : await openModelAndWeights(job.reference);
    try {
      const only = job.tensors && new Set(job.tensors);
      const { pairing, tensors, uncompared } = only
        ? compareModels(model, ref, { filter: { test: (name) => only.has(name) }, isCancelled: ctx.isCancelled })
        : await compareOnHelpers(model, ref, job, ctx);
      return {
        kind: 'compare',
        comparison: {
          reference: job.reference,
          tensors,
          uncompared,
          missingInReference: pairing.missingInReference,
          missingInModel: pairing.missingInModel,
          shapeMismatches: pairing.shapeMismatches,
        },
      };
    } finally {
      if (!job.tensors) await ref.model.close();
    }
  },
  compareTensor: async (job, ctx) => {
    const model = await openedAt(job.path);
    const ref = await openedAt(job.reference);
    const pair = pairTensors(model, ref).pairs.find((p) => p.name === job.tensor);
    if (!pair) throw new QuantLensError('usage', `${job.tensor} has no counterpart in the reference`);
    return { kind: 'compareTensor', detail: compareTensorDetail(model, ref, pair, { bins: job.bins, isCancelled: ctx.isCancelled }) };
  },
  dump: async (job, ctx) => {
    const opened = await openedAt(job.path);
    const n = statsEntries(opened).length;
    const stats = job.withStats ? await everyTensorStats(opened, job.path, ctx, (done) => ctx.onProgress(done, n)) : undefined;
    return { kind: 'text', text: dumpModel(opened.model, stats, opened.view) };
  },
  simulate: async (job, ctx) => {
    const model = await modelAt(job.path);
    const plan = planSimulation(model, job.rules.map(parseSimulationRule));
    const helpers = plan.changes.some((c) => c.candidate.kind === 'ggml') ? ctx.helpers?.() : undefined;
    try {
      const result = await writeSimulated(model, plan, job.output, {
        otherInputs: [job.path],
        onProgress: ctx.onProgress,
        isCancelled: ctx.isCancelled,
        quantize: helpers?.chunkQuantizer(),
        inFlight: helpers ? helpers.size + 1 : 1,
      });
      return { kind: 'simulated', output: result.path, changed: plan.changes.length };
    } finally {
      await helpers?.dispose();
    }
  },
  predictErrors: async (job, ctx) => {
    const model = await modelAt(job.path);
    const plan = planRequantize(model, job.rules.map(parseTensorTypeRule));
    const predictions = [];
    for (const [i, c] of plan.changes.entries()) {
      const imatrix = job.imatrix ? await imatrixFor(job.imatrix, c.tensor) : undefined;
      predictions.push({
        tensor: c.tensor.name,
        ...predictCandidateError(model, c.tensor, { kind: 'ggml', type: c.to }, { imatrix, isCancelled: ctx.isCancelled }),
      });
      ctx.onProgress(i + 1, plan.changes.length);
    }
    return { kind: 'predictions', predictions };
  },
  requantize: async (job, ctx) => {
    const model = await modelAt(job.path);
    const plan = planRequantize(model, job.rules.map(parseTensorTypeRule));
    const helpers = plan.changes.length ? ctx.helpers?.() : undefined;
    try {
      const result = await writeRequantized(model, plan, job.output, {
        imatrix: job.imatrix ? await readImatrix(job.imatrix) : undefined,
        otherInputs: [job.path, ...(job.imatrix ? [job.imatrix] : [])],
        onProgress: (d, t) => ctx.onProgress(d, t),
        isCancelled: ctx.isCancelled,
        quantize: helpers?.chunkQuantizer(),
        inFlight: helpers ? helpers.size + 1 : 1,
        keepSplit: job.keepSplit,
      });
      return { kind: 'requantize', output: result.path, files: result.paths, bytes: result.bytes, changed: plan.changes.length };
    } finally {
      await helpers?.dispose();
    }
  },
};

/** Run a job on this thread; the result has the type its kind is answered with. */
export function runJob<J extends WorkerJob>(job: J, ctx: JobContext): Promise<ResultOf<J>> {
  // HANDLERS is keyed by kind, so job.kind's handler takes exactly this job
  const handler = HANDLERS[job.kind] as unknown as (job: J, ctx: JobContext) => Promise<ResultOf<J>>;
  return handler(job, ctx);
}
