/**
 * The one entry point the CLI and the worker call: open a quantized Hugging Face checkpoint from a folder, a
 * `model.safetensors.index.json`, any shard or a single file, and get its logical weights.
 *
 *   const q = await openQuantizedModel('path/to/model-00001-of-00002.safetensors');
 *   q.summary;                       // "GPTQ (quantize_config.json): 14 logical weights, 7 plain tensors"
 *   for (const w of q.weights) {      // one row per logical weight
 *     w.name, w.shape, w.scheme, w.bitsPerWeight, w.components, w.error, w.diagnostics;
 *     w.forEachChunk((values, firstRow) => ...);   // streamed float32, bounded memory
 *     w.decodeRows(0, 16); w.groupScales(); w.inspectGroup(row, group);
 *   }
 *   await q.close();
 *
 * Only safetensors headers, the config files and the bytes a decode needs are read.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QuantLensError } from '../errors.ts';
import { openModel } from '../formats/openModel.ts';
import { isUrl, sibling, type RemoteOptions } from '../io/location.ts';
import type { ModelSummary } from '../analysis/summary.ts';
import type { Model, TensorInfo } from '../model.ts';
import { describeDetection, detectQuantization, readConfigFiles, type ConfigFiles, type QuantDetection } from './detect.ts';
import { groupWeights, type LogicalWeight } from './weights.ts';

export interface QuantizedModel {
  model: Model;
  /** The folder whose config files were read. */
  folder: string;
  detection: QuantDetection;
  /** One line: the format, where it was found, how many weights. */
  summary: string;
  weights: LogicalWeight[];
  plain: TensorInfo[];
  /** A logical weight by name (or by the name of any of its components). */
  weight(name: string): LogicalWeight | undefined;
  close(): Promise<void>;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The file to open for a folder: its index, model.safetensors, or its only .safetensors file. */
function entryOfFolder(folder: string): string {
  const names = readdirSync(folder);
  if (names.includes('model.safetensors.index.json')) return join(folder, 'model.safetensors.index.json');
  if (names.includes('model.safetensors')) return join(folder, 'model.safetensors');
  const st = names.filter((n) => n.endsWith('.safetensors'));
  if (st.length === 1) return join(folder, st[0]);
  const idx = names.filter((n) => n.endsWith('.safetensors.index.json'));
  if (idx.length === 1) return join(folder, idx[0]);
  throw new QuantLensError(
    'usage',
    st.length
      ? `${folder} holds ${st.length} .safetensors files and no model.safetensors.index.json: open one of them`
      : `${folder} holds no .safetensors file`,
  );
}

/** Opens a shard as its whole model when an index beside it lists it (openModel does this for -0000N-of- names). */
function entryOfFile(path: string): string {
  const index = join(dirname(path), 'model.safetensors.index.json');
  if (path.endsWith('.safetensors') && !/-\d{5}-of-\d{5}\.safetensors$/.test(path)) {
    try {
      if (statSync(index).isFile()) {
        const map = JSON.parse(readFileSync(index, 'utf8')).weight_map ?? {};
        const base = path.slice(dirname(path).length + 1);
        const shards = new Set(Object.values(map));
        if (shards.has(base) && shards.size > 1) return index;
      }
    } catch {
      // not an index we can use: open the file alone
    }
  }
  return path;
}

export interface OpenOptions {
  /**
   * Load every weight at open (read all scales, zeros and indices once, a few percent of the model) so that data-level
   * errors and diagnostics are known up front. Without it only headers and metadata components are read, and each
   * weight completes its checks when it is first decoded or load()ed.
   */
  validate?: boolean;
}

/** Config files name their folder. */
const CONFIG_FILES = new Set(['config.json', 'quantize_config.json', 'quant_config.json', 'hf_quant_config.json']);

export async function openQuantizedModel(path: string, options: OpenOptions = {}): Promise<QuantizedModel> {
  const asFolder = isDir(path) || CONFIG_FILES.has(basename(path));
  const folder = isDir(path) ? path : dirname(path);
  const entry = asFolder ? entryOfFolder(folder) : entryOfFile(path);
  const model = await openModel(entry);
  try {
    if (model.format !== 'safetensors')
      throw new QuantLensError('usage', `${entry} is ${model.format.toUpperCase()}, not a safetensors checkpoint: open it as a model`);
    const warnings: string[] = [];
    return quantizedView(model, folder, await readConfigFiles(folder, true, {}, warnings), options, warnings);
  } catch (e) {
    await model.close();
    throw e;
  }
}

/**
 * The logical weights of an open safetensors model, described by the config files beside it (read from `folder`:
 * a path or, for a remote model, the URL of its folder); close() closes the model.
 */
export function quantizedView(
  model: Model,
  folder: string,
  configs: ConfigFiles,
  options: OpenOptions = {},
  readWarnings: string[] = [],
): QuantizedModel {
  const detection = detectQuantization(configs, model, readWarnings);
  const { weights, plain } = model.cutTensors?.length ? groupCutWeights(model, detection) : groupWeights(model, detection);
  if (options.validate) for (const w of weights) w.load();
  const byName = new Map<string, LogicalWeight>();
  for (const w of weights) {
    byName.set(w.name, w);
    for (const c of w.components) if (!byName.has(c.name)) byName.set(c.name, w);
  }
  const labels = [...new Set(weights.map((w) => w.format.label))];
  const flagged = weights.filter((w) => w.error).length;
  const summary = `${labels.length ? labels.join(' + ') : 'no quantized weights'}; ${describeDetection(detection)}: ${weights.length} logical weights${flagged ? ` (${flagged} not decoded)` : ''}, ${plain.length} plain tensors`;
  return { model, folder, detection, summary, weights, plain, weight: (n) => byName.get(n), close: () => model.close() };
}

/** Tensors in file order: by shard, then by where their data starts. */
function inFileOrder(tensors: TensorInfo[]): TensorInfo[] {
  return [...tensors].sort((a, b) => a.fileIndex - b.fileIndex || a.absoluteOffset - b.absoluteOffset);
}

/**
 * The weights of a checkpoint cut short (openCutModel): grouped from every tensor its headers list, so a weight
 * whose component's data is not in the file is still one weight, flagged as cut short and not decoded; the others
 * decode as usual. Plain tensors whose data is not there are left out (the cut-file banner lists them).
 */
function groupCutWeights(model: Model, detection: QuantDetection): { weights: LogicalWeight[]; plain: TensorInfo[] } {
  const cut = new Set(model.cutTensors!.map((t) => t.name));
  const { weights, plain } = groupWeights({ ...model, tensors: inFileOrder([...model.tensors, ...model.cutTensors!]) }, detection);
  for (const w of weights) {
    const i = w.components.findIndex((c) => cut.has(c.name));
    if (i < 0) continue;
    w.decodable = false;
    w.loaded = true;
    w.error = new QuantLensError(
      'truncated',
      `${w.name}: component ${w.roles[i]} ${w.components[i].name} is cut short (its data is not in the file)`,
      w.components[i].absoluteOffset,
      model.files[w.components[i].fileIndex].path,
    );
  }
  return { weights, plain: plain.filter((t) => !cut.has(t.name)) };
}

/**
 * The logical weights of a model that openModel opened from `input` (a path or a URL), when it is a safetensors
 * checkpoint with at least one quantized weight; undefined for anything else (GGUF, an unquantized checkpoint).
 * Its config files are read beside it, over HTTP for a remote model.
 */
export async function quantizedViewOf(model: Model, input: string, remote: RemoteOptions = {}): Promise<QuantizedModel | undefined> {
  if (model.format !== 'safetensors' || (!isUrl(input) && !existsSync(input))) return undefined;
  const inFolder = !isUrl(input) && isDir(input);
  const warnings: string[] = [];
  const configs = await readConfigFiles(input, inFolder, remote, warnings);
  const view = quantizedView(model, inFolder ? input : isUrl(input) ? sibling(input, '') : dirname(input), configs, {}, warnings);
  return view.weights.length ? view : undefined;
}

/**
 * A model as openModel opens it and, when it is a local quantized Hugging Face checkpoint, its logical weights;
 * a folder opens the checkpoint in it (its index, model.safetensors or its only .safetensors file).
 */
export async function openModelAndWeights(input: string, remote: RemoteOptions = {}): Promise<{ model: Model; view?: QuantizedModel }> {
  if (!isUrl(input) && isDir(input)) {
    const q = await openQuantizedModel(input);
    return { model: q.model, view: q.weights.length ? q : undefined };
  }
  const model = await openModel(input, remote);
  try {
    // a Hub reference resolves to a URL: the configs are beside the file the model came from
    const location = isUrl(model.files[0]?.path ?? '') ? model.files[0].path : input;
    return { model, view: await quantizedViewOf(model, location, remote) };
  } catch (e) {
    await model.close();
    throw e;
  }
}

/**
 * A model summary counted as the checkpoint means it: parameters are the logical weights' [out, in] values (not
 * their packed containers) plus the plain tensors, and bits per weight divide the stored bytes by those.
 */
export function logicalSummary(summary: ModelSummary, q: QuantizedModel): ModelSummary {
  const parameterCount = q.weights.reduce((a, w) => a + w.nElements, 0) + q.plain.reduce((a, t) => a + t.nElements, 0);
  return { ...summary, parameterCount, averageBitsPerWeight: parameterCount ? (8 * summary.tensorBytes) / parameterCount : 0 };
}

/** A model's listing in file order: each logical weight where its first component is, plain tensors as they are. */
export type ListedEntry = { weight: LogicalWeight; tensor?: undefined } | { tensor: TensorInfo; weight?: undefined };

export function listedEntries(q: QuantizedModel): ListedEntry[] {
  const owner = new Map<string, LogicalWeight>();
  for (const w of q.weights) for (const c of w.components) owner.set(c.name, w);
  const out: ListedEntry[] = [];
  const seen = new Set<LogicalWeight>();
  // a checkpoint cut short lists its weights whose components' data is not there too (flagged), not its plain tensors
  const cut = q.model.cutTensors ?? [];
  const cutNames = new Set(cut.map((t) => t.name));
  for (const t of cut.length ? inFileOrder([...q.model.tensors, ...cut]) : q.model.tensors) {
    const w = owner.get(t.name);
    if (!w) {
      if (!cutNames.has(t.name)) out.push({ tensor: t });
    } else if (!seen.has(w)) {
      seen.add(w);
      out.push({ weight: w });
    }
  }
  return out;
}
