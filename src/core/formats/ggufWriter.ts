/** Writes GGUF v3 headers and files: metadata, tensor infos, aligned data. */
import { GGUF_VALUE_TYPES, type ArrayValue, type GgufValueTypeName, type ScalarValue } from '../model.ts';
import { QuantLensError } from '../errors.ts';

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
  u8(v: number) { this.ensure(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number) { this.ensure(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number) { this.ensure(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number) { this.ensure(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number) { this.ensure(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number) { this.ensure(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number) { this.ensure(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number) { this.ensure(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number) { this.ensure(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint | number) { this.ensure(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array) { this.ensure(b.length); this.buf.set(b, this.length); this.length += b.length; }
  string(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number) { while (this.length % alignment) this.u8(0); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeScalar(w: ByteWriter, type: GgufValueTypeName, v: ScalarValue): void {
  switch (type) {
    case 'UINT8': return w.u8(Number(v));
    case 'INT8': return w.i8(Number(v));
    case 'UINT16': return w.u16(Number(v));
    case 'INT16': return w.i16(Number(v));
    case 'UINT32': return w.u32(Number(v));
    case 'INT32': return w.i32(Number(v));
    case 'FLOAT32': return w.f32(Number(v));
    case 'FLOAT64': return w.f64(Number(v));
    case 'BOOL': return w.u8(v ? 1 : 0);
    case 'STRING': return w.string(String(v));
    case 'UINT64': return w.u64(BigInt(v as bigint | number));
    case 'INT64': return w.i64(BigInt(v as bigint | number));
    case 'ARRAY': throw new QuantLensError('usage', 'nested arrays are written through writeValue');
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

/** The header bytes (padded to the alignment) and the data layout for these tensors. */
export function buildGgufHeader(entries: WriterEntry[], tensors: WriterTensor[], alignment = 32): GgufLayout {
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
export function buildGgufFile(entries: WriterEntry[], tensors: (WriterTensor & { data: Uint8Array })[], alignment = 32): Uint8Array {
  const layout = buildGgufHeader(entries, tensors, alignment);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.header);
  tensors.forEach((t, i) => out.set(t.data, layout.dataOffset + layout.offsets[i]));
  return out;
}

export type { ArrayValue };
