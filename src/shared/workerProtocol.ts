/**
 * The message protocol between the extension host (or the CLI) and its worker threads: the jobs, and for each
 * job kind the one result it is answered with (`JobResults`), so `WorkerPool.run(job)` knows its result type.
 */
import type { HistogramRange, RowRange, SharePass, TensorStats } from '../core/analysis/tensorStats.ts';
import type { ScaleDistribution } from '../core/analysis/blocks.ts';
import type { InspectedBlock } from '../core/analysis/inspectedBlock.ts';
import type { Heatmap } from '../core/analysis/heatmap.ts';
import type { PredictedError, WhatIfRow } from '../core/analysis/whatIf.ts';
import type { Comparison, TensorComparisonDetail } from '../core/compare/compare.ts';
import type { GroupRecord } from '../core/hfquant/weights.ts';

/** What a logical weight's data-level checks found (v1 zero overflow, act-order g_idx ...), once loaded. */
export interface WeightChecks {
  tensor: string;
  scheme: string;
  diagnostics: string[];
  /** Why it cannot be decoded after all (one line), when the data says so (g_idx out of range ...). */
  error?: string;
}

export type WorkerJob =
  | { kind: 'stats'; path: string; tensor: string; bins: number }
  /** A huge tensor's stats split across threads (src/worker/splitStats.ts): pass 1 over a share of its rows ... */
  | { kind: 'statsFirstPass'; path: string; tensor: string; rows: RowRange }
  /** ... then pass 2 over that share, the histogram over the range of every share's merged pass 1. */
  | { kind: 'statsHistogram'; path: string; tensor: string; rows: RowRange; bins: number; range: HistogramRange }
  | { kind: 'scales'; path: string; tensor: string; bins: number }
  | { kind: 'block'; path: string; tensor: string; index: number }
  /** Group `group` of row `row` of a quantized Hugging Face checkpoint's logical weight, next to its bytes. */
  | { kind: 'group'; path: string; tensor: string; row: number; group: number }
  /** A logical weight loaded (its scales, zeros and indices read): its complete scheme, diagnostics and error. */
  | { kind: 'weightChecks'; path: string; tensor: string }
  | { kind: 'heatmap'; path: string; tensor: string; width: number; height: number }
  | { kind: 'whatIf'; path: string; tensor: string; candidates: string[]; imatrix?: string }
  | { kind: 'candidateError'; path: string; tensor: string; candidate: string; bins: number; imatrix?: string }
  | { kind: 'report'; path: string; reference?: string; format: 'md' | 'json' | 'csv' }
  /** `tensors`: only these (a helper thread's share of a comparison). */
  | { kind: 'compare'; path: string; reference: string; tensors?: string[] }
  | { kind: 'compareTensor'; path: string; reference: string; tensor: string; bins: number }
  | { kind: 'dump'; path: string; withStats: boolean }
  | { kind: 'requantize'; path: string; output: string; rules: string[]; imatrix?: string; keepSplit?: boolean }
  /** The requantize preview: each changed tensor's error at its new type, estimated from spread rows. */
  | { kind: 'predictErrors'; path: string; rules: string[]; imatrix?: string }
  | { kind: 'simulate'; path: string; output: string; rules: string[] }
  | { kind: 'close'; path: string }
  /** One chunk of a requantization, quantized by a helper thread (nRows rows of nPerRow values). */
  | { kind: 'quantizeChunk'; typeId: number; values: Float32Array; nRows: number; nPerRow: number; imatrix?: Float32Array };

export type JobKind = WorkerJob['kind'];
export type JobOf<K extends JobKind> = Extract<WorkerJob, { kind: K }>;

type TextResult = { kind: 'text'; text: string };

/** What each kind of job is answered with. */
export interface JobResults {
  stats: { kind: 'stats'; stats: TensorStats };
  statsFirstPass: { kind: 'statsFirstPass'; share: SharePass };
  statsHistogram: { kind: 'statsHistogram'; counts: number[] };
  scales: { kind: 'scales'; scales: ScaleDistribution | null };
  block: { kind: 'block'; view: InspectedBlock };
  group: { kind: 'group'; record: GroupRecord };
  weightChecks: { kind: 'weightChecks'; checks: WeightChecks };
  heatmap: { kind: 'heatmap'; heatmap: Heatmap };
  whatIf: { kind: 'whatIf'; rows: WhatIfRow[] };
  candidateError: { kind: 'candidateError'; candidate: string; stats: TensorStats };
  report: TextResult;
  compare: { kind: 'compare'; comparison: Comparison };
  compareTensor: { kind: 'compareTensor'; detail: TensorComparisonDetail };
  dump: TextResult;
  /** output: the file written (the first shard of a split output); files: every file written. */
  requantize: { kind: 'requantize'; output: string; files: string[]; bytes: number; changed: number };
  predictErrors: { kind: 'predictions'; predictions: ({ tensor: string } & PredictedError)[] };
  simulate: { kind: 'simulated'; output: string; changed: number };
  close: { kind: 'closed' };
  quantizeChunk: { kind: 'quantized'; bytes: Uint8Array };
}

/** The result of a job (of a union of jobs: the union of their results). */
export type ResultOf<J extends WorkerJob> = JobResults[J['kind']];
export type WorkerResult = JobResults[JobKind];

/** The states of a job's shared flag (WorkerRequest.cancel). */
export const JOB_QUEUED = 0;
export const JOB_CANCELLED = 1;
/** The caller ran the job itself before the worker started it (WorkerPool.spread): the worker answers it as cancelled. */
export const JOB_TAKEN_BACK = 2;
export const JOB_STARTED = 3;

export interface WorkerRequest {
  id: number;
  job: WorkerJob;
  /**
   * Int32Array view, element 0: JOB_QUEUED until the worker starts the job (JOB_STARTED), JOB_TAKEN_BACK if its
   * caller took it back before that, and JOB_CANCELLED once it is cancelled.
   */
  cancel: SharedArrayBuffer;
}

export type WorkerResponse =
  /** Sent once, when the worker has loaded and takes jobs. */
  | { id: 0; type: 'ready' }
  /** `fetched`: bytes the worker has received over HTTP so far, when it reads a remote model. */
  | { id: number; type: 'progress'; done: number; total: number; fetched?: number }
  | { id: number; type: 'result'; result: WorkerResult }
  /** `cliOption`: a QuantLensError's option that supplies what is missing (the CLI names it). */
  | { id: number; type: 'error'; message: string; code?: string; cliOption?: string };
