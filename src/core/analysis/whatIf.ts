/**
 * What-if: the error each candidate type or scheme would give a tensor, streamed over whole rows. The reference
 * is the tensor's own values (for a float tensor, itself; for a quantized one, its dequantized values, so the
 * figures are requantization error). Any value source works the same way (analysis/valueSource.ts): a logical
 * weight of a quantized Hugging Face checkpoint is its dequantized [out, in] values re-quantized.
 */
import type { Model, TensorInfo } from '../model.ts';
import type { TensorType } from '../types.ts';
import { typeByName, GGML_TYPES } from '../types.ts';
import { QuantLensError } from '../errors.ts';
import { readTensorValues } from './tensorValues.ts';
import { tensorSource, type ValueSource } from './valueSource.ts';
import { StatsAccumulator, type TensorStats } from './tensorStats.ts';
import { ErrorAccumulator, type ErrorMetrics } from './errorMetrics.ts';
import { quantizerFor } from '../quant/quantizers.ts';
import { codecForType } from '../quant/index.ts';
import { parseScheme, schemeId, schemeName, simulate, bitsPerWeight, type Scheme, type ValueRange } from '../quant/schemes.ts';

export type Candidate = { kind: 'ggml'; type: TensorType } | { kind: 'scheme'; scheme: Scheme };

/** The what-if table's candidates when none are asked for (the CLI's `error` and the editor's what-if). */
export const DEFAULT_CANDIDATES: readonly string[] = [
  'F16',
  'BF16',
  'Q8_0',
  'Q6_K',
  'Q5_K',
  'Q4_K',
  'Q4_0',
  'IQ4_XS',
  'Q3_K',
  'Q2_K',
  'int8-sym-channel',
  'int4-sym-g32',
  'int4-asym-g32',
  'nf4',
  'fp8-e4m3',
];

/**
 * The editor's what-if candidates for a tensor (or a logical weight, which has no ggml type): the defaults, its own type and the ggml types nearest it in bits per
 * weight that fit its rows and are not among the defaults (three below, two above: a 192-wide Q5_1 tensor, which no K-quant fits, gets Q5_1, Q5_0,
 * Q4_1, IQ4_NL ...), then the user's own choices (checked: an unknown name is a one-line error). Without duplicates.
 */
export function whatIfCandidates(entry: Pick<ValueSource, 'type' | 'rowLength'>, chosen: readonly string[] = []): string[] {
  const fits = (t: TensorType) => quantizerFor(t) && entry.rowLength % t.blockSize === 0;
  const type = entry.type;
  const near = type
    ? [...GGML_TYPES.values()]
        .filter((t) => t !== type && fits(t) && !quantizerFor(t)!.requiresImatrix && !DEFAULT_CANDIDATES.includes(t.name))
        .sort((a, b) => b.bitsPerWeight - a.bitsPerWeight)
    : [];
  const own = type?.bitsPerWeight ?? 0;
  const above = near.filter((t) => t.bitsPerWeight >= own && t.bitsPerWeight < 16).slice(-2);
  const below = near.filter((t) => t.bitsPerWeight < own).slice(0, 3);
  const ownType = type && type.ggmlId !== undefined && GGML_TYPES.has(type.ggmlId) && fits(type) ? [type] : [];
  const names = [
    ...DEFAULT_CANDIDATES,
    ...[...above, ...ownType, ...below].map((t) => t.name),
    ...chosen.map((c) => candidateId(parseCandidate(c))),
  ];
  const seen = new Set<string>();
  return names.filter((n) => {
    const id = candidateId(parseCandidate(n));
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

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
  throw new QuantLensError(
    'usage',
    `unknown candidate ${name}: a ggml type (q8_0, q4_K, iq4_xs ...) or a scheme (int4-sym-g32, int8-asym-channel, nf4, fp8-e4m3 ...)`,
  );
}

export function candidateId(c: Candidate): string {
  return c.kind === 'ggml' ? c.type.name : schemeId(c.scheme);
}

/** ggml candidates that can be computed for this tensor (a quantizer exists and the row length fits the block). */
export function usableCandidates(tensor: TensorInfo, candidates: Candidate[]): Candidate[] {
  return candidates.filter((c) => c.kind === 'scheme' || (quantizerFor(c.type) && tensor.shape[0] % c.type.blockSize === 0));
}

/** The candidates that can be computed for rows of `rowLength` (a quantizer exists and the row length fits its block). */
function usableFor(rowLength: number, candidates: Candidate[]): Candidate[] {
  return candidates.filter((c) => c.kind === 'scheme' || (quantizerFor(c.type) && rowLength % c.type.blockSize === 0));
}

const ROWS_CHUNK_WEIGHTS = 1 << 20;

/** Whole rows per chunk of about a million weights. */
export function rowsPerChunk(rowLength: number): number {
  return Math.max(1, Math.floor(ROWS_CHUNK_WEIGHTS / rowLength));
}

/** Candidates whose scale comes from the whole tensor (per-tensor INT, FP8) need its range before any chunk. */
export function needsTensorRange(candidates: Candidate[]): boolean {
  return candidates.some(
    (c) => c.kind === 'scheme' && (c.scheme.kind === 'fp8' || (c.scheme.kind === 'int' && c.scheme.granularity === 'tensor')),
  );
}

/** min and max over every value of a tensor whose rows are `rowLength` long. */
export function tensorRange(model: Model, tensor: TensorInfo, rowLength: number): ValueRange {
  const range: ValueRange = { min: Infinity, max: -Infinity };
  const rows = tensor.nElements / rowLength;
  const step = rowsPerChunk(rowLength);
  for (let r = 0; r < rows; r += step) {
    const v = readTensorValues(model, tensor, r * rowLength, Math.min(step, rows - r) * rowLength);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x < range.min) range.min = x;
      if (x > range.max) range.max = x;
    }
  }
  return range;
}

/** min and max over every value of a source. */
function sourceRange(source: ValueSource): ValueRange {
  const range: ValueRange = { min: Infinity, max: -Infinity };
  const step = rowsPerChunk(source.rowLength);
  for (let r = 0; r < source.rows; r += step) {
    const v = source.readRows(r, Math.min(step, source.rows - r));
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x < range.min) range.min = x;
      if (x > range.max) range.max = x;
    }
  }
  return range;
}

/**
 * The importance of a tensor's columns for the rows it quantizes: `imatrix` holds ne0 values for every matrix
 * (expert) of the tensor, one matrix after another as llama.cpp writes them, or ne0 values shared by all. Undefined
 * without one; a length that fits neither is a one-line error.
 */
export class RowImportance {
  private constructor(
    private readonly values: Float32Array,
    private readonly rowLength: number,
    /** Rows of one matrix: ne1 of a 3-D expert tensor; every row when the values are shared. */
    readonly rowsPerMatrix: number,
  ) {}

  static of(source: ValueSource, imatrix: Float32Array | undefined): RowImportance | undefined {
    if (!imatrix) return undefined;
    const { rowLength, rows } = source;
    // matrices: the dimensions outside the last two (GGUF ne2 ..., a logical weight's experts)
    const matrices = source.shape.slice(0, -2).reduce((a, b) => a * b, 1);
    if (imatrix.length === rowLength) return new RowImportance(imatrix, rowLength, rows);
    if (matrices > 1 && imatrix.length === rowLength * matrices) return new RowImportance(imatrix, rowLength, rows / matrices);
    throw new QuantLensError(
      'usage',
      `the importance matrix has ${imatrix.length} values; ${source.name} [${source.shape.join(', ')}] takes ${rowLength}${matrices > 1 ? ` or ${rowLength} x ${matrices} experts = ${rowLength * matrices}` : ''} (one per column${matrices > 1 ? ' of each expert' : ''})`,
    );
  }

  /** The importance of the columns of the matrix (expert) that row `row` belongs to. */
  forRow(row: number): Float32Array {
    const m = Math.floor(row / this.rowsPerMatrix);
    return this.values.subarray(m * this.rowLength, (m + 1) * this.rowLength);
  }
}

/**
 * Runs of at most `step` whole rows covering [first, first + count): with an importance matrix, a run never crosses
 * from one expert's rows into the next, so each run is quantized with its own expert's importance.
 */
function* rowRuns(first: number, count: number, step: number, importance?: RowImportance): Generator<[number, number]> {
  const perMatrix = importance?.rowsPerMatrix ?? Infinity;
  for (let r = first; r < first + count;) {
    const end = Math.min(first + count, r + step, (Math.floor(r / perMatrix) + 1) * perMatrix);
    yield [r, end - r];
    r = end;
  }
}

/** Quantize then dequantize whole rows with a candidate (ggml types use the imatrix when they take one). */
export function roundTrip(c: Candidate, values: Float32Array, rowLength: number, range: ValueRange, imatrix?: Float32Array): Float32Array {
  if (c.kind === 'scheme') return simulate(c.scheme, values, rowLength, range);
  const q = quantizerFor(c.type)!;
  const bytes = q.quantize(values, values.length / rowLength, rowLength, q.imatrix === 'used' ? imatrix : undefined);
  const out = new Float32Array(values.length);
  codecForType(c.type)!.dequantize(bytes, out, values.length / c.type.blockSize);
  return out;
}

export function computeWhatIf(model: Model, tensor: TensorInfo, candidates: Candidate[], options: WhatIfOptions = {}): WhatIfRow[] {
  return whatIfOf(tensorSource(model, tensor), candidates, options);
}

export interface WhatIfOptions {
  onProgress?: (done: number, total: number) => void;
  isCancelled?: () => boolean;
  imatrix?: Float32Array;
}

/** The what-if table of any value source: each candidate's round trip of its values, against those values. */
export function whatIfOf(source: ValueSource, candidates: Candidate[], options: WhatIfOptions = {}): WhatIfRow[] {
  const { rowLength, rows } = source;
  const importance = RowImportance.of(source, options.imatrix);
  const usable = usableFor(rowLength, candidates).filter(
    (c) => c.kind === 'scheme' || !quantizerFor(c.type)!.requiresImatrix || importance,
  );
  const step = rowsPerChunk(rowLength);
  const range = needsTensorRange(usable) ? sourceRange(source) : { min: NaN, max: NaN };
  const accs = usable.map(() => new ErrorAccumulator());
  for (const [r, n] of rowRuns(0, rows, step, importance)) {
    if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while computing what-if for ${source.name}`);
    const ref = source.readRows(r, n);
    const imatrix = importance?.forRow(r);
    usable.forEach((c, i) => {
      const rec = roundTrip(c, ref, rowLength, range, imatrix);
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
      bytes: Math.ceil((bpw * source.nElements) / 8),
      metrics: accs[i].result(),
      current: c.kind === 'ggml' && c.type === source.type,
      imatrix: !!importance,
    };
  });
}

/** Rows of a source one candidate will quantize, and the importance of their columns (see RowImportance). */
function oneCandidate(source: ValueSource, candidate: Candidate, imatrix: Float32Array | undefined) {
  const { rowLength, rows } = source;
  if (!usableFor(rowLength, [candidate]).length)
    throw new QuantLensError('usage', `${candidateId(candidate)} cannot quantize ${source.name} (rows of ${rowLength})`);
  if (candidate.kind === 'ggml' && quantizerFor(candidate.type)!.requiresImatrix && !imatrix)
    throw new QuantLensError(
      'usage',
      `${candidate.type.name} needs an importance matrix (llama.cpp imatrix) with an entry for ${source.name}`,
    );
  return { rowLength, rows, importance: RowImportance.of(source, imatrix) };
}

export interface PredictedError {
  metrics: ErrorMetrics;
  /** Weights the estimate saw: all of them, or whole rows spread over the tensor. */
  sampledWeights: number;
  exact: boolean;
}

/**
 * The error one candidate would give a tensor, from at most about `sampleWeights` weights: whole rows (ggml
 * types quantize row by row, so every sampled row is exactly what the full run gives it), in 8 runs spread
 * evenly over the tensor. A tensor that small is done whole, and the figures are exact.
 */
export function predictCandidateError(
  model: Model,
  tensor: TensorInfo,
  candidate: Candidate,
  options: { sampleWeights?: number; imatrix?: Float32Array; isCancelled?: () => boolean } = {},
): PredictedError {
  const source = tensorSource(model, tensor);
  const { rowLength, rows, importance } = oneCandidate(source, candidate, options.imatrix);
  const sampleRows = Math.max(1, Math.floor((options.sampleWeights ?? 1 << 18) / rowLength));
  const runs = Math.min(8, sampleRows);
  const rowsPerRun = Math.ceil(sampleRows / runs);
  const exact = rowsPerRun * runs >= rows;
  const starts = exact ? [0] : Array.from({ length: runs }, (_, i) => Math.floor((i * (rows - rowsPerRun)) / Math.max(1, runs - 1)));
  const range = needsTensorRange([candidate]) ? sourceRange(source) : { min: NaN, max: NaN };
  const acc = new ErrorAccumulator();
  let sampled = 0;
  for (const first of starts) {
    if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while predicting the error of ${tensor.name}`);
    const n = exact ? rows : rowsPerRun;
    for (const [r, count] of rowRuns(first, n, rowsPerChunk(rowLength), importance)) {
      const ref = source.readRows(r, count);
      const imatrix = importance?.forRow(r);
      const rec = roundTrip(candidate, ref, rowLength, range, imatrix);
      acc.add(rec, ref);
      if (imatrix) acc.addWeighted(rec, ref, imatrix);
      sampled += ref.length;
    }
  }
  return { metrics: acc.result(), sampledWeights: sampled, exact };
}

/**
 * The distribution of (reconstruction − original) for one candidate over every weight: two passes (the second
 * quantizes again, deterministically), exact like every other histogram here.
 */
export function candidateErrorStats(
  model: Model,
  tensor: TensorInfo,
  candidate: Candidate,
  options: CandidateErrorOptions = {},
): TensorStats {
  return candidateErrorStatsOf(tensorSource(model, tensor), candidate, options);
}

export interface CandidateErrorOptions {
  bins?: number;
  imatrix?: Float32Array;
  isCancelled?: () => boolean;
}

/** candidateErrorStats of any value source (a logical weight: its dequantized values re-quantized). */
export function candidateErrorStatsOf(source: ValueSource, candidate: Candidate, options: CandidateErrorOptions = {}): TensorStats {
  const { rowLength, rows, importance } = oneCandidate(source, candidate, options.imatrix);
  const step = rowsPerChunk(rowLength);
  const range = needsTensorRange([candidate]) ? sourceRange(source) : { min: NaN, max: NaN };
  const errors = function* () {
    for (const [r, n] of rowRuns(0, rows, step, importance)) {
      if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while computing the error of ${source.name}`);
      const ref = source.readRows(r, n);
      const rec = roundTrip(candidate, ref, rowLength, range, importance?.forRow(r));
      yield Float64Array.from(rec, (x, i) => x - ref[i]);
    }
  };
  const acc = new StatsAccumulator(options.bins ?? 64);
  for (const e of errors()) acc.addFirstPass(e);
  for (const e of errors()) acc.addSecondPass(e);
  return acc.result();
}
