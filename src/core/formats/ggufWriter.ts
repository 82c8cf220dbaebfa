/**
 * Writes GGUF v3 headers and files: metadata, tensor infos, aligned data. Before writing anything it checks the
 * input against the rules the reader (formats/gguf.ts, after ggml's loader) enforces, so it never produces a file
 * the reader or ggml refuses; a violation is a one-line QuantLensError naming the key or tensor.
 */
import { GGUF_VALUE_TYPES, type ArrayValue, type GgufValueTypeName, type ScalarValue } from '../model.ts';
import { QuantLensError } from '../errors.ts';
import { ggmlType } from '../types.ts';
import { DEFAULT_ALIGNMENT, GGML_MAX_NAME, GGUF_MAX_ARRAY_ELEMENTS, GGUF_MAX_KEY_BYTES, cString } from './gguf.ts';

export interface WriterEntry {
  key: string;
  type: GgufValueTypeName;
  /** Arrays are given as { elementType, values }, or copied as stored: { elementType, length, payload }. */
  value: ScalarValue | { elementType: GgufValueTypeName; values: ScalarValue[] } | RawArray;
}

/** An array copied byte for byte from another GGUF file: the payload after its element type and count. */
export interface RawArray {
  elementType: GgufValueTypeName;
  length: number;
  payload: Uint8Array;
}

export interface WriterTensor {
  name: string;
  /** ggml order (ne[0] first). */
  shape: number[];
  ggmlTypeId: number;
  nbytes: number;
}

const encoder = new TextEncoder();

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.ensure(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.ensure(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint | number) {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: bigint | number) {
    this.ensure(8);
    this.view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string) {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number) {
    while (this.length % alignment) this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeScalar(w: ByteWriter, type: GgufValueTypeName, v: ScalarValue): void {
  switch (type) {
    case 'UINT8':
      return w.u8(Number(v));
    case 'INT8':
      return w.i8(Number(v));
    case 'UINT16':
      return w.u16(Number(v));
    case 'INT16':
      return w.i16(Number(v));
    case 'UINT32':
      return w.u32(Number(v));
    case 'INT32':
      return w.i32(Number(v));
    case 'FLOAT32':
      return w.f32(Number(v));
    case 'FLOAT64':
      return w.f64(Number(v));
    case 'BOOL':
      return w.u8(v ? 1 : 0);
    case 'STRING':
      return w.string(String(v));
    case 'UINT64':
      return w.u64(BigInt(v as bigint | number));
    case 'INT64':
      return w.i64(BigInt(v as bigint | number));
    case 'ARRAY':
      throw new QuantLensError('usage', 'nested arrays are written through writeValue');
  }
}

function writeValue(w: ByteWriter, type: GgufValueTypeName, value: WriterEntry['value']): void {
  if (type !== 'ARRAY') return writeScalar(w, type, value as ScalarValue);
  if ((value as RawArray).payload) {
    const raw = value as RawArray;
    w.u32(GGUF_VALUE_TYPES.indexOf(raw.elementType));
    w.u64(raw.length);
    w.bytes(raw.payload);
    return;
  }
  const arr = value as { elementType: GgufValueTypeName; values: ScalarValue[] };
  w.u32(GGUF_VALUE_TYPES.indexOf(arr.elementType));
  w.u64(arr.values.length);
  for (const v of arr.values) writeScalar(w, arr.elementType, v);
}

export interface GgufLayout {
  header: Uint8Array;
  /** Offsets of each tensor relative to the data section, aligned. */
  offsets: number[];
  dataOffset: number;
  /** Total file size. */
  fileSize: number;
}

const utf8Length = (s: string) => encoder.encode(s).length;

function refuse(code: 'invalid-value' | 'bad-tensor', message: string): never {
  throw new QuantLensError(code, `cannot write GGUF: ${message}`);
}

/** The reader's rules, checked on the writer's input (see readGgufHeader for where each comes from). */
function validate(entries: WriterEntry[], tensors: WriterTensor[], alignment: number): void {
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 2 ** 31 || (alignment & (alignment - 1)) !== 0) {
    refuse('invalid-value', `alignment ${alignment} is not a power of two that fits a UINT32`);
  }
  const keys = new Set<string>();
  let alignmentKey: WriterEntry | undefined;
  for (const e of entries) {
    if (e.key === '') refuse('invalid-value', 'a key is empty');
    if (utf8Length(e.key) > GGUF_MAX_KEY_BYTES)
      refuse('invalid-value', `key ${e.key.slice(0, 64)}… is longer than ${GGUF_MAX_KEY_BYTES} bytes`);
    if (keys.has(e.key)) refuse('invalid-value', `duplicate key ${e.key}`);
    keys.add(e.key);
    if (!GGUF_VALUE_TYPES.includes(e.type)) refuse('invalid-value', `key ${e.key} has unknown value type ${String(e.type)}`);
    if (e.type === 'ARRAY') {
      const arr = e.value as { elementType: GgufValueTypeName; values?: unknown[]; length?: number };
      if (arr.elementType === 'ARRAY') refuse('invalid-value', `key ${e.key} is an array of arrays (ggml refuses nested arrays)`);
      if (!GGUF_VALUE_TYPES.includes(arr.elementType))
        refuse('invalid-value', `key ${e.key} has unknown array element type ${String(arr.elementType)}`);
      const length = arr.values ? arr.values.length : arr.length!;
      if (length > GGUF_MAX_ARRAY_ELEMENTS) refuse('invalid-value', `key ${e.key} has ${length} elements, more than ggml's limit of 2^30`);
    }
    if (e.key === 'general.alignment') alignmentKey = e;
  }
  if (alignmentKey) {
    if (alignmentKey.type !== 'UINT32') refuse('invalid-value', `general.alignment has type ${alignmentKey.type}, must be UINT32`);
    if (Number(alignmentKey.value) !== alignment)
      refuse('invalid-value', `general.alignment is ${String(alignmentKey.value)} but the data is aligned to ${alignment}`);
  } else if (alignment !== DEFAULT_ALIGNMENT) {
    refuse(
      'invalid-value',
      `alignment ${alignment} needs a general.alignment key (UINT32 ${alignment}); without it readers assume ${DEFAULT_ALIGNMENT}`,
    );
  }
  const names = new Set<string>();
  for (const t of tensors) {
    const name = cString(t.name);
    if (utf8Length(t.name) >= GGML_MAX_NAME)
      refuse(
        'bad-tensor',
        `tensor name ${t.name.slice(0, GGML_MAX_NAME)}… is ${utf8Length(t.name)} bytes; ggml allows at most ${GGML_MAX_NAME - 1}`,
      );
    if (names.has(name)) refuse('bad-tensor', `two tensors are named ${name}`);
    names.add(name);
    if (t.shape.length < 1 || t.shape.length > 4) refuse('bad-tensor', `tensor ${t.name} has ${t.shape.length} dims (must be 1..4)`);
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      refuse('bad-tensor', `tensor ${t.name} shape ${t.shape.join(' x ')} has a dim that is not a non-negative integer`);
    const nElements = t.shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(nElements)) refuse('bad-tensor', `tensor ${t.name} shape ${t.shape.join(' x ')} has more than 2^53 elements`);
    if (!Number.isInteger(t.ggmlTypeId) || t.ggmlTypeId < 0 || t.ggmlTypeId >= 2 ** 31)
      refuse('bad-tensor', `tensor ${t.name} has ggml type id ${t.ggmlTypeId}`);
    if (!Number.isSafeInteger(t.nbytes) || t.nbytes < 0) refuse('bad-tensor', `tensor ${t.name} has ${t.nbytes} bytes`);
    const type = ggmlType(t.ggmlTypeId);
    // A type this version does not know is copied as stored: its size is whatever the caller says.
    if (!type) continue;
    if (t.shape[0] % type.blockSize !== 0)
      refuse('bad-tensor', `tensor ${t.name} row length ${t.shape[0]} is not a multiple of the ${type.name} block size ${type.blockSize}`);
    const expected = (nElements / type.blockSize) * type.bytesPerBlock;
    if (t.nbytes !== expected)
      refuse('bad-tensor', `tensor ${t.name} is given ${t.nbytes} bytes, but ${t.shape.join(' x ')} ${type.name} takes ${expected}`);
  }
}

/**
 * The header bytes (padded to the alignment) and the data layout for these tensors: each tensor starts where the
 * previous one ends, padded to the alignment, as ggml requires.
 */
export function buildGgufHeader(entries: WriterEntry[], tensors: WriterTensor[], alignment = DEFAULT_ALIGNMENT): GgufLayout {
  validate(entries, tensors, alignment);
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(entries.length);
  for (const e of entries) {
    w.string(e.key);
    w.u32(GGUF_VALUE_TYPES.indexOf(e.type));
    writeValue(w, e.type, e.value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(t.ggmlTypeId);
    w.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.nbytes / alignment) * alignment;
  }
  w.pad(alignment);
  const header = w.result();
  return { header, offsets, dataOffset: header.length, fileSize: header.length + offset };
}

/** Whole GGUF file in memory (for small generated models). */
export function buildGgufFile(
  entries: WriterEntry[],
  tensors: (WriterTensor & { data: Uint8Array })[],
  alignment = DEFAULT_ALIGNMENT,
): Uint8Array {
  const layout = buildGgufHeader(entries, tensors, alignment);
  for (const t of tensors)
    if (t.data.length !== t.nbytes) refuse('bad-tensor', `tensor ${t.name} has ${t.data.length} bytes of data but declares ${t.nbytes}`);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.header);
  tensors.forEach((t, i) => out.set(t.data, layout.dataOffset + layout.offsets[i]));
  return out;
}

export type { ArrayValue };
