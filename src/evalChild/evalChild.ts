/**
 * The evaluation child process (dist/evalChild.js, forked by src/node/evalClient.ts): runs llama.cpp through
 * node-llama-cpp, loaded with import() at run time (ESM-only, kept out of every bundle), so a model that makes
 * llama.cpp abort ends this process only. It takes one job, reports progress, answers with one result or error and
 * exits. Distributions are read a short slice of positions at a time and reduced at once (scoring.ts), so memory
 * stays bounded at any vocabulary size.
 */
import { basename } from 'node:path';
import { availableParallelism } from 'node:os';
import type { ChildMessage, EvalJob, ParentMessage } from '../shared/evalProtocol.ts';
import { EvalAccumulator, chunkTokens, planChunks, scorePosition } from '../core/eval/scoring.ts';
import { QuantLensError } from '../core/errors.ts';

// the subset of node-llama-cpp's API used here (the package's own types are not imported: it is loaded at run time)
type Token = number;
interface LlamaModel {
  tokens: { bos: Token | null; shouldPrependBosToken: boolean };
  fileInfo: { metadata?: { tokenizer?: { ggml?: { tokens?: unknown[] } } } };
  tokenize(text: string): Token[];
  detokenize(tokens: readonly Token[], specialTokens?: boolean, lastTokens?: readonly Token[]): string;
  createContext(options: Record<string, unknown>): Promise<LlamaContext>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
}
type Item = Token | [Token, { generateNext?: { probabilities?: boolean } }];
interface LlamaSequence {
  clearHistory(): Promise<void>;
  controlledEvaluate(items: Item[]): Promise<({ next: { probabilities?: Map<Token, number> } } | undefined)[]>;
}
interface Llama {
  loadModel(options: { modelPath: string; gpuLayers?: number }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}

/** The package the child loads (an environment variable may point elsewhere, for tests of a missing runtime). */
const RUNTIME = process.env.QUANTLENS_LLAMA_RUNTIME || 'node-llama-cpp';
export const RUNTIME_MISSING =
  'the llama.cpp runtime is not installed: node-llama-cpp 3.21.1 with @node-llama-cpp/linux-x64 (npm ci installs them on linux-x64)';

/** Positions whose distributions are held in JavaScript at a time: about 2M probabilities (about 0.5 at 152k). */
const SLICE_PROBABILITIES = 1 << 21;

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

async function loadRuntime(): Promise<Llama> {
  let mod: { getLlama(o: Record<string, unknown>): Promise<Llama>; LlamaLogLevel: Record<string, unknown> };
  try {
    const spec = RUNTIME;
    mod = await import(spec);
  } catch {
    throw new QuantLensError('engine', RUNTIME_MISSING);
  }
  try {
    return await mod.getLlama({
      gpu: false,
      build: 'never',
      logLevel: mod.LlamaLogLevel.warn,
      // llama.cpp's own lines go to stderr: the parent quotes the last one if this process dies
      logger: (_level: unknown, message: string) => process.stderr.write(message.endsWith('\n') ? message : message + '\n'),
    });
  } catch (e) {
    throw new QuantLensError('engine', `${RUNTIME_MISSING} (${(e as Error).message.split('\n')[0]})`);
  }
}

async function loadModel(llama: Llama, path: string): Promise<LlamaModel> {
  void send({ type: 'progress', done: 0, total: 0, stage: `loading ${basename(path)}`, file: path });
  try {
    return await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  } catch (e) {
    throw new QuantLensError('invalid-value', `llama.cpp cannot load ${basename(path)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function vocabSize(model: LlamaModel): number {
  return model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? 0;
}

async function newSequence(model: LlamaModel, ctx: number, threads: number | undefined): Promise<LlamaSequence> {
  // exact settings: no flash attention and an F32 KV cache (llama.cpp's defaults move probabilities by about 1e-3)
  const context = await model.createContext({
    contextSize: ctx,
    batchSize: ctx,
    sequences: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    // an explicit count: node-llama-cpp's default hint ran about 50 times slower on a loaded 2-core machine
    threads: threads ?? Math.max(1, availableParallelism()),
  });
  return context.getSequence();
}

/** The distributions of a slice of results as one float64 array per position. */
function toArrays(results: ({ next: { probabilities?: Map<Token, number> } } | undefined)[], vocab: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (const r of results) {
    const probs = r?.next.probabilities;
    if (!probs) continue;
    const a = new Float64Array(vocab);
    for (const [t, p] of probs) if (t < vocab) a[t] = p;
    out.push(a);
  }
  return out;
}

function bosOf(model: LlamaModel): Token | undefined {
  return model.tokens.shouldPrependBosToken && model.tokens.bos !== null ? model.tokens.bos : undefined;
}

async function evaluate(llama: Llama, job: Extract<EvalJob, { kind: 'evaluate' }>): Promise<ChildMessage> {
  const started = performance.now();
  const model = await loadModel(llama, job.model);
  const reference = job.reference === job.model ? model : await loadModel(llama, job.reference);
  const vocab = vocabSize(model);
  const vocabRef = vocabSize(reference);
  if (vocab !== vocabRef)
    throw new QuantLensError(
      'usage',
      `${basename(job.model)} and ${basename(job.reference)} do not share a vocabulary (${vocab} and ${vocabRef} tokens)`,
    );
  const bos = bosOf(reference);
  const tokens = [...(bos !== undefined ? [bos] : []), ...reference.tokenize(job.text)];
  const own = [...(bos !== undefined ? [bos] : []), ...model.tokenize(job.text)];
  if (own.length !== tokens.length || own.some((t, i) => t !== tokens[i]))
    throw new QuantLensError('usage', `${basename(job.model)} and ${basename(job.reference)} tokenize the text differently`);
  const plan = planChunks(tokens.length, job.ctx, job.chunks);
  const seq = await newSequence(model, job.ctx, job.threads);
  const seqRef = reference === model ? seq : await newSequence(reference, job.ctx, job.threads);
  const slice = Math.max(1, Math.floor(SLICE_PROBABILITIES / Math.max(1, vocab)));
  const acc = new EvalAccumulator();
  const total = plan.chunks * plan.scoredPerChunk;
  let transfer = 0;
  const evalStart = performance.now();
  for (let c = 0; c < plan.chunks; c++) {
    const chunk = chunkTokens(tokens, job.ctx, c, bos ?? tokens[c * job.ctx]);
    const base = c * job.ctx;
    // the first half fills the cache; only the second half is scored
    const prefix = chunk.slice(0, plan.first);
    const run = async (s: LlamaSequence, items: Item[]) => {
      const r = await s.controlledEvaluate(items);
      const t0 = performance.now();
      const arrays = toArrays(r, vocab);
      transfer += performance.now() - t0;
      return arrays;
    };
    const scoredItems = (from: number, to: number): Item[] =>
      chunk.slice(from, to).map((t): Item => [t, { generateNext: { probabilities: true } }]);
    if (seq === seqRef) {
      // a model against itself: one pass gives both distributions
      await seq.clearHistory();
      await seq.controlledEvaluate(prefix);
      for (let j = plan.first; j < job.ctx - 1; j += slice) {
        const end = Math.min(j + slice, job.ctx - 1);
        const p = await run(seq, scoredItems(j, end));
        p.forEach((d, k) => acc.add(base + j + k + 1, scorePosition(d, d, chunk[j + k + 1])));
        void send({ type: 'progress', done: acc.count, total, stage: 'evaluating' });
      }
      continue;
    }
    await seq.clearHistory();
    await seqRef.clearHistory();
    await seq.controlledEvaluate(prefix);
    await seqRef.controlledEvaluate(prefix);
    for (let j = plan.first; j < job.ctx - 1; j += slice) {
      const end = Math.min(j + slice, job.ctx - 1);
      const pRef = await run(seqRef, scoredItems(j, end));
      const p = await run(seq, scoredItems(j, end));
      for (let k = 0; k < p.length; k++) acc.add(base + j + k + 1, scorePosition(pRef[k], p[k], chunk[j + k + 1]));
      void send({ type: 'progress', done: acc.count, total, stage: 'evaluating' });
    }
  }
  const seconds = (performance.now() - evalStart) / 1000;
  let plainSeconds: number | undefined;
  if (job.profile) {
    const t0 = performance.now();
    for (let c = 0; c < plan.chunks; c++) {
      const chunk = chunkTokens(tokens, job.ctx, c, bos ?? tokens[c * job.ctx]).slice(0, job.ctx - 1);
      for (const s of seq === seqRef ? [seq] : [seq, seqRef]) {
        await s.clearHistory();
        await s.controlledEvaluate(chunk);
      }
    }
    plainSeconds = (performance.now() - t0) / 1000;
  }
  const evaluated = tokens.slice(0, plan.chunks * job.ctx);
  // each token's text as it continues the ones before it (a leading space stays)
  const pieces = evaluated.map((t, i) => reference.detokenize([t], false, evaluated.slice(Math.max(0, i - 4), i)));
  void started;
  return {
    type: 'result',
    result: {
      kind: 'evaluate',
      model: job.model,
      reference: job.reference,
      ctx: job.ctx,
      chunks: plan.chunks,
      tokens: tokens.length,
      scored: acc.count,
      vocab,
      ...acc.stats(),
      positions: { index: acc.index, kld: acc.klds, sameTop: acc.sameTop },
      pieces,
      seconds,
      transferSeconds: transfer / 1000,
      ...(plainSeconds !== undefined ? { plainSeconds } : {}),
    },
  };
}

/** At most this many probabilities are returned by a distributions job. */
const MAX_DISTRIBUTIONS = 1 << 24;

async function distributions(llama: Llama, job: Extract<EvalJob, { kind: 'distributions' }>): Promise<ChildMessage> {
  const model = await loadModel(llama, job.model);
  const vocab = vocabSize(model);
  const bos = bosOf(model);
  const tokens = [...(bos !== undefined ? [bos] : []), ...model.tokenize(job.text)];
  if (tokens.length * vocab > MAX_DISTRIBUTIONS)
    throw new QuantLensError('limit-exceeded', `${tokens.length} positions of ${vocab} probabilities is more than ${MAX_DISTRIBUTIONS}`);
  const seq = await newSequence(model, Math.max(8, tokens.length), job.threads);
  const r = await seq.controlledEvaluate(tokens.map((t): Item => [t, { generateNext: { probabilities: true } }]));
  const probabilities = new Float32Array(tokens.length * vocab);
  toArrays(r, vocab).forEach((a, i) => probabilities.set(a, i * vocab));
  return { type: 'result', result: { kind: 'distributions', tokens, vocab, probabilities } };
}

async function runJob(job: EvalJob): Promise<void> {
  try {
    const llama = await loadRuntime();
    await send(job.kind === 'evaluate' ? await evaluate(llama, job) : await distributions(llama, job));
  } catch (e) {
    const code = e instanceof QuantLensError ? e.code : 'internal';
    const cliOption = e instanceof QuantLensError ? e.cliOption : undefined;
    await send({ type: 'error', code, message: (e as Error).message ?? String(e), ...(cliOption ? { cliOption } : {}) });
  }
  // the parent has the answer: leave without waiting for llama.cpp's teardown
  process.disconnect?.();
  process.exit(0);
}

if (process.send) {
  process.once('message', (m: ParentMessage) => {
    if (m?.type === 'run') void runJob(m.job);
  });
}
