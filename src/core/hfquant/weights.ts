/**
 * Logical weights: a model's tensors grouped by the format table into weights made of component tensors (which
 * may sit in different shards), plus the remaining plain tensors. A weight whose components are inconsistent
 * carries its QuantLensError and is not decoded; the others are unaffected.
 */
import { QuantLensError } from '../errors.ts';
import type { Model, TensorInfo } from '../model.ts';
import { ComponentReader, type ByteSpan } from './components.ts';
import { unknownMethodError, type QuantDetection } from './detect.ts';
import { FORMAT_TABLE } from './formatTable.ts';
import type { OutputDtype } from './numeric.ts';
import { ValueCounts } from './codeTables.ts';
import { suffixes, type BuildContext, type FormatRow, type Kernel, type Plan } from './table.ts';

/** Rows decoded per call when a whole weight is decoded or scanned: bounded memory for any weight size. */
export const ROWS_PER_CHUNK_TARGET_ELEMENTS = 1 << 20;

export interface GroupScales {
  rows: number;
  groupsPerRow: number;
  /** scale of (row r, group g) at r·groupsPerRow + g (NaN for a group a row does not have). */
  scales: Float64Array;
  /** zero point (or MLX bias, see zeroKind) at the same index, when the format has one. */
  zeros?: Float64Array;
  zeroKind?: 'zero-point' | 'bias';
}

/** Group g of row r next to the bytes it comes from. */
export interface GroupRecord {
  weight: string;
  row: number;
  group: number;
  scale: number;
  zero?: number;
  zeroKind?: 'zero-point' | 'bias';
  /** Input columns of the group, their stored codes and dequantized values. */
  columns: number[];
  codes: number[];
  values: number[];
  /** Where the codes, scale and zero live (absolute file offsets) with the raw bytes. */
  sources: (ByteSpan & { bytes: Uint8Array })[];
}

export interface LogicalWeight {
  /** `model.layers.0.self_attn.q_proj.weight` (gpt-oss experts: `...experts.gate_up_proj`). */
  name: string;
  module: string;
  format: { id: string; label: string; family: string };
  /** `GPTQ int4 asym g128 act-order`. */
  scheme: string;
  /** Logical shape, [out, in] (or [experts, out, in]); empty when unknown. */
  shape: number[];
  nElements: number;
  /** The dtype the reference dequantizes to. */
  dtype?: OutputDtype;
  bits: number;
  groupSize: number | null;
  /** Bits per weight counting every component (codes, scales, zeros, indices). */
  bitsPerWeight: number;
  /** Bytes of all components. */
  bytes: number;
  components: TensorInfo[];
  /** Role of each component, in the same order (qweight, qzeros, scales, g_idx ...). */
  roles: string[];
  /**
   * Whether it decodes. A listed weight has passed every check its headers allow; `load()` reads its scales, zeros
   * and indices and runs the data-level checks (g_idx range) and diagnostics, which can still flag it.
   */
  decodable: boolean;
  /** Why it is not decoded: a bad component, an unknown method, or a format without a decoder here. */
  error?: QuantLensError;
  /** Data-level findings (v1 zero overflow, act-order, negative MLX scales); complete once loaded. */
  diagnostics: string[];
  /** Whether the data-level checks have run (load() or any decode did). */
  loaded: boolean;
  /** Reads the weight's scales, zeros and indices, runs the data-level checks; returns the error, if any. */
  load(): QuantLensError | undefined;
  /** Rows of the flattened leading dimensions, each `cols` long. */
  rows: number;
  cols: number;
  /** Rows [r0, r1) as float32, row-major (into `out` when given). Throws the weight's error when not decodable. */
  decodeRows(r0: number, r1: number, out?: Float32Array): Float32Array;
  decode(): Float32Array;
  /** Calls `onChunk(values, firstRow)` for bounded chunks of rows, reusing one buffer. */
  forEachChunk(onChunk: (values: Float32Array, firstRow: number) => void, rowsPerChunk?: number, isCancelled?: () => boolean): void;
  /**
   * Counts the 16-bit patterns of every value (float16 and bfloat16 outputs of the integer-code formats, with the
   * WebAssembly kernels on), in bounded chunks of rows, calling onRows(rowsDone) after each; null where the
   * kernel cannot, and the values must be decoded.
   */
  countPatterns(rowsPerChunk?: number, onRows?: (rows: number) => void, isCancelled?: () => boolean): Float64Array | null;
  /**
   * Calls onPairs with the distinct values of each chunk of rows and their counts (LLM.int8's float32 rows of at
   * most 256 values), rows in order, one reused list, then onRows(rowsDone); false (before any call) where the
   * kernel cannot, and the values must be decoded.
   */
  countValues(
    onPairs: (pairs: ValueCounts) => void,
    rowsPerChunk?: number,
    onRows?: (rows: number) => void,
    isCancelled?: () => boolean,
  ): boolean;
  groupScales(): GroupScales;
  inspectGroup(row: number, group: number): GroupRecord;
}

export interface GroupedModel {
  weights: LogicalWeight[];
  /** Tensors that belong to no logical weight, shown as they are. */
  plain: TensorInfo[];
}

/** How many weights keep their loaded scales and zeros at once (the others reload when used again). */
export const LOADED_KERNELS = 8;

function matchesDtype(t: TensorInfo | undefined, dtypes?: string[]): boolean {
  return !!t && (!dtypes || dtypes.includes(t.dtype ?? ''));
}

/** The family's rows when the config names one, else every row. */
function candidateRows(d: QuantDetection): readonly FormatRow[] {
  if (d.family) return FORMAT_TABLE.filter((r) => r.family === d.family || r.alsoIn?.includes(d.family!));
  return FORMAT_TABLE;
}

/** Loaded kernels, least recently used first; unloading drops a kernel's tables, not the weight. */
class KernelCache {
  private readonly order: { unload(): void }[] = [];
  touch(entry: { unload(): void }): void {
    const i = this.order.indexOf(entry);
    if (i >= 0) this.order.splice(i, 1);
    this.order.push(entry);
    while (this.order.length > LOADED_KERNELS) this.order.shift()!.unload();
  }
}

/** Groups a model's tensors into logical weights by the format table; only small metadata components are read. */
export function groupWeights(model: Model, detection: QuantDetection): GroupedModel {
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  const position = new Map(model.tensors.map((t, i) => [t.name, i]));
  const claimed = new Set<string>();
  const weights: LogicalWeight[] = [];
  const names = [...byName.keys()].sort();
  const cache = new KernelCache();
  for (const row of candidateRows(detection)) {
    const [main, ...rest] = row.components;
    for (const mainSuffix of suffixes(main)) {
      for (const name of names) {
        if (claimed.has(name) || !name.endsWith(mainSuffix)) continue;
        const t = byName.get(name)!;
        if (!matchesDtype(t, main.dtypes)) continue;
        const module = name.slice(0, name.length - mainSuffix.length);
        const c: Record<string, TensorInfo | undefined> = { [main.role]: t };
        let keyMissing = false;
        for (const spec of rest) {
          const found = suffixes(spec)
            .map((s) => byName.get(module + s))
            .find((x) => x && !claimed.has(x.name));
          if (found && matchesDtype(found, spec.dtypes)) c[spec.role] = found;
          else if (spec.key) keyMissing = true;
        }
        if (keyMissing) continue;
        if (row.accepts && !row.accepts(c, detection)) continue;
        const ordered = row.components.map((s) => c[s.role]).filter((x): x is TensorInfo => !!x);
        for (const x of ordered) claimed.add(x.name);
        weights.push(makeWeight(row, module, c, model, detection, cache));
      }
    }
  }
  const plain = model.tensors.filter((t) => !claimed.has(t.name));
  weights.sort((a, b) => position.get(a.components[0].name)! - position.get(b.components[0].name)!);
  return { weights, plain };
}

/** Runs a row's builder; a QuantLensError it throws is the weight's error. */
function tryPlan(
  row: FormatRow,
  ctx: BuildContext,
): { plan?: Plan; error?: QuantLensError; described?: { shape: number[]; bits: number; scheme: string } } {
  const { name, module, c, detection } = ctx;
  let described: { shape: number[]; bits: number; scheme: string } | undefined;
  try {
    if (detection.unknownMethod) throw unknownMethodError(name, detection, row.label);
    if (detection.unsupportedMethod)
      throw new QuantLensError(
        'not-decodable',
        `${name}: quant_method ${detection.unsupportedMethod} has no decoder in this version (tensors look like ${row.label})`,
      );
    for (const spec of row.components)
      if (!spec.optional && !c[spec.role])
        throw new QuantLensError(
          'bad-tensor',
          `${name}: missing component ${spec.role} (${module}${suffixes(spec).join(' or ' + module)})`,
        );
    if (row.build) return { plan: row.build(ctx) };
    try {
      described = row.notDecodable!.describe(ctx);
    } catch {
      // a label is enough
    }
    throw new QuantLensError('not-decodable', `${name}: ${row.label} is detected but not decodable here: ${row.notDecodable!.reason}`);
  } catch (e) {
    if (!(e instanceof QuantLensError)) throw e;
    return { error: e, described };
  }
}

function makeWeight(
  row: FormatRow,
  module: string,
  c: Record<string, TensorInfo | undefined>,
  model: Model,
  detection: QuantDetection,
  cache: KernelCache,
): LogicalWeight {
  const name = row.logicalName ? row.logicalName(module) : `${module}.weight`;
  const roles = row.components.filter((s) => c[s.role]).map((s) => s.role);
  const components = roles.map((r) => c[r]!);
  const reader = new ComponentReader(model);
  // Listed from the headers and the tiny metadata components only; load() reads the rest.
  const listed = tryPlan(row, { module, name, c, reader, detection, modelDtype: detection.modelDtype });
  const info = listed.plan ?? listed.described;
  const bytes = components.reduce((a, t) => a + t.nbytes, 0);
  const shape = info?.shape ?? [];
  const nElements = shape.length && shape.every(Number.isFinite) ? shape.reduce((a, b) => a * b, 1) : 0;
  const cols = listed.plan ? shape[shape.length - 1] : 0;
  let kernel: Kernel | undefined;
  const entry = {
    unload() {
      kernel = undefined;
    },
  };
  const w: LogicalWeight = {
    name,
    module,
    format: { id: row.id, label: row.label, family: row.family },
    scheme: info?.scheme ?? row.label,
    shape,
    nElements,
    dtype: listed.plan?.dtype,
    bits: info?.bits ?? NaN,
    groupSize: listed.plan?.groupSize ?? null,
    bitsPerWeight: nElements ? (bytes * 8) / nElements : NaN,
    bytes,
    components,
    roles,
    decodable: !!listed.plan,
    error: listed.error,
    // the config files' disagreements and the header-level ones; load() completes them
    diagnostics: [...detection.disagreements, ...(listed.plan?.diagnostics ?? [])],
    loaded: !listed.plan,
    rows: cols ? nElements / cols : 0,
    cols,
    load() {
      if (!w.decodable) return w.error;
      if (!kernel) {
        try {
          kernel = listed.plan!.load();
        } catch (e) {
          if (!(e instanceof QuantLensError)) throw e;
          w.error = e;
          w.decodable = false;
          w.loaded = true;
          return e;
        }
        w.scheme = kernel.scheme;
        w.diagnostics.splice(0, w.diagnostics.length, ...detection.disagreements, ...kernel.diagnostics);
        w.loaded = true;
      }
      cache.touch(entry);
      return undefined;
    },
    decodeRows(r0, r1, out) {
      const kk = k();
      if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= kk.rows))
        throw new QuantLensError('usage', `${name}: row range [${r0}, ${r1}) is outside [0, ${kk.rows})`);
      const dst = out ?? new Float32Array((r1 - r0) * kk.cols);
      if (dst.length < (r1 - r0) * kk.cols)
        throw new QuantLensError('usage', `${name}: output holds ${dst.length} values, rows [${r0}, ${r1}) need ${(r1 - r0) * kk.cols}`);
      if (r1 > r0) kk.decodeRows(r0, r1, dst);
      return dst;
    },
    decode: () => w.decodeRows(0, k().rows),
    countPatterns(rowsPerChunk, onRows, isCancelled) {
      const kk = k();
      if (!kk.countPatterns) return null;
      const counts = new Float64Array(65536);
      const checkCancelled = () => {
        if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while decoding ${name}`);
      };
      if (kk.countAllPatterns?.(counts, (n) => onRows?.(n / kk.cols), checkCancelled)) return counts;
      // counting keeps no values: chunks of 4 M codes
      const step = Math.max(1, rowsPerChunk ?? Math.floor((4 * ROWS_PER_CHUNK_TARGET_ELEMENTS) / Math.max(1, kk.cols)));
      for (let r = 0; r < kk.rows; r += step) {
        if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while decoding ${name}`);
        const r1 = Math.min(kk.rows, r + step);
        if (!kk.countPatterns(r, r1, counts)) return null;
        onRows?.(r1 - r);
      }
      return counts;
    },
    countValues(onPairs, rowsPerChunk, onRows, isCancelled) {
      const kk = k();
      if (!kk.countValues) return false;
      const pairs = new ValueCounts();
      const step = Math.max(1, rowsPerChunk ?? Math.floor((4 * ROWS_PER_CHUNK_TARGET_ELEMENTS) / Math.max(1, kk.cols)));
      for (let r = 0; r < kk.rows; r += step) {
        if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while decoding ${name}`);
        const r1 = Math.min(kk.rows, r + step);
        pairs.clear();
        if (!kk.countValues(r, r1, pairs)) {
          if (r === 0) return false;
          throw new QuantLensError('wasm', `${name}: rows from ${r} could not be counted (the kernels went off mid-scan)`);
        }
        onPairs(pairs);
        onRows?.(r1 - r);
      }
      return true;
    },
    forEachChunk(onChunk, rowsPerChunk, isCancelled) {
      const kk = k();
      const step = Math.max(1, rowsPerChunk ?? Math.floor(ROWS_PER_CHUNK_TARGET_ELEMENTS / Math.max(1, kk.cols)));
      const buf = new Float32Array(Math.min(step, kk.rows) * kk.cols);
      for (let r = 0; r < kk.rows; r += step) {
        if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while decoding ${name}`);
        const r1 = Math.min(kk.rows, r + step);
        kk.decodeRows(r, r1, buf);
        onChunk(buf.subarray(0, (r1 - r) * kk.cols), r);
      }
    },
    groupScales() {
      const kk = k();
      const G = kk.groupsPerRow;
      const scales = new Float64Array(kk.rows * G);
      const zeros = kk.zero ? new Float64Array(kk.rows * G) : undefined;
      for (let r = 0; r < kk.rows; r++) {
        for (let g = 0; g < G; g++) {
          scales[r * G + g] = kk.scale(r, g);
          if (zeros) zeros[r * G + g] = kk.zero!(r, g);
        }
      }
      return { rows: kk.rows, groupsPerRow: G, scales, zeros, zeroKind: kk.zero ? (kk.zeroKind ?? 'zero-point') : undefined };
    },
    inspectGroup(r, g) {
      const kk = k();
      if (!(Number.isInteger(r) && r >= 0 && r < kk.rows && Number.isInteger(g) && g >= 0 && g < kk.groupsPerRow))
        throw new QuantLensError('usage', `${name}: no group ${g} in row ${r} (${kk.rows} rows of ${kk.groupsPerRow} groups)`);
      const columns = kk.groupColumns(r, g);
      const rowValues = w.decodeRows(r, r + 1);
      const spans: ByteSpan[] = [];
      const seen = new Set<string>();
      const add = (s: ByteSpan) => {
        const key = `${s.file}:${s.offset}:${s.length}`;
        if (!seen.has(key)) {
          seen.add(key);
          spans.push(s);
        }
      };
      for (const col of columns) for (const s of kk.codeSpans(r, col)) add(s);
      for (const s of kk.paramSpans(r, g)) add(s);
      return {
        weight: name,
        row: r,
        group: g,
        scale: kk.scale(r, g),
        zero: kk.zero?.(r, g),
        zeroKind: kk.zero ? (kk.zeroKind ?? 'zero-point') : undefined,
        columns,
        codes: columns.map((col) => kk.code(r, col)),
        values: columns.map((col) => rowValues[col]),
        sources: spans.map((s) => ({ ...s, bytes: reader.bytesOf(s) })),
      };
    },
  };
  /** The loaded kernel, loading it when needed; throws the weight's error when it does not decode. */
  function k(): Kernel {
    const err = w.load();
    if (err) throw err;
    return kernel!;
  }
  return w;
}
