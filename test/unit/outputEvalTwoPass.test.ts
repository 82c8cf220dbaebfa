/**
 * A model is judged against its reference in two passes, as llama-perplexity --kl-divergence-base does, so the
 * two are never in memory together: the reference runs alone, its scored distributions go to a temporary file
 * that is unlinked as soon as it is open, and the model runs against that file. Skipped, with the reason, when the
 * llama.cpp runtime is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyLlama, writeTinyLlama } from '../helpers/tinyLlama.ts';
import { bundledEvalDir } from '../helpers/bundles.ts';
import { evaluateInChild, runtimeStatus } from '../../src/node/evalClient.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../../src/core/requant/requantize.ts';
import { SAMPLE_TEXT } from '../../src/core/eval/sampleText.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const status = runtimeStatus(ROOT);
const skip = status === true ? false : `skipped: ${status}`;

let dir: string;
let child: string;
const CTX = 64;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ql-eval2-'));
  writeFileSync(join(dir, 'f32.gguf'), writeTinyLlama(makeTinyLlama()));
  const model = await openModel(join(dir, 'f32.gguf'));
  try {
    await writeRequantized(model, planRequantize(model, [parseTensorTypeRule('.*=Q4_0')]), join(dir, 'q4_0.gguf'));
  } finally {
    await model.close();
  }
  if (!skip) child = join(bundledEvalDir(), 'evalChild.js');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the reference is loaded and evaluated alone, then the model: never both at once; no file is left', { skip }, async () => {
  const scratch = join(dir, 'tmp');
  mkdirSync(scratch);
  const stages: string[] = [];
  const r = await evaluateInChild(
    child,
    {
      kind: 'evaluate',
      model: join(dir, 'q4_0.gguf'),
      reference: join(dir, 'f32.gguf'),
      text: SAMPLE_TEXT,
      ctx: CTX,
      chunks: 2,
      threads: 1,
    },
    {
      env: { ...process.env, TMPDIR: scratch },
      onProgress: (_done, _total, stage) => {
        if (stages.at(-1) !== stage) stages.push(stage);
      },
    },
  );
  assert.deepEqual(stages, ['loading f32.gguf', 'evaluating the reference f32.gguf', 'loading q4_0.gguf', 'evaluating q4_0.gguf']);
  assert.equal(r.scored, 2 * (CTX - 1 - CTX / 2));
  assert.ok(r.kld.mean > 0.01, `Q4_0 against F32: KLD ${r.kld.mean}`);
  assert.ok(r.sameTop < 1);
  // the distributions file was unlinked as soon as it was opened
  assert.deepEqual(readdirSync(scratch), []);
});

test('swapping model and reference reads the other file first and still scores every position', { skip }, async () => {
  const job = { kind: 'evaluate' as const, text: SAMPLE_TEXT, ctx: CTX, chunks: 2, threads: 1 };
  const ab = await evaluateInChild(child, { ...job, model: join(dir, 'q4_0.gguf'), reference: join(dir, 'f32.gguf') });
  const ba = await evaluateInChild(child, { ...job, model: join(dir, 'f32.gguf'), reference: join(dir, 'q4_0.gguf') });
  // KL is not symmetric, but same-top agreement is, and the two perplexities trade places
  assert.equal(ab.sameTop, ba.sameTop);
  assert.equal(ab.perplexity, ba.perplexityRef);
  assert.equal(ab.perplexityRef, ba.perplexity);
  assert.notEqual(ab.kld.mean, ba.kld.mean);
});
