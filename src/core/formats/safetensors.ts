/**
 * safetensors header reader: 8-byte little-endian header length N, N bytes of JSON, then the data.
 * Offsets in the header are relative to the first data byte (8 + N).
 *
 * The rules are the reference reader's (huggingface/safetensors, safetensors/src/tensor.rs:
 * `SafeTensors::read_metadata`, `Metadata::validate`, `HashMetadata`, `TensorInfo`): N at most 100 MB and
 * within the file; the header one JSON object, JSON whitespace allowed around it (writers pad with spaces);
 * `__metadata__` absent, null or an object of strings; every other key a tensor whose entry has a string
 * `dtype`, a `shape` of non-negative integers and `data_offsets` [begin, end] with begin <= end, written as
 * integers (serde_json refuses `4096.0` for a usize), other fields ignored; dtype x shape bytes equal to
 * end - begin; sorted by offsets, the tensors cover the data from 0 with no gap and no overlap and end
 * exactly at the end of the file. Duplicate keys are refused too: the format's README disallows them.
 */
import type { ByteSource } from '../io/byteSource.ts';
import { QuantLensError } from '../errors.ts';
import type { MetadataEntry, TensorInfo } from '../model.ts';
import { SAFETENSORS_DTYPES } from '../types.ts';
import {
  forEachJsonMember,
  jsonForMessage,
  jsonTypeName,
  memberOffset,
  memberSpan,
  quoteForMessage,
  type JsonInput,
  type JsonObject,
  type JsonValue,
} from './strictJson.ts';

/** The reference refuses headers above 100 MB; so do we (it bounds the JSON parse). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Dtypes of the reference that this version does not read: named as such rather than called invalid. */
const UNSUPPORTED_REFERENCE_DTYPES = new Set(['C64']);

/** One string per dtype, so a million tensor entries share it. */
const DTYPE_NAMES = new Map([...SAFETENSORS_DTYPES.keys()].map((k) => [k, k]));

export interface SafetensorsHeader {
  headerLength: number;
  dataStart: number;
  metadata: MetadataEntry[];
  tensors: TensorInfo[];
}

/** A usize as serde_json reads one: `-0` is not one (serde_json parses it as the float -0.0, which usize refuses). */
function isCount(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0);
}

export async function readSafetensorsHeader(source: ByteSource, fileIndex = 0): Promise<SafetensorsHeader> {
  return (await readHeader(source, fileIndex, false)).header;
}

/** What a safetensors file cut short in its data (a download that stopped) still holds. */
export interface CutSafetensors {
  /** The whole header: every tensor it lists. */
  header: SafetensorsHeader;
  /** The tensors whose data lies wholly in the file. */
  present: TensorInfo[];
  /** The size the file needs (its header and all the data the header lists). */
  neededBytes: number;
  /** Where the file ends: the first tensor cut short, at the file's last byte. */
  error: QuantLensError;
}

/**
 * A safetensors file whose header reads whole but whose data ends too soon, read as far as it goes. Undefined when
 * the file is whole; a file broken otherwise (cut inside its header, a gap, an overlap, a bad entry) throws the
 * error readSafetensorsHeader throws.
 */
export async function readCutSafetensors(source: ByteSource, fileIndex = 0): Promise<CutSafetensors | undefined> {
  let strict: unknown;
  try {
    await readHeader(source, fileIndex, false);
    return undefined;
  } catch (e) {
    strict = e;
  }
  let read;
  try {
    read = await readHeader(source, fileIndex, true);
  } catch {
    throw strict;
  }
  const { header, dataEnd } = read;
  const neededBytes = header.dataStart + dataEnd;
  if (neededBytes <= source.size) throw strict;
  const present = header.tensors.filter((t) => t.absoluteOffset + t.nbytes <= source.size);
  // the first tensor in data order that the file ends inside (or before)
  let first: TensorInfo | undefined;
  for (const t of header.tensors) if (t.absoluteOffset + t.nbytes > source.size && (!first || t.offset < first.offset)) first = t;
  const t = first!;
  const error = new QuantLensError(
    'truncated',
    `tensor ${quoteForMessage(t.name)} (${t.nbytes} bytes at data offset ${t.offset}) is cut short: the file ends at byte ${source.size}, ${t.absoluteOffset + t.nbytes - source.size} bytes before its end`,
    source.size,
    source.name,
  );
  return { header, present, neededBytes, error };
}

/**
 * The header by the reference's rules; `salvage` (a file cut short being opened as far as it goes) lets the
 * tensors run past the end of the file, so long as they still cover the data from 0 with no gap and no overlap.
 * `dataEnd` is where the tensors end, relative to the data section.
 */
async function readHeader(
  source: ByteSource,
  fileIndex: number,
  salvage: boolean,
): Promise<{ header: SafetensorsHeader; dataEnd: number }> {
  const name = source.name;
  const fail = (message: string, offset: number): never => {
    throw new QuantLensError('invalid-value', message, offset, name);
  };
  if (source.size < 8) {
    throw new QuantLensError(
      'truncated',
      source.size === 0
        ? 'file is empty (needs at least the 8-byte header length)'
        : `file is ${source.size} bytes, too short for the 8-byte header length`,
      0,
      name,
    );
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
    throw new QuantLensError(
      'limit-exceeded',
      `header length ${headerLength} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit`,
      0,
      name,
    );
  }
  const headerBytes = new Uint8Array(headerLength);
  if ((await source.read(8, headerBytes)) !== headerLength) {
    throw new QuantLensError('truncated', `file ended inside the ${headerLength}-byte header`, 8, name);
  }
  /** Offsets of numbers written with a fraction or exponent: never valid in shape or data_offsets. */
  const nonIntegerLiterals: number[] = [];
  const json: JsonInput = {
    bytes: headerBytes,
    baseOffset: 8,
    what: 'header',
    file: name,
    onNonIntegerLiteral: (o) => nonIntegerLiterals.push(o),
  };
  const dataStart = 8 + headerLength;
  const dataSize = source.size - dataStart;
  const metadata: MetadataEntry[] = [];
  const tensors: TensorInfo[] = [];
  /** Where each tensor's entry starts in the file, for errors found once all are read. */
  const entryOffsets: number[] = [];

  const readMetadata = (value: JsonValue, at: number): void => {
    if (value === null) return; // the reference reads null as "no metadata"
    if (typeof value !== 'object' || Array.isArray(value))
      fail(`__metadata__ at byte ${at} is ${jsonTypeName(value)}, not an object of strings`, at);
    for (const [key, v] of Object.entries(value as JsonObject)) {
      if (typeof v !== 'string') {
        const where = memberOffset(json, at, key);
        fail(`__metadata__ value ${quoteForMessage(key)} at byte ${where} is ${jsonTypeName(v)}, not a string`, where);
      }
      metadata.push({ key, type: 'STRING', value: v as string, fileIndex });
    }
  };

  /** Refuse tensor `key`'s entry (at `at`), pointing at its field `field` when it has one. */
  const refuse = (key: string, at: number, field: string | undefined, message: string): never => {
    const where = field === undefined ? at : memberOffset(json, at, field);
    return fail(`tensor ${quoteForMessage(key)} at byte ${where}: ${message}`, where);
  };

  const readTensor = (key: string, value: JsonValue, at: number): TensorInfo => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      refuse(key, at, undefined, `entry is ${jsonTypeName(value)}, not an object`);
    const entry = value as JsonObject;
    const rawDtype = entry.dtype;
    if (typeof rawDtype !== 'string') refuse(key, at, 'dtype', `dtype is ${jsonTypeName(rawDtype)}, not a string`);
    const dtype = DTYPE_NAMES.get(rawDtype as string);
    if (dtype === undefined) {
      const what = UNSUPPORTED_REFERENCE_DTYPES.has(rawDtype as string)
        ? 'is a safetensors dtype this version of Quant Lens does not read'
        : 'is not a safetensors dtype';
      return refuse(key, at, 'dtype', `dtype ${quoteForMessage(rawDtype as string)} ${what}`);
    }
    const type = SAFETENSORS_DTYPES.get(dtype)!;
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every(isCount))
      return refuse(key, at, 'shape', `shape ${jsonForMessage(shape ?? null)} is not a list of non-negative integers`);
    let nElements = 1;
    for (const d of shape as number[]) {
      nElements *= d;
      if (!Number.isSafeInteger(nElements)) refuse(key, at, 'shape', `shape ${jsonForMessage(shape)} has more than 2^53 elements`);
    }
    // sub-byte dtypes (F4, F6_*): the reference refuses a tensor whose bits do not end on a byte boundary
    if (nElements % type.blockSize !== 0)
      refuse(
        key,
        at,
        'shape',
        `shape ${jsonForMessage(shape)} holds ${nElements} ${dtype} elements of ${(8 * type.bytesPerBlock) / type.blockSize} bits, which do not end on a byte boundary`,
      );
    const nbytes = (nElements / type.blockSize) * type.bytesPerBlock;
    if (!Number.isSafeInteger(nbytes)) refuse(key, at, 'shape', `shape ${jsonForMessage(shape)} is too large`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      refuse(key, at, 'data_offsets', `data_offsets ${jsonForMessage(offsets ?? null)} are not [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) refuse(key, at, 'data_offsets', `data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataSize && !salvage)
      refuse(key, at, 'data_offsets', `data_offsets [${begin}, ${end}] run past the end of the ${dataSize}-byte data section`);
    if (end - begin !== nbytes)
      refuse(
        key,
        at,
        'data_offsets',
        `${dtype} ${jsonForMessage(shape)} needs ${nbytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    if (nonIntegerLiterals.length && nonIntegerLiterals[nonIntegerLiterals.length - 1] >= at) {
      // Integer-valued but written as 4096.0 or 4e3: the reference's usize fields refuse it.
      for (const field of ['shape', 'data_offsets']) {
        const [from, to] = memberSpan(json, at, field);
        const literal = nonIntegerLiterals.find((o) => o >= from && o < to);
        if (literal !== undefined)
          fail(
            `tensor ${quoteForMessage(key)} at byte ${literal}: ${field} holds a number written with a fraction or exponent, not as an integer`,
            literal,
          );
      }
    }
    return {
      name: key,
      shape: shape as number[],
      type,
      dtype,
      fileIndex,
      offset: begin,
      absoluteOffset: dataStart + begin,
      nbytes,
      nElements,
    };
  };

  forEachJsonMember(json, (key, value, at) => {
    if (key === '__metadata__') return readMetadata(value, at);
    tensors.push(readTensor(key, value, at));
    entryOffsets.push(at);
  });

  // The reference sorts by data_offsets, then walks the data from 0: each tensor starts where the last ended.
  const order = Uint32Array.from(tensors.keys());
  const endOf = (i: number) => tensors[i].offset + tensors[i].nbytes;
  const before = (a: number, b: number) => tensors[a].offset - tensors[b].offset || endOf(a) - endOf(b);
  if (order.some((i, k) => k > 0 && before(order[k - 1], i) > 0)) order.sort(before);
  let covered = 0;
  for (let k = 0; k < order.length; k++) {
    const t = tensors[order[k]];
    if (t.offset !== covered) {
      const at = entryOffsets[order[k]];
      const prev = k > 0 ? tensors[order[k - 1]] : undefined;
      const span = `data_offsets [${t.offset}, ${t.offset + t.nbytes}]`;
      if (t.offset > covered) {
        refuse(
          t.name,
          at,
          'data_offsets',
          `${span} leave a gap of ${t.offset - covered} bytes after ${prev ? `tensor ${quoteForMessage(prev.name)}` : 'the start of the data'} (which ends at ${covered})`,
        );
      }
      refuse(t.name, at, 'data_offsets', `${span} overlap tensor ${quoteForMessage(prev!.name)} [${prev!.offset}, ${covered}]`);
    }
    covered = t.offset + t.nbytes;
  }
  // (past the end is refused above unless salvaging: then it is where the file was cut)
  if (covered < dataSize) {
    fail(
      `${dataSize - covered} trailing bytes at byte ${dataStart + covered}: the tensors end ${covered} bytes into the ${dataSize}-byte data section, which must end there`,
      dataStart + covered,
    );
  }
  return { header: { headerLength, dataStart, metadata, tensors }, dataEnd: covered };
}
