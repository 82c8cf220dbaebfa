/**
 * "Load Importance Matrix…": a llama.cpp imatrix that weights the what-if error of the open editor's model and
 * drives the imatrix-aware quantizers; checked when it is chosen (its format, and that its entries fit this model),
 * so a wrong file is refused at once rather than failing every later job. "Unload Importance Matrix" forgets it.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { requireTarget, type CommandContext } from './common.ts';
import { folderOfModel } from '../modelUri.ts';
import { checkImatrixFile } from '../../core/requant/imatrix.ts';
import { oneLine } from '../../core/errors.ts';

function documentOf(ctx: CommandContext, arg: unknown) {
  const uri = requireTarget(ctx, arg);
  const doc = uri ? ctx.provider.documentFor(uri) : undefined;
  if (!uri || !doc) throw new Error(vscode.l10n.t('open the model in Quant Lens first'));
  return doc;
}

export async function loadImatrix(ctx: CommandContext, arg: unknown): Promise<void> {
  const doc = documentOf(ctx, arg);
  const picked = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Importance matrix (llama.cpp imatrix .dat or .gguf) to weight the what-if error'),
    filters: { imatrix: ['dat', 'gguf', 'imatrix'], 'All files': ['*'] },
    defaultUri: folderOfModel(doc.uri),
  });
  if (!picked?.[0]) return;
  const path = picked[0].fsPath;
  let coverage;
  try {
    coverage = await checkImatrixFile(path, doc.model?.tensors ?? []);
  } catch (e) {
    // the one in use, if any, stays in use
    throw new Error(`${oneLine(e)}${doc.imatrix ? ` (still using ${basename(doc.imatrix)})` : ''}`);
  }
  doc.imatrix = path;
  ctx.provider.post(doc, {
    type: 'imatrix',
    file: basename(path),
    coverage: `entries for ${coverage.covered} of ${coverage.matrices} matrix tensors`,
  });
}

export async function unloadImatrix(ctx: CommandContext, arg: unknown): Promise<void> {
  const doc = documentOf(ctx, arg);
  doc.imatrix = undefined;
  ctx.provider.post(doc, { type: 'imatrix' });
}
