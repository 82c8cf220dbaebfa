/**
 * "Export Simulated Quantization…": a safetensors copy whose chosen tensors went through a quantization and back
 * (a ggml type or a textbook scheme), stored in their original dtype.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { VIEW_TYPE } from '../modelEditorProvider.ts';
import { requiresImatrix, writableTypes } from '../../core/types.ts';
import {
  exactNames,
  refuseUntrusted,
  requireTarget,
  rulesFor,
  runWithCancel,
  selectedTensors,
  withJob,
  type CommandContext,
} from './common.ts';
import { besideModel, modelLocation, modelName } from '../modelUri.ts';
import { QuickFlow } from './quickFlow.ts';

const SCHEMES = ['int8-sym-channel', 'int4-sym-g32', 'int4-asym-g32', 'int4-sym-g128', 'int3-asym-g32', 'nf4', 'fp8-e4m3', 'fp8-e5m2'];

export async function simulate(ctx: CommandContext, arg: unknown, tensors: unknown): Promise<void> {
  const uri = requireTarget(ctx, arg);
  if (!uri) return;
  refuseUntrusted();
  const candidates = [
    ...writableTypes()
      .filter((t) => t.blockSize > 1 && !requiresImatrix(t))
      .map((t) => ({ label: t.name, description: vscode.l10n.t('{0} bpw (ggml)', t.bitsPerWeight.toFixed(3)) })),
    ...SCHEMES.map((s) => ({ label: s, description: vscode.l10n.t('textbook scheme') })),
  ];
  const flow = new QuickFlow();
  let pick: (typeof candidates)[number] | undefined;
  let rules: string[];
  let dest: vscode.Uri | undefined;
  try {
    pick = await flow.pick(
      vscode.l10n.t('Quant Lens: simulate which quantization? (quantize → dequantize, stored in the original dtype)'),
      candidates,
    );
    if (!pick) return;
    const selected = selectedTensors(tensors);
    const patterns = await flow.text(
      vscode.l10n.t('Tensors to replace (regular expressions, several separated by spaces, last match wins)'),
      {
        value: selected ? exactNames(selected) : 'proj',
      },
    );
    if (!patterns) return;
    rules = rulesFor(patterns, pick.label);
    const base = modelName(uri).replace(/(-\d{5}-of-\d{5})?\.safetensors$|\.safetensors\.index\.json$/, '');
    // asked while the flow is still open: the dialog takes its place rather than the editor taking the focus
    dest = await vscode.window.showSaveDialog({
      defaultUri: besideModel(uri, `${base}-sim-${pick.label}.safetensors`),
      filters: { safetensors: ['safetensors'] },
    });
  } finally {
    flow.dispose();
  }
  if (!dest) return;
  const result = await withJob(vscode.l10n.t('Quant Lens: writing {0}', basename(dest.fsPath)), (p, t) =>
    runWithCancel(ctx, { kind: 'simulate', path: modelLocation(uri), output: dest.fsPath, rules }, p, t),
  );
  void vscode.window.showInformationMessage(
    vscode.l10n.t(
      'Quant Lens: wrote {0} ({1} tensors replaced by simulated {2}, verified).',
      basename(result.output),
      result.changed,
      pick.label,
    ),
  );
  await vscode.commands.executeCommand('vscode.openWith', dest, VIEW_TYPE);
}
