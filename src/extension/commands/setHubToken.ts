/** "Set Hugging Face Token…": the token for gated and private repositories, kept in SecretStorage; empty clears it. */
import * as vscode from 'vscode';
import type { CommandContext } from './common.ts';

export async function setHubToken(ctx: CommandContext, arg: unknown): Promise<void> {
  const token =
    typeof arg === 'string'
      ? arg
      : await vscode.window.showInputBox({
          title: vscode.l10n.t('Quant Lens: Hugging Face token (for gated and private repositories)'),
          prompt: ctx.hubToken.isSet
            ? 'A token is set. Enter a new one, or leave empty to remove it.'
            : "A read token from huggingface.co/settings/tokens. It is kept in VS Code's secret storage and sent to huggingface.co only.",
          password: true,
          ignoreFocusOut: true,
        });
  if (token === undefined) return;
  await ctx.hubToken.set(token.trim());
  await ctx.pool.setEnv(ctx.hubToken.workerEnv());
  void vscode.window.showInformationMessage(
    ctx.hubToken.isSet ? 'Quant Lens: Hugging Face token saved.' : 'Quant Lens: Hugging Face token removed.',
  );
}
