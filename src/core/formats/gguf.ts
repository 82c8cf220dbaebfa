/**
 * GGUF v2/v3 header reader. Reads metadata and tensor infos only; long metadata arrays (token lists, merges)
 * are walked, not decoded, and can be paged later with `readArrayPage`. Every count and length is checked
 * against the bytes left in the file before anything is allocated; every defect is a one-line QuantLensError
 * that names the byte offset.
 */
import type { ByteSource } from '../io/byteSource.ts';
import { Cursor } from '../io/cursor.ts';
import { QuantLensError } from '../errors.ts';
import { GGUF_VALUE_TYPES, type ArrayValue, type GgufValueTypeName, type MetadataEntry, type ScalarValue, type TensorInfo } from '../model.ts';
import { ggmlType, unknownGgmlType } from '../types.ts';

const GGUF_MAGIC = 'GGUF';
const FIXED_HEADER_BYTES = 24; // magic, version u32, tensor_count u64, kv_count u64
const DEFAULT_ALIGNMENT = 32;
/** Arrays up to this many elements are decoded while the header is read; longer ones are paged on demand. */
const EAGER_ARRAY_LENGTH = 64;
/** String arrays record the offset of every STRING_INDEX_STRIDE-th element, so any page is a short walk away. */
export const STRING_INDEX_STRIDE = 1024;
/** Nested arrays deeper than this are not a real model (ggml itself allows only one level). */
const MAX_ARRAY_DEPTH = 8;
const MAX_DIMS = 4;

/** Bytes per element of each value type; 0 for variable-sized ones (STRING, ARRAY). */
const VALUE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
/** The fewest bytes one element of each type can take (for the "enough bytes left?" check). */
const MIN_VALUE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];
const STRING = 8;
const ARRAY = 9;

export interface GgufArrayValue extends ArrayValue {
  /** For long string arrays: absolute offset of element k * STRING_INDEX_STRIDE. */
  stringIndex?: Float64Array;
}

export interface GgufHeader {
  version: number;
  alignment: number;
  metadata: MetadataEntry[];
  tensors: TensorInfo[];
  tensorInfoEnd: number;
  dataOffset: number;
}

function fail(code: ConstructorParameters<typeof QuantLensError>[0], message: string, offset: number, source: ByteSource): never {
  throw new QuantLensError(code, message, offset, source.name);
}

async function readString(c: Cursor, what: string): Promise<string> {
  if (!c.has(8)) await c.fill(8, `${what} length`);
  const at = c.pos;
  const len = c.u64Number(`${what} length`);
  if (len > c.remaining) fail('truncated', `${what} declares a ${len}-byte string at byte ${at}, but only ${c.remaining} bytes follow`, at, c.source);
  if (!c.has(len)) await c.fill(len, what);
  return c.utf8(len);
}

/** Skip one string, returning nothing; used to walk long string arrays. */
async function skipString(c: Cursor, what: string): Promise<void> {
  if (!c.has(8)) await c.fill(8, what);
  const at = c.pos;
  const len = c.u64Number(`${what} length`);
  if (len > c.remaining) fail('truncated', `${what} declares a ${len}-byte string at byte ${at}, but only ${c.remaining} bytes follow`, at, c.source);
  c.skip(len);
}

async function readScalar(c: Cursor, type: number, what: string): Promise<ScalarValue> {
  if (type === STRING) return readString(c, what);
  const size = VALUE_SIZE[type];
  if (!c.has(size)) await c.fill(size, what);
  switch (type) {
    case 0: return c.u8();
    case 1: return c.i8();
    case 2: return c.u16();
    case 3: return c.i16();
    case 4: return c.u32();
    case 5: return c.i32();
    case 6: return c.f32();
    case 7: return c.u8() !== 0;
    case 10: return c.u64();
    case 11: return c.i64();
    case 12: return c.f64();
  }
  throw new Error(`unreachable value type ${type}`);
}

async function readValueType(c: Cursor, what: string): Promise<number> {
  if (!c.has(4)) await c.fill(4, `${what} type`);
  const at = c.pos;
  const type = c.u32();
  if (type >= GGUF_VALUE_TYPES.length) fail('invalid-value', `${what} has value type ${type} at byte ${at} (valid: 0..12)`, at, c.source);
  return type;
}

async function readArray(c: Cursor, what: string, fileIndex: number, depth: number): Promise<GgufArrayValue> {
  if (depth > MAX_ARRAY_DEPTH) fail('limit-exceeded', `${what} nests arrays more than ${MAX_ARRAY_DEPTH} deep`, c.pos, c.source);
  const elementType = await readValueType(c, `${what} element`);
  if (!c.has(8)) await c.fill(8, `${what} length`);
  const at = c.pos;
  const length = c.u64Number(`${what} length`);
  const minBytes = length * MIN_VALUE_SIZE[elementType];
  if (minBytes > c.remaining) {
    fail('truncated', `${what} declares ${length} elements at byte ${at} (at least ${minBytes} bytes), but only ${c.remaining} bytes follow`, at, c.source);
  }
  const payloadOffset = c.pos;
  const result: GgufArrayValue = { kind: 'array', elementType: GGUF_VALUE_TYPES[elementType], length, payloadOffset, payloadBytes: 0, fileIndex };
  if (length <= EAGER_ARRAY_LENGTH) {
    const values: (ScalarValue | ArrayValue)[] = [];
    for (let i = 0; i < length; i++) {
      values.push(elementType === ARRAY ? await readArray(c, `${what}[${i}]`, fileIndex, depth + 1) : await readScalar(c, elementType, `${what}[${i}]`));
    }
    result.values = values;
  } else if (elementType === STRING) {
    const index = new Float64Array(Math.ceil(length / STRING_INDEX_STRIDE));
    for (let i = 0; i < length; i++) {
      if (i % STRING_INDEX_STRIDE === 0) index[i / STRING_INDEX_STRIDE] = c.pos;
      await skipString(c, what);
    }
    result.stringIndex = index;
  } else if (elementType === ARRAY) {
    for (let i = 0; i < length; i++) await readArray(c, `${what}[${i}]`, fileIndex, depth + 1);
  } else {
    c.skip(minBytes);
  }
  result.payloadBytes = c.pos - payloadOffset;
  return result;
}

/** Read the header of one GGUF file. `fileIndex` tags metadata and tensors for split models. */
export async function readGgufHeader(source: ByteSource, fileIndex = 0): Promise<GgufHeader> {
  if (source.size === 0) fail('truncated', 'file is empty (0 bytes)', 0, source);
  const c = new Cursor(source);
  if (source.size < FIXED_HEADER_BYTES) {
    await c.fill(Math.min(4, source.size), 'magic');
  } else {
    await c.fill(FIXED_HEADER_BYTES, 'fixed header');
  }
  const magicBytes = c.bytes(Math.min(4, source.size));
  const magic = String.fromCharCode(...magicBytes);
  if (magic !== GGUF_MAGIC) {
    const printable = /^[\x20-\x7e]*$/.test(magic) ? `"${magic}"` : `0x${[...magicBytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    fail('bad-magic', `not a GGUF file: magic is ${printable} at byte 0, expected "GGUF"`, 0, source);
  }
  if (source.size < FIXED_HEADER_BYTES) {
    fail('truncated', `file ends inside the fixed header (${source.size} of ${FIXED_HEADER_BYTES} bytes)`, source.size, source);
  }
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    // A big-endian file stores 3 as 0x03000000.
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3) fail('big-endian', `GGUF file is big-endian (version ${swapped} byte-swapped at byte 4); only little-endian files are supported`, 4, source);
    if (version === 1) fail('unsupported-version', 'GGUF version 1 is not supported (only 2 and 3), at byte 4', 4, source);
    if (version > 3) fail('unsupported-version', `GGUF version ${version} is newer than supported (2..3), at byte 4`, 4, source);
    fail('unsupported-version', `GGUF version ${version} at byte 4 is not supported (only 2 and 3)`, 4, source);
  }
  const tensorCount = c.u64Number('tensor_count');
  const kvCount = c.u64Number('kv_count');
  // Each tensor info takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; each key/value at least 8 + 4 + 1.
  const leastBytes = tensorCount * 32 + kvCount * 13;
  if (leastBytes > c.remaining) {
    fail('truncated', `file ends inside the key/value and tensor info sections: ${kvCount} keys and ${tensorCount} tensors need at least ${leastBytes} bytes after byte 24, only ${c.remaining} left`, 24, source);
  }

  const metadata: MetadataEntry[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = await readString(c, `key #${i}`);
    const type = await readValueType(c, key);
    const value = type === ARRAY ? await readArray(c, key, fileIndex, 0) : await readScalar(c, type, key);
    metadata.push({ key, type: GGUF_VALUE_TYPES[type] as GgufValueTypeName, value, fileIndex });
  }

  const alignmentEntry = metadata.find((m) => m.key === 'general.alignment');
  let alignment = DEFAULT_ALIGNMENT;
  if (alignmentEntry) {
    const a = alignmentEntry.value;
    if (typeof a !== 'number' || a <= 0 || (a & (a - 1)) !== 0) {
      fail('invalid-value', `general.alignment is ${String(a)}, must be a power of two`, 0, source);
    }
    alignment = a;
  }

  const raw: { name: string; ne: number[]; typeId: number; offset: number; at: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    const name = await readString(c, `tensor #${i} name`);
    if (!c.has(4)) await c.fill(4, `tensor ${name} n_dims`);
    const nDims = c.u32();
    if (nDims === 0) fail('bad-tensor', `tensor ${name} has n_dims = 0 (must be 1..${MAX_DIMS}), at byte ${c.pos - 4}`, c.pos - 4, source);
    if (nDims > MAX_DIMS) fail('bad-tensor', `tensor ${name} has n_dims = ${nDims} (maximum is ${MAX_DIMS}), at byte ${c.pos - 4}`, c.pos - 4, source);
    await c.fill(8 * nDims + 12, `tensor ${name} info`);
    const neAt = c.pos;
    const neBig: bigint[] = [];
    for (let d = 0; d < nDims; d++) neBig.push(c.u64());
    const count = neBig.reduce((a, b) => a * b, 1n);
    if (count > BigInt(Number.MAX_SAFE_INTEGER) || neBig.some((x) => x > BigInt(Number.MAX_SAFE_INTEGER))) {
      const shape = neBig.map((x) => x.toString()).join(' x ');
      fail('bad-tensor', `tensor ${name} shape ${shape}: element count overflows (at byte ${neAt})`, neAt, source);
    }
    const typeId = c.u32();
    const offsetAt = c.pos;
    const offBig = c.u64();
    const offset = offBig > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(offBig);
    raw.push({ name, ne: neBig.map(Number), typeId, offset, at: offsetAt });
    void at;
  }
  const tensorInfoEnd = c.pos;
  const dataOffset = Math.ceil(tensorInfoEnd / alignment) * alignment;

  const seen = new Set<string>();
  const tensors: TensorInfo[] = [];
  for (const r of raw) {
    if (seen.has(r.name)) fail('bad-tensor', `two tensors are named ${r.name}`, r.at, source);
    seen.add(r.name);
    const known = ggmlType(r.typeId);
    const type = known ?? unknownGgmlType(r.typeId);
    const nElements = r.ne.reduce((a, b) => a * b, 1);
    let nbytes = 0;
    if (known) {
      if (r.ne[0] % known.blockSize !== 0) {
        fail('bad-tensor', `tensor ${r.name} row length ${r.ne[0]} is not a multiple of the ${known.name} block size ${known.blockSize}`, r.at, source);
      }
      nbytes = (nElements / known.blockSize) * known.bytesPerBlock;
    }
    if (r.offset % alignment !== 0) {
      fail('bad-tensor', `tensor ${r.name} offset ${r.offset} is not a multiple of the alignment (${alignment}), at byte ${r.at}`, r.at, source);
    }
    const absoluteOffset = dataOffset + r.offset;
    if (absoluteOffset > source.size) {
      const shown = r.offset === Infinity ? 'beyond 2^53' : String(r.offset);
      fail('bad-tensor', `tensor ${r.name} data offset ${shown} lies past the end of the file (${source.size} bytes), at byte ${r.at}`, r.at, source);
    }
    if (absoluteOffset + nbytes > source.size) {
      const missing = absoluteOffset + nbytes - source.size;
      fail('truncated', `tensor ${r.name} (${nbytes} bytes at data offset ${r.offset}) is cut short: the file ends ${missing} bytes before its end`, absoluteOffset, source);
    }
    tensors.push({ name: r.name, shape: r.ne, type, ggmlTypeId: r.typeId, fileIndex, offset: r.offset, absoluteOffset, nbytes, nElements });
  }
  return { version, alignment, metadata, tensors, tensorInfoEnd, dataOffset };
}

/**
 * Elements [start, start + count) of a metadata array that was left in the file, decoded. Numbers for numeric
 * types (bigint for 64-bit integers), strings, booleans.
 */
export async function readArrayPage(source: ByteSource, arr: ArrayValue, start: number, count: number): Promise<ScalarValue[]> {
  if (arr.values) return arr.values.slice(start, start + count) as ScalarValue[];
  const end = Math.min(arr.length, start + count);
  if (start >= end) return [];
  const typeId = GGUF_VALUE_TYPES.indexOf(arr.elementType);
  if (typeId === ARRAY) throw new QuantLensError('not-decodable', `paging nested arrays is not supported (${arr.length} elements)`);
  const c = new Cursor(source, arr.payloadOffset, 1 << 16);
  if (typeId === STRING) {
    const index = (arr as GgufArrayValue).stringIndex;
    let i = 0;
    if (index) {
      const k = Math.floor(start / STRING_INDEX_STRIDE);
      c.pos = index[k];
      i = k * STRING_INDEX_STRIDE;
    }
    for (; i < start; i++) await skipString(c, 'array element');
  } else {
    c.pos = arr.payloadOffset + start * VALUE_SIZE[typeId];
  }
  const out: ScalarValue[] = [];
  for (let i = start; i < end; i++) out.push(await readScalar(c, typeId, 'array element'));
  return out;
}
