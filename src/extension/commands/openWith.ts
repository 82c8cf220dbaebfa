/** "Open with Quant Lens": the model editor on a file. */
import * as vscode from 'vscode';
import { VIEW_TYPE } from '../modelEditorProvider.ts';
import { requireTarget, type CommandContext } from './common.ts';

export async function openWith(ctx: CommandContext, arg: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
}
