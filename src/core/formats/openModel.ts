/**
 * Open any supported model: a GGUF file or any shard of a split GGUF (`name-0000N-of-0000M.gguf`), a
 * safetensors file, or a sharded safetensors model through `model.safetensors.index.json` (or any of its shards
 * when the index sits beside it). Only headers are read. Each of these can be a local path or an http(s) URL
 * (shards and index are then found beside it on the same server; see io/location.ts).
 */
import { isAbsolute, win32 } from 'node:path';
import { statAsync, type ByteSource } from '../io/byteSource.ts';
import {
  baseName,
  fileExists,
  isNotFound,
  isUrl,
  openByteSource,
  readWhole,
  resolveInput,
  sibling,
  type RemoteOptions,
} from '../io/location.ts';
import { QuantLensError } from '../errors.ts';
import type { Model, ModelFile, TensorInfo, MetadataEntry, Truncation } from '../model.ts';
import { parseSplitName, readCutGguf, readGgufHeader, type CutGguf, type GgufHeader } from './gguf.ts';
import { MAX_HEADER_BYTES, readCutSafetensors, readSafetensorsHeader, type CutSafetensors, type SafetensorsHeader } from './safetensors.ts';
import { jsonTypeName, memberOffset, parseJson, quoteForMessage, type JsonInput, type JsonObject, type JsonValue } from './strictJson.ts';

export const SAFETENSORS_INDEX_SUFFIX = '.safetensors.index.json';

/** A shard the index lists must exist and be a regular file; said in one line before any shard is opened. */
async function requireRegularFile(path: string, missing: () => QuantLensError): Promise<void> {
  if (isUrl(path)) return; // a remote shard is not probed twice: openSources turns its 404 into `missing`
  let st;
  try {
    st = await statAsync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing();
    throw new QuantLensError('io', `cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, undefined, path);
  }
  if (!st.isFile())
    throw new QuantLensError('io', `${path} is ${st.isDirectory() ? 'a directory' : 'not a file'}, not a regular file`, undefined, path);
}

/** Opens every file; a remote one that is not there (404) fails with `missing(i)`, if given, as a local one would. */
async function openSources(paths: string[], remote: RemoteOptions, missing?: (i: number) => QuantLensError): Promise<ByteSource[]> {
  const sources: ByteSource[] = [];
  try {
    for (const p of paths) sources.push(await openByteSource(p, remote)); // a local one refuses what is not a regular file
  } catch (e) {
    await Promise.all(sources.map((s) => s.close()));
    throw missing && isNotFound(e) ? missing(sources.length) : e;
  }
  return sources;
}

function closeAll(sources: ByteSource[]): () => Promise<void> {
  return async () => {
    await Promise.all(sources.map((s) => s.close()));
  };
}

/**
 * Which file format a source holds, from its first bytes: "GGUF", or an 8-byte length followed by a JSON
 * object (safetensors); otherwise the file name decides, so the error speaks the format the user expects.
 */
async function sniffFormat(source: ByteSource): Promise<'gguf' | 'safetensors'> {
  const head = new Uint8Array(9);
  const n = await source.read(0, head);
  if (n >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return 'gguf';
  // The reference allows JSON whitespace before the header's '{'.
  if (n === 9 && [0x7b, 0x20, 0x09, 0x0a, 0x0d].includes(head[8]) && head[6] === 0 && head[7] === 0) return 'safetensors';
  if (source.name.toLowerCase().endsWith('.safetensors')) return 'safetensors';
  return 'gguf';
}

/**
 * Opens a model from a local path, an http(s) URL or a Hub reference (`owner/repo/file`, `hf://owner/repo@rev/file`).
 * `remote` carries the token for gated repositories (else `HF_TOKEN` for the Hub); it is sent only to its host.
 */
export async function openModel(input: string, remote: RemoteOptions = {}): Promise<Model> {
  const path = await resolveInput(input);
  const name = baseName(path);
  if (name.endsWith('.json')) return openSafetensorsIndex(path, remote);
  const shard = parseSplitName(name);
  if (shard) return openSplitGguf(path, shard.prefix, shard.total, remote);
  const [source] = await openSources([path], remote);
  try {
    const format = await sniffFormat(source);
    if (format === 'gguf') return await ggufModel([source]);
    const index = sibling(path, 'model' + SAFETENSORS_INDEX_SUFFIX);
    if (/-\d{5}-of-\d{5}\.safetensors$/.test(name) && (await fileExists(index, remote))) {
      await source.close();
      return openSafetensorsIndex(index, remote);
    }
    return await safetensorsModel([source]);
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** A split GGUF by any of its shards; `salvage` opens shards cut short as far as they go (ggufModel). */
async function openSplitGguf(path: string, prefix: string, total: number, remote: RemoteOptions, salvage = false): Promise<Model> {
  const width = 5;
  const paths = Array.from({ length: total }, (_, i) =>
    sibling(path, `${prefix}-${String(i + 1).padStart(width, '0')}-of-${String(total).padStart(width, '0')}.gguf`),
  );
  const missing = (i: number) =>
    new QuantLensError('io', `split model is missing shard ${i + 1} of ${total}: ${baseName(paths[i])}`, undefined, paths[i]);
  // locally every shard is checked before any is opened; remotely opening is the check (one request each)
  for (const [i, p] of paths.entries()) if (!isUrl(p) && !(await fileExists(p))) throw missing(i);
  const sources = await openSources(paths, remote, missing);
  try {
    return await ggufModel(sources, salvage);
  } catch (e) {
    await closeAll(sources)();
    throw e;
  }
}

/**
 * A model that openModel refuses because a file of it is cut short (a download that stopped), opened as far as it
 * goes: its header and the tensors whose data is there, with `truncation` saying what is missing and `cutTensors`
 * listing the tensors whose data is not. A GGUF file, a split GGUF (any shard) with one or more shards cut short, a
 * safetensors file, or a sharded safetensors model (its index or any shard) with one or more shards cut in their data. Undefined when nothing is cut (it opens, or is broken
 * otherwise); a file cut inside its safetensors header throws the reader's error. The editor shows this where the
 * CLI reports the error.
 */
export async function openCutModel(input: string, remote: RemoteOptions = {}): Promise<Model | undefined> {
  const path = await resolveInput(input);
  const name = baseName(path);
  if (name.endsWith('.json')) return cutOrNothing(await openSafetensorsIndex(path, remote, true));
  const shard = parseSplitName(name);
  if (shard) return cutOrNothing(await openSplitGguf(path, shard.prefix, shard.total, remote, true));
  const [source] = await openSources([path], remote);
  try {
    if ((await sniffFormat(source)) === 'gguf') return cutOrNothing(await ggufModel([source], true));
    const index = sibling(path, 'model' + SAFETENSORS_INDEX_SUFFIX);
    if (/-\d{5}-of-\d{5}\.safetensors$/.test(name) && (await fileExists(index, remote))) {
      await source.close();
      return cutOrNothing(await openSafetensorsIndex(index, remote, true));
    }
    return cutOrNothing(await safetensorsModel([source], true));
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** Whether openModel's error may be a file cut short, which openCutModel may open as far as it goes. */
export function mayBeCut(e: unknown): boolean {
  return e instanceof QuantLensError && (e.code === 'truncated' || e.code === 'bad-tensor' || e.code === 'invalid-value');
}

/** The model when something of it is cut short; else it is closed (it is openModel's to open). */
async function cutOrNothing(model: Model): Promise<Model | undefined> {
  if (model.truncation) return model;
  await model.close();
  return undefined;
}

/** A tensor whose data is not in the file, as the cut-file banner lists it. */
function missingEntry(t: TensorInfo): Truncation['missing'][number] {
  return { name: t.name, type: t.type.name, shape: t.shape, nbytes: t.nbytes };
}

/** Open a single in-memory or already-open source (tests, fuzzing, generated files). */
export async function openModelFromSource(source: ByteSource): Promise<Model> {
  return (await sniffFormat(source)) === 'gguf' ? ggufModel([source]) : safetensorsModel([source]);
}

/**
 * The model of GGUF files (one, or the shards of a split). `salvage` (a model being opened as far as it goes) takes a
 * file cut short as readCutGguf reads it: `tensors` are those whose data is there, the others are `cutTensors`.
 */
async function ggufModel(sources: ByteSource[], salvage = false): Promise<Model> {
  const headers: GgufHeader[] = [];
  const cuts: { source: ByteSource; cut: CutGguf }[] = [];
  for (const [i, s] of sources.entries()) {
    const cut = salvage ? await readCutGguf(s, i) : undefined;
    if (cut) cuts.push({ source: s, cut });
    headers.push(cut ? cut.header : await readGgufHeader(s, i));
  }
  const first = headers[0];
  // Shard 1 holds the model's metadata; later shards repeat only the split.* keys.
  const metadata: MetadataEntry[] = [...first.metadata];
  const tensors: TensorInfo[] = [];
  const seen = new Set<string>();
  for (const h of headers) {
    for (const t of h.tensors) {
      if (seen.has(t.name))
        throw new QuantLensError(
          'bad-tensor',
          `tensor ${t.name} appears in more than one shard`,
          t.absoluteOffset,
          sources[t.fileIndex].name,
        );
      seen.add(t.name);
      tensors.push(t);
    }
  }
  const files: ModelFile[] = sources.map((s) => ({ path: s.name, source: s, size: s.size }));
  const model: Model = {
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
  if (!cuts.length) return model;
  const present = new Set(cuts.flatMap((c) => c.cut.present));
  const cutFiles = new Set(cuts.map((c) => c.source));
  const isCut = (t: TensorInfo) => cutFiles.has(sources[t.fileIndex]) && !present.has(t);
  model.cutTensors = tensors.filter(isCut);
  model.tensors = tensors.filter((t) => !isCut(t));
  model.truncation = {
    ...(sources.length > 1 ? { file: cuts.map((c) => baseName(c.source.name)).join(', ') } : {}),
    fileBytes: cuts.reduce((a, c) => a + c.source.size, 0),
    neededBytes: cuts.reduce((a, c) => a + c.cut.neededBytes, 0),
    atLeast: cuts.some((c) => c.cut.atLeast),
    reason: cuts[0].cut.error.message,
    missing: model.cutTensors.map(missingEntry),
    unreadInfos: cuts.reduce((a, c) => a + c.cut.unreadInfos, 0),
  };
  return model;
}

/**
 * The model of safetensors files. `salvage` (a model being opened as far as it goes) takes a file cut in its data
 * as readCutSafetensors reads it: `tensors` are those whose data is there, the others are `cutTensors`.
 */
async function safetensorsModel(sources: ByteSource[], salvage = false): Promise<Model> {
  const headers: SafetensorsHeader[] = [];
  const cuts: { source: ByteSource; cut: CutSafetensors }[] = [];
  for (const [i, s] of sources.entries()) {
    const cut = salvage ? await readCutSafetensors(s, i) : undefined;
    if (cut) cuts.push({ source: s, cut });
    headers.push(cut ? cut.header : await readSafetensorsHeader(s, i));
  }
  // Shard 1's metadata, then keys only later shards have.
  const metadata = [...headers[0].metadata];
  const metadataKeys = new Set(metadata.map((m) => m.key));
  for (const h of headers.slice(1)) {
    for (const m of h.metadata) if (!metadataKeys.has(m.key)) metadata.push(m);
  }
  const tensors = headers.length === 1 ? headers[0].tensors : headers.flatMap((h) => h.tensors);
  if (headers.length > 1) {
    // Each header has unique names (the reader checks); across shards a name must appear once too.
    const seen = new Set<string>();
    for (const t of tensors) {
      if (seen.has(t.name))
        throw new QuantLensError(
          'bad-tensor',
          `tensor ${quoteForMessage(t.name)} appears in more than one shard`,
          t.absoluteOffset,
          sources[t.fileIndex].name,
        );
      seen.add(t.name);
    }
  }
  const files: ModelFile[] = sources.map((s) => ({ path: s.name, source: s, size: s.size }));
  const model: Model = {
    format: 'safetensors',
    files,
    dataOffset: headers[0].dataStart,
    headerEnd: headers[0].headerLength,
    metadata,
    tensors,
    close: closeAll(sources),
  };
  if (!cuts.length) return model;
  const isCut = (t: TensorInfo) => t.absoluteOffset + t.nbytes > sources[t.fileIndex].size;
  const cutTensors = tensors.filter(isCut);
  model.tensors = tensors.filter((t) => !isCut(t));
  model.cutTensors = cutTensors;
  model.truncation = {
    ...(sources.length > 1 ? { file: cuts.map((c) => baseName(c.source.name)).join(', ') } : {}),
    fileBytes: cuts.reduce((a, c) => a + c.source.size, 0),
    neededBytes: cuts.reduce((a, c) => a + c.cut.neededBytes, 0),
    atLeast: false,
    reason: cuts[0].cut.error.message,
    missing: cutTensors.map(missingEntry),
    unreadInfos: 0,
  };
  return model;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A shard named in an index must be a plain file name beside the index: no path, not `.` or `..`. */
function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name) && !isAbsolute(name) && !win32.isAbsolute(name);
}

/** A sharded safetensors model by its index; `salvage` opens shards cut in their data as far as they go (safetensorsModel). */
async function openSafetensorsIndex(indexPath: string, remote: RemoteOptions, salvage = false): Promise<Model> {
  const what = baseName(indexPath);
  const bytes = await readWhole(indexPath, remote, MAX_HEADER_BYTES);
  const json: JsonInput = { bytes, what, file: indexPath };
  const fail = (message: string, offset: number): never => {
    throw new QuantLensError('invalid-value', message, offset, indexPath);
  };
  const index = parseJson(json);
  if (!isObject(index)) return fail(`${what} is ${jsonTypeName(index)}, not a JSON object`, 0);
  const weightMapAt = memberOffset(json, 0, 'weight_map');
  const weightMap = index.weight_map;
  if (!isObject(weightMap))
    return fail(`${what}: weight_map is ${jsonTypeName(weightMap)}, not an object mapping tensors to shard files`, weightMapAt);
  const shardSet = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      const at = memberOffset(json, weightMapAt, tensor);
      const why = typeof shard === 'string' ? 'not a file name beside the index' : `${jsonTypeName(shard)}, not a file name`;
      fail(
        `${what} at byte ${at}: weight_map maps tensor ${quoteForMessage(tensor)} to ${typeof shard === 'string' ? quoteForMessage(shard) : 'a value'}, ${why}`,
        at,
      );
    }
    shardSet.add(shard as string);
  }
  if (shardSet.size === 0)
    fail(`${what} at byte ${weightMapAt}: weight_map is empty (it must map every tensor to its shard file)`, weightMapAt);
  const metadataAt = memberOffset(json, 0, 'metadata');
  if (index.metadata !== undefined && index.metadata !== null && !isObject(index.metadata))
    fail(`${what} at byte ${metadataAt}: metadata is ${jsonTypeName(index.metadata)}, not an object`, metadataAt);
  const shardNames = [...shardSet].sort();
  const missing = (i: number) =>
    new QuantLensError('io', `sharded model is missing ${shardNames[i]} (listed in ${what})`, undefined, sibling(indexPath, shardNames[i]));
  for (const [i, name] of shardNames.entries()) await requireRegularFile(sibling(indexPath, name), () => missing(i));
  const sources = await openSources(
    shardNames.map((n) => sibling(indexPath, n)),
    remote,
    missing,
  );
  try {
    const model = await safetensorsModel(sources, salvage);
    const found = new Set<string>();
    // every tensor a header lists, its data there or not
    for (const t of model.cutTensors ? [...model.tensors, ...model.cutTensors] : model.tensors) {
      const listed = weightMap[t.name];
      if (listed !== undefined && listed !== shardNames[t.fileIndex]) {
        throw new QuantLensError(
          'invalid-value',
          `tensor ${quoteForMessage(t.name)} is in ${shardNames[t.fileIndex]} but ${what} maps it to ${quoteForMessage(listed as string)}`,
          t.absoluteOffset,
          indexPath,
        );
      }
      if (listed !== undefined) found.add(t.name);
    }
    if (found.size !== Object.keys(weightMap).length) {
      const absent = Object.keys(weightMap).find((k) => !found.has(k))!;
      const at = memberOffset(json, weightMapAt, absent);
      throw new QuantLensError(
        'invalid-value',
        `${what} at byte ${at}: weight_map maps tensor ${quoteForMessage(absent)} to ${quoteForMessage(weightMap[absent] as string)}, which has no such tensor`,
        at,
        indexPath,
      );
    }
    for (const [k, v] of Object.entries(isObject(index.metadata) ? index.metadata : {})) {
      model.metadata.push({ key: `index.${k}`, type: 'STRING', value: typeof v === 'string' ? v : JSON.stringify(v), fileIndex: 0 });
    }
    return model;
  } catch (e) {
    await closeAll(sources)();
    throw e;
  }
}
