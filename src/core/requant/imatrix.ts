/**
 * llama.cpp importance matrices: the legacy binary `.dat` format (int32 entry count; per entry int32 name
 * length, name, int32 call count, int32 value count, float32 values) and the GGUF format (`<tensor>.in_sum2`
 * and `<tensor>.counts` tensors). Each entry holds mean squared activations, one per input column and matrix,
 * as llama.cpp's quantize reads them: a tensor [ne0, ne1, ne2] (ne2 experts) takes ne0 * ne2 values, expert e
 * using values [e * ne0, (e + 1) * ne0). `importanceFor` checks an entry against its tensor before it is used.
 */
import { basename } from 'node:path';
import { readWholeFile } from '../io/byteSource.ts';
import { QuantLensError } from '../errors.ts';
import { openModel } from '../formats/openModel.ts';
import { readTensorValues } from '../analysis/tensorValues.ts';
import { hfToGguf } from '../compare/nameMap.ts';
import type { TensorInfo } from '../model.ts';

/** Entry name → values (ne0 per matrix, matrices one after another). */
export type Imatrix = Map<string, Float32Array>;

export async function readImatrix(path: string): Promise<Imatrix> {
  const bytes = Buffer.from(await readWholeFile(path));
  if (bytes.toString('latin1', 0, 4) === 'GGUF') return readGgufImatrix(path);
  const out = new Map<string, Float32Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new QuantLensError('truncated', `imatrix ${path} ends inside ${what} at byte ${at}`, at);
  };
  need(4, 'the entry count');
  const entries = view.getInt32(at, true);
  at += 4;
  if (entries < 0 || entries * 12 > bytes.length)
    throw new QuantLensError(
      'invalid-value',
      `imatrix ${path} declares ${entries} entries in its first 4 bytes, more than its ${bytes.length} bytes can hold`,
      0,
    );
  for (let e = 0; e < entries; e++) {
    need(4, 'a name length');
    const len = view.getInt32(at, true);
    at += 4;
    need(len, 'a name');
    if (len < 0) throw new QuantLensError('invalid-value', `imatrix ${path}: negative name length at byte ${at - 4}`, at - 4);
    const name = bytes.toString('utf8', at, at + len);
    at += len;
    need(8, `entry ${name}`);
    const calls = view.getInt32(at, true);
    const n = view.getInt32(at + 4, true);
    at += 8;
    if (n < 0) throw new QuantLensError('invalid-value', `imatrix ${path}: entry ${name} has ${n} values`, at - 4);
    need(4 * n, `entry ${name} values`);
    const values = new Float32Array(n);
    // llama.cpp divides by the call count when there is one
    for (let i = 0; i < n; i++) values[i] = view.getFloat32(at + 4 * i, true) / (calls > 0 ? calls : 1);
    at += 4 * n;
    out.set(name, values);
  }
  return out;
}

async function readGgufImatrix(path: string): Promise<Imatrix> {
  const model = await openModel(path);
  try {
    const out: Imatrix = new Map();
    for (const t of model.tensors) {
      if (!t.name.endsWith('.in_sum2')) continue;
      const name = t.name.slice(0, -'.in_sum2'.length);
      const sums = readTensorValues(model, t);
      const countsTensor = model.tensors.find((x) => x.name === `${name}.counts`);
      const counts = countsTensor ? readTensorValues(model, countsTensor) : undefined;
      const cols = t.shape[0];
      const values = new Float32Array(sums.length);
      // Each matrix (expert) is divided by its own count; one that saw no input gets 1s, as llama.cpp does.
      for (let m = 0; m < sums.length / cols; m++) {
        const c = counts ? (counts[m] ?? counts[0]) : 1;
        for (let i = 0; i < cols; i++) values[m * cols + i] = c > 0 ? sums[m * cols + i] / c : 1;
      }
      out.set(name, values);
    }
    return out;
  } finally {
    await model.close();
  }
}

/** The entry of `table` for a tensor (under its own or its llama.cpp name), with the name it was found under. */
function entryOf(table: Imatrix, tensor: string): { name: string; values: Float32Array } | undefined {
  const own = table.get(tensor);
  if (own) return { name: tensor, values: own };
  const ggufName = hfToGguf(tensor);
  const mapped = ggufName === undefined ? undefined : table.get(ggufName);
  return mapped && { name: ggufName!, values: mapped };
}

/** Every value is a finite, non-negative number (mean squared activations); a one-line error names the first that is not. */
export function checkImportance(entry: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0) || v === Infinity) {
      throw new QuantLensError(
        'invalid-value',
        `imatrix entry ${entry} value ${i} is ${Number.isNaN(v) ? 'NaN' : v}; importance must be finite and not negative`,
      );
    }
  }
}

/**
 * The checked importance of a GGUF tensor's columns: `perMatrix` (= ne0) values for each of its matrices (experts),
 * one matrix after another, or undefined when the imatrix has no entry for it. As llama.cpp's quantize: the entry must hold ne0 * ne2 * ne3
 * values, except token_embd.weight, whose mismatched entry is left unused.
 */
export function importanceFor(table: Imatrix, tensor: TensorInfo): { values: Float32Array; perMatrix: number } | undefined {
  const entry = entryOf(table, tensor.name);
  if (!entry) return undefined;
  const rowLength = tensor.shape[0];
  const matrices = tensor.shape.slice(2).reduce((a, b) => a * b, 1);
  if (entry.values.length !== rowLength * matrices) {
    if (tensor.name === 'token_embd.weight') return undefined;
    const need = matrices > 1 ? `${rowLength} x ${matrices} = ${rowLength * matrices} (ne[0] x experts)` : `${rowLength} (ne[0])`;
    throw new QuantLensError(
      'invalid-value',
      `imatrix entry ${entry.name} has ${entry.values.length} values; tensor ${tensor.name} [${tensor.shape.join(', ')}] needs ${need}`,
    );
  }
  checkImportance(entry.name, entry.values);
  return { values: entry.values, perMatrix: rowLength };
}

const loaded = new Map<string, Promise<Imatrix>>();

/** An imatrix file, read once per path (a failed read is tried again next time). */
export function loadedImatrix(path: string): Promise<Imatrix> {
  let m = loaded.get(path);
  if (!m) {
    m = readImatrix(path);
    loaded.set(path, m);
    m.catch(() => loaded.delete(path));
  }
  return m;
}

/**
 * The checked importance of one tensor's columns from an imatrix file, as `importanceFor` gives it: ne0 values for
 * each of its matrices (experts), one after another, so each expert is weighted and quantized with its own.
 * Hugging Face names are looked up under their llama.cpp names. Undefined when the file has no entry for it.
 */
export async function imatrixFor(path: string, tensor: TensorInfo): Promise<Float32Array | undefined> {
  return importanceFor(await loadedImatrix(path), tensor)?.values;
}

/** What a loaded imatrix covers of a model: entries used, tensors that have one, tensors that would take one. */
export interface ImatrixCoverage {
  entries: number;
  /** 2-D and expert tensors with an entry that fits them. */
  covered: number;
  /** 2-D and expert tensors (what an imatrix is for). */
  matrices: number;
}

/**
 * Reads an imatrix file and checks it against a model before it is used: the file must be one of the two formats
 * llama.cpp writes (a one-line error saying what it is not), hold at least one entry, and every entry for a tensor
 * of the model must fit it (ne0 values per matrix); an imatrix for another model (no entry names one of its
 * tensors) is refused too.
 */
export async function checkImatrixFile(path: string, tensors: readonly TensorInfo[]): Promise<ImatrixCoverage> {
  let table: Imatrix;
  try {
    table = await readImatrix(path);
  } catch (e) {
    if (!(e instanceof QuantLensError)) throw e;
    const why = e.message.replace(`imatrix ${path}: `, '').replace(`imatrix ${path} `, 'it ');
    throw new QuantLensError(
      e.code,
      `${basename(path)} is not a llama.cpp importance matrix (the legacy .dat or the GGUF imatrix format): ${why}`,
      e.byteOffset,
    );
  }
  if (!table.size)
    throw new QuantLensError(
      'invalid-value',
      `${basename(path)} is not a llama.cpp importance matrix: it has no entries (legacy entries or GGUF <tensor>.in_sum2 tensors)`,
    );
  const matrices = tensors.filter((t) => t.shape.length >= 2);
  let covered = 0;
  for (const t of matrices) if (importanceFor(table, t)) covered++;
  if (!covered)
    throw new QuantLensError(
      'invalid-value',
      `${basename(path)} has ${table.size} entries but none for a tensor of this model (first: ${[...table.keys()][0]}): an importance matrix of another model?`,
    );
  return { entries: table.size, covered, matrices: matrices.length };
}
