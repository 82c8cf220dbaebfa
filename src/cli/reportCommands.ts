/**
 * CLI commands that take findings elsewhere: compare, report, dump. A quantized Hugging Face checkpoint (a folder,
 * its index, a shard) is seen as its logical weights and plain tensors, on either side of a comparison.
 */
import { QuantLensError, escapeText, showText } from '../core/errors.ts';
import { compareModels } from '../core/compare/compare.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import { openModelAndWeights } from '../core/hfquant/open.ts';
import { statsEntries, type OpenedModel } from '../core/hfquant/source.ts';
import { buildReport, type ReportFormat } from '../core/report/report.ts';
import { dumpModel } from '../core/report/textDump.ts';
import { SHAPE_ORDER, shapeMismatchText } from '../core/compare/shapeText.ts';

function regex(pattern: string | undefined): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new QuantLensError('usage', `--tensor: invalid regular expression: ${(e as Error).message}`);
  }
}

async function withModels<T>(paths: string[], f: (models: OpenedModel[]) => Promise<T>): Promise<T> {
  const models: OpenedModel[] = [];
  try {
    for (const p of paths) models.push(await openModelAndWeights(p));
    return await f(models);
  } finally {
    for (const m of models) await m.model.close();
  }
}

function allStats(opened: OpenedModel): Map<string, TensorStats> {
  const out = new Map<string, TensorStats>();
  const entries = statsEntries(opened);
  for (const [i, t] of entries.entries()) {
    if (process.stderr.isTTY) process.stderr.write(`\r[${i + 1}/${entries.length}] stats ${showText(t.name)}\x1b[K`);
    try {
      out.set(t.name, t.stats());
    } catch (e) {
      if (!(e instanceof QuantLensError)) throw e;
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return out;
}

export async function compareCommand(file: string, ref: string, pattern: string | undefined, json: boolean): Promise<void> {
  await withModels([file, ref], async ([model, reference]) => {
    const { pairing, tensors, uncompared } = compareModels(model, reference, {
      filter: regex(pattern),
      onProgress: (done, total, name) => process.stderr.write(`[${done}/${total}] ${showText(name)}\n`),
    });
    if (json) {
      process.stdout.write(
        JSON.stringify(
          {
            file,
            reference: ref,
            tensors,
            uncompared,
            missing_in_reference: pairing.missingInReference,
            missing_in_file: pairing.missingInModel,
            shape_mismatches: pairing.shapeMismatches,
            shape_order: SHAPE_ORDER,
          },
          null,
          1,
        ) + '\n',
      );
      return;
    }
    // Names from the files (and the paths given) are escaped and cut; --json has them whole.
    const ranked = [...tensors].sort((a, b) => b.rel_rmse - a.rel_rmse);
    // a logical weight's type is its scheme (`GPTQ int4 asym g128 act-order`)
    const typeWidth = Math.max(8, ...ranked.map((t) => t.type_name.length));
    process.stdout.write(
      `${'tensor'.padEnd(40)} ${'type'.padEnd(typeWidth)} ${'rel RMSE'.padStart(10)} ${'SNR dB'.padStart(8)} ${'max abs'.padStart(10)} ${'cosine'.padStart(9)}\n`,
    );
    for (const t of ranked) {
      process.stdout.write(
        `${showText(t.name).padEnd(40)} ${t.type_name.padEnd(typeWidth)} ${t.rel_rmse.toPrecision(4).padStart(10)} ${(t.snr_db?.toFixed(2) ?? 'inf').padStart(8)} ${t.max_abs.toPrecision(4).padStart(10)} ${t.cosine.toFixed(6).padStart(9)}\n`,
      );
    }
    for (const u of uncompared) process.stdout.write(`${showText(u.name).padEnd(40)} not compared: ${u.error}\n`);
    for (const n of pairing.missingInReference) process.stdout.write(`only in ${escapeText(file)}: ${showText(n)}\n`);
    for (const n of pairing.missingInModel) process.stdout.write(`only in ${escapeText(ref)}: ${showText(n)}\n`);
    for (const s of pairing.shapeMismatches)
      process.stdout.write(`shape mismatch (${SHAPE_ORDER}) ${shapeMismatchText({ ...s, name: showText(s.name) })}\n`);
  });
}

export async function reportCommand(file: string, ref: string | undefined, format: string): Promise<void> {
  if (!['md', 'json', 'csv'].includes(format)) throw new QuantLensError('usage', `--format must be md, json or csv (got ${format})`);
  await withModels(ref ? [file, ref] : [file], async ([model, reference]) => {
    const stats = allStats(model);
    const compared = reference ? compareModels(model, reference) : undefined;
    const comparison = compared ? { reference: ref!, tensors: compared.tensors, uncompared: compared.uncompared } : undefined;
    process.stdout.write(buildReport({ model: model.model, view: model.view, stats, comparison }, format as ReportFormat));
  });
}

export async function dumpCommand(file: string, withStats: boolean): Promise<void> {
  await withModels([file], async ([model]) => {
    process.stdout.write(dumpModel(model.model, withStats ? allStats(model) : undefined, model.view));
  });
}
