/** The palette / title-bar / explorer commands, one file each; an error in one is a one-line message. */
import * as vscode from 'vscode';
import { oneLine } from '../../core/errors.ts';
import type { Command, CommandContext } from './common.ts';
import { openWith } from './openWith.ts';
import { revealTensor } from './revealTensor.ts';
import { showAsText } from './showAsText.ts';
import { exportReport } from './exportReport.ts';
import { compare, compareUrl } from './compare.ts';
import { loadImatrix, unloadImatrix } from './loadImatrix.ts';
import { simulate } from './simulate.ts';
import { requantize } from './requantize.ts';
import { openUrl } from './openUrl.ts';
import { setHubToken } from './setHubToken.ts';
import { evaluate, evaluateAgainst } from './evaluate.ts';
import { measureOutputSensitivity } from './sensitivity.ts';
import { suggestMixForSize } from './suggestMix.ts';

const COMMANDS: Record<string, Command> = {
  'quantLens.openWith': openWith,
  'quantLens.revealTensor': revealTensor,
  'quantLens.showAsText': showAsText,
  'quantLens.exportReport': exportReport,
  'quantLens.compare': compare,
  'quantLens.compareUrl': compareUrl,
  'quantLens.loadImatrix': loadImatrix,
  'quantLens.unloadImatrix': unloadImatrix,
  'quantLens.simulate': simulate,
  'quantLens.requantize': requantize,
  'quantLens.openUrl': openUrl,
  'quantLens.setHubToken': setHubToken,
  'quantLens.evaluate': evaluate,
  'quantLens.evaluateAgainst': evaluateAgainst,
  'quantLens.measureSensitivity': measureOutputSensitivity,
  'quantLens.suggestMix': suggestMixForSize,
};

export function registerCommands(context: vscode.ExtensionContext, ctx: CommandContext): void {
  for (const [id, command] of Object.entries(COMMANDS)) {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          await command(ctx, ...args);
        } catch (e) {
          void vscode.window.showErrorMessage(vscode.l10n.t('Quant Lens: {0}', oneLine(e)));
        }
      }),
    );
  }
}
