/** Exact streaming statistics of one tensor over all its values (no sampling). */
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';

/** Field names match the corpus's expected.json `stats` objects. */
export interface TensorStats {
  count: number;
  finite_count: number;
  nan_count: number;
  posinf_count: number;
  neginf_count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  rms: number;
  absmax: number;
  zero_count: number;
  histogram: { bins: number; lo: number; hi: number; counts: number[] };
}

export interface ScanOptions {
  bins?: number;
  /** Called now and then with elements done / total. */
  onProgress?: (done: number, total: number) => void;
  /** Polled between chunks; when it returns true the scan throws a 'cancelled' QuantLensError. */
  isCancelled?: () => boolean;
}

/** Synchronous (meant for workers and the CLI). Null for empty tensors. */
export function computeTensorStats(model: Model, tensor: TensorInfo, options: ScanOptions = {}): TensorStats | null {
  throw new QuantLensError('usage', `not implemented yet: ${model.format} ${tensor.name} ${options.bins}`);
}
