/** Access to the reference corpus copied into test/fixtures/corpus. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_DIR = join(import.meta.dirname, '..', 'fixtures', 'corpus');

export function corpusPath(...parts: string[]): string {
  return join(CORPUS_DIR, ...parts);
}

export function readJson<T = any>(...parts: string[]): T {
  return JSON.parse(readFileSync(corpusPath(...parts), 'utf8')) as T;
}

/** `count` float32 values at byte `offsetBytes` of a raw .f32 file. */
export function readF32(file: string, offsetBytes: number, count: number): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset + offsetBytes, b.byteOffset + offsetBytes + 4 * count));
}

/** `nbytes` raw bytes at an absolute offset of a corpus file. */
export function readBytes(file: string, offset: number, nbytes: number): Uint8Array {
  const b = readFileSync(file);
  return new Uint8Array(b.buffer.slice(b.byteOffset + offset, b.byteOffset + offset + nbytes));
}

/** Per-type GGUF fixtures: `llama-tiny-<TYPE>` names present in the corpus. */
export const TINY_TYPES = [
  'F32',
  'F16',
  'BF16',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q8_0',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
  'IQ2_XXS',
  'IQ2_XS',
  'IQ3_XXS',
  'IQ1_S',
  'IQ4_NL',
  'IQ3_S',
  'IQ2_S',
  'IQ4_XS',
  'IQ1_M',
  'TQ1_0',
  'TQ2_0',
  'MXFP4',
  'NVFP4',
  'Q1_0',
  'Q2_0',
] as const;

export interface ExpectedTensor {
  name: string;
  n_dims: number;
  ne: number[];
  type_id: number;
  type_name: string;
  offset: number;
  absolute_offset: number;
  nbytes: number;
  n_elements: number;
  dequant?: { file: string; offset_bytes: number; count: number };
  stats: any;
}

/**
 * Compare decoded values with ggml's bit for bit. Returns a description of the first mismatch, or null.
 * NaN equals NaN (any payload); everything else must match in its float32 bits (so -0 differs from +0).
 */
export function firstBitMismatch(actual: Float32Array, expected: Float32Array): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) {
      return `element ${i}: got ${actual[i]} (0x${a[i].toString(16)}), want ${expected[i]} (0x${e[i].toString(16)})`;
    }
  }
  return null;
}
