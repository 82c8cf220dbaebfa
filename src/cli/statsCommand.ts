/** `quantlens stats`: exact per-tensor statistics and histograms, on this thread and worker threads. */
import { availableParallelism } from 'node:os';
import { QuantLensError } from '../core/errors.ts';
import { computeTensorStats, DEFAULT_BINS, type TensorStats } from '../core/analysis/tensorStats.ts';
import { openModelAndWeights } from '../core/hfquant/open.ts';
import { logicalWeightStats } from '../core/hfquant/stats.ts';
import type { JobHandle, WorkerPool } from '../node/workerPool.ts';
import { SPLIT_MIN_ELEMENTS, splitTensorStats } from '../worker/splitStats.ts';
import type { JobResults } from '../shared/workerProtocol.ts';
import { statsItems } from './logicalWeights.ts';
import { BYTES_PER_WORKER, statsWorkerPool } from './statsWorkers.ts';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

function selectTensors<T extends { name: string }>(items: T[], pattern: string | undefined): T[] {
  if (pattern === undefined) return items;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new QuantLensError('usage', `--tensor: invalid regular expression: ${(e as Error).message}`);
  }
  return items.filter((t) => re.test(t.name));
}

function formatStats(s: TensorStats): string {
  const g = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));
  const special = s.nan_count + s.posinf_count + s.neginf_count ? `  nan ${s.nan_count} +inf ${s.posinf_count} -inf ${s.neginf_count}` : '';
  return `min ${g(s.min)}  max ${g(s.max)}  mean ${g(s.mean)}  std ${g(s.std)}  rms ${g(s.rms)}  zeros ${s.zero_count}${special}`;
}

/**
 * Exact stats of the selected tensors, printed in file order. With --threads N, this thread and up to N - 1 worker
 * threads (N no more than the cores, the work's units, or what the work is worth) share the work. A huge tensor
 * (SPLIT_MIN_ELEMENTS or more, and more than one thread's share of the whole) has its rows split across every thread
 * (src/worker/splitStats.ts), one such tensor after another; then the other tensors go one per thread, largest
 * first, so a big one does not start last and run alone (WorkerPool.spread). A tensor that cannot be decoded is a
 * one-line warning, whichever thread it ran on.
 */
export async function statsCommand(
  file: string,
  pattern: string | undefined,
  bins = DEFAULT_BINS,
  json: boolean,
  threads: number,
  /** Workers started before the command loaded (statsWorkers.ts's earlyStatsWorkers): kept if the work is worth them. */
  started?: WorkerPool,
): Promise<void> {
  let opened;
  let items;
  try {
    opened = await openModelAndWeights(file);
    items = selectTensors(statsItems(opened.model, opened.view), pattern);
  } catch (e) {
    await opened?.model.close();
    await started?.dispose();
    throw e;
  }
  const { model } = opened;
  const bytes = items.reduce((sum, t) => sum + (t.weight?.bytes ?? t.tensor!.nbytes), 0);
  const elements = items.reduce((sum, t) => sum + t.nElements, 0);
  const cores = Math.min(threads, availableParallelism());
  const isSplit = items.map((t) => !!t.tensor && t.nElements >= SPLIT_MIN_ELEMENTS && t.nElements * cores > elements);
  const units = items.length + isSplit.filter(Boolean).length * (cores - 1);
  const workers = Math.min(cores, units, Math.floor(bytes / BYTES_PER_WORKER)) - 1;
  // the workers started with the command serve unless the work is worth none or more (a split model's other shards)
  const fits = started && workers > 0 && started.size >= workers;
  if (started && !fits) await started.dispose();
  const pool = fits ? started : statsWorkerPool(workers);
  // A logical weight's stats are those of its dequantized values; the worker resolves logical names the same way.
  const computeHere = (i: number, onProgress?: (done: number, total: number) => void): TensorStats => {
    const { weight, tensor } = items[i];
    return weight ? logicalWeightStats(weight, { bins, onProgress }) : computeTensorStats(model, tensor!, { bins, onProgress });
  };
  /** Each tensor's stats on the pool: the split ones first, one after another, then the rest spread. */
  const onPool = (pool: WorkerPool): Promise<TensorStats>[] => {
    let before: Promise<unknown> = Promise.resolve();
    const promises: Promise<TensorStats>[] = [];
    for (const [i, t] of items.entries()) {
      if (!isSplit[i]) continue;
      promises[i] = before.then(() => splitTensorStats(pool, file, model, t.tensor!, bins));
      promises[i].catch(() => undefined);
      before = promises[i].catch(() => undefined);
    }
    const rest = items.flatMap((t, i) => (isSplit[i] ? [] : [i]));
    const largestFirst = rest.map((_, k) => k).sort((a, b) => items[rest[b]].nElements - items[rest[a]].nElements || a - b);
    const spread: Promise<JobHandle<JobResults['stats']>[]> = before.then(() =>
      pool.spread(
        rest.map((i) => ({ kind: 'stats' as const, path: file, tensor: items[i].name, bins })),
        (k) => ({ kind: 'stats' as const, stats: computeHere(rest[k]) }),
        largestFirst,
      ),
    );
    for (const [k, i] of rest.entries()) {
      promises[i] = spread.then(async (handles) => (await handles[k].promise).stats);
      promises[i].catch(() => undefined);
    }
    return promises;
  };
  try {
    const results: { name: string; type_name: string; scheme?: string; stats?: TensorStats; error?: string }[] = [];
    const tty = process.stderr.isTTY;
    const promises = pool ? onPool(pool) : undefined;
    for (const [i, t] of items.entries()) {
      const label = `[${i + 1}/${items.length}] ${t.name}`;
      const entry = { name: t.name, type_name: t.typeName, ...(t.weight ? { scheme: t.weight.scheme } : {}) };
      let lastShown = -1;
      try {
        const s = promises
          ? await promises[i]
          : computeHere(
              i,
              tty
                ? (done, total) => {
                    const pct = Math.floor((100 * done) / total);
                    if (pct !== lastShown) process.stderr.write(`\r${label} ${(lastShown = pct)}%`);
                  }
                : undefined,
            );
        results.push({ ...entry, stats: s });
        if (tty) process.stderr.write(`\r${label}\x1b[K`);
        else process.stderr.write(`${label} done\n`);
        if (!json) out(`${t.name.padEnd(36)} ${(t.weight?.scheme ?? t.shownType).padEnd(8)} ${formatStats(s)}`);
      } catch (e) {
        if (!(e instanceof QuantLensError)) throw e;
        results.push({ ...entry, error: e.message });
        if (tty) process.stderr.write(`\r\x1b[K`);
        process.stderr.write(`warning: ${t.name}: ${e.message}\n`);
      }
    }
    if (tty) process.stderr.write(`\r\x1b[K`);
    if (json) out(JSON.stringify({ file, tensors: results }, null, 1));
  } finally {
    await pool?.dispose();
    await model.close();
  }
}
