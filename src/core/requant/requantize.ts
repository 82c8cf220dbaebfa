/**
 * Requantize chosen tensors of a GGUF model into a new GGUF file. Metadata and unchanged tensors are copied byte
 * for byte (a tensor of a type Quant Lens cannot size, by its span in the file layout); offsets and alignment are
 * recomputed; the file is written to a temporary path, re-opened and verified (every tensor: types, sizes, a
 * fingerprint of each rewritten tensor's dequantized values and a SHA-256 of each copied tensor's bytes against
 * the bytes read from the source), the sources are checked to be the files that were opened, then it is renamed
 * into place. Short reads and imatrix entries that do not fit their tensor are one-line errors before anything is
 * renamed.
 */
import { createHash } from 'node:crypto';
import type { ArrayValue, MetadataEntry, Model, TensorInfo } from '../model.ts';
import type { TensorType } from '../types.ts';
import { typeByName, GGML_TYPES, isUnknownType, LLAMA_FILE_TYPES } from '../types.ts';
import { QuantLensError } from '../errors.ts';
import { buildGgufHeader, type WriterEntry, type WriterTensor } from '../formats/ggufWriter.ts';
import { openModel } from '../formats/openModel.ts';
import { forEachChunk } from '../analysis/tensorValues.ts';
import { ChunkPipeline } from './chunkPipeline.ts';
import { ErrorAccumulator, type ErrorMetrics } from '../analysis/errorMetrics.ts';
import { requireQuantizer, quantizerFor } from '../quant/quantizers.ts';
import { codecForType } from '../quant/index.ts';
import { writeFilesAtomically, type WriteBytes } from '../io/atomicWrite.ts';
import { readFully, assertSourcesUnchanged, forEachPiece, hashOfSpan } from '../io/byteSource.ts';
import { storedSpans } from '../formats/tensorSpan.ts';
import { importanceFor, type Imatrix } from './imatrix.ts';

export interface TensorTypeRule {
  pattern: RegExp;
  type: TensorType;
  /** As the user wrote it, for messages. */
  text: string;
}

/** `REGEX=VALUE`: the regular expression (searched in tensor names) and what follows the last '='. */
export function splitRule(text: string): { pattern: RegExp; value: string } {
  const eq = text.lastIndexOf('=');
  if (eq <= 0) throw new QuantLensError('usage', `--tensor-type ${text}: expected REGEX=TYPE`);
  try {
    return { pattern: new RegExp(text.slice(0, eq)), value: text.slice(eq + 1) };
  } catch (e) {
    throw new QuantLensError('usage', `--tensor-type ${text}: invalid regular expression (${(e as Error).message})`);
  }
}

/** `REGEX=TYPE` as llama.cpp's `--tensor-type` takes it (the regex is searched in the tensor name). */
export function parseTensorTypeRule(text: string): TensorTypeRule {
  const { pattern, value: typeName } = splitRule(text);
  const type = typeByName(typeName);
  if (!type || type.ggmlId === undefined || !GGML_TYPES.has(type.ggmlId))
    throw new QuantLensError('usage', `--tensor-type ${text}: unknown ggml type ${typeName}`);
  return { pattern, type, text };
}

/**
 * Rules as a user types them in one line: space-separated, each `REGEX=TYPE` or a bare `REGEX` that gets
 * `defaultType` (so `attn_v=Q6_K ffn_down` with Q8_0 is attn_v → Q6_K and ffn_down → Q8_0). Errors name the rule
 * without the CLI's flag.
 */
export function parseRuleLine(line: string, defaultType: string): TensorTypeRule[] {
  return line
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => {
      const text = /=[A-Za-z][A-Za-z0-9_]*$/.test(word) ? word : `${word}=${defaultType}`;
      try {
        return parseTensorTypeRule(text);
      } catch (e) {
        if (e instanceof QuantLensError) throw new QuantLensError(e.code, e.message.replace(/^--tensor-type /, 'rule '));
        throw e;
      }
    });
}

export interface PlannedChange {
  tensor: TensorInfo;
  from: TensorType;
  to: TensorType;
  oldBytes: number;
  newBytes: number;
  rule: string;
}

export interface RequantPlan {
  changes: PlannedChange[];
  /** Tensors a rule matched but that cannot be changed, with the reason. */
  skipped: { tensor: string; reason: string }[];
  /** Rules (as written) that match no tensor name at all. */
  unmatched: string[];
  oldBytes: number;
  newBytes: number;
}

/** Which tensors change, to what, and the size delta. Rules apply in order; the last match wins. */
export function planRequantize(model: Model, rules: TensorTypeRule[]): RequantPlan {
  if (model.format !== 'gguf') throw new QuantLensError('usage', 'requantize writes GGUF files; open a GGUF model');
  const changes: PlannedChange[] = [];
  const skipped: RequantPlan['skipped'] = [];
  let oldBytes = 0;
  let newBytes = 0;
  const spans = storedSpans(model);
  const matched = new Set<TensorTypeRule>();
  for (const [i, t] of model.tensors.entries()) {
    const stored = spans[i] ?? 0;
    oldBytes += stored;
    let rule: TensorTypeRule | undefined;
    for (const r of rules)
      if (r.pattern.test(t.name)) {
        rule = r;
        matched.add(r);
      }
    if (!rule || rule.type === t.type) {
      newBytes += stored;
      continue;
    }
    const reason =
      t.shape.length < 2
        ? 'one-dimensional tensors (norms, biases) stay as they are'
        : t.shape[0] % rule.type.blockSize !== 0
          ? `row length ${t.shape[0]} is not a multiple of the ${rule.type.name} block size ${rule.type.blockSize}`
          : !codecForType(t.type)
            ? `its type ${t.type.name} cannot be decoded`
            : !quantizerFor(rule.type)
              ? `Quant Lens cannot write ${rule.type.name} yet`
              : undefined;
    if (reason) {
      skipped.push({ tensor: t.name, reason });
      newBytes += stored;
      continue;
    }
    const bytes = (t.nElements / rule.type.blockSize) * rule.type.bytesPerBlock;
    changes.push({ tensor: t, from: t.type, to: rule.type, oldBytes: t.nbytes, newBytes: bytes, rule: rule.text });
    newBytes += bytes;
  }
  return { changes, skipped, unmatched: rules.filter((r) => !matched.has(r)).map((r) => r.text), oldBytes, newBytes };
}

/** llama.cpp's file type for a model whose weights are mostly `type`: its own name, or the _M mix of a K-quant. */
function fileTypeFor(type: TensorType, old: number | undefined): number | undefined {
  const oldName = old === undefined ? undefined : LLAMA_FILE_TYPES.get(old);
  // Q4_K_M with a few tensors changed is still Q4_K_M; Q4_K_S stays Q4_K_S
  if (oldName && (oldName === type.name || oldName.startsWith(`${type.name}_`))) return old;
  for (const [id, name] of LLAMA_FILE_TYPES) if (name === type.name || name === `${type.name}_M` || name === `${type.name}_MOE`) return id;
  return undefined;
}

/**
 * What the output now is: `general.file_type` from the type holding most of the matrix weights after the
 * change, and `general.name` with its file-type word (if it ends with one) replaced by the new one. Only keys
 * the source has are set; undefined when nothing changes.
 */
export function outputIdentity(model: Model, plan: RequantPlan): { fileType?: number; name?: string } {
  if (!plan.changes.length) return {};
  const to = new Map(plan.changes.map((c) => [c.tensor.name, c.to]));
  const weights = new Map<TensorType, number>();
  for (const t of model.tensors) {
    if (t.shape.length < 2) continue;
    const type = to.get(t.name) ?? t.type;
    weights.set(type, (weights.get(type) ?? 0) + t.nElements);
  }
  const mostly = [...weights].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const oldType = model.metadata.find((m) => m.key === 'general.file_type')?.value;
  const oldId = typeof oldType === 'number' ? oldType : undefined;
  const fileType = oldType === undefined ? undefined : fileTypeFor(mostly, oldId);
  const oldName = model.metadata.find((m) => m.key === 'general.name')?.value;
  let name: string | undefined;
  if (typeof oldName === 'string' && fileType !== undefined && fileType !== oldId) {
    const words = [...LLAMA_FILE_TYPES.values()].sort((a, b) => b.length - a.length);
    const word = LLAMA_FILE_TYPES.get(fileType)!;
    const strip = words.find((w) => new RegExp(`[ _.-]${w}$`, 'i').test(oldName));
    name = strip ? `${oldName.slice(0, oldName.length - strip.length)}${word}` : `${oldName} ${word}`;
  }
  return { fileType: fileType !== oldId ? fileType : undefined, name };
}

/**
 * Weights per quantization chunk (whole rows): bounds memory, sets how often progress is reported, and is the unit
 * of work handed to helper threads.
 */
export const CHUNK_ELEMENTS = 1 << 20;

/** Quantizes one chunk of rows, possibly on another thread; resolves to the chunk's blocks. */
export type ChunkQuantizer = (
  to: TensorType,
  values: Float32Array,
  nRows: number,
  nPerRow: number,
  imatrix?: Float32Array,
) => Promise<Uint8Array>;

/** FNV-1a over the float32 bits of a stream of values: a cheap fingerprint for verification. */
class Fingerprint {
  private h = 0x811c9dc5;
  add(v: Float32Array): void {
    const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
    let h = this.h;
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193);
    this.h = h;
  }
  get value(): number {
    return this.h >>> 0;
  }
}

export interface RequantResult {
  /** The output (the first shard of a split output). */
  path: string;
  /** Every file written: one, or the shards of a split output. */
  paths: string[];
  /** Bytes written, over all shards. */
  bytes: number;
  /** Error of each rewritten tensor against the values it had before. */
  errors: { tensor: string; from: string; to: string; metrics: ErrorMetrics }[];
}

export interface WriteOptions {
  imatrix?: Imatrix;
  /** Files read besides the model's own (the imatrix file, an index): the destination may not be one of them. */
  otherInputs?: string[];
  onProgress?: (done: number, total: number, tensor: string) => void;
  isCancelled?: () => boolean;
  /** Weights quantized at a time (whole rows; default about 1M). */
  chunkElements?: number;
  /** Quantize chunks elsewhere (helper threads), `inFlight` at a time; by default on this thread, one at a time. */
  quantize?: ChunkQuantizer;
  inFlight?: number;
  /**
   * A split input is written as the same number of shards (llama-quantize --keep-split): each tensor stays in its
   * shard, the first shard holds the metadata, every shard its split.* keys; `destination` names the set (its
   * -0000N-of-0000M suffix, if any, is replaced). Otherwise the output is one file.
   */
  keepSplit?: boolean;
}

/** The shard paths of a split output, as llama.cpp names them (`PREFIX-0000N-of-0000M.gguf`). */
export function splitOutputPaths(destination: string, count: number): string[] {
  if (count <= 1) return [destination];
  const prefix = destination.replace(/(-\d{5}-of-\d{5})?\.gguf$/i, '');
  const n = (i: number) => String(i).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `${prefix}-${n(i + 1)}-of-${n(count)}.gguf`);
}

/** split.no, split.count and split.tensors.count, as llama.cpp's gguf-split and llama-quantize write them. */
function splitKeys(shard: number, count: number, tensors: number): WriterEntry[] {
  return [
    { key: 'split.no', type: 'UINT16', value: shard },
    { key: 'split.count', type: 'UINT16', value: count },
    { key: 'split.tensors.count', type: 'INT32', value: tensors },
  ];
}

function metadataForWriting(
  model: Model,
  readPayload: (arr: ArrayValue) => Uint8Array,
  identity: { fileType?: number; name?: string } = {},
): WriterEntry[] {
  return model.metadata
    .filter((m: MetadataEntry) => !m.key.startsWith('split.'))
    .map((m) => {
      const v = m.value;
      if (m.key === 'general.file_type' && identity.fileType !== undefined) return { key: m.key, type: m.type, value: identity.fileType };
      if (m.key === 'general.name' && identity.name !== undefined) return { key: m.key, type: 'STRING', value: identity.name };
      if (typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array') {
        const arr = v as ArrayValue;
        return { key: m.key, type: 'ARRAY', value: { elementType: arr.elementType, length: arr.length, payload: readPayload(arr) } };
      }
      return { key: m.key, type: m.type, value: v as Exclude<typeof v, ArrayValue> };
    });
}

export async function writeRequantized(
  model: Model,
  plan: RequantPlan,
  destination: string,
  options: WriteOptions = {},
): Promise<RequantResult> {
  const byName = new Map(plan.changes.map((c) => [c.tensor.name, c]));
  const spans = storedSpans(model);
  for (const [i, t] of model.tensors.entries()) {
    if (spans[i] === undefined && !byName.has(t.name)) {
      throw new QuantLensError(
        'bad-tensor',
        `tensor ${t.name} has ${t.type.name} and its size cannot be told from the file layout (another tensor starts at the same byte ${t.absoluteOffset}); refusing to copy it`,
        t.absoluteOffset,
        model.files[t.fileIndex].path,
      );
    }
  }
  // every imatrix entry used is checked before anything is written
  const importance = new Map<string, { values: Float32Array; perMatrix: number }>();
  if (options.imatrix) {
    for (const c of plan.changes) {
      const entry = importanceFor(options.imatrix, c.tensor);
      if (entry) importance.set(c.tensor.name, entry);
    }
  }
  const entries = metadataForWriting(
    model,
    (arr) => {
      const buf = new Uint8Array(arr.payloadBytes);
      readFully(model.files[arr.fileIndex].source, arr.payloadOffset, buf, 'a metadata array');
      return buf;
    },
    outputIdentity(model, plan),
  );
  const tensors: WriterTensor[] = model.tensors.map((t, i) => {
    const c = byName.get(t.name);
    return { name: t.name, shape: t.shape, ggmlTypeId: (c ? c.to : t.type).ggmlId!, nbytes: c ? c.newBytes : spans[i]! };
  });
  const alignment = model.alignment ?? 32;
  // one output file, or one per input shard with each tensor in its own (model.tensors lists shard by shard)
  const shardCount = options.keepSplit ? model.files.length : 1;
  const shardOf = (i: number) => (shardCount > 1 ? model.tensors[i].fileIndex : 0);
  const paths = splitOutputPaths(destination, shardCount);
  const shards = paths.map((path, k) => {
    const members = model.tensors.flatMap((_, i) => (shardOf(i) === k ? [i] : []));
    const split = shardCount > 1 ? splitKeys(k, shardCount, model.tensors.length) : [];
    const layout = buildGgufHeader(
      k === 0 ? [...entries, ...split] : split,
      members.map((i) => tensors[i]),
      alignment,
    );
    return { path, members, layout };
  });
  const total = model.tensors.reduce((a, t) => a + t.nElements, 0);
  const fingerprints = new Map<string, number>();
  const copiedHashes = new Map<string, string>();
  const onThisThread: ChunkQuantizer = async (to, values, nRows, nPerRow, imatrix) =>
    requireQuantizer(to).quantize(values, nRows, nPerRow, imatrix);
  const quantize = options.quantize ?? onThisThread;
  // rows of one matrix: all of a 2-D tensor's, one expert's of a 3-D one
  const rowsPerMatrix = (c: PlannedChange) => c.tensor.shape[1] ?? 1;
  const pipeline = new ChunkPipeline<PlannedChange, Uint8Array>(
    model,
    plan.changes,
    (c) => c.tensor.shape[0],
    ({ change, firstRow, nRows, rowLength }, values) => {
      const entry = importance.get(change.tensor.name);
      const matrix = Math.floor(firstRow / rowsPerMatrix(change));
      const imatrix = entry?.values.subarray(matrix * entry.perMatrix, (matrix + 1) * entry.perMatrix);
      return quantize(change.to, values, nRows, rowLength, imatrix);
    },
    options.inFlight ?? 1,
    options.chunkElements ?? CHUNK_ELEMENTS,
    rowsPerMatrix,
  );
  const errors: RequantResult['errors'] = [];
  let done = 0;

  await writeFilesAtomically(
    paths,
    async (k: number, write: WriteBytes) => {
      const { layout, members } = shards[k];
      write(layout.header);
      let written = layout.header.length;
      for (const [j, i] of members.entries()) {
        const t = model.tensors[i];
        const start = layout.dataOffset + layout.offsets[j];
        if (start > written) write(new Uint8Array(start - written));
        written = start;
        const c = byName.get(t.name);
        if (c) {
          const fp = new Fingerprint();
          const acc = new ErrorAccumulator();
          const decoder = codecForType(c.to)!;
          let sourceAbsMax = 0;
          let anyNonzero = false;
          for (let left = t.nElements; left > 0;) {
            if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while requantizing ${t.name}`);
            const { values, result: bytes } = await pipeline.next();
            write(bytes);
            written += bytes.length;
            const back = new Float32Array(values.length);
            decoder.dequantize(bytes, back, values.length / c.to.blockSize);
            for (let k = 0; k < values.length; k++) {
              const a = Math.abs(values[k]);
              if (a > sourceAbsMax && a !== Infinity) sourceAbsMax = a;
              if (back[k] !== 0) anyNonzero = true;
            }
            fp.add(back);
            acc.add(back, values);
            left -= values.length;
            // progress within a large tensor, chunk by chunk
            options.onProgress?.((done += values.length), total, t.name);
          }
          // weights well inside the type's range that all came out zero: the quantizer was fed something broken
          if (!anyNonzero && sourceAbsMax >= 1e-3)
            throw new QuantLensError(
              'invalid-value',
              `requantizing ${t.name} to ${c.to.name} gave only zeros (its weights reach ${sourceAbsMax.toPrecision(3)}); nothing was written`,
            );
          fingerprints.set(t.name, fp.value);
          errors.push({ tensor: t.name, from: c.from.name, to: c.to.name, metrics: acc.result() });
        } else {
          const h = createHash('sha256');
          await forEachPiece(
            model.files[t.fileIndex].source,
            t.absoluteOffset,
            tensors[i].nbytes,
            `tensor ${t.name}`,
            (piece) => {
              h.update(piece);
              write(piece);
              written += piece.length;
            },
            options.isCancelled,
          );
          copiedHashes.set(t.name, h.digest('hex'));
          done += t.nElements;
          options.onProgress?.(done, total, t.name);
        }
      }
      if (layout.fileSize > written) write(new Uint8Array(layout.fileSize - written));
    },
    {
      protect: [...model.files.map((f) => f.path), ...(options.otherInputs ?? [])],
      verify: async (tmps: string[]) => {
        for (const [k, tmp] of tmps.entries()) await verifyShard(tmp, k);
        assertSourcesUnchanged(model.files.map((f) => f.source));
      },
    },
  );
  return { path: paths[0], paths, bytes: shards.reduce((a, s) => a + s.layout.fileSize, 0), errors };

  /** One written file read back: its tensors' names, types and sizes, values or bytes, and its split keys. */
  async function verifyShard(tmp: string, k: number): Promise<void> {
    const { members } = shards[k];
    const where = shardCount > 1 ? ` in shard ${k + 1} of ${shardCount}` : '';
    const check = await openModel(tmp);
    try {
      if (check.tensors.length !== members.length)
        throw new QuantLensError('io', `verification failed: ${check.tensors.length} tensors written${where}, ${members.length} expected`);
      if (shardCount > 1) {
        const value = (key: string) => check.metadata.find((m) => m.key === key)?.value;
        if (value('split.no') !== k || value('split.count') !== shardCount || value('split.tensors.count') !== model.tensors.length)
          throw new QuantLensError('io', `verification failed: the split.* keys read back${where} are not the ones written`);
      }
      const checkSpans = storedSpans(check);
      for (const [j, t] of check.tensors.entries()) {
        const want = tensors[members[j]];
        const span = checkSpans[j] ?? -1;
        // a tensor sized by its layout may gain the final padding
        const sizeOk = isUnknownType(t.type) ? span >= want.nbytes && span < want.nbytes + alignment : t.nbytes === want.nbytes;
        if (t.name !== want.name || t.ggmlTypeId !== want.ggmlTypeId || !sizeOk) {
          throw new QuantLensError(
            'io',
            `verification failed at tensor ${want.name}${where}: read back ${t.name} ${t.type.name} ${span} bytes`,
          );
        }
        const expected = fingerprints.get(t.name);
        if (expected !== undefined) {
          const fp = new Fingerprint();
          forEachChunk(check, t, (v) => fp.add(v as Float32Array));
          if (fp.value !== expected)
            throw new QuantLensError('io', `verification failed: ${t.name} does not dequantize to what was computed`);
        } else if (
          (await hashOfSpan(check.files[0].source, t.absoluteOffset, want.nbytes, `written tensor ${t.name}`)) !== copiedHashes.get(t.name)
        ) {
          throw new QuantLensError('io', `verification failed: the bytes written for ${t.name} differ from those read from the source`);
        }
      }
    } finally {
      await check.close();
    }
  }
}
