/**
 * The format table's types. A quantized checkpoint stores one logical weight (an `nn.Linear.weight`, [out, in])
 * as several component tensors; each FormatRow declares, once, which component suffixes make up a weight, how
 * the logical shape follows from them, what they must agree on, and the decoder. Nothing outside the rows
 * knows a format's layout.
 */
import type { TensorInfo } from '../model.ts';
import type { ByteSpan, ComponentReader } from './components.ts';
import type { OutputDtype } from './numeric.ts';
import type { ValueCounts } from './codeTables.ts';
import type { QuantDetection } from './detect.ts';

export type Family =
  'gptq' | 'awq' | 'bitsandbytes' | 'fp8' | 'compressed-tensors' | 'modelopt' | 'mxfp4' | 'mlx' | 'hqq' | 'exl2' | 'exl3';

export interface ComponentSpec {
  /** Name the row's code uses for it. */
  role: string;
  /** Appended to the module prefix (`.qweight`); alternatives allowed. */
  suffix: string | string[];
  optional?: boolean;
  /**
   * Identifies the format together with the first component: without it the tensors are not this format. A
   * missing required component that is not a key makes a flagged weight ("missing scale tensor").
   */
  key?: boolean;
  /** Accepted dtypes (any when absent). */
  dtypes?: string[];
}

/** What a row's builder gets: the module, its components, a reader and the detected configuration. */
export interface BuildContext {
  /** Module prefix (`model.layers.0.self_attn.q_proj`). */
  module: string;
  /** Logical weight name. */
  name: string;
  c: Record<string, TensorInfo | undefined>;
  reader: ComponentReader;
  detection: QuantDetection;
  /** The model's compute dtype (config.json torch_dtype), for formats whose output is in it. */
  modelDtype: OutputDtype;
}

/** What a weight's headers (and tiny metadata components) tell: enough to list it. */
export interface Listing {
  shape: number[];
  bits: number;
  /** Elements sharing one scale along the input dimension (null: per channel or per tensor). */
  groupSize: number | null;
  /** `GPTQ int4 asym g128 act-order`; load() may complete it from the data (act-order, symmetry). */
  scheme: string;
  dtype: OutputDtype;
  /** Findings the headers already show (partial FP8 blocks, a missing config). */
  diagnostics: string[];
}

/** A row's builder result: the listing, checked against every header-level rule, and how to load the decoder. */
export interface Plan extends Listing {
  /** Reads the scales, zeros and indices, runs the data-level checks (throws a QuantLensError), returns the decoder. */
  load(): Kernel;
}

/** A decoder of one logical weight, built (and validated) from its components. Rows are the flattened leading dims. */
export interface Kernel extends Listing {
  rows: number;
  cols: number;
  /** What `zero` means for this format. */
  zeroKind?: 'zero-point' | 'bias';
  groupsPerRow: number;
  /** The input columns of group g of row r (ascending). */
  groupColumns(r: number, g: number): number[];
  scale(r: number, g: number): number;
  zero?(r: number, g: number): number;
  /** The stored code of element (r, k) and where its bits live. */
  code(r: number, k: number): number;
  codeSpans(r: number, k: number): ByteSpan[];
  /** Where group g of row r's scale (and zero / nested scale) are stored. */
  paramSpans(r: number, g: number): ByteSpan[];
  /** Dequantize rows [r0, r1) into out (length ≥ (r1 - r0) · cols), bit-exact to the reference. */
  decodeRows(r0: number, r1: number, out: Float32Array): void;
  /**
   * Where the kernel can (a float16 or bfloat16 output, the WebAssembly kernels on): add the 16-bit patterns of
   * rows [r0, r1)'s values to counts (65536 entries) without storing them, and return true.
   */
  countPatterns?(r0: number, r1: number, counts: Float64Array): boolean;
  /**
   * The same for the whole weight, reading its words in their stored order where that is not row order (GPTQ,
   * AWQ GEMM); onValues(n) as it goes, checkCancelled() throws when the scan is cancelled.
   */
  countAllPatterns?(counts: Float64Array, onValues?: (n: number) => void, checkCancelled?: () => void): boolean;
  /**
   * Where the kernel can (a float32 output of few values per row, the WebAssembly kernels on): append every
   * distinct value x of rows [r0, r1) with its count to `out`, row by row, and return true. Values that compare
   * equal but differ (+0 and −0) come in their row order, so the first of equal extremes is the decoded stream's.
   */
  countValues?(r0: number, r1: number, out: ValueCounts): boolean;
}

/** A plan whose load() runs `load` (the kernel's listing fields are the plan's unless load refines them). */
export function plan(listing: Listing, load: () => Kernel): Plan {
  return { ...listing, load };
}

/** Shape, bits and label of a weight this version lists but cannot decode (EXL2, EXL3, marlin-24). */
export interface Description {
  shape: number[];
  bits: number;
  scheme: string;
}

export interface FormatRow {
  id: string;
  family: Family;
  /** Other families whose configs use this layout (compressed-tensors and ModelOpt write plain FP8 too). */
  alsoIn?: Family[];
  /** Display name of the format (`GPTQ`, `AWQ GEMM`, `bitsandbytes 4-bit`). */
  label: string;
  components: ComponentSpec[];
  /** Logical weight name from the module prefix; `<module>.weight` by default. */
  logicalName?(module: string): string;
  /** Disambiguates rows that share a main suffix, from the components found (shapes, dtypes) and the config. */
  accepts?(c: Record<string, TensorInfo | undefined>, detection: QuantDetection): boolean;
  /** Header-level checks and the listing (only tiny metadata components read); throws a QuantLensError. */
  build?(ctx: BuildContext): Plan;
  /** For rows without a decoder: why, and what can be said without decoding. */
  notDecodable?: { reason: string; describe(ctx: BuildContext): Description };
}

export function suffixes(spec: ComponentSpec): string[] {
  return typeof spec.suffix === 'string' ? [spec.suffix] : spec.suffix;
}
