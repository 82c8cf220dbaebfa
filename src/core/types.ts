/**
 * The one table of tensor element types: every ggml type (ids as in ggml.h at the corpus commit) and every
 * safetensors dtype. Everything else looks block sizes and names up here.
 */
export type TypeFamily =
  | 'float'
  | 'integer'
  | 'legacy' // Q4_0 .. Q8_1: 32-weight blocks, one scale (and a min for the _1 types)
  | 'k-quant' // 256-weight super-blocks with quantized sub-block scales
  | 'i-quant' // importance-aware, lattice/grid codebooks or non-linear levels
  | 'ternary' // TQ1_0 / TQ2_0: weights in {-1, 0, 1} times a scale
  | 'fp4' // MXFP4 / NVFP4: E2M1 values with a shared block exponent / scale
  | 'binary' // Q1_0 / Q2_0: 1- and 2-bit codes with one scale
  | 'fp8'
  | 'bool';

export interface TensorType {
  /** Display name as llama.cpp prints it: F32, Q4_K, IQ2_XXS, BF16, F8_E4M3 ... */
  name: string;
  /** ggml's own (lower-case) name, as in ggml_type_name(): f32, q4_K, iq2_xxs. Absent for safetensors-only dtypes. */
  ggmlName?: string;
  /** ggml type id, absent for safetensors-only dtypes. */
  ggmlId?: number;
  /** Weights per block and bytes per block (1 and the element size for plain types). */
  blockSize: number;
  bytesPerBlock: number;
  bitsPerWeight: number;
  family: TypeFamily;
  description: string;
}

function t(
  ggmlId: number | undefined,
  name: string,
  ggmlName: string | undefined,
  blockSize: number,
  bytesPerBlock: number,
  family: TypeFamily,
  description: string,
): TensorType {
  return { name, ggmlName, ggmlId, blockSize, bytesPerBlock, bitsPerWeight: (8 * bytesPerBlock) / blockSize, family, description };
}

/** ggml types by id. Removed ids (4, 5, 31-33, 36-38) are absent. */
export const GGML_TYPES: ReadonlyMap<number, TensorType> = new Map(
  [
    t(0, 'F32', 'f32', 1, 4, 'float', 'IEEE binary32'),
    t(1, 'F16', 'f16', 1, 2, 'float', 'IEEE binary16'),
    t(2, 'Q4_0', 'q4_0', 32, 18, 'legacy', '4-bit, blocks of 32, symmetric: w = d * (q - 8)'),
    t(3, 'Q4_1', 'q4_1', 32, 20, 'legacy', '4-bit, blocks of 32, asymmetric: w = d * q + m'),
    t(6, 'Q5_0', 'q5_0', 32, 22, 'legacy', '5-bit, blocks of 32, symmetric: w = d * (q - 16)'),
    t(7, 'Q5_1', 'q5_1', 32, 24, 'legacy', '5-bit, blocks of 32, asymmetric: w = d * q + m'),
    t(8, 'Q8_0', 'q8_0', 32, 34, 'legacy', '8-bit, blocks of 32, symmetric: w = d * q'),
    t(9, 'Q8_1', 'q8_1', 32, 36, 'legacy', '8-bit activations format with block sum (no to_float in ggml)'),
    t(10, 'Q2_K', 'q2_K', 256, 84, 'k-quant', '2-bit super-blocks of 256: 16 sub-blocks with 4-bit scales and mins'),
    t(11, 'Q3_K', 'q3_K', 256, 110, 'k-quant', '3-bit super-blocks of 256: 16 sub-blocks with 6-bit scales, symmetric'),
    t(12, 'Q4_K', 'q4_K', 256, 144, 'k-quant', '4-bit super-blocks of 256: 8 sub-blocks with 6-bit scales and mins'),
    t(13, 'Q5_K', 'q5_K', 256, 176, 'k-quant', '5-bit super-blocks of 256: 8 sub-blocks with 6-bit scales and mins'),
    t(14, 'Q6_K', 'q6_K', 256, 210, 'k-quant', '6-bit super-blocks of 256: 16 sub-blocks with 8-bit scales, symmetric'),
    t(15, 'Q8_K', 'q8_K', 256, 292, 'k-quant', '8-bit super-blocks of 256 with float scale (intermediate format)'),
    t(16, 'IQ2_XXS', 'iq2_xxs', 256, 66, 'i-quant', '2.06 bpw: E8 lattice grid of 256 points, signs in groups of 8'),
    t(17, 'IQ2_XS', 'iq2_xs', 256, 74, 'i-quant', '2.31 bpw: 512-point grid with 4-bit sub-block scales'),
    t(18, 'IQ3_XXS', 'iq3_xxs', 256, 98, 'i-quant', '3.06 bpw: 256-point grid of 4-tuples, signs in groups of 8'),
    t(19, 'IQ1_S', 'iq1_s', 256, 50, 'i-quant', '1.56 bpw: 2048-point ternary grid with sub-block scale and shift'),
    t(20, 'IQ4_NL', 'iq4_nl', 32, 18, 'i-quant', '4-bit non-linear levels, blocks of 32'),
    t(21, 'IQ3_S', 'iq3_s', 256, 110, 'i-quant', '3.44 bpw: 512-point grid with explicit signs and 4-bit scales'),
    t(22, 'IQ2_S', 'iq2_s', 256, 82, 'i-quant', '2.56 bpw: 1024-point grid with explicit signs'),
    t(23, 'IQ4_XS', 'iq4_xs', 256, 136, 'i-quant', '4.25 bpw: non-linear levels with 6-bit sub-block scales'),
    t(24, 'I8', 'i8', 1, 1, 'integer', 'signed 8-bit integer'),
    t(25, 'I16', 'i16', 1, 2, 'integer', 'signed 16-bit integer'),
    t(26, 'I32', 'i32', 1, 4, 'integer', 'signed 32-bit integer'),
    t(27, 'I64', 'i64', 1, 8, 'integer', 'signed 64-bit integer'),
    t(28, 'F64', 'f64', 1, 8, 'float', 'IEEE binary64'),
    t(29, 'IQ1_M', 'iq1_m', 256, 56, 'i-quant', '1.75 bpw: ternary grid with per-group shifts and 3-bit scales'),
    t(30, 'BF16', 'bf16', 1, 2, 'float', 'bfloat16 (upper half of binary32)'),
    t(34, 'TQ1_0', 'tq1_0', 256, 54, 'ternary', '1.69 bpw ternary {-1,0,1} packed 5 per byte (base 3)'),
    t(35, 'TQ2_0', 'tq2_0', 256, 66, 'ternary', '2.06 bpw ternary {-1,0,1} in 2-bit codes'),
    t(39, 'MXFP4', 'mxfp4', 32, 17, 'fp4', 'OCP MX FP4 (E2M1) with a shared E8M0 exponent per 32'),
    t(40, 'NVFP4', 'nvfp4', 64, 36, 'fp4', 'FP4 (E2M1) with an E4M3 scale per 16 weights'),
    t(41, 'Q1_0', 'q1_0', 128, 18, 'binary', '1-bit signs times one scale per 128'),
    t(42, 'Q2_0', 'q2_0', 64, 18, 'binary', '2-bit codes times one scale per 64'),
  ].map((x) => [x.ggmlId!, x]),
);

/** safetensors dtypes by their header name. Types shared with ggml reuse the ggml entry. */
export const SAFETENSORS_DTYPES: ReadonlyMap<string, TensorType> = new Map([
  ['F64', GGML_TYPES.get(28)!],
  ['F32', GGML_TYPES.get(0)!],
  ['F16', GGML_TYPES.get(1)!],
  ['BF16', GGML_TYPES.get(30)!],
  ['I64', GGML_TYPES.get(27)!],
  ['I32', GGML_TYPES.get(26)!],
  ['I16', GGML_TYPES.get(25)!],
  ['I8', GGML_TYPES.get(24)!],
  ['U64', t(undefined, 'U64', undefined, 1, 8, 'integer', 'unsigned 64-bit integer')],
  ['U32', t(undefined, 'U32', undefined, 1, 4, 'integer', 'unsigned 32-bit integer')],
  ['U16', t(undefined, 'U16', undefined, 1, 2, 'integer', 'unsigned 16-bit integer')],
  ['U8', t(undefined, 'U8', undefined, 1, 1, 'integer', 'unsigned 8-bit integer')],
  ['BOOL', t(undefined, 'BOOL', undefined, 1, 1, 'bool', 'boolean, one byte')],
  ['F8_E4M3', t(undefined, 'F8_E4M3', undefined, 1, 1, 'fp8', 'OCP FP8 E4M3FN: bias 7, no infinities, max 448')],
  ['F8_E5M2', t(undefined, 'F8_E5M2', undefined, 1, 1, 'fp8', 'FP8 E5M2: bias 15, with infinities')],
  ['F8_E8M0', t(undefined, 'F8_E8M0', undefined, 1, 1, 'fp8', 'E8M0 power-of-two scale (MX block exponent)')],
]);

export function ggmlType(id: number): TensorType | undefined {
  return GGML_TYPES.get(id);
}

/** Look a type up by display or ggml name, case-insensitively (q4_k, Q4_K, iq2_xxs ...). */
export function typeByName(name: string): TensorType | undefined {
  const upper = name.toUpperCase();
  for (const ty of GGML_TYPES.values()) if (ty.name === upper) return ty;
  return SAFETENSORS_DTYPES.get(upper);
}

/** A placeholder for a ggml type id this table does not know: listed, never decoded. */
export function unknownGgmlType(id: number): TensorType {
  return { name: `unknown type ${id}`, ggmlId: id, blockSize: 0, bytesPerBlock: 0, bitsPerWeight: NaN, family: 'integer', description: 'not a ggml type this version of Quant Lens knows' };
}

export function isUnknownType(ty: TensorType): boolean {
  return ty.blockSize === 0;
}

/**
 * llama.cpp's `general.file_type` (enum llama_ftype) in llama.cpp's words. Missing ids were removed upstream.
 */
export const LLAMA_FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'F32'], [1, 'F16'], [2, 'Q4_0'], [3, 'Q4_1'], [7, 'Q8_0'], [8, 'Q5_0'], [9, 'Q5_1'],
  [10, 'Q2_K'], [11, 'Q3_K_S'], [12, 'Q3_K_M'], [13, 'Q3_K_L'], [14, 'Q4_K_S'], [15, 'Q4_K_M'],
  [16, 'Q5_K_S'], [17, 'Q5_K_M'], [18, 'Q6_K'], [19, 'IQ2_XXS'], [20, 'IQ2_XS'], [21, 'Q2_K_S'],
  [22, 'IQ3_XS'], [23, 'IQ3_XXS'], [24, 'IQ1_S'], [25, 'IQ4_NL'], [26, 'IQ3_S'], [27, 'IQ3_M'],
  [28, 'IQ2_S'], [29, 'IQ2_M'], [30, 'IQ4_XS'], [31, 'IQ1_M'], [32, 'BF16'], [36, 'TQ1_0'], [37, 'TQ2_0'],
  [38, 'MXFP4_MOE'],
]);
