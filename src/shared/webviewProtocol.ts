/**
 * The one message protocol between the extension host and the model editor's webview. Nothing is posted that
 * is not declared here. The webview receives summaries (stats, histograms, block records, a downsampled
 * heatmap), never raw tensors.
 *
 * Requests (`Requests`) carry an `id`; every reply to one (`Replies`) carries that id back as `inReplyTo`, and
 * the webview hands it to whoever asked. The host also sends notices of its own accord (`Notice`), and the
 * webview tells the host things that need no answer (`Tell`).
 */
import type { ModelSummary, TypeShare } from '../core/analysis/summary.ts';
import type { QuantMap } from '../core/analysis/quantMap.ts';
import type { MemoryFit } from '../core/analysis/memoryFit.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import type { ScaleDistribution } from '../core/analysis/blocks.ts';
import type { InspectedBlock } from '../core/analysis/inspectedBlock.ts';
import type { Heatmap } from '../core/analysis/heatmap.ts';
import type { WhatIfRow } from '../core/analysis/whatIf.ts';
import type { Comparison, TensorComparisonDetail } from '../core/compare/compare.ts';
import type { GroupRecord } from '../core/hfquant/weights.ts';
import type { WeightChecks } from './workerProtocol.ts';
import type { TokenLookup } from '../core/analysis/tokenizer.ts';
import type { Truncation } from '../core/model.ts';

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
  /**
   * A logical weight of a quantized Hugging Face checkpoint (issue 9): `shape` is its logical [out, in], `type` its
   * scheme, `bitsPerWeight` and `nbytes` count every component; its stats are those of the dequantized values.
   */
  logical?: LogicalRow;
}

export interface LogicalRow {
  /** `GPTQ`, `MLX affine` ... */
  format: string;
  scheme: string;
  components: { role: string; name: string; shape: number[]; dtype: string; nbytes: number; offset: number }[];
  diagnostics: string[];
  /** Why it cannot be decoded (one line), when it cannot. */
  error?: string;
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

export interface WebviewSettings {
  bins: number;
  histogramScale: 'linear' | 'log';
}

/** What the webview asks the host, by request type. */
export interface Requests {
  ready: object;
  selectTensor: { tensor: string };
  block: { tensor: string; index: number };
  group: { tensor: string; row: number; group: number };
  /** `candidates`: the user's own, computed beside the defaults, the tensor's own type and its neighbours. */
  whatIf: { tensor: string; candidates?: string[] };
  candidateError: { tensor: string; candidate: string };
  findTokens: { query: string };
  arrayPage: { key: string; start: number; count: number };
  comparisonReport: { reference: string };
}
export type RequestType = keyof Requests;
export type Request<K extends RequestType = RequestType> = { [P in K]: { type: P; id: number } & Requests[P] }[K];

/** `quantization`: one line naming the format of a quantized Hugging Face checkpoint, whose rows are its logical weights. */
export type ModelMessage = {
  type: 'model';
  fileName: string;
  summary: ModelSummary;
  quantization?: string;
  tensors: TensorRow[];
  metadata: MetadataRow[];
  quantMap: QuantMap;
  memory: MemoryFit;
  settings: WebviewSettings;
  /** A GGUF file cut short, opened as far as it goes: how much is there and which tensors have no data. */
  truncation?: Truncation;
};
/** `unreadable`: the file could not be read at all (missing, refused, unreachable), as opposed to read and refused. */
type OpenError = { type: 'openError'; message: string; unreadable: boolean };
type Stats = { type: 'stats'; tensor: string; stats: TensorStats };
type Scales = { type: 'scales'; tensor: string; scales: ScaleDistribution | null };
type Block = { type: 'block'; view: InspectedBlock };
/** A logical weight's group (hfquant GroupRecord) with its raw bytes as numbers. */
export type GroupView = Omit<GroupRecord, 'sources'> & { sources: (Omit<GroupRecord['sources'][number], 'bytes'> & { bytes: number[] })[] };
type Group = { type: 'group'; view: GroupView };
type HeatmapMessage = { type: 'heatmap'; heatmap: Heatmap };
/** A logical weight's complete scheme and diagnostics, once the worker has read its scales, zeros and indices. */
type Checks = { type: 'checks'; checks: WeightChecks };
type WhatIf = { type: 'whatIf'; tensor: string; rows: WhatIfRow[] };
type CandidateError = { type: 'candidateError'; tensor: string; candidate: string; stats: TensorStats };
type TensorComparison = { type: 'tensorComparison'; detail: TensorComparisonDetail };
/** A job's progress, then its end: jobDone, jobCancelled (the user's Cancel, or another selection) or jobError. */
export type JobProgress =
  /** `fetched`: bytes received over HTTP so far, for a model opened by URL. */
  | { type: 'progress'; label: string; done: number; total: number; fetched?: number }
  | { type: 'jobDone' }
  | { type: 'jobCancelled'; tensor?: string }
  | { type: 'jobError'; tensor?: string; message: string };
/** A token lookup (core/analysis/tokenizer.ts TokenLookup): at most 50 matches of `total`, or the problem. */
type Tokens = { type: 'tokens' } & TokenLookup;
/** values rendered as text: strings JSON-quoted, numbers and booleans as written */
type ArrayPage = { type: 'arrayPage'; key: string; start: number; values: string[] };

/** What each request is answered with. */
export interface Replies {
  ready: ModelMessage | OpenError;
  selectTensor: Block | Group | Checks | Stats | Scales | HeatmapMessage | TensorComparison | JobProgress;
  block: Block | Extract<JobProgress, { type: 'jobError' }>;
  group: Group | Extract<JobProgress, { type: 'jobError' }>;
  whatIf: WhatIf | JobProgress;
  candidateError: CandidateError | JobProgress;
  findTokens: Tokens;
  arrayPage: ArrayPage;
  comparisonReport: JobProgress;
}
export type Reply<K extends RequestType = RequestType> = Replies[K] & { inReplyTo: number };

/** The replies after which a request has no more. */
export const LAST_REPLIES: { readonly [K in RequestType]: readonly Replies[K]['type'][] } = {
  ready: ['model', 'openError'],
  selectTensor: ['jobDone', 'jobCancelled', 'jobError'],
  block: ['block', 'jobError'],
  group: ['group', 'jobError'],
  whatIf: ['jobDone', 'jobCancelled', 'jobError'],
  candidateError: ['jobDone', 'jobCancelled', 'jobError'],
  findTokens: ['tokens'],
  arrayPage: ['arrayPage'],
  comparisonReport: ['jobDone', 'jobCancelled', 'jobError'],
};

/**
 * Output sensitivity (Measure Output Sensitivity…): the KLD of the model's outputs with only a tensor's group
 * (a kind across blocks, or a block) quantized to `quantType`, for every tensor measured.
 */
export interface SensitivityView {
  quantType: string;
  by: 'kind' | 'block';
  /** KLD by tensor name (the value of its group). */
  kld: Record<string, number>;
}

/** What the host sends of its own accord. */
export type Notice =
  | { type: 'sensitivity'; sensitivity: SensitivityView }
  | { type: 'reveal'; tensor: string }
  | { type: 'settings'; settings: WebviewSettings }
  /** `referenceTypes`: the reference's size by type, counted as the model's is (undefined: its header could not be read). */
  | { type: 'comparison'; comparison: Comparison; referenceTypes?: TypeShare[] }
  /** The importance matrix now in use (none after Unload), and how much of the model it covers. */
  | { type: 'imatrix'; file?: string; coverage?: string };

export type ToWebview = Reply | Notice;

/** What the webview tells the host without waiting for an answer. */
export type Tell =
  | { type: 'cancel' }
  /** Save a chart as a PNG file the user picks: `name` suggests the file name, `png` is the image, base64. */
  | { type: 'savePng'; name: string; png: string }
  | {
      type: 'command';
      command: 'requantize' | 'compare' | 'exportReport' | 'showAsText' | 'loadImatrix' | 'unloadImatrix';
      tensors?: string[];
    };

export type FromWebview = Request | Tell;
