/**
 * Reading the component tensors of a logical weight: small ones whole (scales, zeros, g_idx, metadata tensors),
 * the packed codes by row slab, always through the model's ByteSource and only the bytes needed.
 */
import type { Model, TensorInfo } from '../model.ts';
import { readFully } from '../io/byteSource.ts';
import { QuantLensError } from '../errors.ts';
import { F16_TO_F32 } from '../quant/scalars.ts';
import { E4M3, bf16BitsToNumber, e8m0 } from './numeric.ts';

/** A component read whole must be at most this big (a scale or zero tensor of a very large weight is a few MB). */
export const MAX_WHOLE_COMPONENT_BYTES = 512 << 20;

/** Where a piece of a component lives: the tensor, its file, absolute byte offset and length. */
export interface ByteSpan {
  role: string;
  tensor: string;
  file: string;
  offset: number;
  length: number;
}

export class ComponentReader {
  /** Bytes read from the model's sources so far. */
  bytesRead = 0;
  constructor(readonly model: Model) {}

  /** All bytes of a (small) component: a scale, zero or index tensor, or a metadata tensor. */
  whole(t: TensorInfo): Uint8Array {
    if (t.nbytes > MAX_WHOLE_COMPONENT_BYTES)
      throw new QuantLensError(
        'limit-exceeded',
        `${t.name} is ${t.nbytes} bytes, over the ${MAX_WHOLE_COMPONENT_BYTES}-byte limit for a scale or index tensor`,
        t.absoluteOffset,
        this.model.files[t.fileIndex].path,
      );
    const b = new Uint8Array(t.nbytes);
    readFully(this.model.files[t.fileIndex].source, t.absoluteOffset, b, `tensor ${t.name}`);
    this.bytesRead += t.nbytes;
    return b;
  }

  /** `length` bytes at byte `offset` inside the tensor's data, into `target` (or a new array). */
  range(t: TensorInfo, offset: number, length: number, target: Uint8Array = new Uint8Array(length)): Uint8Array {
    const dst = target.length === length ? target : target.subarray(0, length);
    readFully(this.model.files[t.fileIndex].source, t.absoluteOffset + offset, dst, `tensor ${t.name}`);
    this.bytesRead += length;
    return dst;
  }

  /**
   * Bytes [c0, c1) of every row of a 2-D tensor whose rows are `rowBytes` long, packed as [rows][c1 - c0]
   * (one read when the slab is whole rows).
   */
  columns(t: TensorInfo, rows: number, rowBytes: number, c0: number, c1: number, target?: Uint8Array): Uint8Array {
    const w = c1 - c0;
    const out: Uint8Array = target && target.length >= rows * w ? target.subarray(0, rows * w) : new Uint8Array(rows * w);
    if (w === rowBytes) return this.range(t, 0, rows * rowBytes, out);
    const src = this.model.files[t.fileIndex].source;
    for (let r = 0; r < rows; r++)
      readFully(src, t.absoluteOffset + r * rowBytes + c0, out.subarray(r * w, (r + 1) * w), `tensor ${t.name}`);
    this.bytesRead += rows * w;
    return out;
  }

  span(role: string, t: TensorInfo, offset: number, length: number): ByteSpan {
    return { role, tensor: t.name, file: this.model.files[t.fileIndex].path, offset: t.absoluteOffset + offset, length };
  }

  /** The bytes a span names. */
  bytesOf(s: ByteSpan): Uint8Array {
    const f = this.model.files.find((x) => x.path === s.file)!;
    const b = new Uint8Array(s.length);
    readFully(f.source, s.offset, b, `tensor ${s.tensor}`);
    return b;
  }
}

/**
 * A reader of row slabs [r0, r1) of a row-major tensor whose rows are `rowBytes` long, reusing one buffer (the
 * returned bytes are valid until the next call).
 */
export function rowSlabs(reader: ComponentReader, t: TensorInfo, rowBytes: number): (r0: number, r1: number) => Uint8Array {
  let buf = new Uint8Array(0);
  return (r0, r1) => {
    const len = (r1 - r0) * rowBytes;
    if (buf.length < len) buf = new Uint8Array(len);
    return reader.range(t, r0 * rowBytes, len, buf);
  };
}

/** A reader of column byte ranges [c0, c1) of every row of a 2-D tensor (ComponentReader.columns), reusing one buffer. */
export function columnSlabs(
  reader: ComponentReader,
  t: TensorInfo,
  rows: number,
  rowBytes: number,
): (c0: number, c1: number) => Uint8Array {
  let buf = new Uint8Array(0);
  return (c0, c1) => {
    if (buf.length < rows * (c1 - c0)) buf = new Uint8Array(rows * (c1 - c0));
    return reader.columns(t, rows, rowBytes, c0, c1, buf);
  };
}

/** An aligned copy of bytes as 32-bit words (little-endian, as every supported host is). */
export function asU32(b: Uint8Array): Uint32Array {
  if (b.byteOffset % 4 === 0 && b.length % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
  const c = b.slice();
  return new Uint32Array(c.buffer, 0, Math.floor(c.length / 4));
}

export function asI32(b: Uint8Array): Int32Array {
  const u = asU32(b);
  return new Int32Array(u.buffer, u.byteOffset, u.length);
}

/** Integer values of an I32/I64/U8/I16/U32 tensor (I64 must fit in a double exactly). */
export function integerValues(t: TensorInfo, b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const n = t.nElements;
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'I64':
        out[i] = Number(dv.getBigInt64(8 * i, true));
        break;
      case 'U64':
        out[i] = Number(dv.getBigUint64(8 * i, true));
        break;
      case 'I32':
        out[i] = dv.getInt32(4 * i, true);
        break;
      case 'U32':
        out[i] = dv.getUint32(4 * i, true);
        break;
      case 'I16':
        out[i] = dv.getInt16(2 * i, true);
        break;
      case 'U16':
        out[i] = dv.getUint16(2 * i, true);
        break;
      case 'I8':
        out[i] = dv.getInt8(i);
        break;
      case 'U8':
      case 'BOOL':
        out[i] = b[i];
        break;
      default:
        throw new QuantLensError('bad-tensor', `${t.name} is ${t.dtype}, not an integer tensor`);
    }
  }
  return out;
}

/** The exact values of a float scale tensor (F32, F16, BF16, F64, F8_E4M3, F8_E8M0 or U8 read as E8M0) as float64. */
export function floatValues(t: TensorInfo, b: Uint8Array, u8AsE8m0 = false): Float64Array {
  const n = t.nElements;
  const out = new Float64Array(n);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = F16_TO_F32[dv.getUint16(2 * i, true)];
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16BitsToNumber(dv.getUint16(2 * i, true));
      break;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = E4M3[b[i]];
      break;
    case 'F8_E8M0':
      for (let i = 0; i < n; i++) out[i] = e8m0(b[i]);
      break;
    case 'U8':
      if (!u8AsE8m0) throw new QuantLensError('bad-tensor', `${t.name} is U8, not a float scale tensor`);
      for (let i = 0; i < n; i++) out[i] = e8m0(b[i]);
      break;
    default:
      throw new QuantLensError('bad-tensor', `${t.name} is ${t.dtype}, not a float scale tensor`);
  }
  return out;
}

/** Bytes per element of a safetensors dtype. */
export function dtypeBytes(t: TensorInfo): number {
  return t.type.bytesPerBlock / t.type.blockSize;
}
