/**
 * Where bytes come from. Reads are positional; nothing reads a whole model file. A file source remembers the file's
 * identity (device, inode, size, modification time) from when it was opened, so a job can check before it commits
 * its output that the file it read did not change under it.
 */
import { close, fstat, open, read, readSync, stat, fstatSync, statSync, constants, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { QuantLensError } from '../errors.ts';

/*
 * node:fs's callback functions as promises, rather than node:fs/promises: loading that module (FileHandle and the
 * readline and watcher machinery it brings) costs a few milliseconds of a `quantlens info`.
 */
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
export const statAsync = promisify(stat);

/**
 * fs.read as a promise of the bytes read, settled on the next turn of the event loop: Node's read request holds the
 * target buffer until its callback returns, and what awaits the promise would otherwise run inside that callback (a
 * whole header parse, keeping the request and its buffer alive to the end).
 */
function readAsync(fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, target, offset, length, position, (e, bytesRead) => setImmediate(() => (e ? reject(e) : resolve(bytesRead)))),
  );
}

/** What identifies one version of a file. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Fill `target` with the bytes at `offset`; returns how many were read (less only at end of file). */
  read(offset: number, target: Uint8Array): Promise<number>;
  /** Synchronous variant for workers and the CLI, where blocking is fine. */
  readSync(offset: number, target: Uint8Array): number;
  /** Throws a one-line error if the file is no longer the one that was opened (changed, replaced or removed). */
  assertUnchanged?(): void;
  close(): Promise<void>;
}

/** Fills `target` from `offset` or throws: a short read inside data the header promised means the file changed. */
export function readFully(source: ByteSource, offset: number, target: Uint8Array, what: string): void {
  const got = source.readSync(offset, target);
  if (got < target.length) {
    throw new QuantLensError(
      'truncated',
      `${source.name}: ${what} is cut short at byte ${offset + got} (read ${got} of ${target.length} bytes at byte ${offset}); the file is truncated or changed`,
      offset + got,
      source.name,
    );
  }
}

/**
 * Bytes [offset, offset + length) of a source, in bounded pieces, each read fully (short reads throw). The event
 * loop runs between pieces, so a signal or a cancel is seen during a long copy.
 */
export async function forEachPiece(
  source: ByteSource,
  offset: number,
  length: number,
  what: string,
  onPiece: (piece: Uint8Array) => void,
  isCancelled?: () => boolean,
): Promise<void> {
  const buf = new Uint8Array(Math.max(1, Math.min(length, 8 << 20)));
  for (let at = 0; at < length; at += buf.length) {
    await new Promise((resolve) => setImmediate(resolve));
    if (isCancelled?.()) throw new QuantLensError('cancelled', `cancelled while copying ${what}`);
    const piece = buf.subarray(0, Math.min(buf.length, length - at));
    readFully(source, offset + at, piece, `${what} at byte ${offset + at}`);
    onPiece(piece);
  }
}

/** SHA-256 (hex) of bytes [offset, offset + length) of a source. */
export async function hashOfSpan(source: ByteSource, offset: number, length: number, what: string): Promise<string> {
  // node:crypto is loaded when a write is verified, not by every command that opens a file (it costs ms at start-up)
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  await forEachPiece(source, offset, length, what, (piece) => h.update(piece));
  return h.digest('hex');
}

/** Every source is still the file it was when opened. */
export function assertSourcesUnchanged(sources: ByteSource[]): void {
  for (const s of sources) s.assertUnchanged?.();
}

function describeChange(was: FileIdentity, now: FileIdentity | undefined): string | undefined {
  if (!now) return 'was removed';
  if (now.dev !== was.dev || now.ino !== was.ino) return 'was replaced by another file';
  if (now.size !== was.size) return `changed size from ${was.size} to ${now.size} bytes`;
  if (now.mtimeMs !== was.mtimeMs) return 'was modified';
  return undefined;
}

function kindOfNonFile(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

export class FileByteSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly fd: number,
    readonly identity: FileIdentity,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    // Only regular files: opening a FIFO for reading would wait forever for a writer, and a directory or a device
    // is no model. O_NONBLOCK makes the open itself return at once whatever the path turns into meanwhile.
    let fd: number;
    try {
      fd = await openAsync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new QuantLensError('io', `cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, undefined, path);
    }
    const st = await fstatAsync(fd);
    if (!st.isFile()) {
      await closeAsync(fd);
      throw new QuantLensError('io', `${path} is ${kindOfNonFile(st)}, not a regular file`, undefined, path);
    }
    return new FileByteSource(path, st.size, fd, { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs });
  }

  assertUnchanged(): void {
    const identityOf = (st: { dev: number; ino: number; size: number; mtimeMs: number }): FileIdentity => ({
      dev: st.dev,
      ino: st.ino,
      size: st.size,
      mtimeMs: st.mtimeMs,
    });
    let atPath: FileIdentity | undefined;
    try {
      atPath = identityOf(statSync(this.name));
    } catch {
      atPath = undefined;
    }
    const change = describeChange(this.identity, identityOf(fstatSync(this.fd))) ?? describeChange(this.identity, atPath);
    if (change) throw new QuantLensError('io', `${this.name} ${change} while it was being read; nothing was written`, undefined, this.name);
  }

  async read(offset: number, target: Uint8Array): Promise<number> {
    let done = 0;
    while (done < target.length && offset + done < this.size) {
      const bytesRead = await readAsync(this.fd, target, done, target.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  readSync(offset: number, target: Uint8Array): number {
    let done = 0;
    while (done < target.length && offset + done < this.size) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async close(): Promise<void> {
    await closeAsync(this.fd);
  }
}

/** An in-memory source, for tests and generated files. */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'memory',
  ) {
    this.size = bytes.length;
  }
  async read(offset: number, target: Uint8Array): Promise<number> {
    return this.readSync(offset, target);
  }
  readSync(offset: number, target: Uint8Array): number {
    const n = Math.max(0, Math.min(target.length, this.size - offset));
    target.set(this.bytes.subarray(offset, offset + n));
    return n;
  }
  async close(): Promise<void> {}
}

/** A whole small file (an imatrix, a raw .f32 input, an index), refusing what is not a regular file as open() does. */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  const source = await FileByteSource.open(path);
  try {
    const bytes = new Uint8Array(source.size);
    readFully(source, 0, bytes, 'the file');
    return bytes;
  } finally {
    await source.close();
  }
}
