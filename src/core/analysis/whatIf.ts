/**
 * What-if: the error each candidate type or scheme would give a tensor, streamed over whole rows. The reference
 * is the tensor's own values (for a float tensor, itself; for a quantized one, its dequantized values, so the
 * figures are requantization error).
 */
import type { Model, TensorInfo } from '../model.ts';
import type { TensorType } from '../types.ts';
import { typeByName, GGML_TYPES } from '../types.ts';
import { QuantLensError } from '../errors.ts';
import { readTensorValues } from './tensorValues.ts';
import { StatsAccumulator, type TensorStats } from './tensorStats.ts';
import { ErrorAccumulator, type ErrorMetrics } from './errorMetrics.ts';
import { quantizerFor } from '../quant/quantizers.ts';
import { codecForType } from '../quant/index.ts';
import { parseScheme, schemeId, schemeName, simulate, bitsPerWeight, type Scheme, type ValueRange } from '../quant/schemes.ts';

export type Candidate = { kind: 'ggml'; type: TensorType } | { kind: 'scheme'; scheme: Scheme };

export interface WhatIfRow {
  candidate: string;
  label: string;
  bitsPerWeight: number;
  bytes: number;
  metrics: ErrorMetrics;
  /** True for the tensor's current type. */
  current: boolean;
  /** The ggml quantizers used the importance matrix, and metrics carry weighted_rel_rmse. */
  imatrix: boolean;
}

export function parseCandidate(name: string): Candidate {
  const scheme = parseScheme(name);
  if (scheme) return { kind: 'scheme', scheme };
  const type = typeByName(name);
  if (type && type.ggmlId !== undefined && GGML_TYPES.has(type.ggmlId)) return { kind: 'ggml', type };
  throw new QuantLensError('usage', `unknown candidate ${name}: a ggml type (q8_0, q4_K, iq4_xs ...) or a scheme (int4-sym-g32, int8-asym-channel, nf4, fp8-e4m3 ...)`);
}

export function candidateId(c: Candidate): string {
  return c.kind === 'ggml' ? c.type.name : schemeId(c.scheme);
}

/** ggml candidates that can be computed for this tensor (a quantizer exists and the row length fits the block). */
export function usableCandidates(tensor: TensorInfo, candidates: Candidate[]): Candidate[] {
  return candidates.filter((c) => c.kind === 'scheme' || (quantizerFor(c.type) && tensor.shape[0] % c.type.blockSize === 0));
}

const ROWS_CHUNK_WEIGHTS = 1 << 20;

export function computeWhatIf(
  model: Model,
  tensor: TensorInfo,
  candidates: Candidate[],
  options: { onProgress?: (done: number, total: number) => void; isCancelled?: () => boolean; imatrix?: Float32Array } = {},
): WhatIfRow[] {
  const rowLength = tensor.shape[0];
  const rows = tensor.nElements / rowLength;
  const imatrix = options.imatrix && options.imatrix.length === rowLength ? options.imatrix : undefined;
  if (options.imatrix && !imatrix) throw new QuantLensError('usage', `the importance matrix has ${options.imatrix.length} columns; ${tensor.name} has rows of ${rowLength}`);
  const usable = usableCandidates(tensor, candidates).filter((c) => c.kind === 'scheme' || !quantizerFor(c.type)!.requiresImatrix || imatrix);
  const step = Math.max(1, Math.floor(ROWS_CHUNK_WEIGHTS / rowLength));
  // Per-tensor schemes need the whole tensor's range first.
  const range: ValueRange = { min: Infinity, max: -Infinity };
  if (usable.some((c) => c.kind === 'scheme' && (c.scheme.kind === 'fp8' || (c.scheme.kind === 'int' && c.scheme.granularity === 'tensor')))) {
    for (let r = 0; r < rows; r += step) {
      const v = readTensorValues(model, tensor, r * rowLength, Math.min(step, rows - r) * rowLength);
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x < range.min) range.min = x;
        if (x > range.max) range.max = x;
      }
    }
  }
  const accs = usable.map(() => new ErrorAccumulator());
  for (let r = 0; r < rows; r += step) {
    if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while computing what-if for ${tensor.name}`);
    const n = Math.min(step, rows - r);
    const ref = readTensorValues(model, tensor, r * rowLength, n * rowLength);
    usable.forEach((c, i) => {
      let rec: Float32Array;
      if (c.kind === 'scheme') rec = simulate(c.scheme, ref, rowLength, range);
      else {
        const q = quantizerFor(c.type)!;
        const bytes = q.quantize(ref, n, rowLength, q.imatrix === 'used' ? imatrix : undefined);
        rec = new Float32Array(ref.length);
        codecForType(c.type)!.dequantize(bytes, rec, ref.length / c.type.blockSize);
      }
      accs[i].add(rec, ref);
      if (imatrix) accs[i].addWeighted(rec, ref, imatrix);
    });
    options.onProgress?.(r + n, rows);
  }
  return usable.map((c, i) => {
    const bpw = c.kind === 'ggml' ? c.type.bitsPerWeight : bitsPerWeight(c.scheme, rowLength, rows);
    return {
      candidate: candidateId(c),
      label: c.kind === 'ggml' ? `${c.type.name} (ggml)` : schemeName(c.scheme),
      bitsPerWeight: bpw,
      bytes: Math.ceil((bpw * tensor.nElements) / 8),
      metrics: accs[i].result(),
      current: c.kind === 'ggml' && c.type === tensor.type,
      imatrix: !!imatrix,
    };
  });
}

/**
 * The distribution of (reconstruction − original) for one candidate over every weight: two passes (the second
 * quantizes again, deterministically), exact like every other histogram here.
 */
export function candidateErrorStats(
  model: Model,
  tensor: TensorInfo,
  candidate: Candidate,
  options: { bins?: number; imatrix?: Float32Array; isCancelled?: () => boolean } = {},
): TensorStats {
  const rowLength = tensor.shape[0];
  const rows = tensor.nElements / rowLength;
  if (!usableCandidates(tensor, [candidate]).length) throw new QuantLensError('usage', `${candidateId(candidate)} cannot quantize ${tensor.name}`);
  const imatrix = options.imatrix && options.imatrix.length === rowLength ? options.imatrix : undefined;
  const step = Math.max(1, Math.floor(ROWS_CHUNK_WEIGHTS / rowLength));
  const range: ValueRange = { min: Infinity, max: -Infinity };
  if (candidate.kind === 'scheme') {
    for (let r = 0; r < rows; r += step) {
      for (const x of readTensorValues(model, tensor, r * rowLength, Math.min(step, rows - r) * rowLength)) {
        if (x < range.min) range.min = x;
        if (x > range.max) range.max = x;
      }
    }
  }
  const errors = function* () {
    for (let r = 0; r < rows; r += step) {
      if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while computing the error of ${tensor.name}`);
      const n = Math.min(step, rows - r);
      const ref = readTensorValues(model, tensor, r * rowLength, n * rowLength);
      let rec: Float32Array;
      if (candidate.kind === 'scheme') rec = simulate(candidate.scheme, ref, rowLength, range);
      else {
        const q = quantizerFor(candidate.type)!;
        const bytes = q.quantize(ref, n, rowLength, q.imatrix === 'used' ? imatrix : undefined);
        rec = new Float32Array(ref.length);
        codecForType(candidate.type)!.dequantize(bytes, rec, ref.length / candidate.type.blockSize);
      }
      yield Float64Array.from(rec, (x, i) => x - ref[i]);
    }
  };
  const acc = new StatsAccumulator(options.bins ?? 64);
  for (const e of errors()) acc.addFirstPass(e);
  for (const e of errors()) acc.addSecondPass(e);
  return acc.result();
}
