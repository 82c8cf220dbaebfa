/**
 * The worker threads of `quantlens stats`, started before the command's own modules load: a worker takes longer
 * to start (its script, the model, the WebAssembly module) than this thread takes to load and open the model, so
 * it starts meanwhile. Its own module, so that starting them loads nothing else.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../node/workerPool.ts';
import { workerScript } from './workers.ts';

/** Tensor bytes worth one worker thread's start-up (loading its script, opening the model): less runs here. */
export const BYTES_PER_WORKER = 32 << 20;

/** `workers` worker threads, each given two jobs at a time (so that it never waits for this thread); none for 0. */
export function statsWorkerPool(workers: number): WorkerPool | undefined {
  const script = workerScript();
  return script && workers > 0 ? new WorkerPool(script, workers, undefined, 2) : undefined;
}

/**
 * The workers for a local file before it is opened: as many as its size is worth beside this thread, within
 * --threads and the cores (statsCommand keeps them if the selected tensors are worth as many, else stops them and
 * starts what they are worth). None for a remote file or a folder: they start once the model is open.
 */
export function earlyStatsWorkers(file: string, threads: number): WorkerPool | undefined {
  let bytes: number;
  try {
    const s = statSync(file);
    bytes = s.isFile() ? s.size : 0;
  } catch {
    return undefined;
  }
  return statsWorkerPool(Math.min(threads, availableParallelism(), Math.floor(bytes / BYTES_PER_WORKER)) - 1);
}
