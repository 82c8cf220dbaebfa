/**
 * A forward-reading cursor over a ByteSource with a sliding window. Readers call `has(n)` (synchronous) and
 * `await fill(n)` only when the window runs dry, so walking hundreds of thousands of small fields stays fast.
 * Every length is checked against the bytes left in the file before anything is allocated.
 */
import type { ByteSource } from './byteSource.ts';
import { QuantLensError } from '../errors.ts';

const DEFAULT_WINDOW = 1 << 20;
const FIRST_WINDOW = 64 << 10;
const utf8 = new TextDecoder('utf-8');
/** Strings up to this many bytes are checked for pure ASCII and built directly. */
const SHORT_ASCII = 128;

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

export class Cursor {
  /** What the window is read into, reused while it is big enough (a fresh buffer per window costs its zeroing). */
  private buffer = new Uint8Array(0);
  private window = new Uint8Array(0);
  private view = new DataView(this.window.buffer);
  /** Absolute file offset of window[0]. */
  private windowStart = 0;
  /** Absolute file offset of the next byte to read. */
  pos: number;
  private nextWindow: number;

  constructor(
    readonly source: ByteSource,
    start = 0,
    private readonly windowSize = DEFAULT_WINDOW,
  ) {
    this.pos = start;
    // a window smaller than the first is the most a read may ask for (over HTTP: not past what the caller needs)
    this.nextWindow = Math.min(FIRST_WINDOW, windowSize);
  }

  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** True when the next n bytes are already in the window. */
  has(n: number): boolean {
    return this.pos + n <= this.windowStart + this.window.length;
  }

  /**
   * Make the next n bytes readable, or throw 'truncated' saying what was being read. n is checked against
   * the file size before any buffer is allocated.
   */
  async fill(n: number, what: string): Promise<void> {
    if (this.has(n)) return;
    if (n > this.remaining) {
      throw new QuantLensError(
        'truncated',
        `file ends inside ${what}: needs ${n} bytes at byte ${this.pos}, only ${Math.max(0, this.remaining)} left`,
        this.pos,
        this.source.name,
      );
    }
    // The window starts small and doubles: a small header costs one small read (over HTTP, one small request).
    const size = Math.min(Math.max(this.nextWindow, n), this.remaining);
    this.nextWindow = Math.min(this.windowSize, this.nextWindow * 2);
    if (this.buffer.length < size) this.buffer = new Uint8Array(size);
    const buf = this.buffer.subarray(0, size);
    const got = await this.source.read(this.pos, buf);
    if (got < n) {
      throw new QuantLensError('truncated', `file ends inside ${what} at byte ${this.pos + got}`, this.pos + got, this.source.name);
    }
    this.window = buf.subarray(0, got);
    this.view = new DataView(buf.buffer, 0, got);
    this.windowStart = this.pos;
  }

  /** Throw unless n more bytes exist in the file (without reading them). */
  requireInFile(n: number, what: string): void {
    if (n > this.remaining) {
      throw new QuantLensError(
        'truncated',
        `${what} needs ${n} bytes at byte ${this.pos}, but the file has only ${Math.max(0, this.remaining)} left`,
        this.pos,
        this.source.name,
      );
    }
  }

  skip(n: number): void {
    this.pos += n;
  }

  private at(n: number): number {
    const i = this.pos - this.windowStart;
    this.pos += n;
    return i;
  }

  u8(): number {
    return this.window[this.at(1)];
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.at(8), true);
  }
  /**
   * A u64 as the nearest double, without a BigInt: exact below 2^53, which covers every length, count and
   * offset a real file can hold; larger values stay larger than any file, so range checks still hold.
   */
  u64Float(): number {
    const lo = this.u32();
    const hi = this.u32();
    return hi === 0 ? lo : hi * 2 ** 32 + lo; // small values stay small integers (no boxed double per field)
  }
  /** A u64 that must fit a JS number exactly (lengths, counts, offsets); larger values are reported as `what`. */
  u64Number(what: string): number {
    const start = this.pos;
    const v = this.u64Float();
    if (v > Number.MAX_SAFE_INTEGER) {
      this.pos = start;
      throw new QuantLensError('limit-exceeded', `${what} is ${this.u64()}, beyond any file (at byte ${start})`, start, this.source.name);
    }
    return v;
  }
  /** n bytes already in the window, as UTF-8 text (invalid sequences become U+FFFD). */
  utf8(n: number): string {
    const i = this.at(n);
    const bytes = this.window.subarray(i, i + n);
    // Short ASCII strings (most keys and tensor names) skip TextDecoder, whose per-call cost dominates them.
    if (n <= SHORT_ASCII && isAscii(bytes)) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    return utf8.decode(bytes);
  }
  /**
   * The window from the cursor to its end, without a copy: for a loop that walks many small fields itself and then
   * skip()s what it walked. Like bytes(), valid until the next fill() (which reuses the buffer).
   */
  rest(): Uint8Array {
    return this.window.subarray(this.pos - this.windowStart);
  }
  /** n bytes already in the window, without a copy: valid until the next fill(). */
  bytes(n: number): Uint8Array {
    const i = this.at(n);
    return this.window.subarray(i, i + n);
  }
}
