/**
 * Tiny llama-architecture GGUF models written by the project's own GGUF writer, with a real SentencePiece (SPM)
 * tokenizer (byte fallback, control tokens, scored pieces), for running through llama.cpp in the output tests.
 * All weights are F32 so requantize can turn them into F16, Q8_0, Q4_0 ... of the same model.
 */
import { buildGgufFile, type WriterEntry } from '../../src/core/formats/ggufWriter.ts';
import { GgmlType } from '../../src/core/types.ts';
import { rng } from './rng.ts';

export interface TinyLlamaShape {
  embedding: number;
  ffn: number;
  blocks: number;
  heads: number;
  kvHeads: number;
  /** Vocabulary size (at least 259 + the built-in pieces: 3 control, 256 byte tokens, then pieces). */
  vocab: number;
  contextLength: number;
  ropeBase: number;
  rmsEps: number;
}

export const TINY: TinyLlamaShape = {
  embedding: 64,
  ffn: 128,
  blocks: 2,
  heads: 4,
  kvHeads: 2,
  vocab: 384,
  contextLength: 512,
  ropeBase: 10000,
  rmsEps: 1e-5,
};

/** A tensor's values in ggml order (rows of shape[0]). */
export interface TinyTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface TinyLlama {
  shape: TinyLlamaShape;
  tokens: string[];
  tensors: TinyTensor[];
}

const WORDS = [
  'the',
  'of',
  'and',
  'to',
  'in',
  'a',
  'that',
  'is',
  'for',
  'it',
  'as',
  'with',
  'be',
  'on',
  'not',
  'he',
  'by',
  'this',
  'are',
  'or',
  'his',
  'from',
  'at',
  'which',
  'but',
  'have',
  'an',
  'they',
  'all',
  'has',
  'their',
  'people',
  'laws',
  'government',
  'right',
  'power',
];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** SPM vocabulary: <unk>, <s>, </s>, 256 byte tokens, '▁', letters, '▁'+letter, whole words, then letter pairs. */
export function tinyVocab(size: number): string[] {
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`)];
  const seen = new Set(tokens);
  const add = (p: string) => {
    if (tokens.length < size && !seen.has(p)) {
      seen.add(p);
      tokens.push(p);
    }
  };
  add('▁');
  for (const c of LETTERS) add(c);
  for (const c of ',.;:') add(c);
  for (const w of WORDS) add('▁' + w);
  for (const c of LETTERS) add('▁' + c);
  for (const a of LETTERS) for (const b of LETTERS) add(a + b);
  for (const a of LETTERS) for (const b of LETTERS) add('▁' + a + b);
  for (const a of LETTERS) for (const b of LETTERS) for (const c of LETTERS) add(a + b + c);
  for (let i = 0; tokens.length < size; i++) add(`▁w${i}`);
  return tokens;
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
}

/** A deterministic random tiny llama (seeded). */
export function makeTinyLlama(shape: Partial<TinyLlamaShape> = {}, seed = 20261202): TinyLlama {
  const s = { ...TINY, ...shape };
  const r = rng(seed);
  const E = s.embedding;
  const headDim = E / s.heads;
  const kv = headDim * s.kvHeads;
  const tensors: TinyTensor[] = [];
  const mat = (name: string, cols: number, rows: number, scale: number) =>
    tensors.push({ name, shape: [cols, rows], values: Float32Array.from({ length: cols * rows }, () => scale * gaussian(r)) });
  const norm = (name: string) => tensors.push({ name, shape: [E], values: Float32Array.from({ length: E }, () => 1 + 0.1 * gaussian(r)) });
  mat('token_embd.weight', E, s.vocab, 1);
  for (let b = 0; b < s.blocks; b++) {
    const p = `blk.${b}.`;
    norm(p + 'attn_norm.weight');
    mat(p + 'attn_q.weight', E, E, 1.5 / Math.sqrt(E));
    mat(p + 'attn_k.weight', E, kv, 1.5 / Math.sqrt(E));
    mat(p + 'attn_v.weight', E, kv, 1 / Math.sqrt(E));
    mat(p + 'attn_output.weight', E, E, 1 / Math.sqrt(E));
    norm(p + 'ffn_norm.weight');
    mat(p + 'ffn_gate.weight', E, s.ffn, 1 / Math.sqrt(E));
    mat(p + 'ffn_up.weight', E, s.ffn, 1 / Math.sqrt(E));
    mat(p + 'ffn_down.weight', s.ffn, E, 1 / Math.sqrt(s.ffn));
  }
  norm('output_norm.weight');
  mat('output.weight', E, s.vocab, 2 / Math.sqrt(E));
  return { shape: s, tokens: tinyVocab(s.vocab), tensors };
}

export interface WriteOptions {
  /** Leave these metadata keys out (a broken model). */
  omitKeys?: string[];
}

/** The model as a GGUF file (F32 tensors). */
export function writeTinyLlama(m: TinyLlama, options: WriteOptions = {}): Uint8Array {
  const s = m.shape;
  const tokenType = m.tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
  const entries: WriterEntry[] = [
    { key: 'general.architecture', type: 'STRING', value: 'llama' },
    { key: 'general.name', type: 'STRING', value: 'Quant Lens tiny llama' },
    { key: 'llama.context_length', type: 'UINT32', value: s.contextLength },
    { key: 'llama.embedding_length', type: 'UINT32', value: s.embedding },
    { key: 'llama.block_count', type: 'UINT32', value: s.blocks },
    { key: 'llama.feed_forward_length', type: 'UINT32', value: s.ffn },
    { key: 'llama.attention.head_count', type: 'UINT32', value: s.heads },
    { key: 'llama.attention.head_count_kv', type: 'UINT32', value: s.kvHeads },
    { key: 'llama.rope.freq_base', type: 'FLOAT32', value: s.ropeBase },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'FLOAT32', value: s.rmsEps },
    { key: 'tokenizer.ggml.model', type: 'STRING', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'ARRAY', value: { elementType: 'STRING', values: m.tokens } },
    // SPM merges by score: longer pieces first
    {
      key: 'tokenizer.ggml.scores',
      type: 'ARRAY',
      value: { elementType: 'FLOAT32', values: m.tokens.map((t, i) => (tokenType[i] === 1 ? [...t].length - i * 1e-4 : 0)) },
    },
    { key: 'tokenizer.ggml.token_type', type: 'ARRAY', value: { elementType: 'INT32', values: tokenType } },
    { key: 'tokenizer.ggml.bos_token_id', type: 'UINT32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 'UINT32', value: 2 },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'UINT32', value: 0 },
    { key: 'tokenizer.ggml.add_bos_token', type: 'BOOL', value: true },
  ].filter((e) => !options.omitKeys?.includes(e.key)) as WriterEntry[];
  const tensors = m.tensors.map((t) => {
    const data = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    return { name: t.name, shape: t.shape, ggmlTypeId: GgmlType.F32, data, nbytes: data.length };
  });
  return buildGgufFile(entries, tensors);
}
