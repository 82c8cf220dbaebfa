/** The message protocol between the extension host and its worker threads. */
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import type { ScaleDistribution } from '../core/analysis/blocks.ts';
import type { PredictedError, WhatIfRow } from '../core/analysis/whatIf.ts';
import type { TensorComparisonDetail } from '../core/compare/compare.ts';
import type { BlockView, Comparison, Heatmap } from './webviewProtocol.ts';

export type WorkerJob =
  | { kind: 'stats'; path: string; tensor: string; bins: number }
  | { kind: 'scales'; path: string; tensor: string; bins: number }
  | { kind: 'block'; path: string; tensor: string; index: number }
  | { kind: 'heatmap'; path: string; tensor: string; width: number; height: number }
  | { kind: 'whatIf'; path: string; tensor: string; candidates: string[]; imatrix?: string }
  | { kind: 'candidateError'; path: string; tensor: string; candidate: string; bins: number; imatrix?: string }
  | { kind: 'report'; path: string; reference?: string; format: 'md' | 'json' | 'csv' }
  /** `tensors`: only these (a helper thread's share of a comparison). */
  | { kind: 'compare'; path: string; reference: string; tensors?: string[] }
  | { kind: 'compareTensor'; path: string; reference: string; tensor: string; bins: number }
  | { kind: 'dump'; path: string; withStats: boolean }
  | { kind: 'requantize'; path: string; output: string; rules: string[]; imatrix?: string }
  /** The requantize preview: each changed tensor's error at its new type, estimated from spread rows. */
  | { kind: 'predictErrors'; path: string; rules: string[]; imatrix?: string }
  | { kind: 'simulate'; path: string; output: string; rules: string[] }
  | { kind: 'close'; path: string }
  /** One chunk of a requantization, quantized by a helper thread (nRows rows of nPerRow values). */
  | { kind: 'quantizeChunk'; typeId: number; values: Float32Array; nRows: number; nPerRow: number; imatrix?: Float32Array };

export type WorkerResult =
  | { kind: 'stats'; stats: TensorStats }
  | { kind: 'scales'; scales: ScaleDistribution | null }
  | { kind: 'block'; view: BlockView }
  | { kind: 'heatmap'; heatmap: Heatmap }
  | { kind: 'whatIf'; rows: WhatIfRow[] }
  | { kind: 'candidateError'; candidate: string; stats: TensorStats }
  | { kind: 'text'; text: string }
  | { kind: 'compare'; comparison: Comparison }
  | { kind: 'compareTensor'; detail: TensorComparisonDetail }
  | { kind: 'requantize'; output: string; bytes: number; changed: number }
  | { kind: 'closed' }
  | { kind: 'quantized'; bytes: Uint8Array }
  | { kind: 'predictions'; predictions: ({ tensor: string } & PredictedError)[] };

export interface WorkerRequest {
  id: number;
  job: WorkerJob;
  /** Int32Array view: element 0 becomes 1 when the job is cancelled. */
  cancel: SharedArrayBuffer;
}

export type WorkerResponse =
  /** Sent once, when the worker has loaded and takes jobs. */
  | { id: 0; type: 'ready' }
  | { id: number; type: 'progress'; done: number; total: number }
  | { id: number; type: 'result'; result: WorkerResult }
  | { id: number; type: 'error'; message: string; code?: string };
