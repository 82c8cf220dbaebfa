/**
 * Scoring of next-token distributions as llama.cpp's llama-perplexity does it (tools/perplexity/perplexity.cpp):
 * the text's tokens (BOS first) are cut into chunks of n_ctx tokens, each chunk is evaluated from an empty cache
 * with its first token replaced by BOS, and only the second half is scored: the distributions at positions
 * n_ctx/2 .. n_ctx-2 predict tokens n_ctx/2+1 .. n_ctx-1. Perplexity is exp(mean NLL); the KL divergence of a
 * position is sum_t p_ref(t) (ln p_ref(t) - ln p_model(t)); "same top" counts positions where both argmaxes agree.
 * Everything accumulates in float64. (llama-perplexity stores the reference's log-probabilities as 16-bit codes
 * and skips terms with ln p_ref < -16; here the reference's float32 probabilities are used as they are.)
 */
import { QuantLensError } from '../errors.ts';

/** Smallest positive float32: a probability that underflowed to 0 is taken as this in ln p_model. */
const TINY_P = 1.401298464324817e-45;

export interface ChunkPlan {
  /** Chunks evaluated (each n_ctx tokens starting at i * n_ctx). */
  chunks: number;
  /** First scored position in a chunk (n_ctx / 2, rounded down). */
  first: number;
  /** Positions scored per chunk: n_ctx - 1 - first. */
  scoredPerChunk: number;
}

/** llama-perplexity's chunking: at least 2 * n_ctx tokens, floor(tokens / n_ctx) chunks at most. */
export function planChunks(nTokens: number, ctx: number, chunks?: number): ChunkPlan {
  // the editor asks for these in its own words; the CLI adds the option (QuantLensError.cliOption)
  if (!Number.isInteger(ctx) || ctx < 4)
    throw new QuantLensError('usage', `a context of ${ctx} tokens: it must be a whole number of at least 4`, undefined, undefined, '--ctx');
  if (chunks !== undefined && (!Number.isInteger(chunks) || chunks < 1))
    throw new QuantLensError('usage', `${chunks} chunks: expected a positive integer`, undefined, undefined, '--chunks');
  if (nTokens < 2 * ctx)
    throw new QuantLensError(
      'usage',
      `the text tokenizes to only ${nTokens} tokens; a context of ${ctx} needs at least ${2 * ctx} (as llama-perplexity): give a longer text or a smaller context`,
      undefined,
      undefined,
      '--ctx',
    );
  const max = Math.floor(nTokens / ctx);
  const first = Math.floor(ctx / 2);
  return { chunks: Math.min(chunks ?? max, max), first, scoredPerChunk: ctx - 1 - first };
}

/** The tokens of chunk i as evaluated: n_ctx tokens from i * n_ctx, the first one BOS. */
export function chunkTokens(tokens: readonly number[], ctx: number, i: number, bos: number): number[] {
  const t = tokens.slice(i * ctx, (i + 1) * ctx);
  t[0] = bos;
  return t;
}

export interface PositionScore {
  kld: number;
  /** -ln p(next token) under the model and under the reference. */
  nll: number;
  nllRef: number;
  sameTop: boolean;
  /** The argmax tokens. */
  top: number;
  topRef: number;
}

/** One position: the reference's and the model's distributions over the vocabulary, and the token that came next. */
export function scorePosition(pRef: ArrayLike<number>, p: ArrayLike<number>, next: number): PositionScore {
  if (pRef.length !== p.length) throw new QuantLensError('invalid-value', `distributions of ${pRef.length} and ${p.length} tokens`);
  let kld = 0;
  let top = 0;
  let topRef = 0;
  for (let t = 0; t < p.length; t++) {
    const a = pRef[t];
    const b = p[t];
    if (b > p[top]) top = t;
    if (a > pRef[topRef]) topRef = t;
    if (a > 0) kld += a * (Math.log(a) - Math.log(b > 0 ? b : TINY_P));
  }
  return {
    kld,
    nll: -Math.log(p[next] > 0 ? p[next] : TINY_P),
    nllRef: -Math.log(pRef[next] > 0 ? pRef[next] : TINY_P),
    sameTop: top === topRef,
    top,
    topRef,
  };
}

export interface KldStats {
  mean: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
}

export interface EvalSummary {
  model: string;
  reference: string;
  ctx: number;
  chunks: number;
  /** Tokens the text tokenized to (with BOS) and positions scored. */
  tokens: number;
  scored: number;
  vocab: number;
  kld: KldStats;
  /** Fraction of scored positions whose most likely token is the same in both. */
  sameTop: number;
  perplexity: number;
  perplexityRef: number;
  /** ln(PPL(model) / PPL(reference)). */
  lnPplRatio: number;
  /** Per scored position, in order: its token index in the text's tokens, KLD, and whether the top tokens agree. */
  positions: { index: number[]; kld: number[]; sameTop: boolean[] };
  /** The text of every token of the evaluated chunks (index as in positions.index), for marking the text. */
  pieces: string[];
  /** Seconds spent evaluating, and of them moving distributions into JavaScript. */
  seconds: number;
  transferSeconds: number;
  /** With `profile`: seconds the same chunks took through both models without asking for distributions. */
  plainSeconds?: number;
}

/** llama-perplexity's percentile: linear between the sorted values at fraction * (n - 1). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (!sorted.length) return NaN;
  if (fraction <= 0) return sorted[0];
  if (fraction >= 1) return sorted[sorted.length - 1];
  const at = fraction * (sorted.length - 1);
  const i = Math.floor(at);
  const f = at - i;
  return (1 - f) * sorted[i] + f * sorted[Math.min(i + 1, sorted.length - 1)];
}

/** Accumulates scored positions (float64 sums) and summarises them. */
export class EvalAccumulator {
  private sumKld = 0;
  private sumNll = 0;
  private sumNllRef = 0;
  private same = 0;
  readonly index: number[] = [];
  readonly klds: number[] = [];
  readonly sameTop: boolean[] = [];

  add(tokenIndex: number, s: PositionScore): void {
    this.sumKld += s.kld;
    this.sumNll += s.nll;
    this.sumNllRef += s.nllRef;
    if (s.sameTop) this.same++;
    this.index.push(tokenIndex);
    this.klds.push(s.kld);
    this.sameTop.push(s.sameTop);
  }

  get count(): number {
    return this.klds.length;
  }

  stats(): { kld: KldStats; sameTop: number; perplexity: number; perplexityRef: number; lnPplRatio: number } {
    const n = this.count;
    const sorted = [...this.klds].sort((a, b) => a - b);
    const median = n % 2 === 0 ? 0.5 * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[(n - 1) / 2];
    const meanNll = this.sumNll / n;
    const meanNllRef = this.sumNllRef / n;
    return {
      kld: {
        mean: this.sumKld / n,
        median,
        p90: percentile(sorted, 0.9),
        p95: percentile(sorted, 0.95),
        p99: percentile(sorted, 0.99),
        max: sorted[n - 1],
        min: sorted[0],
      },
      sameTop: this.same / n,
      perplexity: Math.exp(meanNll),
      perplexityRef: Math.exp(meanNllRef),
      lnPplRatio: meanNll - meanNllRef,
    };
  }
}
