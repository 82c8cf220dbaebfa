/**
 * safetensors header reader: 8-byte little-endian header length N, N bytes of JSON, then the data.
 * Offsets in the header are relative to the first data byte (8 + N).
 */
import type { ByteSource } from '../io/byteSource.ts';
import { QuantLensError } from '../errors.ts';
import type { MetadataEntry, TensorInfo } from '../model.ts';
import { SAFETENSORS_DTYPES } from '../types.ts';

/** The official implementation refuses headers above 100 MB; so do we (it bounds the JSON parse). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsHeader {
  headerLength: number;
  dataStart: number;
  metadata: MetadataEntry[];
  tensors: TensorInfo[];
}

export async function readSafetensorsHeader(source: ByteSource, fileIndex = 0): Promise<SafetensorsHeader> {
  const name = source.name;
  const fail = (message: string, offset: number): never => {
    throw new QuantLensError('invalid-value', message, offset, name);
  };
  if (source.size < 8) {
    throw new QuantLensError('truncated', source.size === 0 ? 'file is empty (needs at least the 8-byte header length)' : `file is ${source.size} bytes, too short for the 8-byte header length`, 0, name);
  }
  const lenBytes = new Uint8Array(8);
  await source.read(0, lenBytes);
  const lenBig = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (lenBig === 0n) fail('header length is 0 at byte 0 (an empty header is not a JSON object)', 0);
  if (lenBig > BigInt(source.size - 8)) {
    throw new QuantLensError('truncated', `header length ${lenBig} at byte 0 is larger than the file (${source.size} bytes)`, 0, name);
  }
  const headerLength = Number(lenBig);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new QuantLensError('limit-exceeded', `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`, 0, name);
  }
  const headerBytes = new Uint8Array(headerLength);
  await source.read(8, headerBytes);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`header (bytes 8..${8 + headerLength}) is not valid JSON: ${(e as Error).message}`, 8);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object', 8);

  const dataStart = 8 + headerLength;
  const dataSize = source.size - dataStart;
  const metadata: MetadataEntry[] = [];
  const tensors: TensorInfo[] = [];
  for (const [key, entry] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) fail('__metadata__ is not an object', 8);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        metadata.push({ key: k, type: 'STRING', value: typeof v === 'string' ? v : JSON.stringify(v), fileIndex });
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor ${key}: entry is not an object`, 8);
    const dtype = String(e.dtype);
    const type = SAFETENSORS_DTYPES.get(dtype);
    if (!type) fail(`tensor ${key}: dtype "${dtype}" is not a safetensors dtype`, 8);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${key}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`, 8);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[1] < offsets[0]) {
      fail(`tensor ${key}: data_offsets ${JSON.stringify(offsets)} are not [begin, end]`, 8);
    }
    const [begin, end] = offsets as [number, number];
    const nElements = (shape as number[]).reduce((a, b) => a * b, 1);
    const nbytes = nElements * type!.bytesPerBlock;
    if (!Number.isSafeInteger(nbytes)) fail(`tensor ${key}: shape ${JSON.stringify(shape)} is too large`, 8);
    if (end > dataSize) fail(`tensor ${key}: data_offsets [${begin}, ${end}] run past the end of the ${dataSize}-byte data section`, dataStart);
    if (end - begin !== nbytes) fail(`tensor ${key}: ${dtype} ${JSON.stringify(shape)} needs ${nbytes} bytes but data_offsets span ${end - begin}`, 8);
    tensors.push({ name: key, shape: shape as number[], type: type!, dtype, fileIndex, offset: begin, absoluteOffset: dataStart + begin, nbytes, nElements });
  }
  // Overlap check on the byte ranges, in file order.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.offset < prev.offset + prev.nbytes) {
      fail(`tensors ${prev.name} [${prev.offset},${prev.offset + prev.nbytes}) and ${cur.name} [${cur.offset},${cur.offset + cur.nbytes}) overlap`, dataStart + cur.offset);
    }
  }
  return { headerLength, dataStart, metadata, tensors };
}
