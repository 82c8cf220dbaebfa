/**
 * The one table of tensor element types: every ggml type (ids as in ggml.h at the corpus commit) and every
 * safetensors dtype, as ggml's `enum ggml_type` + `type_traits`. Each row holds the block's fields in order (the
 * block struct of ggml-common.h), its family and what Quant Lens can do with it; everything else looks block sizes,
 * layouts and capabilities up here (the AssemblyScript layout constants are generated from it by
 * scripts/build-wasm.mjs, see scripts/wasmLayout.ts).
 */

/** ggml's `enum ggml_type`. Removed ids (4, 5, 31-33, 36-38) are absent. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

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

/** How a field's elements are stored (little-endian). */
export type FieldKind =
  'f16' | 'bf16' | 'f32' | 'f64' | 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'e8m0' | 'e4m3' | 'e5m2' | 'bool';

const KIND_BYTES: Record<FieldKind, number> = {
  f16: 2,
  bf16: 2,
  f32: 4,
  f64: 8,
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
  i64: 8,
  e8m0: 1,
  e4m3: 1,
  e5m2: 1,
  bool: 1,
};

/** One field of a block: `count` elements of `kind` at byte `offset`. */
export interface BlockFieldLayout {
  readonly name: string;
  readonly kind: FieldKind;
  readonly offset: number;
  readonly count: number;
  /** count × the kind's size */
  readonly size: number;
}

/** What Quant Lens can do with a type. */
export interface TypeCapabilities {
  /** It can be written (src/core/quant/quantizers.ts has a quantizer equal to ggml_quantize_chunk). */
  readonly quantizer: boolean;
  /** ggml refuses to quantize it without an importance matrix. */
  readonly requiresImatrix: boolean;
  /** dequantize runs in WebAssembly (dist/kernels.wasm). */
  readonly wasmDecode: boolean;
  /** The quantizer runs in WebAssembly (dist/quantizers.wasm) and only there. */
  readonly wasmQuantize: boolean;
  /**
   * Exact statistics fused with the decode in WebAssembly: 'decoded' scans the decoded weights, 'codes' counts
   * the codes of each sub-block in pass 2 (the 4-bit types).
   */
  readonly wasmFusedScan: false | 'decoded' | 'codes';
}

export interface TensorType {
  /** Display name as llama.cpp prints it: F32, Q4_K, IQ2_XXS, BF16, F8_E4M3 ... */
  name: string;
  /** ggml's own (lower-case) name, as in ggml_type_name(): f32, q4_K, iq2_xxs. Absent for safetensors-only dtypes. */
  ggmlName?: string;
  /** ggml type id (a GgmlType), absent for safetensors-only dtypes. */
  ggmlId?: GgmlType;
  /** Weights per block and bytes per block (1 and the element size for plain types). */
  blockSize: number;
  bytesPerBlock: number;
  bitsPerWeight: number;
  family: TypeFamily;
  description: string;
  /** The block's fields in order; they tile the block (test/unit/typeTable.test.ts). Empty for unknown types. */
  fields: readonly BlockFieldLayout[];
  /** Byte offset of each field by name. */
  at: Readonly<Record<string, number>>;
  caps: TypeCapabilities;
}

type Cap = 'quantizer' | 'imatrix' | 'wasmDecode' | 'wasmQuantize' | 'fusedDecoded' | 'fusedCodes';

/** Fields written as a C struct: "d:f16 dmin:f16 scales:u8[12] qs:u8[128]"; offsets follow in order. */
function struct(decl: string): BlockFieldLayout[] {
  const fields: BlockFieldLayout[] = [];
  let offset = 0;
  for (const part of decl.split(' ')) {
    const m = /^(\w+):(\w+)(?:\[(\d+)\])?$/.exec(part);
    if (!m || !(m[2] in KIND_BYTES)) throw new Error(`bad field ${part}`);
    const kind = m[2] as FieldKind;
    const count = m[3] ? Number(m[3]) : 1;
    const size = count * KIND_BYTES[kind];
    fields.push({ name: m[1], kind, offset, count, size });
    offset += size;
  }
  return fields;
}

function row(
  ggmlId: GgmlType | undefined,
  name: string,
  blockSize: number,
  bytesPerBlock: number,
  family: TypeFamily,
  layout: string,
  caps: Cap[],
  description: string,
): TensorType {
  const fields = struct(layout);
  return {
    name,
    ggmlName: ggmlId === undefined ? undefined : (GGML_NAMES[name] ?? name.toLowerCase()),
    ggmlId,
    blockSize,
    bytesPerBlock,
    bitsPerWeight: (8 * bytesPerBlock) / blockSize,
    family,
    description,
    fields,
    at: Object.fromEntries(fields.map((f) => [f.name, f.offset])),
    caps: {
      quantizer: caps.includes('quantizer') || caps.includes('wasmQuantize'),
      requiresImatrix: caps.includes('imatrix'),
      wasmDecode: caps.includes('wasmDecode'),
      wasmQuantize: caps.includes('wasmQuantize'),
      wasmFusedScan: caps.includes('fusedCodes') ? 'codes' : caps.includes('fusedDecoded') ? 'decoded' : false,
    },
  };
}

/** ggml's names where they are not the display name in lower case (the K-quants keep an upper-case K). */
const GGML_NAMES: Record<string, string> = { Q2_K: 'q2_K', Q3_K: 'q3_K', Q4_K: 'q4_K', Q5_K: 'q5_K', Q6_K: 'q6_K', Q8_K: 'q8_K' };

const T = GgmlType;
const Q: Cap = 'quantizer';
const WD: Cap = 'wasmDecode';
const WQ: Cap = 'wasmQuantize';

/** ggml types by id: the trait table. */
export const GGML_TYPES: ReadonlyMap<GgmlType, TensorType> = new Map(
  [
    row(T.F32, 'F32', 1, 4, 'float', 'value:f32', [Q], 'IEEE binary32'),
    row(T.F16, 'F16', 1, 2, 'float', 'value:f16', [WQ, WD], 'IEEE binary16'),
    row(T.Q4_0, 'Q4_0', 32, 18, 'legacy', 'd:f16 qs:u8[16]', [WQ, WD], '4-bit, blocks of 32, symmetric: w = d * (q - 8)'),
    row(T.Q4_1, 'Q4_1', 32, 20, 'legacy', 'd:f16 m:f16 qs:u8[16]', [WQ, WD], '4-bit, blocks of 32, asymmetric: w = d * q + m'),
    row(T.Q5_0, 'Q5_0', 32, 22, 'legacy', 'd:f16 qh:u8[4] qs:u8[16]', [WQ, WD], '5-bit, blocks of 32, symmetric: w = d * (q - 16)'),
    row(T.Q5_1, 'Q5_1', 32, 24, 'legacy', 'd:f16 m:f16 qh:u8[4] qs:u8[16]', [WQ, WD], '5-bit, blocks of 32, asymmetric: w = d * q + m'),
    row(T.Q8_0, 'Q8_0', 32, 34, 'legacy', 'd:f16 qs:i8[32]', [WQ, WD, 'fusedDecoded'], '8-bit, blocks of 32, symmetric: w = d * q'),
    row(T.Q8_1, 'Q8_1', 32, 36, 'legacy', 'd:f16 s:f16 qs:i8[32]', [], '8-bit activations format with block sum (no to_float in ggml)'),
    row(
      T.Q2_K,
      'Q2_K',
      256,
      84,
      'k-quant',
      'scales:u8[16] qs:u8[64] d:f16 dmin:f16',
      [WQ, WD],
      '2-bit super-blocks of 256: 16 sub-blocks with 4-bit scales and mins',
    ),
    row(
      T.Q3_K,
      'Q3_K',
      256,
      110,
      'k-quant',
      'hmask:u8[32] qs:u8[64] scales:u8[12] d:f16',
      [WQ, WD],
      '3-bit super-blocks of 256: 16 sub-blocks with 6-bit scales, symmetric',
    ),
    row(
      T.Q4_K,
      'Q4_K',
      256,
      144,
      'k-quant',
      'd:f16 dmin:f16 scales:u8[12] qs:u8[128]',
      [WQ, WD, 'fusedCodes'],
      '4-bit super-blocks of 256: 8 sub-blocks with 6-bit scales and mins',
    ),
    row(
      T.Q5_K,
      'Q5_K',
      256,
      176,
      'k-quant',
      'd:f16 dmin:f16 scales:u8[12] qh:u8[32] qs:u8[128]',
      [WQ, WD],
      '5-bit super-blocks of 256: 8 sub-blocks with 6-bit scales and mins',
    ),
    row(
      T.Q6_K,
      'Q6_K',
      256,
      210,
      'k-quant',
      'ql:u8[128] qh:u8[64] scales:i8[16] d:f16',
      [WQ, WD, 'fusedDecoded'],
      '6-bit super-blocks of 256: 16 sub-blocks with 8-bit scales, symmetric',
    ),
    row(
      T.Q8_K,
      'Q8_K',
      256,
      292,
      'k-quant',
      'd:f32 qs:i8[256] bsums:i16[16]',
      [],
      '8-bit super-blocks of 256 with float scale (intermediate format)',
    ),
    row(
      T.IQ2_XXS,
      'IQ2_XXS',
      256,
      66,
      'i-quant',
      'd:f16 qs:u16[32]',
      [WQ, 'imatrix'],
      '2.06 bpw: E8 lattice grid of 256 points, signs in groups of 8',
    ),
    row(
      T.IQ2_XS,
      'IQ2_XS',
      256,
      74,
      'i-quant',
      'd:f16 qs:u16[32] scales:u8[8]',
      [WQ, 'imatrix'],
      '2.31 bpw: 512-point grid with 4-bit sub-block scales',
    ),
    row(
      T.IQ3_XXS,
      'IQ3_XXS',
      256,
      98,
      'i-quant',
      'd:f16 qs:u8[64] scales_and_signs:u8[32]',
      [WQ],
      '3.06 bpw: 256-point grid of 4-tuples, signs in groups of 8',
    ),
    row(
      T.IQ1_S,
      'IQ1_S',
      256,
      50,
      'i-quant',
      'd:f16 qs:u8[32] qh:u16[8]',
      [WQ, 'imatrix'],
      '1.56 bpw: 2048-point ternary grid with sub-block scale and shift',
    ),
    row(T.IQ4_NL, 'IQ4_NL', 32, 18, 'i-quant', 'd:f16 qs:u8[16]', [WQ, WD], '4-bit non-linear levels, blocks of 32'),
    row(
      T.IQ3_S,
      'IQ3_S',
      256,
      110,
      'i-quant',
      'd:f16 qs:u8[64] qh:u8[8] signs:u8[32] scales:u8[4]',
      [WQ],
      '3.44 bpw: 512-point grid with explicit signs and 4-bit scales',
    ),
    row(
      T.IQ2_S,
      'IQ2_S',
      256,
      82,
      'i-quant',
      'd:f16 qs:u8[32] signs:u8[32] qh:u8[8] scales:u8[8]',
      [WQ],
      '2.56 bpw: 1024-point grid with explicit signs',
    ),
    row(
      T.IQ4_XS,
      'IQ4_XS',
      256,
      136,
      'i-quant',
      'd:f16 scales_h:u16 scales_l:u8[4] qs:u8[128]',
      [WQ, WD, 'fusedCodes'],
      '4.25 bpw: non-linear levels with 6-bit sub-block scales',
    ),
    row(T.I8, 'I8', 1, 1, 'integer', 'value:i8', [], 'signed 8-bit integer'),
    row(T.I16, 'I16', 1, 2, 'integer', 'value:i16', [], 'signed 16-bit integer'),
    row(T.I32, 'I32', 1, 4, 'integer', 'value:i32', [], 'signed 32-bit integer'),
    row(T.I64, 'I64', 1, 8, 'integer', 'value:i64', [], 'signed 64-bit integer'),
    row(T.F64, 'F64', 1, 8, 'float', 'value:f64', [], 'IEEE binary64'),
    row(
      T.IQ1_M,
      'IQ1_M',
      256,
      56,
      'i-quant',
      'qs:u8[32] qh:u8[16] scales:u8[8]',
      [WQ],
      '1.75 bpw: ternary grid with per-group shifts and 3-bit scales',
    ),
    row(T.BF16, 'BF16', 1, 2, 'float', 'value:bf16', [WQ, WD], 'bfloat16 (upper half of binary32)'),
    row(T.TQ1_0, 'TQ1_0', 256, 54, 'ternary', 'qs:u8[48] qh:u8[4] d:f16', [WQ], '1.69 bpw ternary {-1,0,1} packed 5 per byte (base 3)'),
    row(T.TQ2_0, 'TQ2_0', 256, 66, 'ternary', 'qs:u8[64] d:f16', [WQ], '2.06 bpw ternary {-1,0,1} in 2-bit codes'),
    row(T.MXFP4, 'MXFP4', 32, 17, 'fp4', 'e:e8m0 qs:u8[16]', [WQ], 'OCP MX FP4 (E2M1) with a shared E8M0 exponent per 32'),
    row(T.NVFP4, 'NVFP4', 64, 36, 'fp4', 'd:e4m3[4] qs:u8[32]', [WQ], 'FP4 (E2M1) with an E4M3 scale per 16 weights'),
    row(T.Q1_0, 'Q1_0', 128, 18, 'binary', 'd:f16 qs:u8[16]', [WQ], '1-bit signs times one scale per 128'),
    row(T.Q2_0, 'Q2_0', 64, 18, 'binary', 'd:f16 qs:u8[16]', [WQ], '2-bit codes times one scale per 64'),
  ].map((x) => [x.ggmlId!, x]),
);

/** The row of a ggml type known to be in the table. */
export function traits(id: GgmlType): TensorType {
  return GGML_TYPES.get(id)!;
}

/** safetensors dtypes by their header name. Types shared with ggml reuse the ggml entry. */
export const SAFETENSORS_DTYPES: ReadonlyMap<string, TensorType> = new Map([
  ['F64', traits(T.F64)],
  ['F32', traits(T.F32)],
  ['F16', traits(T.F16)],
  ['BF16', traits(T.BF16)],
  ['I64', traits(T.I64)],
  ['I32', traits(T.I32)],
  ['I16', traits(T.I16)],
  ['I8', traits(T.I8)],
  ['U64', row(undefined, 'U64', 1, 8, 'integer', 'value:u64', [], 'unsigned 64-bit integer')],
  ['U32', row(undefined, 'U32', 1, 4, 'integer', 'value:u32', [], 'unsigned 32-bit integer')],
  ['U16', row(undefined, 'U16', 1, 2, 'integer', 'value:u16', [], 'unsigned 16-bit integer')],
  ['U8', row(undefined, 'U8', 1, 1, 'integer', 'value:u8', [], 'unsigned 8-bit integer')],
  ['BOOL', row(undefined, 'BOOL', 1, 1, 'bool', 'value:bool', [], 'boolean, one byte')],
  ['F8_E4M3', row(undefined, 'F8_E4M3', 1, 1, 'fp8', 'value:e4m3', [], 'OCP FP8 E4M3FN: bias 7, no infinities, max 448')],
  ['F8_E5M2', row(undefined, 'F8_E5M2', 1, 1, 'fp8', 'value:e5m2', [], 'FP8 E5M2: bias 15, with infinities')],
  ['F8_E8M0', row(undefined, 'F8_E8M0', 1, 1, 'fp8', 'value:e8m0', [], 'E8M0 power-of-two scale (MX block exponent)')],
  [
    'F8_E4M3FNUZ',
    row(undefined, 'F8_E4M3FNUZ', 1, 1, 'fp8', 'value:u8', [], 'FP8 E4M3FNUZ: bias 8, no infinities, no -0 (0x80 is NaN), max 240'),
  ],
  [
    'F8_E5M2FNUZ',
    row(undefined, 'F8_E5M2FNUZ', 1, 1, 'fp8', 'value:u8', [], 'FP8 E5M2FNUZ: bias 16, no infinities, no -0 (0x80 is NaN), max 57344'),
  ],
  // sub-byte dtypes: the header's shape counts elements; a tensor must end on a byte boundary (the reference's rule)
  ['F4', row(undefined, 'F4', 2, 1, 'fp4', 'codes:u8', [], 'OCP MX FP4 E2M1 elements, two per byte, low nibble first; max 6')],
  [
    'F6_E2M3',
    row(undefined, 'F6_E2M3', 4, 3, 'fp8', 'codes:u8[3]', [], 'OCP MX FP6 E2M3 elements, four per 3 bytes, lowest bits first; max 7.5'),
  ],
  [
    'F6_E3M2',
    row(undefined, 'F6_E3M2', 4, 3, 'fp8', 'codes:u8[3]', [], 'OCP MX FP6 E3M2 elements, four per 3 bytes, lowest bits first; max 28'),
  ],
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

/** ggml types whose rows have a capability, by id. */
export function typesWith(cap: keyof TypeCapabilities): GgmlType[] {
  return [...GGML_TYPES.values()].filter((t) => t.caps[cap]).map((t) => t.ggmlId!);
}

/** ggml refuses to quantize this type without an importance matrix (readable without loading any quantizer). */
export function requiresImatrix(ty: TensorType): boolean {
  return ty.caps.requiresImatrix;
}

/** The types Quant Lens can write, by id. */
export function writableTypes(): TensorType[] {
  return [...GGML_TYPES.values()].filter((t) => t.caps.quantizer);
}

const NO_CAPS: TypeCapabilities = {
  quantizer: false,
  requiresImatrix: false,
  wasmDecode: false,
  wasmQuantize: false,
  wasmFusedScan: false,
};

/** A placeholder for a ggml type id this table does not know: listed, never decoded. */
export function unknownGgmlType(id: number): TensorType {
  return {
    name: `unknown type ${id}`,
    ggmlId: id,
    blockSize: 0,
    bytesPerBlock: 0,
    bitsPerWeight: NaN,
    family: 'integer',
    description: 'not a ggml type this version of Quant Lens knows',
    fields: [],
    at: {},
    caps: NO_CAPS,
  };
}

export function isUnknownType(ty: TensorType): boolean {
  return ty.blockSize === 0;
}

/**
 * llama.cpp's `general.file_type` (enum llama_ftype) in llama.cpp's words. Missing ids were removed upstream.
 */
export const LLAMA_FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'F32'],
  [1, 'F16'],
  [2, 'Q4_0'],
  [3, 'Q4_1'],
  [7, 'Q8_0'],
  [8, 'Q5_0'],
  [9, 'Q5_1'],
  [10, 'Q2_K'],
  [11, 'Q3_K_S'],
  [12, 'Q3_K_M'],
  [13, 'Q3_K_L'],
  [14, 'Q4_K_S'],
  [15, 'Q4_K_M'],
  [16, 'Q5_K_S'],
  [17, 'Q5_K_M'],
  [18, 'Q6_K'],
  [19, 'IQ2_XXS'],
  [20, 'IQ2_XS'],
  [21, 'Q2_K_S'],
  [22, 'IQ3_XS'],
  [23, 'IQ3_XXS'],
  [24, 'IQ1_S'],
  [25, 'IQ4_NL'],
  [26, 'IQ3_S'],
  [27, 'IQ3_M'],
  [28, 'IQ2_S'],
  [29, 'IQ2_M'],
  [30, 'IQ4_XS'],
  [31, 'IQ1_M'],
  [32, 'BF16'],
  [36, 'TQ1_0'],
  [37, 'TQ2_0'],
  [38, 'MXFP4_MOE'],
]);

/** `general.file_type` in llama.cpp's words (`Q4_K_M`), or "file type N" for an id it does not define. */
export function llamaFileTypeName(id: number): string {
  return LLAMA_FILE_TYPES.get(id) ?? `file type ${id}`;
}
