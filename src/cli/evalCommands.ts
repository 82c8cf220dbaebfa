/**
 * CLI commands that run the model (through llama.cpp in a child process, src/node/evalClient.ts):
 * eval (KLD, same top token and perplexity against a reference), sensitivity (KLD of each group quantized alone)
 * and suggest (types per group for a size budget).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { QuantLensError, escapeText } from '../core/errors.ts';
import { SAMPLE_TEXT, SAMPLE_TEXT_SOURCE } from '../core/eval/sampleText.ts';
import type { EvalSummary } from '../core/eval/scoring.ts';
import { evalJson } from '../core/eval/evalReport.ts';
import { budgetBytes, suggestMix, type GroupBy } from '../core/eval/sensitivity.ts';
import { typeByName, type TensorType } from '../core/types.ts';
import { openModel } from '../core/formats/openModel.ts';
import { formatBytes } from '../core/analysis/summary.ts';
import { evalChildScript, runEvalJob, runtimeStatus } from '../node/evalClient.ts';
import { measureSensitivity } from '../node/outputSensitivity.ts';

export interface EvalCliOptions {
  text?: string;
  ctx?: string;
  chunks?: string;
  threads?: string;
  json: boolean;
}

/** The child script beside the bundled CLI, after checking the runtime is there. */
function childScript(): string {
  const status = runtimeStatus(join(__dirname, '..'));
  if (status !== true) throw new QuantLensError('engine', status);
  const script = evalChildScript(__dirname);
  if (!script) throw new QuantLensError('engine', 'dist/evalChild.js is missing beside the CLI: run npm run build');
  return script;
}

function positiveInt(value: string | undefined, name: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new QuantLensError('usage', `${name} ${value}: expected a positive integer`);
  return n;
}

async function readText(path: string | undefined): Promise<{ text: string; source: string }> {
  if (path === undefined) return { text: SAMPLE_TEXT, source: `bundled sample: ${SAMPLE_TEXT_SOURCE}` };
  try {
    return { text: await readFile(path, 'utf8'), source: path };
  } catch (e) {
    throw new QuantLensError('io', `cannot read the text ${escapeText(path)}: ${(e as Error).message}`);
  }
}

const progress = (done: number, total: number, stage: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${total ? `${Math.floor((100 * done) / total)}% ` : ''}${stage}\x1b[K`);
};
const endProgress = () => process.stderr.isTTY && process.stderr.write('\r\x1b[K');

/** The report's lines (shared with the tests' reading of the output). */
export function evalLines(r: EvalSummary, textSource: string): string[] {
  const f = (x: number) => x.toFixed(6);
  return [
    `model      ${escapeText(r.model)}`,
    `reference  ${escapeText(r.reference)}`,
    `text       ${escapeText(textSource)}: ${r.tokens} tokens, ${r.chunks} chunks of ${r.ctx}, ${r.scored} positions scored`,
    `KLD        mean ${f(r.kld.mean)}  median ${f(r.kld.median)}  p90 ${f(r.kld.p90)}  p99 ${f(r.kld.p99)}  max ${f(r.kld.max)}`,
    `same top   ${(100 * r.sameTop).toFixed(3)} %`,
    `perplexity ${r.perplexity.toFixed(4)} (reference ${r.perplexityRef.toFixed(4)}, change ${(100 * (Math.exp(r.lnPplRatio) - 1)).toFixed(3)} %, ln ratio ${r.lnPplRatio.toFixed(6)})`,
  ];
}

export async function evalCommand(model: string, reference: string | undefined, o: EvalCliOptions): Promise<void> {
  if (!reference) throw new QuantLensError('usage', 'eval needs --reference REF (the model to compare against, e.g. its F16 source)');
  const script = childScript();
  const { text, source } = await readText(o.text);
  const r = await runEvalJob(
    script,
    {
      kind: 'evaluate',
      model,
      reference,
      text,
      ctx: positiveInt(o.ctx, '--ctx', 512)!,
      chunks: positiveInt(o.chunks, '--chunks', undefined),
      threads: positiveInt(o.threads, '--threads', undefined),
    },
    { onProgress: progress },
  ).promise.finally(endProgress);
  if (o.json) process.stdout.write(evalJson(r, source));
  else process.stdout.write(evalLines(r, source).join('\n') + '\n');
}

function parseTypes(list: string | undefined, fallback: string): TensorType[] {
  return (list ?? fallback).split(',').map((name) => {
    const t = typeByName(name.trim());
    if (!t || t.ggmlId === undefined) throw new QuantLensError('usage', `unknown ggml type ${name}`);
    return t;
  });
}

function parseBy(value: string | undefined): GroupBy {
  if (value === undefined || value === 'kind' || value === 'block') return value ?? 'kind';
  throw new QuantLensError('usage', `--by ${value}: expected kind or block`);
}

/** Each group's KLD at each of the types, on the options' text, with progress on stderr. */
async function measureGroups(model: string, by: string | undefined, types: ReturnType<typeof parseTypes>, o: EvalCliOptions) {
  const { text } = await readText(o.text);
  return measureSensitivity(childScript(), model, parseBy(by), types, {
    text,
    ctx: positiveInt(o.ctx, '--ctx', 512)!,
    chunks: positiveInt(o.chunks, '--chunks', 1),
    threads: positiveInt(o.threads, '--threads', undefined),
    onProgress: (d, t, g) => progress(d, t, g),
  }).finally(endProgress);
}

export async function sensitivityCommand(
  model: string,
  type: string | undefined,
  by: string | undefined,
  o: EvalCliOptions,
): Promise<void> {
  if (!type) throw new QuantLensError('usage', 'sensitivity needs --type TYPE (the type each group is quantized to)');
  const types = parseTypes(type, type);
  const measured = await measureGroups(model, by, types, o);
  const rows = measured
    .map((m) => ({ group: m.group.name, pattern: m.group.pattern, tensors: m.group.tensors.length, kld: m.kld.get(types[0].name) ?? 0 }))
    .sort((a, b) => b.kld - a.kld);
  if (o.json) process.stdout.write(JSON.stringify({ model, type: types[0].name, by: parseBy(by), groups: rows }, null, 1) + '\n');
  else {
    process.stdout.write(`KLD with one group at ${types[0].name}, most sensitive first (${basename(model)})\n`);
    for (const r of rows) process.stdout.write(`${r.kld.toFixed(6).padStart(12)}  ${r.group} (${r.tensors} tensors)\n`);
  }
}

export async function suggestCommand(
  model: string,
  targetBpw: string | undefined,
  targetSize: string | undefined,
  typesList: string | undefined,
  by: string | undefined,
  o: EvalCliOptions,
): Promise<void> {
  if ((targetBpw === undefined) === (targetSize === undefined))
    throw new QuantLensError('usage', 'suggest takes one of --target-bpw X or --target-size GB');
  const types = parseTypes(typesList, 'Q8_0,Q5_0,Q4_0');
  const m = await openModel(model);
  let budget: number;
  try {
    const value = Number(targetBpw ?? targetSize);
    if (!(value > 0))
      throw new QuantLensError('usage', `${targetBpw !== undefined ? '--target-bpw' : '--target-size'} must be a positive number`);
    budget = budgetBytes(m, targetBpw !== undefined ? { bitsPerWeight: value } : { bytes: value * 1e9 });
  } finally {
    await m.close();
  }
  const measured = await measureGroups(model, by, types, o);
  const again = await openModel(model);
  try {
    const mix = suggestMix(again, measured, types, budget);
    const weights = again.tensors.reduce((a, t) => a + t.nElements, 0);
    if (o.json) process.stdout.write(JSON.stringify({ model, budget, ...mix, bitsPerWeight: (8 * mix.bytes) / weights }, null, 1) + '\n');
    else {
      process.stdout.write(
        `predicted size ${formatBytes(mix.bytes)} (${mix.bytes} bytes, ${((8 * mix.bytes) / weights).toFixed(3)} bits per weight; budget ${budget} bytes), predicted KLD ${mix.predictedKld.toFixed(6)}\n`,
      );
      for (const g of mix.assignment) process.stdout.write(`  ${g.type.padEnd(6)} ${g.group}  (KLD ${g.kld.toFixed(6)})\n`);
      process.stdout.write(`llama-quantize rules:\n${mix.tensorTypeLines.join(' \\\n')}\n`);
    }
  } finally {
    await again.close();
  }
}
