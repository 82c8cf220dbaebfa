/** Worker threads for the CLI: the worker script bundled beside it, and the --threads option. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { QuantLensError } from '../core/errors.ts';

/** The worker script beside the bundled CLI (dist/worker.js); absent when the CLI runs from source. */
export function workerScript(): string | undefined {
  const p = join(__dirname, 'worker.js');
  return existsSync(p) ? p : undefined;
}

/** --threads N (1 to 64), by default one per core. */
export function parseThreads(value: string | undefined): number {
  const threads = value === undefined ? availableParallelism() : Number(value);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new QuantLensError('usage', '--threads must be an integer from 1 to 64');
  return threads;
}
