/**
 * "Compare With…": the model against a reference. In its open editor: the ranked table and the map coloured by
 * error; otherwise a Markdown report.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { MODEL_FILTERS, requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { folderOfModel, modelLocation, modelName } from '../modelUri.ts';

export async function compare(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const picked = await vscode.window.showOpenDialog({
    title: `Compare ${modelName(uri)} with… (its source checkpoint or another quantization)`,
    filters: MODEL_FILTERS,
    defaultUri: folderOfModel(uri),
    canSelectMany: false,
  });
  const ref = picked?.[0];
  if (!ref) return;
  const title = `Quant Lens: comparing ${modelName(uri)} with ${basename(ref.fsPath)}`;
  const open = ctx.provider.documentFor(uri);
  if (open) {
    const result = await withJob(title, (p, t) => {
      const run = open.run({ kind: 'compare', path: modelLocation(uri), reference: ref.fsPath }, p);
      t.onCancellationRequested(() => open.cancelJobs());
      return run;
    });
    open.reference = ref.fsPath;
    ctx.provider.post(open, { type: 'comparison', comparison: result.comparison });
    return;
  }
  const text = await withJob(title, (p, t) => runWithCancel(ctx, { kind: 'report', path: modelLocation(uri), reference: ref.fsPath, format: 'md' }, p, t));
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: text.text });
  await vscode.window.showTextDocument(doc, { preview: false });
}
