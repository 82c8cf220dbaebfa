/**
 * One huge tensor's exact stats split across threads: its rows in shares, pass 1 of every share on the pool's
 * workers and on this thread, the totals merged in row order, then pass 2 of every share over the merged range
 * (src/core/analysis/tensorStats.ts: the result is identical to one thread's), or for F16 and BF16 the histogram
 * from the shares' summed bit-pattern counts. Used by the worker's stats job (the editor) and by `quantlens stats`.
 */
import type { Model, TensorInfo } from '../core/model.ts';
import {
  mergedFirstPass,
  rowsFirstPass,
  rowsHistogram,
  splitRows,
  statsOfShares,
  statsOfTallies,
  type TensorStats,
} from '../core/analysis/tensorStats.ts';
import { QuantLensError } from '../core/errors.ts';
import type { JobHandle, WorkerPool } from '../node/workerPool.ts';
import type { WorkerResult } from '../shared/workerProtocol.ts';

/** Tensors of at least this many weights are worth splitting (a share outweighs a helper thread's start-up). */
export const SPLIT_MIN_ELEMENTS = 1 << 25;

/** Shares per thread: more than one, so a thread that started late (a worker loading) takes fewer. */
const SHARES_PER_THREAD = 16;

/** A share holds at least this many weights (each costs a job's round trip). */
const MIN_SHARE_ELEMENTS = 1 << 21;

export interface SplitScanContext {
  onProgress?: (done: number, total: number) => void;
  isCancelled?: () => boolean;
}

/** Waits for every handle, cancelling them all when the scan is cancelled or one fails. */
async function settle<T extends WorkerResult>(handles: JobHandle<T>[], ctx: SplitScanContext, onDone: () => void): Promise<T[]> {
  const watch = setInterval(() => ctx.isCancelled?.() && handles.forEach((h) => h.cancel()), 100);
  try {
    return await Promise.all(handles.map((h) => h.promise.finally(onDone)));
  } catch (e) {
    handles.forEach((h) => h.cancel());
    throw e;
  } finally {
    clearInterval(watch);
  }
}

/**
 * The stats of `tensor` of the model at `path` (opened here as `model`), its rows shared between this thread and
 * the pool's workers, which open the same path.
 */
export async function splitTensorStats(
  pool: WorkerPool,
  path: string,
  model: Model,
  tensor: TensorInfo,
  bins: number,
  ctx: SplitScanContext = {},
): Promise<TensorStats> {
  const threads = pool.size + 1;
  const shares = splitRows(tensor, Math.min(SHARES_PER_THREAD * threads, Math.max(1, Math.floor(tensor.nElements / MIN_SHARE_ELEMENTS))));
  const scanOptions = { bins, isCancelled: ctx.isCancelled };
  let done = 0;
  const shareDone = () => ctx.onProgress?.(++done, 2 * shares.length);
  const cancelled = () => {
    if (ctx.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while reading ${tensor.name}`);
  };
  const firsts = await settle(
    pool.spread(
      shares.map((rows) => ({ kind: 'statsFirstPass' as const, path, tensor: tensor.name, rows })),
      (i) => (cancelled(), { kind: 'statsFirstPass' as const, share: rowsFirstPass(model, tensor, shares[i], scanOptions) }),
    ),
    ctx,
    shareDone,
  );
  const tallies = firsts.flatMap((r) => ('tallies' in r.share ? [r.share.tallies] : []));
  if (tallies.length === firsts.length) {
    // F16, BF16: every share counted its bit patterns; the stats follow from their sum, with no second read
    ctx.onProgress?.(1, 1);
    return statsOfTallies(tensor, bins, tallies);
  }
  const totals = firsts.flatMap((r) => ('totals' in r.share ? [r.share.totals] : []));
  const range = mergedFirstPass(bins, totals).histogramRange();
  const histograms = await settle(
    pool.spread(
      shares.map((rows) => ({ kind: 'statsHistogram' as const, path, tensor: tensor.name, rows, bins, range })),
      (i) => (cancelled(), { kind: 'statsHistogram' as const, counts: rowsHistogram(model, tensor, shares[i], range, scanOptions) }),
    ),
    ctx,
    shareDone,
  );
  return statsOfShares(
    bins,
    totals,
    histograms.map((r) => r.counts),
  );
}
