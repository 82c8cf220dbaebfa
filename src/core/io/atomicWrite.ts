/**
 * Writing a new file safely: bytes go to a temporary file beside the destination, which is flushed, optionally
 * verified, then renamed into place. A failure or cancel removes the temporary file, so the destination never
 * holds a half-written file.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, realpathSync, existsSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { QuantLensError } from '../errors.ts';

export type WriteBytes = (bytes: Uint8Array) => void;

export async function writeFileAtomically(
  destination: string,
  fill: (write: WriteBytes) => void | Promise<void>,
  options: { verify?: (temporaryPath: string) => void | Promise<void>; protect?: string[] } = {},
): Promise<void> {
  const dest = resolve(destination);
  for (const p of options.protect ?? []) {
    if (existsSync(dest) && existsSync(p) && realpathSync(p) === realpathSync(dest)) {
      throw new QuantLensError('usage', `refusing to overwrite the source file ${p}`);
    }
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (e) {
    throw new QuantLensError('io', `cannot create a file in ${dirname(dest)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, undefined, dest);
  }
  let open = true;
  try {
    await fill((bytes) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    });
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    await options.verify?.(tmp);
    renameSync(tmp, dest);
  } catch (e) {
    if (open) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    if (e instanceof QuantLensError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new QuantLensError('io', `writing ${dest} failed: ${code}`, undefined, dest);
    throw e;
  }
}
