/** What a model is, in the words its users use: architecture, parameters, llama.cpp file type, bits per weight. */
import type { MetadataEntry, Model, ScalarValue } from '../model.ts';
import { llamaFileTypeName } from '../types.ts';

export interface TypeShare {
  type: string;
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface ModelSummary {
  format: string;
  architecture?: string;
  name?: string;
  /** llama.cpp's name for general.file_type (e.g. Q4_K_M), when the file says. */
  fileType?: string;
  parameterCount: number;
  tensorCount: number;
  /** Bytes of tensor data, and of the files on disk. */
  tensorBytes: number;
  fileBytes: number;
  averageBitsPerWeight: number;
  /** Largest share first. */
  byType: TypeShare[];
  files: number;
}

export function metadataValue(model: Model, key: string): MetadataEntry['value'] | undefined {
  return model.metadata.find((m) => m.key === key)?.value;
}

export function scalarString(v: MetadataEntry['value'] | undefined): string | undefined {
  if (v === undefined || (typeof v === 'object' && v !== null)) return undefined;
  return String(v as ScalarValue);
}

/**
 * Tensors, parameters and bytes per type, largest share first. The entries are the model's tensors, or a quantized
 * checkpoint's logical weights (by scheme, every component's bytes) and plain tensors, as its table lists them.
 */
export function sharesByType(entries: Iterable<{ type: string; nElements: number; nbytes: number }>): TypeShare[] {
  const byType = new Map<string, TypeShare>();
  for (const t of entries) {
    const share = byType.get(t.type) ?? { type: t.type, tensors: 0, parameters: 0, bytes: 0 };
    share.tensors++;
    share.parameters += t.nElements;
    share.bytes += t.nbytes;
    byType.set(t.type, share);
  }
  return [...byType.values()].sort((a, b) => b.bytes - a.bytes);
}

export function summarize(model: Model): ModelSummary {
  let parameterCount = 0;
  let tensorBytes = 0;
  for (const t of model.tensors) {
    parameterCount += t.nElements;
    tensorBytes += t.nbytes;
  }
  const fileTypeId = metadataValue(model, 'general.file_type');
  const fileType = typeof fileTypeId === 'number' ? llamaFileTypeName(fileTypeId) : undefined;
  return {
    format: model.format === 'gguf' ? `GGUF v${model.ggufVersion}` : 'safetensors',
    architecture: scalarString(metadataValue(model, 'general.architecture')),
    name: scalarString(metadataValue(model, 'general.name')),
    fileType,
    parameterCount,
    tensorCount: model.tensors.length,
    tensorBytes,
    fileBytes: model.files.reduce((a, f) => a + f.size, 0),
    averageBitsPerWeight: parameterCount ? (8 * tensorBytes) / parameterCount : 0,
    byType: sharesByType(model.tensors.map((t) => ({ type: t.type.name, nElements: t.nElements, nbytes: t.nbytes }))),
    files: model.files.length,
  };
}

/** 1234567 -> "1.23 M" style counts; bytes -> "1.5 GiB". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}
