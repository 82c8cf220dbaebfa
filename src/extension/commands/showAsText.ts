/** "Show as Text": the model's text dump, in its own language (grammar, outline, folding). */
import * as vscode from 'vscode';
import { DumpContentProvider } from '../textDump.ts';
import { requireTarget, type CommandContext } from './common.ts';

export async function showAsText(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const doc = await vscode.workspace.openTextDocument(DumpContentProvider.uriFor(uri));
  await vscode.languages.setTextDocumentLanguage(doc, 'quantlens-dump');
  await vscode.window.showTextDocument(doc, { preview: false });
}
