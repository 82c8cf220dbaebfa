/**
 * Quantizer registry: ggml type -> a quantizer whose bytes equal ggml's `ggml_quantize_chunk` in strict binary32.
 * The type table (types.ts) says which types have one; the types whose row says wasmQuantize run in WebAssembly only
 * (wasmQuantizers.ts); F32 is a copy.
 */
import { QuantLensError } from '../errors.ts';
import { GgmlType, GGML_TYPES, type TensorType } from '../types.ts';
import type { Quantizer } from './quantizer.ts';
import { quantizeWasm, quantizeWasmTo, type BlockSink } from './wasmQuantizers.ts';

export type { Quantizer } from './quantizer.ts';

/** A registry quantizer: both ways of handing over its bytes. */
export type WritingQuantizer = Quantizer & Required<Pick<Quantizer, 'quantizeTo'>>;

const f32Bytes = (src: Float32Array) => new Uint8Array(src.buffer, src.byteOffset, src.byteLength);

const JAVASCRIPT: Partial<Record<GgmlType, WritingQuantizer>> = {
  [GgmlType.F32]: {
    quantize: (src) => f32Bytes(src).slice(),
    quantizeTo: (src, _r, _n, write) => write(f32Bytes(src)),
    imatrix: 'ignored',
  },
};

/** The WebAssembly types whose ggml quantizer ignores an importance matrix (their bytes are the same with one). */
const IMATRIX_IGNORED = new Set<GgmlType>([
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.TQ1_0,
  GgmlType.TQ2_0,
  GgmlType.MXFP4,
  GgmlType.NVFP4,
  GgmlType.Q1_0,
  GgmlType.Q2_0,
]);

/** A WebAssembly quantizer; a shape ggml does not take is refused. */
function wasmQuantizer(ty: TensorType): WritingQuantizer {
  const ignored = IMATRIX_IGNORED.has(ty.ggmlId!);
  /** The kernel's output (quantizeWasmTo's true, or quantizeWasm's array), or a usage error for a shape it refuses. */
  function run<T>(nRows: number, nPerRow: number, imatrix: Float32Array | undefined, kernel: (im?: Float32Array) => T | null | false): T {
    if (ty.caps.requiresImatrix && !imatrix)
      throw new QuantLensError('usage', `${ty.name} needs an importance matrix`, undefined, undefined, '--imatrix');
    const out = kernel(ignored ? undefined : imatrix);
    if (!out)
      throw new QuantLensError(
        'usage',
        `cannot quantize ${nRows} rows of ${nPerRow} weights to ${ty.name}: rows must be whole blocks of ${ty.blockSize}${imatrix ? ' and the importance matrix a whole row' : ''}`,
      );
    return out;
  }
  return {
    imatrix: ignored ? 'ignored' : 'used',
    quantize: (src, nRows, nPerRow, imatrix) => run(nRows, nPerRow, imatrix, (im) => quantizeWasm(ty, src, nRows, nPerRow, im)),
    quantizeTo: (src, nRows, nPerRow, write: BlockSink, imatrix) =>
      void run(nRows, nPerRow, imatrix, (im) => quantizeWasmTo(ty, src, nRows, nPerRow, write, im)),
  };
}

const QUANTIZERS = new Map<GgmlType, WritingQuantizer>();
for (const ty of GGML_TYPES.values()) {
  if (!ty.caps.quantizer) continue;
  const q = ty.caps.wasmQuantize ? wasmQuantizer(ty) : JAVASCRIPT[ty.ggmlId!];
  if (!q) throw new Error(`the type table says ${ty.name} has a quantizer, but no family file has one`);
  QUANTIZERS.set(ty.ggmlId!, { ...q, requiresImatrix: ty.caps.requiresImatrix });
}

export function quantizerFor(ty: TensorType): WritingQuantizer | undefined {
  return ty.ggmlId === undefined ? undefined : QUANTIZERS.get(ty.ggmlId);
}

export function requireQuantizer(ty: TensorType): WritingQuantizer {
  const q = quantizerFor(ty);
  if (!q) throw new QuantLensError('not-decodable', `Quant Lens cannot write ${ty.name} yet`);
  return q;
}

/** Types that can be written. */
export function writableTypeIds(): GgmlType[] {
  return [...QUANTIZERS.keys()].sort((a, b) => a - b);
}
