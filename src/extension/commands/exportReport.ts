/** "Export Stats…": every tensor's stats as Markdown, JSON or CSV, saved beside the model. */
import * as vscode from 'vscode';
import { requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { besideModel, modelLocation, modelName } from '../modelUri.ts';

export async function exportReport(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'Markdown', description: 'ready to paste into a GitHub issue', format: 'md' as const },
      { label: 'JSON', description: 'summary, tensors, stats', format: 'json' as const },
      { label: 'CSV', description: 'one row per tensor, for a spreadsheet', format: 'csv' as const },
    ],
    { title: 'Quant Lens: export stats as' },
  );
  if (!pick) return;
  const base = modelName(uri).replace(/\.(gguf|safetensors|json)$/, '');
  const dest = await vscode.window.showSaveDialog({ defaultUri: besideModel(uri, `${base}.quantlens.${pick.format}`) });
  if (!dest) return;
  const text = await withJob(`Quant Lens: computing stats of ${modelName(uri)}`, (p, t) =>
    runWithCancel(ctx, { kind: 'report', path: modelLocation(uri), format: pick.format }, p, t),
  );
  await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text.text));
  await vscode.window.showTextDocument(dest);
}
