/**
 * The quant-mix map: which type each tensor kind got in each block. Rows are blocks (`blk.N.*` in GGUF,
 * `model.layers.N.*` in Hugging Face checkpoints), columns are tensor kinds (attn_q, ffn_down, norms ...).
 * A quantized Hugging Face checkpoint maps its logical weights (`model.layers.0.self_attn.q_proj.weight`: block 0,
 * kind q_proj) with their scheme and effective bits per weight, and its plain tensors as they are.
 */
import type { Model } from '../model.ts';

export interface QuantMapCell {
  block: number;
  kind: string;
  tensor: string;
  type: string;
  bitsPerWeight: number;
}

export interface QuantMap {
  blocks: number[];
  kinds: string[];
  cells: QuantMapCell[];
  /** Tensors outside any block (token_embd, output, output_norm ...). */
  outside: { tensor: string; type: string; bitsPerWeight: number }[];
}

const BLOCK_PATTERNS = [
  /^blk\.(\d+)\.(.+)$/,
  /^(?:model\.)?layers\.(\d+)\.(.+)$/,
  /^transformer\.h\.(\d+)\.(.+)$/,
  /^model\.language_model\.layers\.(\d+)\.(.+)$/,
];

/** Preferred column order; other kinds follow alphabetically. */
const KIND_ORDER = ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'];

/** `blk.3.attn_q.weight` -> { block: 3, kind: 'attn_q' }; HF names keep their module path (self_attn.q_proj). */
export function blockOf(name: string): { block: number; kind: string } | undefined {
  for (const re of BLOCK_PATTERNS) {
    const m = re.exec(name);
    if (m) return { block: Number(m[1]), kind: m[2].replace(/\.(weight|bias)$/, '') + (m[2].endsWith('.bias') ? ' (bias)' : '') };
  }
  return undefined;
}

/** One entry of the map: a tensor, or a logical weight (its scheme as the type). */
export interface MapEntry {
  name: string;
  type: string;
  bitsPerWeight: number;
}

/**
 * The map of a model's tensors, or of `entries` (a quantized checkpoint's logical weights and plain tensors).
 * Hugging Face kinds drop their module path (`self_attn.q_proj` -> `q_proj`) when no two kinds then share a name.
 */
export function buildQuantMap(model: Model, entries?: MapEntry[]): QuantMap {
  const cells: QuantMapCell[] = [];
  const outside: QuantMap['outside'] = [];
  const blocks = new Set<number>();
  const kinds = new Set<string>();
  const list = entries ?? model.tensors.map((t) => ({ name: t.name, type: t.type.name, bitsPerWeight: t.type.bitsPerWeight }));
  for (const t of list) {
    const where = blockOf(t.name);
    if (!where) {
      outside.push({ tensor: t.name, type: t.type, bitsPerWeight: t.bitsPerWeight });
      continue;
    }
    blocks.add(where.block);
    kinds.add(where.kind);
    cells.push({ ...where, tensor: t.name, type: t.type, bitsPerWeight: t.bitsPerWeight });
  }
  const short = shortKinds([...kinds]);
  for (const c of cells) c.kind = short.get(c.kind)!;
  const rank = (k: string) => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return {
    blocks: [...blocks].sort((a, b) => a - b),
    kinds: [...new Set(short.values())].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
    cells,
    outside,
  };
}

/** Each kind's last module name (`self_attn.q_proj` -> `q_proj`) when that names every kind apart, else the kinds as they are. */
function shortKinds(kinds: string[]): Map<string, string> {
  const last = (k: string) => k.replace(/^(?:[\w-]+\.)+(?=[^.]+$)/, '');
  const short = new Set(kinds.map(last));
  return new Map(kinds.map((k) => [k, short.size === kinds.length ? last(k) : k]));
}
