/**
 * Hover for tensor names written anywhere (a Python script, a log, JSON, a Quant Lens dump): shape, type and,
 * once computed, stats of that tensor in every open model, with a link that reveals it in its editor.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { ModelRegistry } from './modelRegistry.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';

/** Characters a tensor name is made of (blk.0.attn_q.weight, model.layers.3.mlp.down_proj.weight). */
const TENSOR_NAME = /[A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]/;

function g(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(5)).toString() : String(x);
}

export function statsMarkdown(s: TensorStats): string {
  return `min ${g(s.min)} · max ${g(s.max)} · mean ${g(s.mean)} · std ${g(s.std)} · zeros ${s.zero_count}${s.nan_count ? ` · NaN ${s.nan_count}` : ''}`;
}

export class TensorHoverProvider implements vscode.HoverProvider {
  constructor(private readonly registry: ModelRegistry) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    if (!this.registry.size) return undefined;
    const range = document.getWordRangeAtPosition(position, TENSOR_NAME);
    if (!range) return undefined;
    const word = document.getText(range);
    const hits = this.registry.find(word);
    if (!hits.length) return undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['quantLens.revealTensor'] };
    for (const { doc, tensor } of hits) {
      const args = encodeURIComponent(JSON.stringify([doc.uri.toString(), tensor.name]));
      md.appendMarkdown(`**${tensor.name}** · \`${tensor.type.name}\` · [${tensor.shape.join(' × ')}] · ${tensor.type.bitsPerWeight.toFixed(3)} bpw\n\n`);
      const s = doc.stats.get(tensor.name);
      md.appendMarkdown(s ? `${statsMarkdown(s)}\n\n` : '_stats not computed yet: select it in the editor_\n\n');
      md.appendMarkdown(`[$(eye) Reveal in ${basename(doc.uri.fsPath)}](command:quantLens.revealTensor?${args})\n\n`);
    }
    return new vscode.Hover(md, range);
  }
}
