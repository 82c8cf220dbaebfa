/**
 * The bundled sample model: a tiny llama-shaped GGUF the project generates itself (no download), with LLM-like
 * weights (heavy tails, per-row scales, a few outlier columns) so every view has something to show.
 */
import { buildGgufFile, type WriterEntry } from '../formats/ggufWriter.ts';
import { encodeF16, quantizeQ8_0 } from '../quant/encode.ts';
import { GgmlType } from '../types.ts';

/** Deterministic PRNG (mulberry32) so the sample is byte-identical on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Rows of length `cols`; heavy-tailed values, per-row log-normal scale, `outlierCols` columns x20. */
function weights(r: () => number, cols: number, rows: number, scale: number, outlierCols = 0): Float32Array {
  const out = new Float32Array(cols * rows);
  const outliers = new Set(Array.from({ length: outlierCols }, () => Math.floor(r() * cols)));
  for (let row = 0; row < rows; row++) {
    const rowScale = scale * Math.exp(0.3 * gaussian(r));
    for (let c = 0; c < cols; c++) {
      const g = gaussian(r);
      const tail = g / Math.sqrt(Math.max(0.05, (gaussian(r) ** 2 + gaussian(r) ** 2 + gaussian(r) ** 2 + gaussian(r) ** 2) / 4));
      out[row * cols + c] = tail * rowScale * (outliers.has(c) ? 20 : 1);
    }
  }
  return out;
}

function norm(r: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 1 + 0.05 * gaussian(r));
}

export const SAMPLE_EMBEDDING = 256;
export const SAMPLE_FFN = 512;
export const SAMPLE_BLOCKS = 2;
export const SAMPLE_VOCAB = 512;

export function writeSampleModel(): Uint8Array {
  const r = rng(20261124);
  const E = SAMPLE_EMBEDDING;
  const F = SAMPLE_FFN;
  const V = SAMPLE_VOCAB;
  const tensors: { name: string; shape: number[]; ggmlTypeId: number; data: Uint8Array; nbytes: number }[] = [];
  const add = (name: string, shape: number[], values: Float32Array, type: 'F32' | 'F16' | 'Q8_0') => {
    const data = type === 'F32' ? new Uint8Array(values.buffer.slice(0)) : type === 'F16' ? encodeF16(values) : quantizeQ8_0(values);
    tensors.push({
      name,
      shape,
      ggmlTypeId: type === 'F32' ? GgmlType.F32 : type === 'F16' ? GgmlType.F16 : GgmlType.Q8_0,
      data,
      nbytes: data.length,
    });
  };
  add('token_embd.weight', [E, V], weights(r, E, V, 0.02), 'Q8_0');
  for (let b = 0; b < SAMPLE_BLOCKS; b++) {
    const p = `blk.${b}.`;
    add(p + 'attn_norm.weight', [E], norm(r, E), 'F32');
    add(p + 'attn_q.weight', [E, E], weights(r, E, E, 0.03, 3), 'Q8_0');
    add(p + 'attn_k.weight', [E, E / 4], weights(r, E, E / 4, 0.03, 3), 'Q8_0');
    add(p + 'attn_v.weight', [E, E / 4], weights(r, E, E / 4, 0.02), 'F16');
    add(p + 'attn_output.weight', [E, E], weights(r, E, E, 0.02), 'Q8_0');
    add(p + 'ffn_norm.weight', [E], norm(r, E), 'F32');
    add(p + 'ffn_gate.weight', [E, F], weights(r, E, F, 0.02), 'Q8_0');
    add(p + 'ffn_up.weight', [E, F], weights(r, E, F, 0.02), 'Q8_0');
    add(p + 'ffn_down.weight', [F, E], weights(r, F, E, 0.015, 2), 'F16');
  }
  add('output_norm.weight', [E], norm(r, E), 'F32');
  add('output.weight', [E, V], weights(r, E, V, 0.02), 'F16');

  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`)];
  const pieces = ['▁the', '▁a', '▁of', '▁and', '▁to', '▁in', '▁quant', '▁lens', '▁weight', '▁scale', 'ing', 'ed', 'er', '▁model', '▁block'];
  while (tokens.length < V) tokens.push(pieces[tokens.length % pieces.length] + (tokens.length >= 274 ? String(tokens.length) : ''));
  const entries: WriterEntry[] = [
    { key: 'general.architecture', type: 'STRING', value: 'llama' },
    { key: 'general.name', type: 'STRING', value: 'Quant Lens Sample' },
    { key: 'general.file_type', type: 'UINT32', value: 7 },
    { key: 'general.quantization_version', type: 'UINT32', value: 2 },
    { key: 'llama.block_count', type: 'UINT32', value: SAMPLE_BLOCKS },
    { key: 'llama.context_length', type: 'UINT32', value: 4096 },
    { key: 'llama.embedding_length', type: 'UINT32', value: E },
    { key: 'llama.feed_forward_length', type: 'UINT32', value: F },
    { key: 'llama.attention.head_count', type: 'UINT32', value: 4 },
    { key: 'llama.attention.head_count_kv', type: 'UINT32', value: 1 },
    { key: 'llama.rope.freq_base', type: 'FLOAT32', value: 10000 },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'FLOAT32', value: 1e-5 },
    { key: 'tokenizer.ggml.model', type: 'STRING', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'ARRAY', value: { elementType: 'STRING', values: tokens } },
    { key: 'tokenizer.ggml.scores', type: 'ARRAY', value: { elementType: 'FLOAT32', values: tokens.map((_, i) => -i) } },
    { key: 'tokenizer.ggml.bos_token_id', type: 'UINT32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 'UINT32', value: 2 },
    {
      key: 'tokenizer.chat_template',
      type: 'STRING',
      value: "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}<|assistant|>\n",
    },
  ];
  return buildGgufFile(entries, tensors);
}
