/**
 * llama.cpp <-> Hugging Face tensor names for llama-family checkpoints, and the row permutation llama.cpp's
 * converter applies to the q and k projections (it regroups each head's rows from [first half | second half]
 * to interleaved pairs, for its rotary embedding layout); gpt-oss experts tensors and the dense MLP weights of a
 * one-expert original.
 */
const BLOCK_MAP: [string, string][] = [
  ['attn_q', 'self_attn.q_proj'],
  ['attn_k', 'self_attn.k_proj'],
  ['attn_v', 'self_attn.v_proj'],
  ['attn_output', 'self_attn.o_proj'],
  ['ffn_gate', 'mlp.gate_proj'],
  ['ffn_up', 'mlp.up_proj'],
  ['ffn_down', 'mlp.down_proj'],
  ['attn_norm', 'input_layernorm'],
  ['ffn_norm', 'post_attention_layernorm'],
];
const GLOBAL_MAP: [string, string][] = [
  ['token_embd', 'model.embed_tokens'],
  ['output_norm', 'model.norm'],
  ['output', 'lm_head'],
];

/** blk.3.attn_q.weight -> model.layers.3.self_attn.q_proj.weight (undefined when there is no counterpart). */
export function ggufToHf(name: string): string | undefined {
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  if (m) {
    const hf = BLOCK_MAP.find(([g]) => g === m[2])?.[1];
    return hf ? `model.layers.${m[1]}.${hf}.${m[3]}` : undefined;
  }
  const g = /^([a-z_]+)\.(weight|bias)$/.exec(name);
  const hf = g ? GLOBAL_MAP.find(([x]) => x === g[1])?.[1] : undefined;
  return hf ? `${hf}.${g![2]}` : undefined;
}

export function hfToGguf(name: string): string | undefined {
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (m) {
    const g = BLOCK_MAP.find(([, h]) => h === m[2])?.[0];
    return g ? `blk.${m[1]}.${g}.${m[3]}` : undefined;
  }
  const g = /^(.+)\.(weight|bias)$/.exec(name);
  const gg = g ? GLOBAL_MAP.find(([, h]) => h === g[1])?.[0] : undefined;
  return gg ? `${gg}.${g![2]}` : undefined;
}

/** Which GGUF tensor kinds the converter permuted: q with head_count heads, k with head_count_kv heads. */
export function permutedKind(ggufName: string): 'q' | 'k' | undefined {
  if (/^blk\.\d+\.attn_q\.weight$/.test(ggufName)) return 'q';
  if (/^blk\.\d+\.attn_k\.weight$/.test(ggufName)) return 'k';
  return undefined;
}

/**
 * The Hugging Face row that GGUF row `r` came from, for a projection with heads of `headDim` rows: within a
 * head, GGUF row 2j+i holds HF row i*(headDim/2)+j.
 */
export function hfRowOf(r: number, headDim: number): number {
  const head = Math.floor(r / headDim);
  const rem = r % headDim;
  return head * headDim + (rem & 1) * (headDim / 2) + (rem >> 1);
}

/**
 * The dense MLP weights a gpt-oss experts tensor of one expert is made of: `<m>.mlp.experts.down_proj` [1, H, I] is
 * `<m>.mlp.down_proj.weight` [H, I]; `<m>.mlp.experts.gate_up_proj` [1, 2I, H] interleaves rows, row 2i being
 * `gate_proj.weight` row i and row 2i + 1 `up_proj.weight` row i. Undefined for any other name.
 */
export function denseExpertParts(name: string): { down: string } | { gate: string; up: string } | undefined {
  const m = /^(.*\.mlp)\.experts\.(gate_up_proj|down_proj)$/.exec(name);
  if (!m) return undefined;
  return m[2] === 'down_proj' ? { down: `${m[1]}.down_proj.weight` } : { gate: `${m[1]}.gate_proj.weight`, up: `${m[1]}.up_proj.weight` };
}
