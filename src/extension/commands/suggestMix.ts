/**
 * "Suggest Mix for Size…": types per group for a size budget (bits per weight or a size) from the measured output
 * sensitivities (core/eval/sensitivity.ts suggestMix: more bits where KLD rises most per byte saved). It reuses the
 * last measurement of the model and measures only the candidate types it lacks (sensitivity.ts). The result shows
 * the predicted size and KLD, and offers to copy the llama-quantize --tensor-type lines, to requantize with these
 * rules (the Requantize Tensors… flow, rules filled in), or to requantize and evaluate the result.
 */
import * as vscode from 'vscode';
import { QuickFlow } from './quickFlow.ts';
import { modelName } from '../modelUri.ts';
import { openModel } from '../../core/formats/openModel.ts';
import { budgetBytes, parseBudget, parseCandidates, suggestMix, type SuggestedMix } from '../../core/eval/sensitivity.ts';
import { formatBytes } from '../../core/analysis/summary.ts';
import { SAMPLE_TEXT, SAMPLE_TEXT_SOURCE } from '../../core/eval/sampleText.ts';
import type { CommandContext } from './common.ts';
import type { GivenRules } from './requantize.ts';
import { measureInEditor, pickGrouping, sensitivities, sensitivityTarget, showSensitivity } from './sensitivity.ts';

const DEFAULT_TYPES = 'Q8_0, Q5_0, Q4_0';

/** The mix as llama-quantize REGEX=TYPE rules, one line (what Requantize Tensors… takes). */
export const mixRules = (mix: SuggestedMix) => mix.assignment.map((g) => `${g.pattern}=${g.type}`).join(' ');

async function ask<T>(flow: QuickFlow, title: string, value: string, parse: (s: string) => T | string): Promise<T | undefined> {
  let prompt: string | undefined;
  for (;;) {
    const answer = await flow.text(title, { value, prompt });
    if (answer === undefined) return undefined;
    const parsed = parse(answer);
    if (typeof parsed !== 'string') return parsed;
    [value, prompt] = [answer, parsed];
  }
}

export async function suggestMixForSize(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = sensitivityTarget(ctx, arg);
  if (!uri) return;
  const before = sensitivities.get(uri.toString());
  const flow = new QuickFlow();
  let types, budget, by;
  try {
    const measuredTypes = before ? [...new Set(before.measured.flatMap((m) => [...m.kld.keys()]))] : [];
    types = await ask(
      flow,
      `Suggest a mix for ${modelName(uri)}: candidate types, highest precision first (measured already: ${measuredTypes.join(', ') || 'none'})`,
      DEFAULT_TYPES,
      parseCandidates,
    );
    if (!types) return;
    budget = await ask(flow, 'Size budget: bits per weight (e.g. 5.5) or a size (e.g. 3.9 GB, 800 MB)', '5', parseBudget);
    if (!budget) return;
    by = before?.by ?? (await pickGrouping(flow));
    if (!by) return;
  } finally {
    flow.dispose();
  }
  const text = before
    ? { text: before.text, source: before.textSource }
    : { text: SAMPLE_TEXT, source: `bundled sample: ${SAMPLE_TEXT_SOURCE}` };
  const s = await measureInEditor(ctx, uri, by, types, text);
  showSensitivity(ctx, uri, s, types[types.length - 1].name);
  const model = await openModel(uri.fsPath);
  let mix: SuggestedMix;
  let bpw: number;
  let allowed: number;
  try {
    allowed = budgetBytes(model, budget);
    const chosen = new Set(types.map((t) => t.name));
    mix = suggestMix(
      model,
      s.measured.map((m) => ({ group: m.group, kld: new Map([...m.kld].filter(([t]) => chosen.has(t))) })),
      types,
      allowed,
    );
    bpw = (8 * mix.bytes) / model.tensors.reduce((a, t) => a + t.nElements, 0);
  } finally {
    await model.close();
  }
  await offerMix(uri, mix, bpw, allowed);
}

async function offerMix(uri: vscode.Uri, mix: SuggestedMix, bpw: number, allowed: number): Promise<void> {
  const flow = new QuickFlow();
  let picked;
  try {
    picked = await flow.pick(
      vscode.l10n.t(
        'Suggested mix: {0} ({1} bpw; budget {2}), predicted KLD {3}',
        formatBytes(mix.bytes),
        bpw.toFixed(3),
        formatBytes(allowed),
        mix.predictedKld.toPrecision(4),
      ),
      [
        {
          label: vscode.l10n.t('$(copy) Copy --tensor-type lines'),
          description: vscode.l10n.t('for llama-quantize'),
          action: 'copy' as const,
        },
        {
          label: vscode.l10n.t('$(wand) Requantize with these rules…'),
          description: vscode.l10n.t('Requantize Tensors…, rules filled in'),
          action: 'requantize' as const,
        },
        {
          label: vscode.l10n.t('$(pulse) Requantize and evaluate the result…'),
          description: vscode.l10n.t('the measured KLD of the whole mix against this model'),
          action: 'evaluate' as const,
        },
        ...mix.assignment.map((g) => ({
          label: g.group,
          description: `${g.type} · ${formatBytes(g.bytes)}`,
          detail: vscode.l10n.t('KLD {0} with this group alone at {1} · {2}', g.kld.toPrecision(3), g.type, g.pattern),
          action: undefined,
        })),
      ],
      {
        placeholder: vscode.l10n.t('Pick an action (the rows are the groups and their types)'),
        accepts: (item) => item.action !== undefined,
      },
    );
    if (!picked?.action) return;
    if (picked.action === 'copy') {
      flow.dispose();
      await vscode.env.clipboard.writeText(mix.tensorTypeLines.join(' '));
      void vscode.window.showInformationMessage(vscode.l10n.t('Quant Lens: copied {0} --tensor-type lines.', mix.tensorTypeLines.length));
      return;
    }
    // the requantize steps continue in this widget while it opens the model
    flow.busy(true);
    const given: GivenRules = { rules: mixRules(mix), evaluate: picked.action === 'evaluate', flow };
    await vscode.commands.executeCommand('quantLens.requantize', uri, undefined, given);
  } finally {
    flow.dispose();
  }
}
