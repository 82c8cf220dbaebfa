/**
 * Quantizer registry: ggml type id -> a quantizer whose bytes equal ggml's `ggml_quantize_chunk` in strict
 * binary32. Each family file adds its own; types without one here cannot be written (yet).
 */
import { encodeF16, encodeBf16, quantizeQ8_0 } from './encode.ts';
import { QuantLensError } from '../errors.ts';
import type { TensorType } from '../types.ts';
import { legacyQuantizers } from './legacyQuantizers.ts';
import { kQuantizers } from './kQuantizers.ts';
import { otherQuantizers } from './otherQuantizers.ts';
import { iqQuantizers } from './iqQuantizers.ts';
import { gridQuantizers } from './gridQuantizers.ts';
import { quantizeWasm, WASM_QUANTIZER_IDS } from './wasmQuantizers.ts';

export interface Quantizer {
  /**
   * Quantize nRows rows of nPerRow float32 values (row-major) into the type's blocks, as
   * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) does.
   */
  quantize(src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array;
  /** ggml refuses to quantize these types without an importance matrix. */
  requiresImatrix?: boolean;
  /** How an importance matrix is treated: used (changes the bytes), ignored (as ggml does for this type), or not implemented yet. */
  imatrix?: 'used' | 'ignored' | 'unsupported';
}

const f32ToBytes = (src: Float32Array) => new Uint8Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength));

const QUANTIZERS = new Map<number, Quantizer>([
  [0, { quantize: (src) => f32ToBytes(src), imatrix: 'ignored' }],
  [1, { quantize: (src) => encodeF16(src), imatrix: 'ignored' }],
  [30, { quantize: (src) => encodeBf16(src), imatrix: 'ignored' }],
  [8, { quantize: (src) => quantizeQ8_0(src), imatrix: 'ignored' }],
  ...Object.entries({ ...legacyQuantizers, ...kQuantizers, ...otherQuantizers, ...iqQuantizers, ...gridQuantizers }).map(([id, q]) => [Number(id), q] as [number, Quantizer]),
]);

// the WebAssembly kernel where there is one and it is loaded (same bytes), else the JavaScript
for (const id of WASM_QUANTIZER_IDS) {
  const js = QUANTIZERS.get(id);
  if (!js) continue;
  QUANTIZERS.set(id, { ...js, quantize: (src, nRows, nPerRow, imatrix) => quantizeWasm(id, src, nRows, nPerRow, imatrix) ?? js.quantize(src, nRows, nPerRow, imatrix) });
}

export function quantizerFor(ty: TensorType): Quantizer | undefined {
  return ty.ggmlId === undefined ? undefined : QUANTIZERS.get(ty.ggmlId);
}

export function requireQuantizer(ty: TensorType): Quantizer {
  const q = quantizerFor(ty);
  if (!q) throw new QuantLensError('not-decodable', `Quant Lens cannot write ${ty.name} yet`);
  return q;
}

/** Types that can be written. */
export function writableTypeIds(): number[] {
  return [...QUANTIZERS.keys()].sort((a, b) => a - b);
}
