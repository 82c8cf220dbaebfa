/** "Show as Text": the model's text dump, in its own language (grammar, outline, folding). */
import * as vscode from 'vscode';
import { DumpContentProvider } from '../textDump.ts';
import { requireTarget, type CommandContext } from './common.ts';
import { modelName } from '../modelUri.ts';

export async function showAsText(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  const dumpUri = DumpContentProvider.uriFor(uri);
  let doc: vscode.TextDocument;
  try {
    doc = await vscode.workspace.openTextDocument(dumpUri);
  } catch {
    // VS Code's own message names the internal quantlens-dump URI: say what went wrong with the model instead
    const reason = DumpContentProvider.failures.get(dumpUri.toString()) ?? 'its text could not be made';
    throw new Error(vscode.l10n.t('{0} cannot be shown as text: {1}', modelName(uri), reason));
  }
  await vscode.languages.setTextDocumentLanguage(doc, 'quantlens-dump');
  await vscode.window.showTextDocument(doc, { preview: false });
}
