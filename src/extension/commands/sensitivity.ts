/**
 * "Measure Output Sensitivity…": for a target type, quantize one group at a time (a tensor kind across all
 * blocks, or one block), write it with the worker pool's requantizer into a temporary file, and measure the KLD of
 * the outputs against the model in the evaluation child (src/node/outputSensitivity.ts), with progress and cancel.
 * The result colours the editor's quant map and fills its table's sensitivity column; it is kept for "Suggest Mix
 * for Size…" (suggestMix.ts), which measures more types when it needs them.
 */
import * as vscode from 'vscode';
import { requireTarget, runWithCancel, withJob, type CommandContext } from './common.ts';
import { isRemote, modelName } from '../modelUri.ts';
import { QuickFlow } from './quickFlow.ts';
import { evalScriptOrThrow } from '../evalPanel.ts';
import { measureSensitivity } from '../../node/outputSensitivity.ts';
import type { TensorType } from '../../core/types.ts';
import { candidateTypes, type GroupBy, type GroupMeasurement } from '../../core/eval/sensitivity.ts';
import type { SensitivityView } from '../../shared/webviewProtocol.ts';
import { QUICK_EVAL, pickText } from './evaluate.ts';

/** What a measurement was made with, and its result. */
export interface StoredSensitivity {
  by: GroupBy;
  text: string;
  textSource: string;
  /** Every group's KLD at each type measured so far. */
  measured: GroupMeasurement[];
}

/** The last measurement of each model (by URI), for the map, the table and Suggest Mix for Size…. */
export const sensitivities = new Map<string, StoredSensitivity>();

/** Context and chunks of each measurement: short, as each group is one evaluation. */
const MEASURE = { ctx: QUICK_EVAL.ctx, chunks: 2 };

/** The editor's view of one type's measurement: every tensor gets its group's KLD. */
export function sensitivityView(s: StoredSensitivity, type: string): SensitivityView {
  const kld: Record<string, number> = {};
  for (const m of s.measured) {
    const v = m.kld.get(type);
    if (v !== undefined) for (const t of m.group.tensors) kld[t.name] = v;
  }
  return { quantType: type, by: s.by, kld };
}

/** Measures every group of `uri` at `types` (merged into what was measured before on the same text and grouping). */
export async function measureInEditor(
  ctx: CommandContext,
  uri: vscode.Uri,
  by: GroupBy,
  types: TensorType[],
  text: { text: string; source: string },
): Promise<StoredSensitivity> {
  const script = evalScriptOrThrow();
  const before = sensitivities.get(uri.toString());
  const reuse = before && before.by === by && before.text === text.text ? before : undefined;
  const missing = types.filter((t) => !reuse?.measured.every((m) => m.kld.has(t.name)));
  if (!missing.length && reuse) return reuse;
  const measured = await withJob(
    vscode.l10n.t('Quant Lens: measuring the output sensitivity of {0} at {1}', modelName(uri), missing.map((t) => t.name).join(', ')),
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return measureSensitivity(script, uri.fsPath, by, missing, {
        text: text.text,
        ...MEASURE,
        onProgress: (done, total) => progress(done, total),
        signal: abort.signal,
        writeCandidate: async (rule, output) => {
          await runWithCancel(ctx, { kind: 'requantize', path: uri.fsPath, output, rules: [rule] }, () => {}, token);
        },
      });
    },
  );
  const merged: StoredSensitivity = {
    by,
    text: text.text,
    textSource: text.source,
    measured: measured.map((m) => {
      const old = reuse?.measured.find((o) => o.group.name === m.group.name);
      return { group: m.group, kld: new Map([...(old?.kld ?? []), ...m.kld]) };
    }),
  };
  sensitivities.set(uri.toString(), merged);
  return merged;
}

/** Colours the open editor's quant map and table by the measurement at `type`. */
export function showSensitivity(ctx: CommandContext, uri: vscode.Uri, s: StoredSensitivity, type: string): void {
  ctx.provider.showSensitivity(uri, sensitivityView(s, type));
}

export async function pickGrouping(flow: QuickFlow): Promise<GroupBy | undefined> {
  const picked = await flow.pick(vscode.l10n.t('Quantize which groups one at a time?'), [
    {
      label: vscode.l10n.t('By kind'),
      description: vscode.l10n.t('one tensor kind across all blocks (every blk.N.attn_q.weight)'),
      by: 'kind' as const,
    },
    { label: vscode.l10n.t('By block'), description: vscode.l10n.t('every matrix of one block (blk.3.*)'), by: 'block' as const },
  ]);
  return picked?.by;
}

/** The model a sensitivity command works on: a local GGUF, with the runtime installed. */
export function sensitivityTarget(ctx: CommandContext, arg: unknown): vscode.Uri | undefined {
  const uri = requireTarget(ctx, arg);
  if (!uri) return undefined;
  if (isRemote(uri) || !uri.fsPath.endsWith('.gguf')) throw new Error(vscode.l10n.t('output sensitivity is measured on a local GGUF file'));
  evalScriptOrThrow();
  return uri;
}

export async function measureOutputSensitivity(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = sensitivityTarget(ctx, arg);
  if (!uri) return;
  const flow = new QuickFlow();
  let type, by, text;
  try {
    const picked = await flow.pick(
      vscode.l10n.t('Measure output sensitivity of {0}: quantize each group to which type?', modelName(uri)),
      candidateTypes().map((t) => ({
        label: t.name,
        description: vscode.l10n.t('{0} bpw', t.bitsPerWeight.toFixed(3)),
        detail: t.description,
        type: t,
      })),
    );
    if (!picked) return;
    type = picked.type;
    by = await pickGrouping(flow);
    if (!by) return;
    text = await pickText(
      flow,
      uri,
      vscode.l10n.t('Measure on which text? ({0} chunks of {1} tokens per group)', MEASURE.chunks, MEASURE.ctx),
    );
    if (!text) return;
  } finally {
    flow.dispose();
  }
  const s = await measureInEditor(ctx, uri, by, [type], text);
  showSensitivity(ctx, uri, s, type.name);
  const ranked = s.measured.map((m) => ({ name: m.group.name, kld: m.kld.get(type.name) ?? 0 })).sort((a, b) => b.kld - a.kld);
  const suggest = 'Suggest Mix for Size…';
  void vscode.window
    .showInformationMessage(
      `Quant Lens: ${ranked.length} groups measured at ${type.name}; most sensitive ${ranked[0].name} (KLD ${ranked[0].kld.toPrecision(3)}).`,
      suggest,
    )
    .then((choice) => choice === suggest && vscode.commands.executeCommand('quantLens.suggestMix', uri));
}
