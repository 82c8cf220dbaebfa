/**
 * Sensitivity groups and the mix suggested for a size budget. A group is a set of weight matrices quantized
 * together when measuring how much the outputs move: one tensor kind across all blocks (`--by kind`: every
 * blk.N.attn_q.weight), or one block (`--by block`: every blk.3.* matrix); tensors outside the blocks
 * (token_embd, output) are groups of their own. The suggestion starts every group at the highest candidate type
 * and, while the model is over budget, moves down the group whose next step costs the least measured KLD per
 * byte saved; its predicted KLD is the sum of the groups' measured KLDs (an additive estimate).
 */
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { storedSpans } from '../formats/tensorSpan.ts';
import { requiresImatrix, typeByName, writableTypes, type TensorType } from '../types.ts';

export type GroupBy = 'kind' | 'block';

export interface SensitivityGroup {
  name: string;
  /** The regular expression selecting its tensors, as llama.cpp's --tensor-type takes it. */
  pattern: string;
  tensors: TensorInfo[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The model's weight matrices (2-D and up) in groups, in order of first appearance. */
export function sensitivityGroups(model: Model, by: GroupBy): SensitivityGroup[] {
  const groups = new Map<string, SensitivityGroup>();
  for (const t of model.tensors) {
    if (t.shape.length < 2) continue;
    const m = /^blk\.(\d+)\.(.+)$/.exec(t.name);
    const [name, pattern] = !m
      ? [t.name, `^${escape(t.name)}$`]
      : by === 'kind'
        ? [m[2], `^blk\\.\\d+\\.${escape(m[2])}$`]
        : [`blk.${m[1]}`, `^blk\\.${m[1]}\\.`];
    const g = groups.get(name) ?? { name, pattern, tensors: [] };
    g.tensors.push(t);
    groups.set(name, g);
  }
  return [...groups.values()];
}

/** Bytes of a tensor at a type (whole blocks), or undefined when its rows do not split into that type's blocks. */
export function bytesAt(t: TensorInfo, type: TensorType): number | undefined {
  if (t.shape[0] % type.blockSize) return undefined;
  return (t.nElements / type.blockSize) * type.bytesPerBlock;
}

export interface GroupMeasurement {
  group: SensitivityGroup;
  /** Mean KLD of the model with only this group at each candidate type (by type name); 0 for its own type. */
  kld: Map<string, number>;
}

/** The tensor bytes a size budget allows: `bitsPerWeight` over every weight of the model, or `bytes` as given. */
export function budgetBytes(model: Model, target: { bitsPerWeight: number } | { bytes: number }): number {
  const value = 'bytes' in target ? target.bytes : target.bitsPerWeight;
  if (!(value > 0) || !Number.isFinite(value)) throw new QuantLensError('usage', `the size budget must be a positive number, not ${value}`);
  if ('bytes' in target) return Math.floor(target.bytes);
  const weights = model.tensors.reduce((a, t) => a + t.nElements, 0);
  return Math.floor((target.bitsPerWeight * weights) / 8);
}

export interface SuggestedMix {
  /** Each group's type. */
  assignment: { group: string; pattern: string; type: string; bytes: number; kld: number }[];
  bytes: number;
  /** Sum of the groups' measured KLDs. */
  predictedKld: number;
  /** llama-quantize --tensor-type lines. */
  tensorTypeLines: string[];
}

/**
 * Types per group for a size budget. `types`: the candidates, highest precision first; `budget`: the whole file's
 * tensor bytes allowed. Tensors in no group keep their size.
 */
export function suggestMix(model: Model, measured: GroupMeasurement[], types: TensorType[], budget: number): SuggestedMix {
  if (!types.length) throw new QuantLensError('usage', 'no candidate types');
  const spans = storedSpans(model);
  const inGroups = new Set(measured.flatMap((m) => m.group.tensors.map((t) => t.name)));
  let fixed = 0;
  model.tensors.forEach((t, i) => {
    if (!inGroups.has(t.name)) fixed += spans[i] ?? t.nbytes;
  });
  const groupBytes = (m: GroupMeasurement, type: TensorType) => m.group.tensors.reduce((a, t) => a + (bytesAt(t, type) ?? t.nbytes), 0);
  const level = measured.map(() => 0);
  const total = () => fixed + measured.reduce((a, m, i) => a + groupBytes(m, types[level[i]]), 0);
  let bytes = total();
  while (bytes > budget) {
    let best = -1;
    let bestCost = Infinity;
    measured.forEach((m, i) => {
      if (level[i] + 1 >= types.length) return;
      const saved = groupBytes(m, types[level[i]]) - groupBytes(m, types[level[i] + 1]);
      if (saved <= 0) return;
      const dk = (m.kld.get(types[level[i] + 1].name) ?? Infinity) - (m.kld.get(types[level[i]].name) ?? 0);
      const cost = Math.max(0, dk) / saved;
      if (cost < bestCost) {
        bestCost = cost;
        best = i;
      }
    });
    if (best < 0) {
      const smallest = fixed + measured.reduce((a, m) => a + groupBytes(m, types[types.length - 1]), 0);
      throw new QuantLensError(
        'usage',
        `the budget of ${budget} bytes cannot be met: with every group at ${types[types.length - 1].name} the tensors take ${smallest} bytes`,
      );
    }
    level[best]++;
    bytes = total();
  }
  const assignment = measured.map((m, i) => {
    const type = types[level[i]];
    return { group: m.group.name, pattern: m.group.pattern, type: type.name, bytes: groupBytes(m, type), kld: m.kld.get(type.name) ?? 0 };
  });
  return {
    assignment,
    bytes,
    predictedKld: assignment.reduce((a, g) => a + g.kld, 0),
    tensorTypeLines: assignment.map((g) => `--tensor-type "${g.pattern}=${g.type.toLowerCase()}"`),
  };
}

/** Types a sensitivity measurement can quantize to: quantized types written without an importance matrix. */
export function candidateTypes(): TensorType[] {
  return writableTypes().filter((t) => !requiresImatrix(t) && t.family !== 'float');
}

/** "Q8_0, Q5_0, Q4_0" as types, highest precision first; a one-line reason when it is not that. */
export function parseCandidates(text: string): TensorType[] | string {
  const allowed = new Set(candidateTypes().map((t) => t.name));
  const names = text.split(/[\s,]+/).filter(Boolean);
  const types: TensorType[] = [];
  for (const name of names) {
    const t = typeByName(name.toUpperCase());
    if (!t || !allowed.has(t.name)) return `${JSON.stringify(name)} is not a type Quant Lens writes without an importance matrix`;
    types.push(t);
  }
  if (types.length < 2) return 'give at least two types';
  return types.sort((a, b) => b.bitsPerWeight - a.bitsPerWeight);
}

/** "5.5" or "5.5 bpw": bits per weight; "3.9 GB", "800 MB": a size. */
export function parseBudget(text: string): { bitsPerWeight: number } | { bytes: number } | string {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(bpw|gb|mb|kb)?\s*$/i.exec(text);
  if (!m) return `${JSON.stringify(text)}: give bits per weight (5.5) or a size (3.9 GB, 800 MB)`;
  const value = Number(m[1]);
  if (!(value > 0)) return 'the budget must be more than 0';
  const unit = (m[2] ?? 'bpw').toLowerCase();
  if (unit === 'bpw') return { bitsPerWeight: value };
  return { bytes: value * { gb: 1e9, mb: 1e6, kb: 1e3 }[unit as 'gb' | 'mb' | 'kb'] };
}
