/** Where bytes come from. Reads are positional; nothing reads a whole model file. */
import { open, type FileHandle } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { QuantLensError } from '../errors.ts';

export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Fill `target` with the bytes at `offset`; returns how many were read (less only at end of file). */
  read(offset: number, target: Uint8Array): Promise<number>;
  /** Synchronous variant for workers and the CLI, where blocking is fine. */
  readSync(offset: number, target: Uint8Array): number;
  close(): Promise<void>;
}

export class FileByteSource implements ByteSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly fd: number,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw new QuantLensError('io', `cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, undefined, path);
    }
    const size = (await handle.stat()).size;
    return new FileByteSource(path, size, handle.fd, handle);
  }

  async read(offset: number, target: Uint8Array): Promise<number> {
    let done = 0;
    while (done < target.length && offset + done < this.size) {
      const { bytesRead } = await this.handle.read(target, done, target.length - done, offset + done);
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
    await this.handle.close();
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
