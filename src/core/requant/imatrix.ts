/**
 * llama.cpp importance matrices: the legacy binary `.dat` format (int32 entry count; per entry int32 name
 * length, name, int32 call count, int32 value count, float32 values) and the GGUF format (`<tensor>.in_sum2`
 * and `<tensor>.counts` tensors). Returns per-tensor mean squared activations, one per input column.
 */
import { readFile } from 'node:fs/promises';
import { QuantLensError } from '../errors.ts';
import { openModel } from '../formats/openModel.ts';
import { readTensorValues } from '../analysis/tensorValues.ts';
import { hfToGguf } from '../compare/nameMap.ts';

export async function readImatrix(path: string): Promise<Map<string, Float32Array>> {
  const head = Buffer.alloc(4);
  const bytes = await readFile(path).catch((e) => {
    throw new QuantLensError('io', `cannot read imatrix ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  });
  bytes.copy(head, 0, 0, 4);
  if (head.toString('latin1') === 'GGUF') return readGgufImatrix(path);
  const out = new Map<string, Float32Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new QuantLensError('truncated', `imatrix ${path} ends inside ${what} at byte ${at}`, at);
  };
  need(4, 'the entry count');
  const entries = view.getInt32(at, true);
  at += 4;
  if (entries < 0 || entries * 12 > bytes.length) throw new QuantLensError('invalid-value', `imatrix ${path} declares ${entries} entries`, 0);
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
    for (let i = 0; i < n; i++) values[i] = view.getFloat32(at + 4 * i, true) / Math.max(1, calls);
    at += 4 * n;
    out.set(name, values);
  }
  return out;
}

async function readGgufImatrix(path: string): Promise<Map<string, Float32Array>> {
  const model = await openModel(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const t of model.tensors) {
      if (!t.name.endsWith('.in_sum2')) continue;
      const name = t.name.slice(0, -'.in_sum2'.length);
      const sums = readTensorValues(model, t);
      const countsTensor = model.tensors.find((x) => x.name === `${name}.counts`);
      const counts = countsTensor ? readTensorValues(model, countsTensor) : undefined;
      const cols = t.shape[0];
      const values = new Float32Array(cols);
      // For 3-D (expert) tensors the sums of every expert are averaged, as the legacy format stores them.
      const mats = sums.length / cols;
      for (let m = 0; m < mats; m++) {
        const c = counts ? Math.max(1, counts[m] ?? counts[0]) : 1;
        for (let i = 0; i < cols; i++) values[i] += sums[m * cols + i] / c / mats;
      }
      out.set(name, values);
    }
    return out;
  } finally {
    await model.close();
  }
}

const loaded = new Map<string, Promise<Map<string, Float32Array>>>();

/**
 * The importance of each input column of one tensor, from an imatrix file (read once per path). Hugging Face
 * names are looked up under their llama.cpp names. Undefined when the file has no entry for the tensor.
 */
export async function imatrixFor(path: string, tensor: string): Promise<Float32Array | undefined> {
  let m = loaded.get(path);
  if (!m) {
    m = readImatrix(path);
    loaded.set(path, m);
    m.catch(() => loaded.delete(path));
  }
  const table = await m;
  return table.get(tensor) ?? table.get(hfToGguf(tensor) ?? '');
}
