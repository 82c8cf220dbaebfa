/**
 * Quantizer throughput: the byte-exact quantizers (ggml_quantize_chunk without an importance matrix, or with the
 * corpus one where ggml requires it) on the corpus's float32 source of blk.0.ffn_down.weight, tiled, in million
 * weights per second, next to ggml's own reference quantizers on one core of this machine where we have the figure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { typeByName } from '../src/core/types.ts';
import { quantizerFor } from '../src/core/quant/quantizers.ts';

/** ggml's reference quantizers (strict binary32), one core of this machine, M weights/s. */
const GGML_QUANTIZE_YARDSTICK: Record<string, number> = { Q4_K: 17, Q6_K: 40, Q8_0: 277, IQ4_XS: 5.2 };

export const QUANTIZER_BENCH_TYPES = 'Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ4_NL,IQ4_XS,IQ3_S,IQ2_S,IQ1_M,TQ1_0,MXFP4';

export interface QuantizerRow {
  type: string;
  mweights: number;
  quantizeMWeightsPerS: number;
  ggmlMWeightsPerS?: number;
  ratioToGgml?: number;
}

export function quantizerBench(corpusGguf: string, typeName: string, log: (s: string) => void): QuantizerRow | { type: string; skipped: string } {
  const ty = typeByName(typeName);
  const q = ty && quantizerFor(ty);
  if (!q) return { type: typeName, skipped: 'no quantizer' };
  const info = JSON.parse(readFileSync(join(corpusGguf, 'llama-tiny.source.json'), 'utf8'));
  const t = (info.tensors as { name: string; ne: number[]; offset_bytes: number; imatrix: { offset_bytes: number } }[]).find((x) => x.name === 'blk.0.ffn_down.weight')!;
  const nPerRow = t.ne[0];
  const count = t.ne[0] * t.ne[1];
  const raw = readFileSync(join(corpusGguf, 'llama-tiny.source.f32'));
  const tile = new Float32Array(raw.buffer.slice(raw.byteOffset + t.offset_bytes, raw.byteOffset + t.offset_bytes + 4 * count));
  const imatrixRaw = readFileSync(join(corpusGguf, 'llama-tiny.imatrix.f32'));
  const imatrix = q.requiresImatrix ? new Float32Array(imatrixRaw.buffer.slice(imatrixRaw.byteOffset + t.imatrix.offset_bytes, imatrixRaw.byteOffset + t.imatrix.offset_bytes + 4 * nPerRow)) : undefined;
  // about a second of work per type: the slow codebook searches get one tile, the fast ones many
  const first = timed(() => q.quantize(tile, count / nPerRow, nPerRow, imatrix));
  const tiles = Math.max(1, Math.min(64, Math.round(1000 / Math.max(first, 1))));
  const src = new Float32Array(count * tiles);
  for (let i = 0; i < tiles; i++) src.set(tile, i * count);
  let best = Infinity;
  for (let i = 0; i < 2; i++) best = Math.min(best, timed(() => q.quantize(src, src.length / nPerRow, nPerRow, imatrix)));
  const mws = src.length / best / 1e3;
  const yard = GGML_QUANTIZE_YARDSTICK[typeName];
  const row: QuantizerRow = {
    type: typeName,
    mweights: +(src.length / 1e6).toFixed(2),
    quantizeMWeightsPerS: +mws.toFixed(mws < 10 ? 2 : 1),
    ...(yard ? { ggmlMWeightsPerS: yard, ratioToGgml: +(mws / yard).toFixed(2) } : {}),
  };
  log(`${typeName.padEnd(8)} ${String(row.mweights).padStart(6)} Mw  quantize ${String(row.quantizeMWeightsPerS).padStart(7)} Mw/s${q.requiresImatrix ? ' (imatrix)' : ''}${yard ? `  vs ggml C ${row.ratioToGgml}x (${yard})` : ''}`);
  return row;
}

function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}
