/** What the webview is sent when a model opens: summary, tensor rows, metadata rows, quant map, memory fit. */
import type { Model, ArrayValue, TensorInfo } from '../core/model.ts';
import { sharesByType, summarize, type TypeShare } from '../core/analysis/summary.ts';
import { buildQuantMap, blockOf } from '../core/analysis/quantMap.ts';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { estimateMemory } from '../core/analysis/memoryFit.ts';
import { describeValue } from '../core/analysis/metadataJson.ts';
import { codecForType } from '../core/quant/index.ts';
import type { MetadataRow, ModelMessage, TensorRow } from '../shared/webviewProtocol.ts';
import { listedEntries, logicalSummary, type QuantizedModel } from '../core/hfquant/open.ts';
import type { LogicalWeight } from '../core/hfquant/weights.ts';
import { oneLine } from '../core/errors.ts';
import { specialTokenTexts } from '../core/analysis/tokenizer.ts';
import { llamaFileTypeName } from '../core/types.ts';

/** "blk.3" / "model.layers.3" of a name inside a block, else "". */
function groupOf(name: string): string {
  return blockOf(name) ? (/^(.*?\.\d+)\./.exec(name)?.[1] ?? '') : '';
}

/** One table row per logical weight: logical shape, scheme, bits per weight and bytes of all its components. */
function logicalRow(w: LogicalWeight): TensorRow {
  return {
    name: w.name,
    shape: w.shape,
    type: w.scheme,
    family: w.format.family,
    bitsPerWeight: w.bitsPerWeight,
    nbytes: w.bytes,
    offset: Math.min(...w.components.map((c) => c.offset)),
    nElements: w.nElements,
    group: groupOf(w.name),
    decodable: w.decodable,
    quantized: w.decodable,
    logical: {
      format: w.format.label,
      scheme: w.scheme,
      components: w.components.map((c, i) => ({
        role: w.roles[i],
        name: c.name,
        shape: c.shape,
        dtype: c.dtype ?? c.type.name,
        nbytes: c.nbytes,
        offset: c.offset,
      })),
      diagnostics: w.diagnostics,
      ...(w.error ? { error: oneLine(w.error) } : {}),
    },
  };
}

function tensorRow(t: TensorInfo): TensorRow {
  const codec = codecForType(t.type);
  return {
    name: t.name,
    shape: t.shape,
    type: t.type.name,
    family: t.type.family,
    bitsPerWeight: t.type.bitsPerWeight,
    nbytes: t.nbytes,
    offset: t.offset,
    nElements: t.nElements,
    group: groupOf(t.name),
    decodable: !!codec,
    quantized: !!codec?.blockScales && t.type.blockSize > 1,
  };
}

/** The Hugging Face config.json beside a local safetensors model (its attention shape sizes the KV cache), if any. */
async function configBeside(model: Model): Promise<unknown> {
  const path = model.files[0]?.path;
  if (!path || /^https?:/.test(path)) return undefined;
  try {
    return JSON.parse(await readFile(join(dirname(path), 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** A model's size by type as its editor shows it: a quantized checkpoint's logical weights by scheme. */
export function typeSharesOf(model: Model, view?: QuantizedModel): TypeShare[] {
  return view
    ? sharesByType(listedEntries(view).map((e) => (e.weight ? logicalRow(e.weight) : tensorRow(e.tensor))))
    : summarize(model).byType;
}

/** The rows: the model's tensors, or (a quantized checkpoint) its logical weights and plain tensors, in file order. */
export async function buildWebviewModel(
  model: Model,
  view?: QuantizedModel,
): Promise<Omit<ModelMessage, 'type' | 'fileName' | 'settings'>> {
  const tensors = view
    ? listedEntries(view).map((e) => (e.weight ? logicalRow(e.weight) : tensorRow(e.tensor)))
    : model.tensors.map(tensorRow);
  // ids said in words: general.file_type (as the Summary names it), special token ids with their token's text
  const specialTokens = await specialTokenTexts(model);
  const metadata: MetadataRow[] = model.metadata.map((m) => {
    const v = m.value;
    if (typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array') {
      const a = v as ArrayValue;
      return { key: m.key, type: m.type, display: describeValue(v, 120), arrayLength: a.length, arrayType: a.elementType };
    }
    const words = m.key === 'general.file_type' && typeof v === 'number' ? llamaFileTypeName(v) : specialTokens.get(m.key);
    const display = describeValue(v, 120) + (words === undefined ? '' : ` (${words})`);
    return { key: m.key, type: m.type, display, text: typeof v === 'string' && display.length < JSON.stringify(v).length ? v : undefined };
  });
  const summary = summarize(model);
  return {
    // a quantized checkpoint's size by type counts its logical weights by scheme, as its table lists them
    summary: view ? { ...logicalSummary(summary, view), byType: sharesByType(tensors) } : summary,
    ...(view ? { quantization: view.summary } : {}),
    tensors,
    metadata,
    // a quantized checkpoint maps its logical weights (scheme, effective bpw) where their packed components were
    quantMap: buildQuantMap(model, view && tensors.map((r) => ({ name: r.name, type: r.type, bitsPerWeight: r.bitsPerWeight }))),
    memory: estimateMemory(model, undefined, 2, model.format === 'safetensors' ? await configBeside(model) : undefined),
  };
}
