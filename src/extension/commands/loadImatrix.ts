/** "Load Importance Matrix…": a llama.cpp imatrix that weights the what-if error of the open editor's model. */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { requireTarget, type CommandContext } from './common.ts';
import { folderOfModel } from '../modelUri.ts';

export async function loadImatrix(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  const doc = uri ? ctx.provider.documentFor(uri) : undefined;
  if (!uri || !doc) throw new Error('open the model in Quant Lens first');
  const picked = await vscode.window.showOpenDialog({
    title: 'Importance matrix (llama.cpp imatrix .dat or .gguf) to weight the what-if error',
    filters: { imatrix: ['dat', 'gguf', 'imatrix'] },
    defaultUri: folderOfModel(uri),
  });
  if (!picked?.[0]) return;
  doc.imatrix = picked[0].fsPath;
  ctx.provider.post(doc, { type: 'imatrix', file: basename(picked[0].fsPath) });
}
