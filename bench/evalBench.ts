/**
 * Output evaluation through llama.cpp (the evaluation child, dist/evalChild.js): a Q8_0 copy of a tiny llama model
 * against its F32 source, at the tiny model's 384-token vocabulary and at a synthetic 32k vocabulary. Prints tokens
 * evaluated per second (both models' tokens counted) and the share of the time spent moving distributions into
 * JavaScript: what the same chunks cost evaluated without them does not account for (node-llama-cpp building a Map
 * per position, then Quant Lens reading it into an array and scoring it; the latter also shown alone).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTinyLlama, writeTinyLlama } from '../test/helpers/tinyLlama.ts';
import { openModel } from '../src/core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../src/core/requant/requantize.ts';
import { SAMPLE_TEXT } from '../src/core/eval/sampleText.ts';
import { evalChildScript, runEvalJob, runtimeStatus } from '../src/node/evalClient.ts';

export interface EvalBenchRow {
  vocab: number;
  ctx: number;
  chunks: number;
  tokensPerSecond: number;
  jsShare: number;
  /** Share of the time that evaluating the same tokens without distributions does not account for. */
  transferShare: number;
}

export async function evalBench(root: string, dir: string, log: (s: string) => void): Promise<EvalBenchRow[] | string> {
  const status = runtimeStatus(root);
  if (status !== true) return status;
  const script = evalChildScript(join(root, 'dist'));
  if (!script) return 'dist/evalChild.js is missing';
  const rows: EvalBenchRow[] = [];
  for (const [vocab, ctx, chunks] of [
    [384, 128, 8],
    [32000, 128, 2],
  ]) {
    const src = join(dir, `eval-${vocab}.gguf`);
    const q8 = join(dir, `eval-${vocab}-q8.gguf`);
    writeFileSync(src, writeTinyLlama(makeTinyLlama({ vocab })));
    const model = await openModel(src);
    await writeRequantized(model, planRequantize(model, [parseTensorTypeRule('.*=Q8_0')]), q8);
    await model.close();
    const r = await runEvalJob(script, { kind: 'evaluate', model: q8, reference: src, text: SAMPLE_TEXT, ctx, chunks, profile: true })
      .promise;
    const row = {
      vocab,
      ctx,
      chunks: r.chunks,
      tokensPerSecond: (2 * r.chunks * ctx) / r.seconds,
      jsShare: r.transferSeconds / r.seconds,
      transferShare: Math.max(0, 1 - (r.plainSeconds ?? r.seconds) / r.seconds),
    };
    rows.push(row);
    log(
      `  vocabulary ${vocab}: ${row.tokensPerSecond.toFixed(0)} tokens/s (2 models x ${r.chunks} chunks of ${ctx}, ${r.seconds.toFixed(2)} s), ${(100 * row.transferShare).toFixed(1)} % of it moving distributions into JS (${(100 * row.jsShare).toFixed(1)} % in Quant Lens's own reading and scoring)`,
    );
  }
  return rows;
}
