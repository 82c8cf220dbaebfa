/**
 * The message protocol between the extension host (or the CLI) and the evaluation child process
 * (dist/evalChild.js), which runs llama.cpp (node-llama-cpp) so that a model that aborts it takes down only the
 * child. One job per child: the parent sends `run`, the child answers with progress and then one `result` or
 * `error`, and exits. Cancelling kills the child.
 */
import type { EvalSummary } from '../core/eval/scoring.ts';

export type EvalJob =
  /** llama-perplexity's KL-divergence run: MODEL's next-token distributions against REFERENCE's on a text. */
  | {
      kind: 'evaluate';
      model: string;
      reference: string;
      text: string;
      ctx: number;
      chunks?: number;
      threads?: number;
      /** Also time each chunk evaluated without distributions (the bench: what reading them costs). */
      profile?: boolean;
    }
  /** Every next-token probability of MODEL after each token of BOS + tokenize(text) (small vocabularies only). */
  | { kind: 'distributions'; model: string; text: string; threads?: number };

export interface DistributionsResult {
  kind: 'distributions';
  tokens: number[];
  vocab: number;
  /** probabilities[i * vocab + t]: the probability of token t after tokens[0..i]. */
  probabilities: Float32Array;
}

export type EvalResult = ({ kind: 'evaluate' } & EvalSummary) | DistributionsResult;

export type ParentMessage = { type: 'run'; job: EvalJob };

export type ChildMessage =
  /** file: the model being loaded, when the stage is loading one. */
  | { type: 'progress'; done: number; total: number; stage: string; file?: string }
  | { type: 'result'; result: EvalResult }
  /** code: a QuantLensError code, or 'internal' for a bug in the child; cliOption: the error's, if any. */
  | { type: 'error'; code: string; message: string; cliOption?: string };
