/**
 * "Export Stats…": every tensor's stats as Markdown, JSON or CSV, saved beside the model; after Compare With…, the
 * comparison the editor holds is in it too (the error columns against the same reference), and after Evaluate on
 * Outputs… the last evaluation of the model (Markdown: its report; JSON: an `output_evaluation` field).
 */
import * as vscode from 'vscode';
import { evalJson, evalMarkdown } from '../../core/eval/evalReport.ts';
import { lastEvaluationOf } from '../evalPanel.ts';
import { QuickFlow } from './quickFlow.ts';
import { requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { besideModel, modelLocation, modelName } from '../modelUri.ts';

export async function exportReport(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const formats = [
    { label: 'Markdown', description: vscode.l10n.t('ready to paste into a GitHub issue'), format: 'md' as const },
    { label: 'JSON', description: vscode.l10n.t('summary, tensors, stats'), format: 'json' as const },
    { label: 'CSV', description: vscode.l10n.t('one row per tensor, for a spreadsheet'), format: 'csv' as const },
  ];
  const flow = new QuickFlow();
  let pick: (typeof formats)[number] | undefined;
  let dest: vscode.Uri | undefined;
  try {
    pick = await flow.pick(
      vscode.l10n.t(
        'Quant Lens: export stats as{0}{1}',
        ctx.provider.documentFor(uri)?.reference ? vscode.l10n.t(' (with the comparison against the reference)') : '',
        lastEvaluationOf(uri) ? vscode.l10n.t(' (Markdown and JSON with the last output evaluation)') : '',
      ),
      formats,
    );
    if (!pick) return;
    const base = modelName(uri).replace(/\.(gguf|safetensors|json)$/, '');
    // asked while the flow is still open: the dialog takes its place rather than the editor taking the focus
    dest = await vscode.window.showSaveDialog({ defaultUri: besideModel(uri, `${base}.quantlens.${pick.format}`) });
  } finally {
    flow.dispose();
  }
  if (!dest) return;
  const format = pick.format;
  const reference = ctx.provider.documentFor(uri)?.reference;
  const text = await withJob(
    vscode.l10n.t('Quant Lens: computing stats of {0}{1}', modelName(uri), reference ? ' and its error against the reference' : ''),
    (p, t) => runWithCancel(ctx, { kind: 'report', path: modelLocation(uri), format, reference }, p, t),
  );
  const evaluation = lastEvaluationOf(uri);
  let out = text.text;
  if (evaluation && format === 'md') out += `\n${evalMarkdown(evaluation.result, evaluation.textSource)}`;
  if (evaluation && format === 'json')
    out =
      JSON.stringify({ ...JSON.parse(out), output_evaluation: JSON.parse(evalJson(evaluation.result, evaluation.textSource)) }, null, 1) +
      '\n';
  await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(out));
  await vscode.window.showTextDocument(dest);
}
