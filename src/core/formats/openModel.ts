/**
 * Open any supported model: a GGUF file or any shard of a split GGUF (`name-0000N-of-0000M.gguf`), a
 * safetensors file, or a sharded safetensors model through `model.safetensors.index.json` (or any of its shards
 * when the index sits beside it). Only headers are read.
 */
import { readFile, access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseGgufShardFilename } from '@huggingface/gguf';
import { FileByteSource, type ByteSource } from '../io/byteSource.ts';
import { QuantLensError } from '../errors.ts';
import type { Model, ModelFile, TensorInfo, MetadataEntry } from '../model.ts';
import { readGgufHeader, type GgufHeader } from './gguf.ts';
import { readSafetensorsHeader, type SafetensorsHeader } from './safetensors.ts';

export const SAFETENSORS_INDEX_SUFFIX = '.safetensors.index.json';

async function openSources(paths: string[]): Promise<FileByteSource[]> {
  const sources: FileByteSource[] = [];
  try {
    for (const p of paths) sources.push(await FileByteSource.open(p));
  } catch (e) {
    await Promise.all(sources.map((s) => s.close()));
    throw e;
  }
  return sources;
}

function closeAll(sources: ByteSource[]): () => Promise<void> {
  return async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Which file format a source holds, from its first bytes: "GGUF", or an 8-byte length followed by a JSON
 * object (safetensors); otherwise the file name decides, so the error speaks the format the user expects.
 */
async function sniffFormat(source: ByteSource): Promise<'gguf' | 'safetensors'> {
  const head = new Uint8Array(9);
  const n = await source.read(0, head);
  if (n >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return 'gguf';
  if (n === 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'safetensors';
  if (source.name.toLowerCase().endsWith('.safetensors')) return 'safetensors';
  return 'gguf';
}

export async function openModel(path: string): Promise<Model> {
  if (path.endsWith('.json')) return openSafetensorsIndex(path);
  const shard = parseGgufShardFilename(path);
  if (shard && path.toLowerCase().endsWith('.gguf')) return openSplitGguf(shard.prefix, Number(shard.total));
  const [source] = await openSources([path]);
  try {
    const format = await sniffFormat(source);
    if (format === 'gguf') return await ggufModel([source]);
    const sibling = join(dirname(path), 'model' + SAFETENSORS_INDEX_SUFFIX);
    if (/-\d{5}-of-\d{5}\.safetensors$/.test(path) && (await exists(sibling))) {
      await source.close();
      return openSafetensorsIndex(sibling);
    }
    return await safetensorsModel([source]);
  } catch (e) {
    await source.close();
    throw e;
  }
}

async function openSplitGguf(prefix: string, total: number): Promise<Model> {
  const width = 5;
  const paths = Array.from({ length: total }, (_, i) => `${prefix}-${String(i + 1).padStart(width, '0')}-of-${String(total).padStart(width, '0')}.gguf`);
  for (const [i, p] of paths.entries()) {
    if (!(await exists(p))) throw new QuantLensError('io', `split model is missing shard ${i + 1} of ${total}: ${basename(p)}`, undefined, p);
  }
  const sources = await openSources(paths);
  try {
    return await ggufModel(sources);
  } catch (e) {
    await closeAll(sources)();
    throw e;
  }
}

/** Open a single in-memory or already-open source (tests, fuzzing, generated files). */
export async function openModelFromSource(source: ByteSource): Promise<Model> {
  return (await sniffFormat(source)) === 'gguf' ? ggufModel([source]) : safetensorsModel([source]);
}

async function ggufModel(sources: ByteSource[]): Promise<Model> {
  const headers: GgufHeader[] = [];
  for (const [i, s] of sources.entries()) headers.push(await readGgufHeader(s, i));
  const first = headers[0];
  // Shard 1 holds the model's metadata; later shards repeat only the split.* keys.
  const metadata: MetadataEntry[] = [...first.metadata];
  const tensors: TensorInfo[] = [];
  const seen = new Set<string>();
  for (const h of headers) {
    for (const t of h.tensors) {
      if (seen.has(t.name)) throw new QuantLensError('bad-tensor', `tensor ${t.name} appears in more than one shard`, t.absoluteOffset, sources[t.fileIndex].name);
      seen.add(t.name);
      tensors.push(t);
    }
  }
  const files: ModelFile[] = sources.map((s) => ({ path: s.name, source: s, size: s.size }));
  return {
    format: 'gguf',
    files,
    ggufVersion: first.version,
    alignment: first.alignment,
    dataOffset: first.dataOffset,
    headerEnd: first.tensorInfoEnd,
    metadata,
    tensors,
    close: closeAll(sources),
  };
}

async function safetensorsModel(sources: ByteSource[]): Promise<Model> {
  const headers: SafetensorsHeader[] = [];
  for (const [i, s] of sources.entries()) headers.push(await readSafetensorsHeader(s, i));
  const metadata = headers.flatMap((h, i) => (i === 0 ? h.metadata : h.metadata.filter((m) => !headers[0].metadata.some((x) => x.key === m.key))));
  const tensors = headers.flatMap((h) => h.tensors);
  const files: ModelFile[] = sources.map((s) => ({ path: s.name, source: s, size: s.size }));
  return {
    format: 'safetensors',
    files,
    dataOffset: headers[0].dataStart,
    headerEnd: headers[0].headerLength,
    metadata,
    tensors,
    close: closeAll(sources),
  };
}

interface SafetensorsIndex {
  metadata?: Record<string, unknown>;
  weight_map: Record<string, string>;
}

async function openSafetensorsIndex(indexPath: string): Promise<Model> {
  let index: SafetensorsIndex;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new QuantLensError('invalid-value', `cannot read safetensors index ${basename(indexPath)}: ${(e as Error).message}`, undefined, indexPath);
  }
  if (!index || typeof index.weight_map !== 'object' || index.weight_map === null) {
    throw new QuantLensError('invalid-value', `${basename(indexPath)} has no weight_map`, undefined, indexPath);
  }
  const shardNames = [...new Set(Object.values(index.weight_map))].sort();
  const dir = dirname(indexPath);
  for (const name of shardNames) {
    if (typeof name !== 'string' || name.includes('/') || name.includes('\\')) {
      throw new QuantLensError('invalid-value', `${basename(indexPath)} names an invalid shard file ${JSON.stringify(name)}`, undefined, indexPath);
    }
    if (!(await exists(join(dir, name)))) throw new QuantLensError('io', `sharded model is missing ${name} (listed in ${basename(indexPath)})`, undefined, join(dir, name));
  }
  const sources = await openSources(shardNames.map((n) => join(dir, n)));
  try {
    const model = await safetensorsModel(sources);
    for (const t of model.tensors) {
      const listed = index.weight_map[t.name];
      if (listed !== undefined && listed !== shardNames[t.fileIndex]) {
        throw new QuantLensError('invalid-value', `tensor ${t.name} is in ${shardNames[t.fileIndex]} but the index maps it to ${listed}`, undefined, indexPath);
      }
    }
    for (const [k, v] of Object.entries(index.metadata ?? {})) {
      model.metadata.push({ key: `index.${k}`, type: 'STRING', value: typeof v === 'string' ? v : JSON.stringify(v), fileIndex: 0 });
    }
    return model;
  } catch (e) {
    await closeAll(sources)();
    throw e;
  }
}
