/**
 * Quantizer throughput, one thread: Quant Lens's byte-exact quantizers and ggml's ggml_quantize_chunk (the peer,
 * bench/peer.ts) on the same float32 input, the corpus's float32 source of blk.0.ffn_down.weight tiled, with the
 * corpus importance matrix where either side requires one. Ours quantizes the input where the CLI's quantize reads it,
 * in the quantizer module's memory (moduleInput), handing each chunk's blocks over from there (the CLI writes them to
 * its file from there), as ggml quantizes its input in memory into a new buffer; neither side's reading of the input
 * nor writing of the output is timed. Runs alternate (ours, ggml, ours, ggml, ...); the output
 * bytes of both are compared. Without the peer, the ratio is to a page-cached read of the float32 input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ggmlType, typeByName } from '../src/core/types.ts';
import { quantizerFor, writableTypeIds } from '../src/core/quant/quantizers.ts';
import { moduleInput } from '../src/core/quant/wasmQuantizers.ts';
import type { Peer } from './peer.ts';
import { alternate, fmt, rateRange, ratioText, readMs, timed, versus, type Versus } from './timing.ts';

/** Every type Quant Lens can write but F32 (a copy on both sides). */
export const QUANTIZER_BENCH_TYPES = writableTypeIds()
  .filter((id) => id !== 0)
  .map((id) => ggmlType(id)!.name)
  .join(',');

/** Each side's runs alternate this many times. */
const ROUNDS = 3;
/** About this much of Quant Lens's work per run: the slow codebook searches get one tile, the fast ones many. */
const TARGET_MS = 300;

export interface QuantizerRow {
  type: string;
  mweights: number;
  imatrix: boolean;
  quantizeMWeightsPerS: number;
  ggmlMWeightsPerS?: number;
  ratioToGgml?: Versus;
  bytesIdentical?: boolean;
  firstMismatchBlock?: number;
  readMWeightsPerS?: number;
  ratioToRead?: number;
}

export function quantizerBench(
  corpusGguf: string,
  typeName: string,
  log: (s: string) => void,
  peer: Peer | undefined,
  dir: string,
): QuantizerRow | { type: string; skipped: string } {
  const ty = typeByName(typeName);
  const q = ty && quantizerFor(ty);
  if (!ty || !q) return { type: typeName, skipped: 'no quantizer' };
  const info = JSON.parse(readFileSync(join(corpusGguf, 'llama-tiny.source.json'), 'utf8'));
  const t = (info.tensors as { name: string; ne: number[]; offset_bytes: number; imatrix: { offset_bytes: number } }[]).find(
    (x) => x.name === 'blk.0.ffn_down.weight',
  )!;
  const nPerRow = t.ne[0];
  const count = t.ne[0] * t.ne[1];
  const raw = readFileSync(join(corpusGguf, 'llama-tiny.source.f32'));
  const tile = new Float32Array(raw.buffer.slice(raw.byteOffset + t.offset_bytes, raw.byteOffset + t.offset_bytes + 4 * count));
  const imatrixRaw = readFileSync(join(corpusGguf, 'llama-tiny.imatrix.f32'));
  const withImatrix = !!q.requiresImatrix || !!peer?.requiresImatrix.has(ty.ggmlId!);
  const imatrix = withImatrix
    ? new Float32Array(
        imatrixRaw.buffer.slice(
          imatrixRaw.byteOffset + t.imatrix.offset_bytes,
          imatrixRaw.byteOffset + t.imatrix.offset_bytes + 4 * nPerRow,
        ),
      )
    : undefined;
  // the second run of a tile sizes the work (the first compiles)
  const first = Math.min(...[0, 1].map(() => timed(() => q.quantize(tile, count / nPerRow, nPerRow, imatrix))));
  const tiles = Math.max(1, Math.min(64, Math.round(TARGET_MS / Math.max(first, 1))));
  const src = new Float32Array(count * tiles);
  for (let i = 0; i < tiles; i++) src.set(tile, i * count);
  const srcPath = join(dir, 'quantize-src.f32');
  const imatrixPath = join(dir, 'quantize-imatrix.f32');
  const outPath = join(dir, 'quantize-ggml.bin');
  writeFileSync(srcPath, src);
  if (imatrix) writeFileSync(imatrixPath, imatrix);
  const weights = src.length;
  // (it stays there until the next row's moduleInput)
  const input = moduleInput(ty, weights / nPerRow, nPerRow, !!imatrix) ?? new Float32Array(weights);
  input.set(src);
  const tag = `${typeName.padEnd(8)} ${fmt(weights / 1e6).padStart(5)} Mw${withImatrix ? ' (imatrix)' : '          '}`;
  // as the CLI's quantize: each chunk's blocks are handed over (there to the file's write) from the module's memory
  let handed = 0;
  const handOver = (bytes: Uint8Array) => void (handed += bytes.length);
  const oursRun = () => {
    const t0 = performance.now();
    q.quantizeTo(input, weights / nPerRow, nPerRow, handOver, imatrix);
    return performance.now() - t0;
  };
  // one untimed pass over the whole input first: the peer's kernels are compiled ahead of time, ours are tiered up
  // by V8 while they run (on a loaded machine the optimized module may arrive only during the first full pass)
  oursRun();
  if (!peer) {
    const ms = [oursRun(), oursRun()];
    const read = readMs(srcPath, 0, weights * 4);
    const row: QuantizerRow = {
      type: typeName,
      mweights: weights / 1e6,
      imatrix: withImatrix,
      quantizeMWeightsPerS: weights / Math.min(...ms) / 1e3,
      readMWeightsPerS: weights / read / 1e3,
      ratioToRead: read / Math.min(...ms),
    };
    log(
      `${tag}  Quant Lens ${rateRange(weights, ms).padStart(11)} Mw/s  page-cached read of the input ${fmt(row.readMWeightsPerS!)} Mw/s  quantize/read ${row.ratioToRead!.toFixed(3)}`,
    );
    return row;
  }
  const ms = alternate(ROUNDS, oursRun, () => peer.quantize(ty.ggmlId!, srcPath, nPerRow, imatrix && imatrixPath, outPath, 1)[0]);
  const v = versus(ms);
  const theirs = readFileSync(outPath);
  // the bytes handed over, collected in an untimed run
  const ours = new Uint8Array((weights / ty.blockSize) * ty.bytesPerBlock);
  handed = 0;
  q.quantizeTo(input, weights / nPerRow, nPerRow, (bytes) => (ours.set(bytes, handed), (handed += bytes.length)), imatrix);
  const identical = Buffer.compare(Buffer.from(ours.buffer, ours.byteOffset, ours.byteLength), theirs) === 0;
  let firstMismatchBlock: number | undefined;
  if (!identical) {
    const n = Math.min(ours.length, theirs.length);
    let i = 0;
    while (i < n && ours[i] === theirs[i]) i++;
    firstMismatchBlock = Math.floor(i / ty.bytesPerBlock);
  }
  const row: QuantizerRow = {
    type: typeName,
    mweights: +(weights / 1e6).toFixed(2),
    imatrix: withImatrix,
    quantizeMWeightsPerS: weights / v.ours / 1e3,
    ggmlMWeightsPerS: weights / v.peer / 1e3,
    ratioToGgml: v,
    bytesIdentical: identical,
    ...(identical ? {} : { firstMismatchBlock }),
  };
  const bytes = identical
    ? 'bytes identical'
    : `*** BYTE MISMATCH with ggml: ${ours.length} vs ${theirs.length} bytes, first differing block ${firstMismatchBlock} ***`;
  log(
    `${tag}  Quant Lens ${rateRange(weights, ms.ours).padStart(11)} Mw/s  ggml ${rateRange(weights, ms.peer).padStart(11)} Mw/s  ${ratioText(v).padEnd(18)} ${bytes}`,
  );
  return row;
}
