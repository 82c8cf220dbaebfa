/**
 * GGUF v2/v3 header reader. Reads metadata and tensor infos only; long metadata arrays (token lists, merges)
 * are walked, not decoded, and can be paged later with `readArrayPage`. Every count and length is checked
 * against the bytes left in the file before anything is allocated; every defect is a one-line QuantLensError
 * that names the byte offset. It enforces the rules of ggml's own loader (see readGgufHeader), and keeps what it
 * holds per key and per tensor small (one entry object, no per-entry promise or BigInt), so opening a header
 * costs a small multiple of its size.
 */
import type { ByteSource } from '../io/byteSource.ts';
import { Cursor } from '../io/cursor.ts';
import { QuantLensError } from '../errors.ts';
import {
  GGUF_VALUE_TYPES,
  type ArrayValue,
  type GgufValueTypeName,
  type MetadataEntry,
  type ScalarValue,
  type TensorInfo,
} from '../model.ts';
import { ggmlType, unknownGgmlType, type TensorType } from '../types.ts';
import { headerModule } from '../wasm/kernels.ts';

const GGUF_MAGIC = 'GGUF';
const FIXED_HEADER_BYTES = 24; // magic, version u32, tensor_count u64, kv_count u64
export const DEFAULT_ALIGNMENT = 32;
/** Arrays up to this many elements are decoded while the header is read; longer ones are paged on demand. */
const EAGER_ARRAY_LENGTH = 64;
/** String arrays record the offset of every STRING_INDEX_STRIDE-th element, so any page is a short walk away. */
export const STRING_INDEX_STRIDE = 1024;
/** The most of the window walkStrings copies into WebAssembly memory at once (which never shrinks). */
const WALK_BYTES = 1 << 20;
const MAX_DIMS = 4;
/** ggml.h GGML_MAX_NAME: a tensor name is stored in char[64] with its terminator, so at most 63 bytes. */
export const GGML_MAX_NAME = 64;
/** gguf.cpp GGUF_MAX_STRING_LENGTH and GGUF_MAX_ARRAY_ELEMENTS: ggml refuses longer strings and arrays. */
export const GGUF_MAX_STRING_LENGTH = 2 ** 30;
export const GGUF_MAX_ARRAY_ELEMENTS = 2 ** 30;
/**
 * The GGUF spec limits keys to 65535 bytes. ggml's loader itself checks only that a key is non-empty and unique
 * (it applies GGML_MAX_NAME to tensor names, not to keys), so a longer-than-63-byte key is valid here too.
 */
export const GGUF_MAX_KEY_BYTES = 65535;
const INT64_MAX = 2n ** 63n - 1n;
const KEY_LIMIT = 'the GGUF limit of 65535 for a key';

/** Bytes per element of each value type; 0 for variable-sized ones (STRING, ARRAY). */
const VALUE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
/** The fewest bytes one element of each type can take (for the "enough bytes left?" check). */
const MIN_VALUE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];
const UINT32 = 4;
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

/*
 * The readers below come in pairs: `tryX` reads from the cursor's window and returns undefined (consuming
 * nothing) when the bytes are not there yet; `readX` fills the window and then reads. Callers write
 * `tryX(...) ?? (await readX(...))`, so the common case (the bytes are in the window) costs no promise: a header
 * with millions of keys or tensors is read without millions of awaits.
 */

/** The exact u64 (or int64) stored at `at` (already in the window), for messages on the rare error paths. */
function storedAt(c: Cursor, at: number, signed = false): bigint {
  const pos = c.pos;
  c.pos = at;
  const v = signed ? c.i64() : c.u64();
  c.pos = pos;
  return v;
}
const int64At = (c: Cursor, at: number) => storedAt(c, at, true);

/** The length field of a string at c.pos (8 bytes in the window), checked against ggml's limit and the file. */
function stringLength(c: Cursor, what: string, maxBytes: number, limit: string): number {
  const at = c.pos;
  const len = c.u64Float();
  if (len > maxBytes)
    fail('limit-exceeded', `${what} declares a ${storedAt(c, at)}-byte string at byte ${at}, more than ${limit}`, at, c.source);
  if (len > c.remaining)
    fail('truncated', `${what} declares a ${len}-byte string at byte ${at}, but only ${c.remaining} bytes follow`, at, c.source);
  return len;
}

function tryString(c: Cursor, what: string, maxBytes = GGUF_MAX_STRING_LENGTH, limit = "ggml's limit of 2^30"): string | undefined {
  if (!c.has(8)) return undefined;
  const at = c.pos;
  const len = stringLength(c, what, maxBytes, limit);
  if (c.has(len)) return c.utf8(len);
  c.pos = at;
  return undefined;
}

async function readString(c: Cursor, what: string, maxBytes = GGUF_MAX_STRING_LENGTH, limit = "ggml's limit of 2^30"): Promise<string> {
  if (!c.has(8)) await c.fill(8, `${what} length`);
  const len = stringLength(c, what, maxBytes, limit);
  if (!c.has(len)) await c.fill(len, what);
  return c.utf8(len);
}

/** Skip one string; true when it was in the window (else nothing is consumed). */
function trySkipString(c: Cursor, what: string): boolean {
  if (!c.has(8)) return false;
  const at = c.pos;
  const len = stringLength(c, what, GGUF_MAX_STRING_LENGTH, "ggml's limit of 2^30");
  if (c.has(len)) {
    c.skip(len);
    return true;
  }
  c.pos = at;
  return false;
}

async function skipString(c: Cursor, what: string): Promise<void> {
  if (!c.has(8)) await c.fill(8, `${what} length`);
  c.skip(stringLength(c, what, GGUF_MAX_STRING_LENGTH, "ggml's limit of 2^30"));
}

/**
 * Skips strings `from`, `from + 1` ... of a string array of `length` while each lies wholly in the next WALK_BYTES
 * of the cursor's window, recording the offset of every STRING_INDEX_STRIDE-th in `index`; returns the number of the
 * first string not skipped. A string whose length is over ggml's limit (2^30; any of its length's high four bytes
 * set is) is left to stringLength, which refuses it. The walk itself is skipStrings in dist/header.wasm
 * (src/core/wasm/assembly/header.ts), over a copy of those bytes, STRING_INDEX_STRIDE strings a call.
 */
function walkStrings(c: Cursor, from: number, length: number, index: Float64Array): number {
  const window = c.rest();
  const bytes = window.subarray(0, Math.min(window.length, WALK_BYTES));
  const wasm = headerModule();
  wasm.reset();
  const start = wasm.alloc(bytes.length);
  new Uint8Array(wasm.memory.buffer, start, bytes.length).set(bytes);
  const end = start + bytes.length;
  let p = start;
  let i = from;
  while (i < length) {
    // string i is recorded before it is known to fit: if it does not, the caller records the same offset again
    if (i % STRING_INDEX_STRIDE === 0) index[i / STRING_INDEX_STRIDE] = c.pos + (p - start);
    const count = Math.min(length - i, STRING_INDEX_STRIDE - (i % STRING_INDEX_STRIDE));
    const skipped = wasm.skipStrings(p, end, count, GGUF_MAX_STRING_LENGTH);
    i += skipped;
    p = wasm.walkedTo();
    if (skipped < count) break;
  }
  c.skip(p - start);
  return i;
}

/** A value of a fixed-size type whose bytes are in the window. */
function fixedScalar(c: Cursor, type: number): ScalarValue {
  switch (type) {
    case 0:
      return c.u8();
    case 1:
      return c.i8();
    case 2:
      return c.u16();
    case 3:
      return c.i16();
    case 4:
      return c.u32();
    case 5:
      return c.i32();
    case 6:
      return c.f32();
    case 7:
      return c.u8() !== 0;
    case 10:
      return c.u64();
    case 11:
      return c.i64();
    case 12:
      return c.f64();
  }
  throw new Error(`unreachable value type ${type}`);
}

function tryScalar(c: Cursor, type: number, what: string): ScalarValue | undefined {
  if (type === STRING) return tryString(c, what);
  return c.has(VALUE_SIZE[type]) ? fixedScalar(c, type) : undefined;
}

async function readScalar(c: Cursor, type: number, what: string): Promise<ScalarValue> {
  if (type === STRING) return readString(c, what);
  await c.fill(VALUE_SIZE[type], what);
  return fixedScalar(c, type);
}

/** A value type id (4 bytes in the window). */
function valueType(c: Cursor, what: string): number {
  const at = c.pos;
  const type = c.u32();
  if (type >= GGUF_VALUE_TYPES.length) fail('invalid-value', `${what} has value type ${type} at byte ${at} (valid: 0..12)`, at, c.source);
  return type;
}

async function readArray(c: Cursor, what: string, fileIndex: number): Promise<GgufArrayValue> {
  await c.fill(12, `${what} element type and length`);
  const typeAt = c.pos;
  const elementType = valueType(c, `${what} element`);
  // gguf_init_from_reader reads one element type after ARRAY and refuses ARRAY there: no arrays of arrays.
  if (elementType === ARRAY)
    fail('invalid-value', `${what} is an array of arrays (at byte ${typeAt}); ggml refuses nested arrays`, typeAt, c.source);
  const at = c.pos;
  const length = c.u64Float();
  if (length > GGUF_MAX_ARRAY_ELEMENTS) {
    fail('limit-exceeded', `${what} declares ${storedAt(c, at)} elements at byte ${at}, more than ggml's limit of 2^30`, at, c.source);
  }
  const minBytes = length * MIN_VALUE_SIZE[elementType];
  if (minBytes > c.remaining) {
    fail(
      'truncated',
      `${what} declares ${length} elements at byte ${at} (at least ${minBytes} bytes), but only ${c.remaining} bytes follow`,
      at,
      c.source,
    );
  }
  const payloadOffset = c.pos;
  const result: GgufArrayValue = {
    kind: 'array',
    elementType: GGUF_VALUE_TYPES[elementType],
    length,
    payloadOffset,
    payloadBytes: 0,
    fileIndex,
  };
  if (length <= EAGER_ARRAY_LENGTH) {
    const values: ScalarValue[] = [];
    for (let i = 0; i < length; i++)
      values.push(tryScalar(c, elementType, `${what}[${i}]`) ?? (await readScalar(c, elementType, `${what}[${i}]`)));
    result.values = values;
  } else if (elementType === STRING) {
    const index = new Float64Array(Math.ceil(length / STRING_INDEX_STRIDE));
    for (let i = walkStrings(c, 0, length, index); i < length; i = walkStrings(c, i, length, index)) {
      // string i is not wholly in the window, or breaks a rule: read and judged one at a time
      if (i % STRING_INDEX_STRIDE === 0) index[i / STRING_INDEX_STRIDE] = c.pos;
      if (!trySkipString(c, what)) await skipString(c, what);
      i++;
    }
    result.stringIndex = index;
  } else {
    c.skip(minBytes);
  }
  result.payloadBytes = c.pos - payloadOffset;
  return result;
}

/**
 * Finds a repeated name among millions without a Map of strings (whose growth dominated a million-key header):
 * an open-addressing table of entry numbers keyed by a 32-bit FNV-1a hash of the name, growing by doubling.
 * `nameOf(k)` gives entry k's name; only names with equal hashes are compared. A file crafted so that names
 * collide cannot make it quadratic: after one long probe it moves everything to a Map (V8's hash is seeded).
 */
class DuplicateFinder {
  private slots = new Int32Array(1024); // entry number + 1; 0 = empty
  private hashes = new Uint32Array(512);
  private count = 0;
  private map: Map<string, number> | undefined;

  constructor(private readonly nameOf: (entry: number) => string) {}

  /** The number of an earlier entry with this name, or -1 (and the name is recorded as the next entry). */
  add(name: string): number {
    if (this.map) {
      const k = this.map.get(name);
      if (k !== undefined) return k;
      this.map.set(name, this.count++);
      return -1;
    }
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    h >>>= 0;
    const mask = this.slots.length - 1;
    let probes = 0;
    for (let i = h & mask; this.slots[i] !== 0; i = (i + 1) & mask) {
      const k = this.slots[i] - 1;
      if (this.hashes[k] === h && this.nameOf(k) === name) return k;
      if (++probes > MAX_PROBES) {
        this.map = new Map();
        for (let e = 0; e < this.count; e++) this.map.set(this.nameOf(e), e);
        return this.add(name);
      }
    }
    if (this.count === this.hashes.length) this.grow();
    this.hashes[this.count] = h;
    this.insert(h, ++this.count);
    return -1;
  }

  private insert(h: number, slotValue: number): void {
    const mask = this.slots.length - 1;
    let i = h & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = slotValue;
  }

  private grow(): void {
    const hashes = new Uint32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
    this.slots = new Int32Array(this.slots.length * 2);
    for (let k = 0; k < this.count; k++) this.insert(this.hashes[k], k + 1);
  }
}
/** Far more probes than a half-full table of distinct hashes needs. */
const MAX_PROBES = 200;

/**
 * The shard of a split model a file name says it is, as llama.cpp's gguf-split names shards
 * (`PREFIX-0000N-of-0000M.gguf`, five digits each); undefined for any other name.
 */
export function parseSplitName(fileName: string): { prefix: string; shard: number; total: number } | undefined {
  const m = /^(.*?)-(\d{5})-of-(\d{5})\.gguf$/.exec(fileName);
  return m ? { prefix: m[1], shard: Number(m[2]), total: Number(m[3]) } : undefined;
}

/** A tensor name as ggml compares them: a C string, up to its first NUL. */
export function cString(name: string): string {
  const nul = name.indexOf('\0');
  return nul === -1 ? name : name.slice(0, nul);
}

/**
 * Read the header of one GGUF file. `fileIndex` tags metadata and tensors for split models.
 *
 * The rules are those of ggml's loader (ggml/src/gguf.cpp, gguf_init_from_reader, at the corpus's ggml commit),
 * each refused with a one-line QuantLensError naming the byte offset and the key or tensor: keys non-empty and
 * unique; strings and arrays within ggml's 2^30 limits; no arrays of arrays; general.alignment of type UINT32, a
 * non-zero power of two; tensor names shorter than GGML_MAX_NAME (64) and unique; at most 4 dims, none negative,
 * the element count below INT64_MAX; row length a multiple of the type's block size; each tensor's data offset
 * exactly where the previous one ends, padded to the alignment (so aligned, in order, no overlap and no gap);
 * the data section inside the file. Two deliberate differences:
 * - n_dims = 0 is refused (ggml reads it as a 1x1x1x1 tensor; no writer produces it and its size is ambiguous).
 * - A tensor of a ggml type id this version does not know (ggml refuses it) is listed as "unknown type N" and
 *   only decoding it fails, so a file from a newer ggml can still be inspected. Its byte size is unknown, so the
 *   tensor after it must start at an aligned offset at or after its start; every other layout rule holds.
 * Known tensors must also lie wholly inside the file (ggml checks that only when it loads the data).
 */
export async function readGgufHeader(source: ByteSource, fileIndex = 0): Promise<GgufHeader> {
  const read = emptyHeader();
  await readHeaderSections(source, fileIndex, read, false);
  checkDataInFile(read, source);
  const { version, alignment, metadata, tensors, tensorInfoEnd, dataOffset } = read;
  return { version, alignment, metadata, tensors, tensorInfoEnd, dataOffset };
}

/** What a GGUF file cut short (a download that stopped) still holds, read as far as it goes. */
export interface CutGguf {
  /** The keys read and every tensor info read (all of them when the file ends in the data section). */
  header: GgufHeader;
  /** The tensors whose data lies wholly in the file. */
  present: TensorInfo[];
  /** Tensor infos the file ends before (their names are not known). */
  unreadInfos: number;
  /** The size the file needs: exact when every tensor info was read, else a lower bound (`atLeast`). */
  neededBytes: number;
  atLeast: boolean;
  /** Where the file ends, as readGgufHeader says it. */
  error: QuantLensError;
}

/**
 * A GGUF file that readGgufHeader refuses because it ends too soon, read as far as it goes: its keys, its tensor
 * infos, which tensors' data is there, and how big it should be. Undefined when the file is not cut short (it
 * reads, or breaks another rule first: those errors are thrown as readGgufHeader throws them), or when it ends
 * before its first key.
 */
export async function readCutGguf(source: ByteSource, fileIndex = 0): Promise<CutGguf | undefined> {
  const read = emptyHeader();
  let error: QuantLensError | undefined;
  try {
    await readHeaderSections(source, fileIndex, read, true);
  } catch (e) {
    if (!(e instanceof QuantLensError) || e.code !== 'truncated' || read.version === 0) throw e;
    error = e;
  }
  const { version, alignment, metadata, tensors, tensorInfoEnd, dataOffset } = read;
  const header = { version, alignment, metadata, tensors, tensorInfoEnd, dataOffset };
  if (error) {
    // the data section starts after the infos not read (each at least 32 bytes), so after the end of the file
    const unreadInfos = read.tensorCount - tensors.length;
    const infosEnd = source.size + 1 + 32 * Math.max(0, unreadInfos - 1);
    const dataEnd = tensors.reduce((end, t) => Math.max(end, t.offset + t.nbytes), 0);
    const neededBytes = Math.ceil(infosEnd / alignment) * alignment + dataEnd;
    return { header, present: [], unreadInfos, neededBytes, atLeast: true, error };
  }
  try {
    checkDataInFile(read, source);
    return undefined;
  } catch (e) {
    // the infos are all read and in order: data past the end of the file is a cut file, whichever rule said so
    if (!(e instanceof QuantLensError)) throw e;
    const neededBytes = tensors.reduce((end, t) => Math.max(end, t.absoluteOffset + t.nbytes), dataOffset);
    if (neededBytes <= source.size) throw e;
    const present = tensors.filter((t) => t.absoluteOffset + t.nbytes <= source.size);
    return { header, present, unreadInfos: 0, neededBytes, atLeast: false, error: e };
  }
}

/** A header being read: each section is filled in as it is read, so a cut file keeps what came before the cut. */
function emptyHeader(): GgufHeader & { tensorCount: number } {
  return { version: 0, alignment: DEFAULT_ALIGNMENT, metadata: [], tensors: [], tensorInfoEnd: 0, dataOffset: 0, tensorCount: 0 };
}

/**
 * The fixed header, the keys and values, and the tensor infos, into `read`; throws at the first rule broken.
 * `salvage` (a file being opened as far as it goes) skips the up-front check that the counts fit in the file, so a
 * cut file is read up to its cut (every loop still ends there: each entry needs at least 13 bytes of the file).
 */
async function readHeaderSections(
  source: ByteSource,
  fileIndex: number,
  read: GgufHeader & { tensorCount: number },
  salvage: boolean,
): Promise<void> {
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
    const printable = /^[\x20-\x7e]*$/.test(magic)
      ? `"${magic}"`
      : `0x${[...magicBytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    fail('bad-magic', `not a GGUF file: magic is ${printable} at byte 0, expected "GGUF"`, 0, source);
  }
  if (source.size < FIXED_HEADER_BYTES) {
    fail('truncated', `file ends inside the fixed header (${source.size} of ${FIXED_HEADER_BYTES} bytes)`, source.size, source);
  }
  const version = c.u32();
  read.version = version;
  if (version !== 2 && version !== 3) {
    // A big-endian file stores 3 as 0x03000000.
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3)
      fail(
        'big-endian',
        `GGUF file is big-endian (version ${swapped} byte-swapped at byte 4); only little-endian files are supported`,
        4,
        source,
      );
    if (version === 1) fail('unsupported-version', 'GGUF version 1 is not supported (only 2 and 3), at byte 4', 4, source);
    if (version > 3) fail('unsupported-version', `GGUF version ${version} is newer than supported (2..3), at byte 4`, 4, source);
    fail('unsupported-version', `GGUF version ${version} at byte 4 is not supported (only 2 and 3)`, 4, source);
  }
  const tensorCount = c.u64Number('tensor_count');
  const kvCount = c.u64Number('kv_count');
  read.tensorCount = tensorCount;
  // Each tensor info takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; each key/value at least 8 + 4 + 1.
  const leastBytes = tensorCount * 32 + kvCount * 13;
  if (leastBytes > c.remaining && !salvage) {
    fail(
      'truncated',
      `file ends inside the key/value and tensor info sections: ${kvCount} keys and ${tensorCount} tensors need at least ${leastBytes} bytes after byte 24, only ${c.remaining} left`,
      24,
      source,
    );
  }

  const metadata: MetadataEntry[] = read.metadata;
  const keys = new DuplicateFinder((k) => metadata[k].key);
  let alignmentType = -1;
  let alignmentValue: ScalarValue = DEFAULT_ALIGNMENT;
  let alignmentAt = 0;
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos;
    // Constant descriptions in the per-entry fast path (no string built per key); errors add the byte offset.
    const key = tryString(c, 'a key', GGUF_MAX_KEY_BYTES, KEY_LIMIT) ?? (await readString(c, 'a key', GGUF_MAX_KEY_BYTES, KEY_LIMIT));
    if (key === '') fail('invalid-value', `key #${i} is empty, at byte ${at}`, at, source);
    const first = keys.add(key);
    if (first !== -1) fail('invalid-value', `duplicate key ${key} at byte ${at} (key #${first} has the same name)`, at, source);
    if (!c.has(4)) await c.fill(4, `${key} type`);
    const valueAt = c.pos;
    const type = valueType(c, key);
    const value = type === ARRAY ? await readArray(c, key, fileIndex) : (tryScalar(c, type, key) ?? (await readScalar(c, type, key)));
    if (key === 'general.alignment') {
      alignmentType = type;
      alignmentValue = value as ScalarValue;
      alignmentAt = valueAt;
    }
    metadata.push({ key, type: GGUF_VALUE_TYPES[type] as GgufValueTypeName, value, fileIndex });
  }

  let alignment = DEFAULT_ALIGNMENT;
  if (alignmentType !== -1) {
    if (alignmentType !== UINT32)
      fail(
        'invalid-value',
        `general.alignment has type ${GGUF_VALUE_TYPES[alignmentType]}, must be UINT32 (at byte ${alignmentAt})`,
        alignmentAt,
        source,
      );
    const a = alignmentValue as number;
    if (a === 0 || (a & (a - 1)) !== 0)
      fail('invalid-value', `general.alignment is ${a}, must be a power of two (at byte ${alignmentAt})`, alignmentAt, source);
    alignment = a;
  }
  read.alignment = alignment;

  const tensors: TensorInfo[] = read.tensors;
  const names = new DuplicateFinder((k) => cString(tensors[k].name));
  const unknownTypes = new Map<number, TensorType>();
  /** Where the next tensor must start, relative to the data section; after an unknown type, the least start. */
  let expected = 0;
  let afterUnknown = false;
  let previousName: string | undefined;
  const previous = () => (previousName === undefined ? 'the start of the data section' : `tensor ${previousName}`);
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    if (!c.has(8)) await c.fill(8, `tensor #${i} name length`);
    const nameLength = c.u64Float();
    c.pos = at;
    if (nameLength >= GGML_MAX_NAME && nameLength <= c.remaining - 8) {
      await c.fill(8 + GGML_MAX_NAME, `tensor #${i} name`);
      c.skip(8);
      const shown = c.utf8(GGML_MAX_NAME);
      fail(
        'bad-tensor',
        `tensor #${i} name ${shown}… is ${nameLength} bytes at byte ${at}; ggml allows at most ${GGML_MAX_NAME - 1} (GGML_MAX_NAME ${GGML_MAX_NAME})`,
        at,
        source,
      );
    }
    const name = tryString(c, 'a tensor name') ?? (await readString(c, 'a tensor name'));
    const same = names.add(cString(name));
    if (same !== -1) fail('bad-tensor', `two tensors are named ${cString(name)} (#${same} and #${i}), at byte ${at}`, at, source);

    if (!c.has(4)) await c.fill(4, `tensor ${name} n_dims`);
    const nDimsAt = c.pos;
    const nDims = c.u32();
    if (nDims === 0) fail('bad-tensor', `tensor ${name} has n_dims = 0 (must be 1..${MAX_DIMS}), at byte ${nDimsAt}`, nDimsAt, source);
    if (nDims > MAX_DIMS)
      fail('bad-tensor', `tensor ${name} has n_dims = ${nDims} (maximum is ${MAX_DIMS}), at byte ${nDimsAt}`, nDimsAt, source);
    if (!c.has(8 * nDims + 12)) await c.fill(8 * nDims + 12, `tensor ${name} info`);
    const neAt = c.pos;
    const shape = new Array<number>(nDims); // exactly nDims slots (push would reserve 17)
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const lo = c.u32();
      const hi = c.u32();
      // ne is an int64 in ggml: a stored value of 2^63 or more is negative.
      if (hi >= 2 ** 31)
        fail('bad-tensor', `tensor ${name} dimension ${d} is ${int64At(c, c.pos - 8)} (negative), at byte ${c.pos - 8}`, c.pos - 8, source);
      const ne = hi === 0 ? lo : hi * 2 ** 32 + lo;
      shape[d] = ne;
      nElements *= ne;
    }
    if (nElements > Number.MAX_SAFE_INTEGER) {
      // Exact only here, on the rare path: ggml refuses an element count that reaches INT64_MAX.
      let exact = 1n;
      for (let d = 0; d < nDims; d++) exact *= int64At(c, neAt + 8 * d);
      const dims = Array.from({ length: nDims }, (_, d) => int64At(c, neAt + 8 * d)).join(' x ');
      if (exact >= INT64_MAX)
        fail('bad-tensor', `tensor ${name} shape ${dims}: element count overflows int64 (at byte ${neAt})`, neAt, source);
      fail(
        'limit-exceeded',
        `tensor ${name} shape ${dims}: ${exact} elements, more than any file can hold (at byte ${neAt})`,
        neAt,
        source,
      );
    }
    const typeAt = c.pos;
    const typeId = c.u32();
    const known = ggmlType(typeId);
    let type = known;
    if (!type) {
      type = unknownTypes.get(typeId) ?? unknownGgmlType(typeId);
      unknownTypes.set(typeId, type);
    }
    let nbytes = 0;
    if (known) {
      if (shape[0] % known.blockSize !== 0) {
        fail(
          'bad-tensor',
          `tensor ${name} row length ${shape[0]} is not a multiple of the ${known.name} block size ${known.blockSize}, at byte ${typeAt}`,
          typeAt,
          source,
        );
      }
      nbytes = (nElements / known.blockSize) * known.bytesPerBlock;
    }
    const offsetAt = c.pos;
    const offset = c.u64Float();
    if (afterUnknown ? offset % alignment !== 0 || offset < expected : offset !== expected) {
      const shown = storedAt(c, offsetAt);
      const unaligned = offset % alignment !== 0 ? `is not a multiple of the alignment (${alignment})` : undefined;
      const message = afterUnknown
        ? `${unaligned ?? `lies before the start of ${previous()} (${expected}), whose size is unknown`}`
        : `${unaligned ?? (offset < expected ? `overlaps ${previous()}` : `leaves a gap after ${previous()}`)}: ggml expects ${expected} (where ${previous()} ends, padded to ${alignment})`;
      fail('bad-tensor', `tensor ${name} data offset ${shown} ${message}, at byte ${offsetAt}`, offsetAt, source);
    }
    afterUnknown = !known;
    expected = known ? offset + Math.ceil(nbytes / alignment) * alignment : offset;
    previousName = name;
    tensors.push({ name, shape, type, ggmlTypeId: typeId, fileIndex, offset, absoluteOffset: offset, nbytes, nElements });
  }
  read.tensorInfoEnd = c.pos;
  read.dataOffset = Math.ceil(c.pos / alignment) * alignment;
  for (const t of tensors) t.absoluteOffset = read.dataOffset + t.offset;
}

/** Every known tensor's data lies wholly inside the file (the data section starts inside it). */
function checkDataInFile(read: GgufHeader, source: ByteSource): void {
  const { tensorInfoEnd, dataOffset, alignment, tensors } = read;
  if (tensors.length > 0 && dataOffset > source.size) {
    fail(
      'truncated',
      `file ends at byte ${source.size}, before its data section (byte ${dataOffset}: the tensor infos end at ${tensorInfoEnd}, padded to ${alignment})`,
      source.size,
      source,
    );
  }
  for (const t of tensors) {
    if (t.absoluteOffset > source.size) {
      fail(
        'bad-tensor',
        `tensor ${t.name} data offset ${t.offset} lies past the end of the file (${source.size} bytes)`,
        t.absoluteOffset,
        source,
      );
    }
    if (t.absoluteOffset + t.nbytes > source.size) {
      const missing = t.absoluteOffset + t.nbytes - source.size;
      fail(
        'truncated',
        `tensor ${t.name} (${t.nbytes} bytes at data offset ${t.offset}) is cut short: the file ends ${missing} bytes before its end`,
        t.absoluteOffset,
        source,
      );
    }
  }
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
  if (typeId === ARRAY) throw new QuantLensError('not-decodable', `arrays of arrays are not GGUF (${arr.length} elements)`);
  // where the reading starts: the element itself, or for strings the nearest indexed one before it
  const index = typeId === STRING ? (arr as GgufArrayValue).stringIndex : undefined;
  const indexed = index ? Math.floor(start / STRING_INDEX_STRIDE) : 0;
  const from = typeId !== STRING ? arr.payloadOffset + start * VALUE_SIZE[typeId] : index ? index[indexed] : arr.payloadOffset;
  // the cursor never reads past the array (over HTTP, a page of tokens is not a request for tensor data)
  const c = new Cursor(source, from, Math.max(1, Math.min(1 << 16, arr.payloadOffset + arr.payloadBytes - from)));
  if (typeId === STRING) {
    for (let i = indexed * STRING_INDEX_STRIDE; i < start; i++)
      if (!trySkipString(c, 'array element')) await skipString(c, 'array element');
  }
  const out: ScalarValue[] = [];
  for (let i = start; i < end; i++) out.push(tryScalar(c, typeId, 'array element') ?? (await readScalar(c, typeId, 'array element')));
  return out;
}
