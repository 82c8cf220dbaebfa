/**
 * "Compare With…" and "Compare With Model at URL…": the model against a reference, a local file or a remote one.
 */
import * as vscode from 'vscode';
import { unrelatedReference } from '../../core/compare/unrelated.ts';
import { MODEL_FILTERS, requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { folderOfModel, modelLocation, modelName } from '../modelUri.ts';
import { baseName } from '../../core/io/location.ts';
import { askForModelUrl } from './openUrl.ts';

export async function compare(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const picked = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Compare {0} with… (its source checkpoint or another quantization)', modelName(uri)),
    filters: MODEL_FILTERS,
    defaultUri: folderOfModel(uri),
    canSelectMany: false,
  });
  if (picked?.[0]) await compareWith(ctx, uri, picked[0].fsPath);
}

/** "Compare With Model at URL…": the same, against a reference on the Hub or any HTTP server (only what is compared is fetched). */
export async function compareUrl(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const url = await askForModelUrl(`Compare ${modelName(uri)} with the model at a URL`);
  if (!url) return;
  await compareWith(ctx, uri, url);
}

/** In the model's open editor: the ranked table and the map coloured by error; otherwise a Markdown report. */
async function compareWith(ctx: CommandContext, uri: vscode.Uri, reference: string): Promise<void> {
  const title = `Quant Lens: comparing ${modelName(uri)} with ${baseName(reference)}`;
  const open = ctx.provider.documentFor(uri);
  if (open) {
    const result = await withJob(title, (p, t) => {
      const run = open.run({ kind: 'compare', path: modelLocation(uri), reference }, p);
      t.onCancellationRequested(() => open.cancelJobs());
      return run;
    });
    open.reference = reference;
    await ctx.provider.postComparison(open, result.comparison);
    const unrelated = unrelatedReference(result.comparison.tensors);
    if (unrelated) void vscode.window.showWarningMessage(vscode.l10n.t('Quant Lens: {0} {1}', baseName(reference), unrelated));
    return;
  }
  const text = await withJob(title, (p, t) =>
    runWithCancel(ctx, { kind: 'report', path: modelLocation(uri), reference, format: 'md' }, p, t),
  );
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: text.text });
  await vscode.window.showTextDocument(doc, { preview: false });
}
