/**
 * Output evaluation through llama.cpp (node-llama-cpp in a child process) on tiny llama models written by the
 * project's own GGUF writer with a real SPM tokenizer: a model against itself, the order of quantization levels,
 * llama.cpp's probabilities against an independent float64 forward pass, a broken model, a missing runtime, and
 * the CLI. Skipped, with the reason, when the runtime is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyLlama, writeTinyLlama, type TinyLlama } from '../helpers/tinyLlama.ts';
import { bundledEvalDir } from '../helpers/bundles.ts';
import { evaluateInChild, runEvalJob, runtimeStatus } from '../../src/node/evalClient.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { QuantLensError } from '../../src/core/errors.ts';
import { SAMPLE_TEXT } from '../../src/core/eval/sampleText.ts';
import { percentile, planChunks } from '../../src/core/eval/scoring.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const status = runtimeStatus(ROOT);
const skip = status === true ? false : `skipped: ${status}`;

let dir: string;
let child: string;
let tiny: TinyLlama;
const file = (name: string) => join(dir, name);
const CTX = 64;

async function requantize(src: string, dst: string, type: string): Promise<void> {
  const model = await openModel(src);
  try {
    await writeRequantized(model, planRequantize(model, [parseTensorTypeRule(`.*=${type}`)]), dst);
  } finally {
    await model.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ql-eval-'));
  tiny = makeTinyLlama();
  writeFileSync(file('f32.gguf'), writeTinyLlama(tiny));
  writeFileSync(file('broken.gguf'), writeTinyLlama(tiny, { omitKeys: ['llama.feed_forward_length'] }));
  for (const t of ['F16', 'Q8_0', 'Q4_0']) await requantize(file('f32.gguf'), file(`${t}.gguf`), t);
  if (!skip) child = join(bundledEvalDir(), 'evalChild.js');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('chunking and percentiles follow llama-perplexity', () => {
  assert.deepEqual(planChunks(1000, 128), { chunks: 7, first: 64, scoredPerChunk: 63 });
  assert.deepEqual(planChunks(1000, 128, 2), { chunks: 2, first: 64, scoredPerChunk: 63 });
  assert.throws(() => planChunks(255, 128), /tokenizes to only 255 tokens; a context of 128 needs at least 256/);
  assert.equal(percentile([0, 1, 2, 3, 4], 0.9), 3.6);
  assert.equal(percentile([5], 0.99), 5);
});

test('a model against itself: KLD 0, same top 100 %, equal perplexities', { skip }, async () => {
  const r = await evaluateInChild(child, {
    kind: 'evaluate',
    model: file('f32.gguf'),
    reference: file('f32.gguf'),
    text: SAMPLE_TEXT,
    ctx: CTX,
    chunks: 3,
    threads: 1,
  });
  assert.equal(r.chunks, 3);
  assert.equal(r.scored, 3 * (CTX - 1 - CTX / 2));
  assert.equal(r.kld.mean, 0);
  assert.equal(r.kld.max, 0);
  assert.equal(r.sameTop, 1);
  assert.equal(r.perplexity, r.perplexityRef);
  assert.ok(r.perplexity > 1 && r.perplexity < tiny.shape.vocab * 10, `perplexity ${r.perplexity}`);
  // scored positions are the second half of each chunk: token index c * ctx + first + 1 ... c * ctx + ctx - 1
  assert.equal(r.positions.index[0], CTX / 2 + 1);
  assert.equal(r.positions.index.at(-1), 3 * CTX - 1);
});

test('the same model loaded twice is still KLD 0 (two contexts, same numbers)', { skip }, async () => {
  writeFileSync(file('copy.gguf'), writeTinyLlama(tiny));
  const r = await evaluateInChild(child, {
    kind: 'evaluate',
    model: file('copy.gguf'),
    reference: file('f32.gguf'),
    text: SAMPLE_TEXT,
    ctx: CTX,
    chunks: 2,
    threads: 1,
  });
  assert.equal(r.kld.max, 0);
  assert.equal(r.sameTop, 1);
});

test('KLD against F32 orders F16 < Q8_0 < Q4_0', { skip }, async () => {
  const kld: Record<string, number> = {};
  for (const t of ['F16', 'Q8_0', 'Q4_0']) {
    const r = await evaluateInChild(child, {
      kind: 'evaluate',
      model: file(`${t}.gguf`),
      reference: file('f32.gguf'),
      text: SAMPLE_TEXT,
      ctx: CTX,
      chunks: 3,
      threads: 1,
    });
    assert.ok(r.kld.mean > 0, `${t}: KLD ${r.kld.mean}`);
    assert.ok(r.kld.median <= r.kld.p90 && r.kld.p90 <= r.kld.p99 && r.kld.p99 <= r.kld.max);
    kld[t] = r.kld.mean;
  }
  assert.ok(kld.F16 < kld.Q8_0 && kld.Q8_0 < kld.Q4_0, JSON.stringify(kld));
});

// ---- an independent float64 forward pass of the llama architecture ----

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const k = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * k * w[i]);
}

/** y = W x for a ggml [cols, rows] matrix (row r contiguous). */
function matVec(w: Float32Array, cols: number, x: Float64Array): Float64Array {
  const rows = w.length / cols;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** llama.cpp's rope for LLM_ARCH_LLAMA (LLAMA_ROPE_TYPE_NORM): adjacent pairs (2i, 2i+1) of each head rotated. */
function rope(v: Float64Array, heads: number, headDim: number, pos: number, base: number): void {
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < headDim / 2; i++) {
      const theta = pos * Math.pow(base, (-2 * i) / headDim);
      const a = v[h * headDim + 2 * i];
      const b = v[h * headDim + 2 * i + 1];
      v[h * headDim + 2 * i] = a * Math.cos(theta) - b * Math.sin(theta);
      v[h * headDim + 2 * i + 1] = a * Math.sin(theta) + b * Math.cos(theta);
    }
}

function forward(m: TinyLlama, tokens: number[]): Float64Array[] {
  const s = m.shape;
  const W = (name: string) => m.tensors.find((t) => t.name === name)!.values;
  const E = s.embedding;
  const hd = E / s.heads;
  const group = s.heads / s.kvHeads;
  const keys: Float64Array[][] = Array.from({ length: s.blocks }, () => []);
  const vals: Float64Array[][] = Array.from({ length: s.blocks }, () => []);
  const out: Float64Array[] = [];
  for (const [pos, tok] of tokens.entries()) {
    let x = Float64Array.from(W('token_embd.weight').subarray(tok * E, (tok + 1) * E));
    for (let b = 0; b < s.blocks; b++) {
      const p = `blk.${b}.`;
      const h = rmsNorm(x, W(p + 'attn_norm.weight'), s.rmsEps);
      const q = matVec(W(p + 'attn_q.weight'), E, h);
      const k = matVec(W(p + 'attn_k.weight'), E, h);
      const v = matVec(W(p + 'attn_v.weight'), E, h);
      rope(q, s.heads, hd, pos, s.ropeBase);
      rope(k, s.kvHeads, hd, pos, s.ropeBase);
      keys[b].push(k);
      vals[b].push(v);
      const att = new Float64Array(E);
      for (let head = 0; head < s.heads; head++) {
        const kvh = Math.floor(head / group);
        const scores = keys[b].map((kk) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[head * hd + i] * kk[kvh * hd + i];
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < e.length; j++) for (let i = 0; i < hd; i++) att[head * hd + i] += (e[j] / z) * vals[b][j][kvh * hd + i];
      }
      const o = matVec(W(p + 'attn_output.weight'), E, att);
      x = x.map((xv, i) => xv + o[i]);
      const h2 = rmsNorm(x, W(p + 'ffn_norm.weight'), s.rmsEps);
      const g = matVec(W(p + 'ffn_gate.weight'), E, h2);
      const u = matVec(W(p + 'ffn_up.weight'), E, h2);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const d = matVec(W(p + 'ffn_down.weight'), s.ffn, act);
      x = x.map((xv, i) => xv + d[i]);
    }
    const logits = matVec(W('output.weight'), E, rmsNorm(x, W('output_norm.weight'), s.rmsEps));
    const mx = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - mx));
    const z = e.reduce((a, c) => a + c, 0);
    out.push(e.map((v) => v / z));
  }
  return out;
}

test("llama.cpp's probabilities match a float64 forward pass within 1e-5 (F32 KV cache, no flash attention)", { skip }, async () => {
  const r = await evaluateInChild(child, {
    kind: 'distributions',
    model: file('f32.gguf'),
    text: 'We hold these truths to be self-evident, that all men are created equal',
    threads: 1,
  });
  assert.equal(r.vocab, tiny.shape.vocab);
  assert.equal(r.tokens[0], 1, 'BOS first');
  assert.ok(r.tokens.length > 20);
  const expected = forward(tiny, r.tokens);
  let maxDiff = 0;
  for (let i = 0; i < r.tokens.length; i++)
    for (let t = 0; t < r.vocab; t++) maxDiff = Math.max(maxDiff, Math.abs(r.probabilities[i * r.vocab + t] - expected[i][t]));
  assert.ok(maxDiff < 1e-5, `max |p_llama.cpp - p_float64| = ${maxDiff}`);
  // the distributions are not trivially flat: the check means something
  const top = Math.max(...expected.map((p) => Math.max(...p)));
  assert.ok(top > 5 / tiny.shape.vocab, `top probability ${top}`);
});

test('a broken model is one error line naming it, and the next evaluation works', { skip }, async () => {
  await assert.rejects(
    evaluateInChild(child, {
      kind: 'evaluate',
      model: file('broken.gguf'),
      reference: file('f32.gguf'),
      text: SAMPLE_TEXT,
      ctx: CTX,
      chunks: 1,
      threads: 1,
    }),
    (e: unknown) => {
      assert.ok(e instanceof QuantLensError, String(e));
      assert.equal(e.code, 'engine');
      assert.match(e.message, /broken\.gguf/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
  const r = await evaluateInChild(child, {
    kind: 'evaluate',
    model: file('Q8_0.gguf'),
    reference: file('f32.gguf'),
    text: SAMPLE_TEXT,
    ctx: CTX,
    chunks: 1,
    threads: 1,
  });
  assert.ok(r.kld.mean > 0);
});

test('a text too short for the context, and models of different vocabularies, are one-line usage errors', { skip }, async () => {
  await assert.rejects(
    evaluateInChild(child, {
      kind: 'evaluate',
      model: file('f32.gguf'),
      reference: file('f32.gguf'),
      text: 'too short',
      ctx: CTX,
      threads: 1,
    }),
    (e: unknown) => e instanceof QuantLensError && e.code === 'usage' && /needs at least 128/.test(e.message),
  );
  writeFileSync(file('bigvocab.gguf'), writeTinyLlama(makeTinyLlama({ vocab: 512 })));
  await assert.rejects(
    evaluateInChild(child, {
      kind: 'evaluate',
      model: file('bigvocab.gguf'),
      reference: file('f32.gguf'),
      text: SAMPLE_TEXT,
      ctx: CTX,
      threads: 1,
    }),
    (e: unknown) => e instanceof QuantLensError && /do not share a vocabulary \(512 and 384 tokens\)/.test(e.message),
  );
});

test('progress arrives and cancel stops the child', { skip }, async () => {
  let resolveProgress: () => void;
  const progressed = new Promise<void>((r) => (resolveProgress = r));
  const handle = runEvalJob(
    child,
    { kind: 'evaluate', model: file('Q4_0.gguf'), reference: file('f32.gguf'), text: SAMPLE_TEXT.repeat(4), ctx: CTX, threads: 1 },
    { onProgress: (done, total, stage) => stage.startsWith('evaluating') && done > 0 && total > done && resolveProgress() },
  );
  await progressed;
  handle.cancel();
  await assert.rejects(handle.promise, (e: unknown) => e instanceof QuantLensError && e.code === 'cancelled');
});

test('without the runtime the job says what is missing in one line', { skip }, async () => {
  await assert.rejects(
    evaluateInChild(
      child,
      { kind: 'evaluate', model: file('f32.gguf'), reference: file('f32.gguf'), text: SAMPLE_TEXT, ctx: CTX },
      {
        env: { ...process.env, QUANTLENS_LLAMA_RUNTIME: 'node-llama-cpp-not-installed' },
      },
    ),
    (e: unknown) =>
      e instanceof QuantLensError && e.code === 'engine' && /runtime is not installed: node-llama-cpp 3\.21\.1/.test(e.message),
  );
});
