/**
 * "Simulated quantization" of a safetensors checkpoint: chosen tensors are replaced by quantize → dequantize at a
 * ggml type or textbook scheme, stored back in their original dtype, so a PyTorch evaluation of the new file
 * measures what that quantization does to outputs. Everything else is copied byte for byte; the file is written
 * to a temporary path, re-opened and verified (the same tensors, and a SHA-256 of every tensor's bytes against what
 * was written), the sources are checked to be the files that were opened, then it is renamed into place.
 */
import { createHash } from 'node:crypto';
import type { Model, TensorInfo } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { buildSafetensorsHeader } from '../formats/safetensorsWriter.ts';
import { openModel } from '../formats/openModel.ts';
import { ErrorAccumulator, type ErrorMetrics } from '../analysis/errorMetrics.ts';
import {
  candidateId,
  needsTensorRange,
  parseCandidate,
  roundTrip,
  tensorRange,
  usableCandidates,
  type Candidate,
} from '../analysis/whatIf.ts';
import type { ValueRange } from '../quant/schemes.ts';
import { codecForType } from '../quant/index.ts';
import { ChunkPipeline } from './chunkPipeline.ts';
import { encodeBf16, encodeF16 } from '../quant/encode.ts';
import { writeFileAtomically } from '../io/atomicWrite.ts';
import { assertSourcesUnchanged, forEachPiece, hashOfSpan } from '../io/byteSource.ts';
import { splitRule, CHUNK_ELEMENTS, type ChunkQuantizer } from './requantize.ts';

export interface SimulationRule {
  pattern: RegExp;
  candidate: Candidate;
  text: string;
}

/** `REGEX=CANDIDATE`, the candidate a ggml type (q4_K, iq4_xs …) or a scheme (int4-sym-g32, nf4, fp8-e4m3 …). */
export function parseSimulationRule(text: string): SimulationRule {
  const { pattern, value } = splitRule(text);
  return { pattern, candidate: parseCandidate(value), text };
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export interface SimulationPlan {
  changes: { tensor: TensorInfo; candidate: Candidate }[];
  skipped: { tensor: string; reason: string }[];
}

export function planSimulation(model: Model, rules: SimulationRule[]): SimulationPlan {
  if (model.format !== 'safetensors')
    throw new QuantLensError('usage', 'simulated quantization writes safetensors files; open a safetensors model');
  const changes: SimulationPlan['changes'] = [];
  const skipped: SimulationPlan['skipped'] = [];
  for (const t of model.tensors) {
    let rule: SimulationRule | undefined;
    for (const r of rules) if (r.pattern.test(t.name)) rule = r;
    if (!rule) continue;
    const rowLength = t.shape[t.shape.length - 1] ?? 1;
    const asGgml = { ...t, shape: [rowLength, t.nElements / Math.max(1, rowLength)] };
    const reason = !FLOAT_DTYPES.has(t.dtype ?? '')
      ? `dtype ${t.dtype} is not a float weight`
      : t.shape.length < 2
        ? 'one-dimensional tensors (norms, biases) stay as they are'
        : !usableCandidates(asGgml, [rule.candidate]).length
          ? `${candidateId(rule.candidate)} cannot quantize rows of ${rowLength}`
          : undefined;
    if (reason) skipped.push({ tensor: t.name, reason });
    else changes.push({ tensor: t, candidate: rule.candidate });
  }
  return { changes, skipped };
}

function encode(dtype: string, v: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return dtype === 'F16' ? encodeF16(v) : encodeBf16(v);
}

export interface SimulationResult {
  path: string;
  errors: { tensor: string; candidate: string; metrics: ErrorMetrics }[];
}

export interface SimulateOptions {
  /** Files read besides the model's own (an index): the destination may not be one of them. */
  otherInputs?: string[];
  onProgress?: (done: number, total: number) => void;
  isCancelled?: () => boolean;
  /** Quantize the ggml candidates' chunks elsewhere (helper threads), `inFlight` at a time. */
  quantize?: ChunkQuantizer;
  inFlight?: number;
}

type Change = SimulationPlan['changes'][number];

export async function writeSimulated(
  model: Model,
  plan: SimulationPlan,
  destination: string,
  options: SimulateOptions = {},
): Promise<SimulationResult> {
  const changed = new Map(plan.changes.map((c) => [c.tensor.name, c.candidate]));
  const metadata: Record<string, string> = {};
  for (const m of model.metadata) if (!m.key.startsWith('index.')) metadata[m.key] = String(m.value);
  metadata['quantlens.simulated'] = JSON.stringify(plan.changes.map((c) => ({ tensor: c.tensor.name, as: candidateId(c.candidate) })));
  const header = buildSafetensorsHeader(
    model.tensors.map((t) => ({ name: t.name, dtype: t.dtype!, shape: t.shape, nbytes: t.nbytes })),
    metadata,
  );
  const errors: SimulationResult['errors'] = [];
  const total = model.tensors.reduce((a, t) => a + t.nElements, 0);
  let done = 0;
  // rows are the last dimension; per-tensor schemes need the tensor's range first
  const rowLengthOf = (c: Change) => c.tensor.shape[c.tensor.shape.length - 1];
  const ranges = new Map<Change, ValueRange>();
  const rangeOf = (c: Change) => {
    let r = ranges.get(c);
    if (!r) ranges.set(c, (r = needsTensorRange([c.candidate]) ? tensorRange(model, c.tensor, rowLengthOf(c)) : { min: NaN, max: NaN }));
    return r;
  };
  const quantize = options.quantize;
  const pipeline = new ChunkPipeline<Change, Float32Array>(
    model,
    plan.changes,
    rowLengthOf,
    async ({ change, nRows, rowLength }, values) => {
      const c = change.candidate;
      if (c.kind === 'scheme' || !quantize) return roundTrip(c, values, rowLength, rangeOf(change));
      // a ggml type: its quantizer on a helper thread, dequantized back here
      const bytes = await quantize(c.type, values, nRows, rowLength);
      const back = new Float32Array(values.length);
      codecForType(c.type)!.dequantize(bytes, back, values.length / c.type.blockSize);
      return back;
    },
    options.inFlight ?? 1,
    CHUNK_ELEMENTS,
  );
  const hashes: string[] = [];
  await writeFileAtomically(
    destination,
    async (write) => {
      write(header);
      for (const t of model.tensors) {
        const c = changed.get(t.name);
        const h = createHash('sha256');
        if (!c) {
          await forEachPiece(
            model.files[t.fileIndex].source,
            t.absoluteOffset,
            t.nbytes,
            `tensor ${t.name}`,
            (piece) => {
              h.update(piece);
              write(piece);
            },
            options.isCancelled,
          );
        } else {
          const acc = new ErrorAccumulator();
          for (let left = t.nElements; left > 0;) {
            if (options.isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while simulating ${t.name}`);
            const { values: ref, result: rec } = await pipeline.next();
            acc.add(rec, ref);
            const bytes = encode(t.dtype!, rec);
            h.update(bytes);
            write(bytes);
            left -= ref.length;
            options.onProgress?.(done + t.nElements - left, total);
          }
          errors.push({ tensor: t.name, candidate: candidateId(c), metrics: acc.result() });
        }
        hashes.push(h.digest('hex'));
        done += t.nElements;
        options.onProgress?.(done, total);
      }
    },
    {
      protect: [...model.files.map((f) => f.path), ...(options.otherInputs ?? [])],
      verify: async (tmp) => {
        const check = await openModel(tmp);
        try {
          const ok =
            check.tensors.length === model.tensors.length &&
            check.tensors.every(
              (t, i) => t.name === model.tensors[i].name && t.dtype === model.tensors[i].dtype && t.nbytes === model.tensors[i].nbytes,
            );
          if (!ok) throw new QuantLensError('io', 'verification failed: the written file does not list the same tensors');
          for (const [i, t] of check.tensors.entries()) {
            if ((await hashOfSpan(check.files[0].source, t.absoluteOffset, t.nbytes, `written tensor ${t.name}`)) !== hashes[i]) {
              throw new QuantLensError('io', `verification failed: the bytes read back for ${t.name} differ from those written`);
            }
          }
        } finally {
          await check.close();
        }
        assertSourcesUnchanged(model.files.map((f) => f.source));
      },
    },
  );
  return { path: destination, errors };
}
