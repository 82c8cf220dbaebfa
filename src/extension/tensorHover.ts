/**
 * Hover for tensor names written anywhere (a Python script, a log, JSON, a Quant Lens dump): shape, type and,
 * once computed, stats of that tensor in every open model, with a link that reveals it in its editor.
 */
import * as vscode from 'vscode';
import type { ModelRegistry, TensorHit } from './modelRegistry.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import { codecForType } from '../core/quant/index.ts';
import { readSettings } from './modelEditorProvider.ts';
import { modelLocation, modelName } from './modelUri.ts';

/** Tensors up to this many weights get their stats computed for the hover (a fraction of a second). */
const HOVER_SCAN_LIMIT = 16 << 20;

/** Characters a tensor name is made of (blk.0.attn_q.weight, model.layers.3.mlp.down_proj.weight). */
const TENSOR_NAME = /[A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]/;

function g(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(5)).toString() : String(x);
}

export function statsMarkdown(s: TensorStats): string {
  return `min ${g(s.min)} · max ${g(s.max)} · mean ${g(s.mean)} · std ${g(s.std)} · zeros ${s.zero_count}${s.nan_count ? ` · NaN ${s.nan_count}` : ''}`;
}

/** What the hover says of a tensor, or of a logical weight (its scheme as the type, its logical shape). */
function describe(hit: TensorHit): {
  name: string;
  type: string;
  shape: number[];
  bitsPerWeight: number;
  nElements: number;
  decodable: boolean;
} {
  const { tensor: t, weight: w } = hit;
  if (w)
    return { name: w.name, type: w.scheme, shape: w.shape, bitsPerWeight: w.bitsPerWeight, nElements: w.nElements, decodable: w.decodable };
  return {
    name: t!.name,
    type: t!.type.name,
    shape: t!.shape,
    bitsPerWeight: t!.type.bitsPerWeight,
    nElements: t!.nElements,
    decodable: !!codecForType(t!.type),
  };
}

/** The order of the shape shown: a GGUF tensor's as ggml stores it (ne), anything else as PyTorch writes it. */
function shapeOrder(hit: TensorHit, format: string | undefined): string {
  return !hit.weight && format === 'gguf' ? 'ne order, row length first' : 'outermost first';
}

export class TensorHoverProvider implements vscode.HoverProvider {
  constructor(private readonly registry: ModelRegistry) {}

  async provideHover(
    document: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<vscode.Hover | undefined> {
    if (!this.registry.size) return undefined;
    const range = document.getWordRangeAtPosition(position, TENSOR_NAME);
    if (!range) return undefined;
    const hits = this.registry.find(document.getText(range));
    if (!hits.length) return undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['quantLens.revealTensor'] };
    for (const hit of hits) {
      const { doc, writtenAs } = hit;
      const d = describe(hit);
      const args = encodeURIComponent(JSON.stringify([doc.uri.toString(), d.name]));
      md.appendMarkdown(
        `**${d.name}** · \`${d.type}\` · [${d.shape.join(' × ')}] _(${shapeOrder(hit, doc.model?.format)})_ · ${d.bitsPerWeight.toFixed(3)} bpw${writtenAs ? ` _(as ${writtenAs})_` : ''}\n\n`,
      );
      if (hit.weight?.error) md.appendMarkdown(`_${hit.weight.error.message}_\n\n`);
      const s = await this.statsFor(hit, token);
      md.appendMarkdown(s ? `${statsMarkdown(s)}\n\n` : '_stats not computed yet: select it in the editor_\n\n');
      md.appendMarkdown(`[$(eye) Reveal in ${modelName(doc.uri)}](command:quantLens.revealTensor?${args})\n\n`);
    }
    return token.isCancellationRequested ? undefined : new vscode.Hover(md, range);
  }

  /** Stats already computed, or computed now in a worker for a tensor small enough to scan while hovering. */
  private async statsFor(hit: TensorHit, token: vscode.CancellationToken): Promise<TensorStats | undefined> {
    const { doc } = hit;
    const d = describe(hit);
    const known = doc.stats.get(d.name);
    if (known || token.isCancellationRequested || d.nElements > HOVER_SCAN_LIMIT || !d.decodable) return known;
    try {
      // the worker resolves a logical weight's name to its dequantized values
      const r = await doc.run({ kind: 'stats', path: modelLocation(doc.uri), tensor: d.name, bins: readSettings().bins }, undefined, token);
      return r.stats;
    } catch {
      return undefined; // cancelled, or the data is unreadable: the hover still shows what the header says
    }
  }
}
