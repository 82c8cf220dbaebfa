/**
 * "Export Stats…": every tensor's stats as Markdown, JSON or CSV, saved beside the model; after Compare With…, the
 * comparison the editor holds is in it too (the error columns against the same reference).
 */
import * as vscode from 'vscode';
import { requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { besideModel, modelLocation, modelName } from '../modelUri.ts';

export async function exportReport(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'Markdown', description: vscode.l10n.t('ready to paste into a GitHub issue'), format: 'md' as const },
      { label: 'JSON', description: vscode.l10n.t('summary, tensors, stats'), format: 'json' as const },
      { label: 'CSV', description: vscode.l10n.t('one row per tensor, for a spreadsheet'), format: 'csv' as const },
    ],
    {
      title: vscode.l10n.t(
        'Quant Lens: export stats as{0}',
        ctx.provider.documentFor(uri)?.reference ? ' (with the comparison against the reference)' : '',
      ),
    },
  );
  if (!pick) return;
  const base = modelName(uri).replace(/\.(gguf|safetensors|json)$/, '');
  const dest = await vscode.window.showSaveDialog({ defaultUri: besideModel(uri, `${base}.quantlens.${pick.format}`) });
  if (!dest) return;
  const reference = ctx.provider.documentFor(uri)?.reference;
  const text = await withJob(
    vscode.l10n.t('Quant Lens: computing stats of {0}{1}', modelName(uri), reference ? ' and its error against the reference' : ''),
    (p, t) => runWithCancel(ctx, { kind: 'report', path: modelLocation(uri), format: pick.format, reference }, p, t),
  );
  await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text.text));
  await vscode.window.showTextDocument(dest);
}
