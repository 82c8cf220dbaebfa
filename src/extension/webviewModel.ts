/** What the webview is sent when a model opens: summary, tensor rows, metadata rows, quant map, memory fit. */
import type { Model, ArrayValue } from '../core/model.ts';
import { summarize } from '../core/analysis/summary.ts';
import { buildQuantMap, blockOf } from '../core/analysis/quantMap.ts';
import { estimateMemory } from '../core/analysis/memoryFit.ts';
import { describeValue } from '../core/analysis/metadataJson.ts';
import { codecForType } from '../core/quant/index.ts';
import type { MetadataRow, ModelMessage, TensorRow } from '../shared/webviewProtocol.ts';

export async function buildWebviewModel(model: Model): Promise<Omit<ModelMessage, 'type' | 'fileName' | 'settings'>> {
  const tensors: TensorRow[] = model.tensors.map((t) => {
    const b = blockOf(t.name);
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
      group: b ? (/^(.*?\.\d+)\./.exec(t.name)?.[1] ?? '') : '',
      decodable: !!codec,
      quantized: !!codec?.blockScales && t.type.blockSize > 1,
    };
  });
  const metadata: MetadataRow[] = model.metadata.map((m) => {
    const v = m.value;
    if (typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array') {
      const a = v as ArrayValue;
      return { key: m.key, type: m.type, display: describeValue(v, 120), arrayLength: a.length, arrayType: a.elementType };
    }
    const display = describeValue(v, 120);
    return { key: m.key, type: m.type, display, text: typeof v === 'string' && display.length < JSON.stringify(v).length ? v : undefined };
  });
  return { summary: summarize(model), tensors, metadata, quantMap: buildQuantMap(model), memory: estimateMemory(model) };
}
