/**
 * The one message protocol between the extension host and the model editor's webview. Nothing is posted that
 * is not declared here. The webview receives summaries (stats, histograms, block records, a downsampled
 * heatmap), never raw tensors.
 */
import type { ModelSummary } from '../core/analysis/summary.ts';
import type { QuantMap } from '../core/analysis/quantMap.ts';
import type { MemoryFit } from '../core/analysis/memoryFit.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import type { ScaleDistribution } from '../core/analysis/blocks.ts';
import type { InspectedBlock } from '../core/analysis/inspectedBlock.ts';
import type { WhatIfRow } from '../core/analysis/whatIf.ts';
import type { Comparison, TensorComparisonDetail } from '../core/compare/compare.ts';
import type { Heatmap } from '../core/analysis/heatmap.ts';

export interface TensorRow {
  name: string;
  shape: number[];
  type: string;
  family: string;
  bitsPerWeight: number;
  nbytes: number;
  offset: number;
  nElements: number;
  /** Block group: "blk.3" / "model.layers.3", or "" for tensors outside blocks. */
  group: string;
  decodable: boolean;
  /** Has per-block scales to plot and a block inspector worth opening. */
  quantized: boolean;
}

export interface MetadataRow {
  key: string;
  type: string;
  /** Short rendering (arrays summarised). */
  display: string;
  /** Full text for strings (chat templates), when longer than the display. */
  text?: string;
  arrayLength?: number;
  arrayType?: string;
}

export type ToWebview =
  | { type: 'model'; fileName: string; summary: ModelSummary; tensors: TensorRow[]; metadata: MetadataRow[]; quantMap: QuantMap; memory: MemoryFit; settings: WebviewSettings }
  | { type: 'openError'; message: string }
  | { type: 'stats'; tensor: string; stats: TensorStats }
  | { type: 'scales'; tensor: string; scales: ScaleDistribution | null }
  | { type: 'block'; view: InspectedBlock }
  | { type: 'heatmap'; heatmap: Heatmap }
  | { type: 'whatIf'; tensor: string; rows: WhatIfRow[] }
  | { type: 'progress'; label: string; done: number; total: number }
  | { type: 'jobDone' }
  | { type: 'jobError'; tensor?: string; message: string }
  | { type: 'tokens'; query: string; matches: { id: number; text: string }[] }
  /** values rendered as text: strings JSON-quoted, numbers and booleans as written */
  | { type: 'arrayPage'; key: string; start: number; values: string[] }
  | { type: 'reveal'; tensor: string }
  | { type: 'settings'; settings: WebviewSettings }
  | { type: 'comparison'; comparison: Comparison }
  | { type: 'tensorComparison'; detail: TensorComparisonDetail }
  | { type: 'imatrix'; file: string }
  | { type: 'candidateError'; tensor: string; candidate: string; stats: TensorStats };

export interface WebviewSettings {
  bins: number;
  histogramScale: 'linear' | 'log';
}

export type FromWebview =
  | { type: 'ready' }
  | { type: 'selectTensor'; tensor: string }
  | { type: 'block'; tensor: string; index: number }
  | { type: 'whatIf'; tensor: string }
  | { type: 'candidateError'; tensor: string; candidate: string }
  | { type: 'findTokens'; query: string }
  | { type: 'arrayPage'; key: string; start: number; count: number }
  | { type: 'cancel' }
  | { type: 'command'; command: 'requantize' | 'compare' | 'exportReport' | 'showAsText' | 'loadImatrix'; tensors?: string[] }
  | { type: 'comparisonReport'; reference: string };
