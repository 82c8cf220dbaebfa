/**
 * The evaluation child process (dist/evalChild.js, forked by src/node/evalClient.ts): runs llama.cpp through
 * node-llama-cpp, loaded with import() at run time (ESM-only, kept out of every bundle), so a model that makes
 * llama.cpp abort ends this process only. It takes one job, reports progress, answers with one result or error and
 * exits. Distributions are read a short slice of positions at a time and reduced at once (scoring.ts), so memory
 * stays bounded at any vocabulary size. A model is judged against another in two passes, as llama-perplexity's
 * --kl-divergence-base does: the reference runs alone and its scored distributions go to a temporary file, then it
 * is released and the model runs against that file, so only one of the two is ever in memory.
 */
import { basename, join } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { closeSync, openSync, readSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
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
  dispose(): Promise<void>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
type Item = Token | [Token, { generateNext?: { probabilities?: boolean } }];
interface LlamaSequence {
  readonly context: LlamaContext;
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
  'the llama.cpp runtime is not installed: node-llama-cpp 3.21.1 with @node-llama-cpp/linux-x64 (the linux-x64 .vsix carries them; in a checkout, npm ci installs them)';

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

/** The distributions of a slice of results as one array per position (llama.cpp's probabilities are float32). */
function toArrays(results: ({ next: { probabilities?: Map<Token, number> } } | undefined)[], vocab: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (const r of results) {
    const probs = r?.next.probabilities;
    if (!probs) continue;
    const a = new Float32Array(vocab);
    for (const [t, p] of probs) if (t < vocab) a[t] = p;
    out.push(a);
  }
  return out;
}

function bosOf(model: LlamaModel): Token | undefined {
  return model.tokens.shouldPrependBosToken && model.tokens.bos !== null ? model.tokens.bos : undefined;
}

/** Float32 distributions of the reference, written in pass 1 and read back in the same order in pass 2. */
class DistributionFile {
  private readonly fd: number;
  private writeAt = 0;
  private readAt = 0;

  constructor(bytes: number) {
    const dir = tmpdir();
    let free = Infinity;
    try {
      const fs = statfsSync(dir);
      free = fs.bavail * fs.bsize;
    } catch {
      // no figure: the writes will say if space runs out
    }
    if (bytes > free)
      throw new QuantLensError(
        'limit-exceeded',
        `the reference's distributions take ${(bytes / 1e9).toFixed(2)} GB and ${dir} has ${(free / 1e9).toFixed(2)} GB free: use fewer chunks or a smaller context`,
      );
    const path = join(dir, `.quantlens-reference-${process.pid}.f32`);
    this.fd = openSync(path, 'wx+', 0o600);
    // unlinked at once: the space returns to the system when this process ends, however it ends (even killed)
    unlinkSync(path);
  }

  write(distributions: Float32Array[]): void {
    for (const d of distributions) {
      const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done, this.writeAt + done);
      this.writeAt += bytes.length;
    }
  }

  read(count: number, vocab: number): Float32Array[] {
    const out: Float32Array[] = [];
    for (let i = 0; i < count; i++) {
      const d = new Float32Array(vocab);
      const bytes = new Uint8Array(d.buffer);
      for (let done = 0; done < bytes.length;) {
        const n = readSync(this.fd, bytes, done, bytes.length - done, this.readAt + done);
        if (n === 0) throw new QuantLensError('io', "the reference's distributions file ended early");
        done += n;
      }
      this.readAt += bytes.length;
      out.push(d);
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

async function evaluate(llama: Llama, job: Extract<EvalJob, { kind: 'evaluate' }>): Promise<ChildMessage> {
  const self = job.reference === job.model;
  // pass 1: the reference alone
  const reference = await loadModel(llama, job.reference);
  const vocab = vocabSize(reference);
  const bos = bosOf(reference);
  const tokens = [...(bos !== undefined ? [bos] : []), ...reference.tokenize(job.text)];
  const plan = planChunks(tokens.length, job.ctx, job.chunks);
  const slice = Math.max(1, Math.floor(SLICE_PROBABILITIES / Math.max(1, vocab)));
  const total = plan.chunks * plan.scoredPerChunk;
  const acc = new EvalAccumulator();
  let transfer = 0;
  let seconds = 0;
  const read = async (s: LlamaSequence, items: Item[]) => {
    const r = await s.controlledEvaluate(items);
    const t0 = performance.now();
    const arrays = toArrays(r, vocab);
    transfer += performance.now() - t0;
    return arrays;
  };
  /** Every scored slice of every chunk, in order: (chunk, first position, its tokens with their distributions). */
  const forEachScoredSlice = async (seq: LlamaSequence, onSlice: (chunk: number[], at: number, p: Float32Array[]) => void) => {
    const started = performance.now();
    for (let c = 0; c < plan.chunks; c++) {
      const chunk = chunkTokens(tokens, job.ctx, c, bos ?? tokens[c * job.ctx]);
      // the first half fills the cache; only the second half is scored
      await seq.clearHistory();
      await seq.controlledEvaluate(chunk.slice(0, plan.first));
      for (let j = plan.first; j < job.ctx - 1; j += slice) {
        const end = Math.min(j + slice, job.ctx - 1);
        const items = chunk.slice(j, end).map((t): Item => [t, { generateNext: { probabilities: true } }]);
        onSlice(chunk, c * job.ctx + j, await read(seq, items));
      }
    }
    seconds += (performance.now() - started) / 1000;
  };
  const profile = async (seq: LlamaSequence) => {
    const t0 = performance.now();
    for (let c = 0; c < plan.chunks; c++) {
      await seq.clearHistory();
      await seq.controlledEvaluate(chunkTokens(tokens, job.ctx, c, bos ?? tokens[c * job.ctx]).slice(0, job.ctx - 1));
    }
    return (performance.now() - t0) / 1000;
  };
  const evaluated = tokens.slice(0, plan.chunks * job.ctx);
  // each token's text as it continues the ones before it (a leading space stays)
  const pieces = evaluated.map((t, i) => reference.detokenize([t], false, evaluated.slice(Math.max(0, i - 4), i)));
  let plainSeconds: number | undefined;
  const seqRef = await newSequence(reference, job.ctx, job.threads);
  if (self) {
    // a model against itself: one pass gives both distributions
    await forEachScoredSlice(seqRef, (chunk, at, p) => {
      p.forEach((d, k) => acc.add(at + k + 1, scorePosition(d, d, chunk[(at % job.ctx) + k + 1])));
      void send({ type: 'progress', done: acc.count, total, stage: 'evaluating' });
    });
    if (job.profile) plainSeconds = await profile(seqRef);
  } else {
    const file = new DistributionFile(total * vocab * 4);
    try {
      let stored = 0;
      await forEachScoredSlice(seqRef, (_chunk, _at, p) => {
        file.write(p);
        stored += p.length;
        void send({ type: 'progress', done: stored, total: 2 * total, stage: `evaluating the reference ${basename(job.reference)}` });
      });
      if (job.profile) plainSeconds = await profile(seqRef);
      await seqRef.context.dispose();
      await reference.dispose();
      // pass 2: the model against what the reference wrote
      const model = await loadModel(llama, job.model);
      const vocabModel = vocabSize(model);
      if (vocabModel !== vocab)
        throw new QuantLensError(
          'usage',
          `${basename(job.model)} and ${basename(job.reference)} do not share a vocabulary (${vocabModel} and ${vocab} tokens)`,
        );
      const own = [...(bos !== undefined ? [bos] : []), ...model.tokenize(job.text)];
      if (own.length !== tokens.length || own.some((t, i) => t !== tokens[i]))
        throw new QuantLensError('usage', `${basename(job.model)} and ${basename(job.reference)} tokenize the text differently`);
      const seq = await newSequence(model, job.ctx, job.threads);
      await forEachScoredSlice(seq, (chunk, at, p) => {
        const pRef = file.read(p.length, vocab);
        for (let k = 0; k < p.length; k++) acc.add(at + k + 1, scorePosition(pRef[k], p[k], chunk[(at % job.ctx) + k + 1]));
        void send({ type: 'progress', done: total + acc.count, total: 2 * total, stage: `evaluating ${basename(job.model)}` });
      });
      if (job.profile) plainSeconds = (plainSeconds ?? 0) + (await profile(seq));
    } finally {
      file.close();
    }
  }
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
    await send({ type: 'error', code, message: (e as Error).message ?? String(e) });
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
