/**
 * Quantizer registry: ggml type -> a quantizer whose bytes equal ggml's `ggml_quantize_chunk` in strict binary32.
 * The type table (types.ts) says which types have one; each family file adds its JavaScript quantizers, and the
 * types whose row says wasmQuantize run in WebAssembly only (wasmQuantizers.ts).
 */
import { encodeF16, encodeBf16, quantizeQ8_0 } from './encode.ts';
import { QuantLensError } from '../errors.ts';
import { GgmlType, GGML_TYPES, type TensorType } from '../types.ts';
import type { Quantizer } from './quantizer.ts';
import { legacyQuantizers } from './legacy/quantize.ts';
import { otherQuantizers } from './other/quantize.ts';
import { gridQuantizers } from './iquants/quantize.ts';
import { quantizeWasm } from './wasmQuantizers.ts';

export type { Quantizer } from './quantizer.ts';

const f32ToBytes = (src: Float32Array) => new Uint8Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength));

const JAVASCRIPT: Partial<Record<GgmlType, Quantizer>> = {
  [GgmlType.F32]: { quantize: (src) => f32ToBytes(src), imatrix: 'ignored' },
  [GgmlType.F16]: { quantize: (src) => encodeF16(src), imatrix: 'ignored' },
  [GgmlType.BF16]: { quantize: (src) => encodeBf16(src), imatrix: 'ignored' },
  [GgmlType.Q8_0]: { quantize: (src) => quantizeQ8_0(src), imatrix: 'ignored' },
  ...legacyQuantizers,
  ...otherQuantizers,
  ...gridQuantizers,
};

/** A WebAssembly quantizer (these types use their importance matrix); a shape ggml does not take is refused. */
function wasmQuantizer(ty: TensorType): Quantizer {
  return {
    imatrix: 'used',
    quantize(src, nRows, nPerRow, imatrix) {
      const out = quantizeWasm(ty, src, nRows, nPerRow, imatrix);
      if (!out)
        throw new QuantLensError(
          'usage',
          `cannot quantize ${nRows} rows of ${nPerRow} weights to ${ty.name}: rows must be whole blocks of ${ty.blockSize}${imatrix ? ' and the importance matrix a whole row' : ''}`,
        );
      return out;
    },
  };
}

const QUANTIZERS = new Map<GgmlType, Quantizer>();
for (const ty of GGML_TYPES.values()) {
  if (!ty.caps.quantizer) continue;
  const q = ty.caps.wasmQuantize ? wasmQuantizer(ty) : JAVASCRIPT[ty.ggmlId!];
  if (!q) throw new Error(`the type table says ${ty.name} has a quantizer, but no family file has one`);
  QUANTIZERS.set(ty.ggmlId!, { ...q, requiresImatrix: ty.caps.requiresImatrix });
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
export function writableTypeIds(): GgmlType[] {
  return [...QUANTIZERS.keys()].sort((a, b) => a - b);
}
