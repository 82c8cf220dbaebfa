/**
 * Writing a new file safely: bytes go to a temporary file beside the destination (`.NAME.<pid>.<time>.tmp`), which
 * is flushed, optionally verified, then renamed into place. A failure or cancel removes the temporary file, so the
 * destination never holds a half-written file. The destination may not be, or resolve to, one of the inputs (by
 * device and inode, so symbolic links, hard links and `..` paths are caught), and a symbolic link at the destination
 * is never replaced. Temporary files of earlier runs whose process has died are swept before a new write; the CLI
 * removes its own on SIGINT/SIGTERM through `removeTemporaryFiles`.
 */
import {
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  realpathSync,
  statSync,
  lstatSync,
  readlinkSync,
  readdirSync,
  type Stats,
} from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { QuantLensError } from '../errors.ts';

export type WriteBytes = (bytes: Uint8Array) => void;

export interface AtomicWriteOptions {
  /** Called on the flushed, closed temporary file before it is renamed into place; throw to abort. */
  verify?: (temporaryPath: string) => void | Promise<void>;
  /** Inputs of the write: the destination may not be, or resolve to, any of them. */
  protect?: string[];
}

/** Temporary files being written by this process, removed by `removeTemporaryFiles` on a signal. */
const inProgress = new Set<string>();

/** Removes this process's temporary files (synchronously, for signal handlers). */
export function removeTemporaryFiles(): void {
  for (const tmp of inProgress) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  inProgress.clear();
}

function statOrUndefined(path: string, follow = true): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return undefined;
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** The destination is not a symbolic link, and is none of the protected inputs (same device and inode). */
function checkDestination(dest: string, protect: string[]): void {
  const own = statOrUndefined(dest, false);
  if (own?.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(dest);
    } catch {
      // keep '?'
    }
    throw new QuantLensError('usage', `refusing to write ${dest}: it is a symbolic link to ${target}; give the real path`, undefined, dest);
  }
  const destStat = own && statOrUndefined(dest);
  // Not there yet: it is an input only if its resolved parent and name are.
  const parent = destStat ? undefined : realpathOrUndefined(dirname(dest));
  const destPath = parent === undefined ? dest : join(parent, basename(dest));
  for (const p of protect) {
    const input = statOrUndefined(p);
    if (!input) continue;
    const same = destStat ? input.dev === destStat.dev && input.ino === destStat.ino : realpathOrUndefined(p) === destPath;
    if (same) throw new QuantLensError('usage', `refusing to write ${dest}: it is (or links to) the source file ${p}`, undefined, dest);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary files of `dest` left by processes that no longer run (killed mid-write). */
export function sweepStaleTemporaryFiles(dest: string): void {
  const prefix = `.${basename(dest)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(dest));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      unlinkSync(join(dirname(dest), name));
    } catch {
      // another run swept it first
    }
  }
}

function ioError(what: string, dest: string, e: unknown): QuantLensError {
  const code = (e as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOSPC'
      ? 'ENOSPC (no space left on the device)'
      : code === 'EROFS'
        ? 'EROFS (read-only file system)'
        : (code ?? (e as Error).message);
  return new QuantLensError('io', `${what}: ${reason}`, undefined, dest);
}

export async function writeFileAtomically(
  destination: string,
  fill: (write: WriteBytes) => void | Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { verify } = options;
  await writeFilesAtomically([destination], (_, write) => fill(write), {
    protect: options.protect,
    verify: verify && (([tmp]) => verify(tmp)),
  });
}

export interface AtomicWriteSetOptions {
  /** Called on every flushed, closed temporary file (in the order of the destinations) before any is renamed. */
  verify?: (temporaryPaths: string[]) => void | Promise<void>;
  /** Inputs of the write: no destination may be, or resolve to, any of them. */
  protect?: string[];
}

/**
 * Writes a set of files that belong together (the shards of a split model): each is filled, in order, into its own
 * temporary file; all are verified; only then are they renamed into place, so a failure or cancel leaves none of
 * them, half-written or not.
 */
export async function writeFilesAtomically(
  destinations: string[],
  fill: (index: number, write: WriteBytes) => void | Promise<void>,
  options: AtomicWriteSetOptions = {},
): Promise<void> {
  const dests = destinations.map((d) => resolve(d));
  const protect = options.protect ?? [];
  for (const [i, dest] of dests.entries()) {
    if (dests.indexOf(dest) !== i) throw new QuantLensError('usage', `refusing to write ${dest} twice in one output`, undefined, dest);
    checkDestination(dest, protect);
    sweepStaleTemporaryFiles(dest);
  }
  const stamp = `${process.pid}.${Date.now().toString(36)}`;
  const tmps = dests.map((dest) => join(dirname(dest), `.${basename(dest)}.${stamp}.tmp`));
  const created: string[] = [];
  let fd: number | undefined;
  try {
    for (const [i, dest] of dests.entries()) {
      try {
        fd = openSync(tmps[i], 'wx');
      } catch (e) {
        throw ioError(`cannot create a file in ${dirname(dest)}`, dest, e);
      }
      created.push(tmps[i]);
      inProgress.add(tmps[i]);
      const out = fd;
      await fill(i, (bytes) => {
        let done = 0;
        while (done < bytes.length) done += writeSync(out, bytes, done, bytes.length - done);
      });
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
    }
    await options.verify?.(tmps);
    // again: a link could have appeared while the files were written
    for (const dest of dests) checkDestination(dest, protect);
    for (const [i, dest] of dests.entries()) {
      renameSync(tmps[i], dest);
      inProgress.delete(tmps[i]);
    }
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    for (const tmp of created) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone (or renamed)
      }
      inProgress.delete(tmp);
    }
    if (e instanceof QuantLensError) throw e;
    if ((e as NodeJS.ErrnoException).code) throw ioError(`writing ${dests[created.length - 1] ?? dests[0]} failed`, dests[0], e);
    throw e;
  }
}
