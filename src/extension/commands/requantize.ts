/**
 * "Requantize Tensors…": a new GGUF whose chosen tensors have another ggml type, after a preview of each change's
 * size and predicted error. A safetensors model goes to "Export Simulated Quantization…" instead.
 */
import * as vscode from 'vscode';
import { basename, extname } from 'node:path';
import { VIEW_TYPE } from '../modelEditorProvider.ts';
import { openModel } from '../../core/formats/openModel.ts';
import { parseRuleLine, planRequantize, splitOutputPaths } from '../../core/requant/requantize.ts';
import { requiresImatrix, writableTypes } from '../../core/types.ts';
import { formatBytes, formatCount } from '../../core/analysis/summary.ts';
import type { JobResults } from '../../shared/workerProtocol.ts';
import type { Model } from '../../core/model.ts';
import { exactNames, refuseUntrusted, requireTarget, runWithCancel, selectedTensors, withJob, type CommandContext } from './common.ts';
import { besideModel, isRemote, modelLocation, modelName } from '../modelUri.ts';
import { QuickFlow } from './quickFlow.ts';

/** A relative error to 3 significant digits. */
const fmtError = (x: number) => (x === 0 ? '0' : x.toPrecision(3));

/** A tensor's predicted error as the preview shows it, or '' when none was predicted. */
function errorText(predicted: Map<string, JobResults['predictErrors']['predictions'][number]>, name: string): string {
  const p = predicted.get(name);
  if (!p) return '';
  const m = p.metrics;
  const weighted = m.weighted_rel_rmse !== undefined ? ` · imatrix-weighted ${fmtError(m.weighted_rel_rmse)}` : '';
  return ` · rel. RMSE ${fmtError(m.rel_rmse)}${weighted} · SNR ${m.snr_db === null ? '∞' : m.snr_db.toFixed(1)} dB${p.exact ? '' : ` (estimated from ${formatCount(p.sampledWeights)} weights in spread rows)`}`;
}

/** Rules given by another command (Suggest Mix for Size…): asked no type, offered as the patterns. */
export interface GivenRules {
  rules: string;
  /** Put "Write, then evaluate on outputs" first in the preview. */
  evaluate?: boolean;
  /** The caller's open steps, continued here: the widget never closes between the two commands (see QuickFlow). */
  flow?: QuickFlow;
}

const isGivenRules = (x: unknown): x is GivenRules => typeof (x as GivenRules | undefined)?.rules === 'string';

export async function requantize(ctx: CommandContext, arg: unknown, tensors: unknown, given?: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  refuseUntrusted();
  const model = await openModel(modelLocation(uri), ctx.hubToken.remoteOptions());
  try {
    if (model.format !== 'gguf') {
      await vscode.commands.executeCommand('quantLens.simulate', uri, tensors);
      return;
    }
    const imatrix = ctx.registry.byUri(uri.toString())?.imatrix;
    const rules = isGivenRules(given) ? given : undefined;
    const flow = rules?.flow ?? new QuickFlow();
    try {
      await requantizeSteps(ctx, uri, model, tensors, imatrix, flow, rules);
    } finally {
      flow.dispose();
    }
  } finally {
    await model.close();
  }
}

async function requantizeSteps(
  ctx: CommandContext,
  uri: vscode.Uri,
  model: Model,
  tensors: unknown,
  imatrix: string | undefined,
  flow: QuickFlow,
  given: GivenRules | undefined,
): Promise<void> {
  const givenType = given && parseRuleLine(given.rules, 'Q8_0')[0]?.type.name;
  const typePick = givenType
    ? { label: givenType }
    : await flow.pick(
        vscode.l10n.t('Quant Lens: requantize to which type?{0}', imatrix ? ` (importance matrix ${basename(imatrix)})` : ''),
        writableTypes().map((t) => ({
          label: t.name,
          description: vscode.l10n.t('{0} bpw{1}', t.bitsPerWeight.toFixed(3), requiresImatrix(t) ? ' · needs an importance matrix' : ''),
          detail: t.description,
          type: t,
        })),
      );
  if (!typePick) return;
  const selected = selectedTensors(tensors);
  const patterns = await flow.text(
    vscode.l10n.t('Tensors to change: regular expressions separated by spaces, each alone or as REGEX=TYPE (last match wins)'),
    {
      value: given ? given.rules : selected ? exactNames(selected) : 'attn_v|ffn_down',
      prompt: vscode.l10n.t(
        'A bare pattern gets {0}; REGEX=TYPE gets its own type. Example: attn_v=Q6_K ffn_down  or  blk\\.(0|1)\\.',
        typePick.label,
      ),
    },
  );
  if (!patterns) return;
  const parsed = parseRuleLine(patterns, typePick.label);
  const needing = [...new Set(parsed.filter((r) => requiresImatrix(r.type)).map((r) => r.type.name))];
  if (needing.length && !imatrix) {
    throw new Error(vscode.l10n.t('{0} needs an importance matrix: run "Quant Lens: Load Importance Matrix…" first', needing.join(', ')));
  }
  const rules = parsed.map((r) => r.text);
  const plan = planRequantize(model, parsed);
  const unmatched = plan.unmatched.length
    ? ` Rule${plan.unmatched.length > 1 ? 's' : ''} matching no tensor: ${plan.unmatched.join(', ')}.`
    : '';
  if (!plan.changes.length) {
    void vscode.window.showWarningMessage(
      vscode.l10n.t(
        'Quant Lens: no tensor would change{0}.{1}',
        plan.skipped.length ? ` (${plan.skipped[0].tensor}: ${plan.skipped[0].reason})` : '',
        unmatched,
      ),
    );
    return;
  }
  const delta = plan.newBytes - plan.oldBytes;
  flow.busy(true);
  let predicted: JobResults['predictErrors'];
  try {
    predicted = await withJob(vscode.l10n.t('Quant Lens: predicting the error of {0} tensors', plan.changes.length), (p, t) =>
      runWithCancel(ctx, { kind: 'predictErrors', path: modelLocation(uri), rules, imatrix }, p, t),
    );
  } finally {
    flow.busy(false);
  }
  const errorOf = new Map(predicted.predictions.map((p) => [p.tensor, p]));
  const canEvaluate = !isRemote(uri);
  type PreviewItem = vscode.QuickPickItem & { go: boolean; evaluate?: boolean };
  const write: PreviewItem = {
    label: vscode.l10n.t('$(check) Write {0} changed tensors', plan.changes.length),
    detail: unmatched.trim() || undefined,
    description: `${formatBytes(plan.oldBytes)} → ${formatBytes(plan.newBytes)} (${delta >= 0 ? '+' : '−'}${formatBytes(Math.abs(delta))})`,
    go: true,
  };
  // the measured output error next to the predicted weight error, one click away
  const writeAndEvaluate: PreviewItem = {
    label: vscode.l10n.t('$(pulse) Write, then evaluate on outputs'),
    description: vscode.l10n.t('KLD, same top token and perplexity against this model, on the bundled sample text'),
    go: true,
    evaluate: true,
  };
  const actions = !canEvaluate ? [write] : given?.evaluate ? [writeAndEvaluate, write] : [write, writeAndEvaluate];
  const preview = await flow.pick<PreviewItem>(
    vscode.l10n.t('Quant Lens: requantize preview'),
    [
      ...actions,
      ...plan.changes.map((c) => ({
        label: c.tensor.name,
        description: `${c.from.name} → ${c.to.name}`,
        detail: `${formatBytes(c.oldBytes)} → ${formatBytes(c.newBytes)}${errorText(errorOf, c.tensor.name)}`,
        go: false,
      })),
      ...plan.unmatched.map((r) => ({
        label: vscode.l10n.t('$(warning) {0}', r),
        description: vscode.l10n.t('matches no tensor'),
        go: false,
      })),
      ...plan.skipped.map((s) => ({
        label: vscode.l10n.t('$(circle-slash) {0}', s.tensor),
        description: 'unchanged',
        detail: s.reason,
        go: false,
      })),
    ],
    // the change rows are the preview: choosing one keeps the preview open
    {
      placeholder: vscode.l10n.t('Pick the first entry to write the new file (errors are against the current values)'),
      accepts: (item) => item.go,
    },
  );
  if (!preview?.go) return;
  // a split input can stay split, shard for shard (llama-quantize --keep-split), or become one file
  let keepSplit = false;
  if (model.format === 'gguf' && model.files.length > 1) {
    const shards = model.files.length;
    const layout = await flow.pick(vscode.l10n.t('Quant Lens: write the requantized model as'), [
      {
        label: vscode.l10n.t('{0} shards, like the source', shards),
        description: vscode.l10n.t('each tensor stays in its shard'),
        keep: true,
      },
      { label: vscode.l10n.t('One file'), description: vscode.l10n.t('the {0} shards merged', shards), keep: false },
    ]);
    if (!layout) return;
    keepSplit = layout.keep;
  }
  const ext = extname(modelName(uri));
  const base = basename(modelName(uri), ext).replace(/-\d{5}-of-\d{5}$/, '');
  // asked while the flow is still open: the dialog takes its place rather than the editor taking the focus
  const dest = await vscode.window.showSaveDialog({
    defaultUri: besideModel(uri, splitOutputPaths(`${base}-${given ? 'mix' : typePick.label}.gguf`, keepSplit ? model.files.length : 1)[0]),
    filters: { GGUF: ['gguf'] },
    title: keepSplit ? `The first of ${model.files.length} shards (the others are named after it)` : undefined,
  });
  flow.dispose();
  if (!dest) return;
  if (model.files.some((f) => f.path === dest.fsPath))
    throw new Error(vscode.l10n.t('refusing to overwrite the source file; choose another name'));
  const result = await withJob(vscode.l10n.t('Quant Lens: writing {0}', basename(dest.fsPath)), (p, t) =>
    runWithCancel(ctx, { kind: 'requantize', path: modelLocation(uri), output: dest.fsPath, rules, imatrix, keepSplit }, p, t),
  );
  const written = result.files.length > 1 ? `${result.files.length} shards ${basename(result.files[0])} …` : basename(result.output);
  const wrote = `Quant Lens: wrote ${written} (${formatBytes(result.bytes)}, ${result.changed} tensors changed, verified).`;
  // a split output is opened (and evaluated) by its first shard, named from the chosen name
  const opened = vscode.Uri.joinPath(dest, '..', basename(result.output));
  await vscode.commands.executeCommand('vscode.openWith', opened, VIEW_TYPE);
  if (preview.evaluate) {
    void vscode.window.showInformationMessage(wrote);
    await vscode.commands.executeCommand('quantLens.evaluateAgainst', opened, uri);
    return;
  }
  const evaluate = 'Evaluate on outputs';
  void vscode.window.showInformationMessage(wrote, ...(canEvaluate ? [evaluate] : [])).then((choice) => {
    if (choice === evaluate) void vscode.commands.executeCommand('quantLens.evaluateAgainst', opened, uri);
  });
}
