/**
 * "Evaluate on Outputs…": the model against a reference (another open model or a file) on a text (the bundled
 * sample or a file), run through llama.cpp in a child process (src/node/evalClient.ts); the report panel
 * (../evalPanel.ts) shows progress and Cancel, then the statistics, KLD per position and the highest-KLD tokens
 * marked in the text. `evaluateAgainst` is the one-click form after a requantize or a suggested mix: the result
 * against its source on the bundled sample with small defaults.
 */
import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { requireTarget, MODEL_FILTERS, type CommandContext } from './common.ts';
import { folderOfModel, isRemote, modelName } from '../modelUri.ts';
import { SAMPLE_TEXT, SAMPLE_TEXT_SOURCE } from '../../core/eval/sampleText.ts';
import { QuickFlow } from './quickFlow.ts';
import { evalScriptOrThrow, evaluateInPanel } from '../evalPanel.ts';

/** The one-click evaluation's context and chunks: the bundled sample holds about 2000 tokens of a 32k vocabulary. */
export const QUICK_EVAL = { ctx: 128, chunks: 4 };

const VIEW_TYPE = 'quantLens.modelEditor';

/** Models open in Quant Lens editors other than `uri`. */
function otherOpenModels(uri: vscode.Uri): vscode.Uri[] {
  const seen = new Map<string, vscode.Uri>();
  for (const g of vscode.window.tabGroups.all)
    for (const t of g.tabs)
      if (t.input instanceof vscode.TabInputCustom && t.input.viewType === VIEW_TYPE && t.input.uri.toString() !== uri.toString())
        seen.set(t.input.uri.toString(), t.input.uri);
  return [...seen.values()];
}

async function pickReference(flow: QuickFlow, uri: vscode.Uri): Promise<string | undefined> {
  const browse = { label: vscode.l10n.t('$(folder-opened) Choose a model file…'), uri: undefined as vscode.Uri | undefined };
  const items = [
    ...otherOpenModels(uri).map((u) => ({ label: modelName(u), description: u.fsPath, uri: u as vscode.Uri | undefined })),
    browse,
  ];
  const picked = await flow.pick(
    vscode.l10n.t('Evaluate {0}: the reference (its source, or any model with the same vocabulary)', modelName(uri)),
    items,
  );
  if (!picked) return undefined;
  if (picked.uri) return picked.uri.fsPath;
  const files = await vscode.window.showOpenDialog({ filters: MODEL_FILTERS, defaultUri: folderOfModel(uri), canSelectMany: false });
  return files?.[0]?.fsPath;
}

/** The text to evaluate on: the bundled sample or a text file (also Measure Output Sensitivity's step). */
export async function pickText(flow: QuickFlow, uri: vscode.Uri, title: string): Promise<{ text: string; source: string } | undefined> {
  const sample = { label: vscode.l10n.t('Bundled sample text'), description: SAMPLE_TEXT_SOURCE };
  const file = { label: vscode.l10n.t('$(file) Choose a text file…'), description: '' };
  const picked = await flow.pick(title, [sample, file]);
  if (!picked) return undefined;
  if (picked === sample) return { text: SAMPLE_TEXT, source: `bundled sample: ${SAMPLE_TEXT_SOURCE}` };
  const files = await vscode.window.showOpenDialog({
    defaultUri: folderOfModel(uri),
    canSelectMany: false,
    filters: { Text: ['txt', 'raw', 'md'], All: ['*'] },
  });
  if (!files?.[0]) return undefined;
  return { text: await readFile(files[0].fsPath, 'utf8'), source: files[0].fsPath };
}

/** A positive integer (null: left empty, when optional); asked again, saying why, until it is one. */
async function askNumber(flow: QuickFlow, title: string, value: string, optional: boolean): Promise<number | null | undefined> {
  let prompt: string | undefined;
  for (;;) {
    const answer = await flow.text(title, { value, prompt });
    if (answer === undefined) return undefined;
    if (optional && answer.trim() === '') return null;
    if (Number.isInteger(Number(answer)) && Number(answer) >= 1) return Number(answer);
    [value, prompt] = [answer, `${JSON.stringify(answer)} is not a positive integer`];
  }
}

export async function evaluate(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  if (isRemote(uri)) throw new Error(vscode.l10n.t('llama.cpp evaluates local files only: download the model first'));
  // before any question: without the runtime the command says what is missing at once
  evalScriptOrThrow();
  // one quick-input widget from the first step to the last (quickFlow.ts: separate pickers lose the focus to the editor)
  const flow = new QuickFlow();
  let reference, text, contextSize, chunks;
  try {
    reference = await pickReference(flow, uri);
    if (!reference) return;
    text = await pickText(flow, uri, vscode.l10n.t('Evaluate on which text?'));
    if (!text) return;
    contextSize = await askNumber(flow, 'Context size (tokens per chunk, as llama-perplexity -c)', '512', false);
    if (!contextSize) return;
    chunks = await askNumber(flow, 'Chunks to evaluate (empty: all the text allows)', '', true);
    if (chunks === undefined) return;
  } finally {
    flow.dispose();
  }
  await evaluateInPanel({
    model: uri,
    job: { kind: 'evaluate', model: uri.fsPath, reference, text: text.text, ctx: contextSize, chunks: chunks ?? undefined },
    textSource: text.source,
  });
}

/** `model` against `reference` on the bundled sample text with QUICK_EVAL's context and chunks, in the report panel. */
export async function evaluateAgainst(_ctx: CommandContext, model: unknown, reference: unknown): Promise<void> {
  if (!(model instanceof vscode.Uri) || !(reference instanceof vscode.Uri))
    throw new Error(vscode.l10n.t('evaluate against: expected two model files'));
  await evaluateInPanel({
    model,
    job: { kind: 'evaluate', model: model.fsPath, reference: reference.fsPath, text: SAMPLE_TEXT, ...QUICK_EVAL },
    textSource: `bundled sample: ${SAMPLE_TEXT_SOURCE}`,
  });
}
