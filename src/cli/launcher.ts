/**
 * dist/cli.js, the `quantlens` bin: runs the CLI's CommonJS pieces (scripts/build-cli.mjs) with V8's code cache,
 * so that a command does not parse and compile its JavaScript afresh on every run (the 8B-shaped `info --json`
 * compiles about 120 KB). Each piece's compiled code is kept in one file of the cache folder, named by the piece
 * (whose name carries a hash of its content), the V8 version and the CPU architecture, and written at exit by the
 * first run that loads the piece without it. A missing, stale or corrupt cache only costs a normal compile: V8
 * refuses data of another version, flags or source length, and each file holds its data twice, which must agree
 * (V8 checks nothing else, and a damaged cache it takes can crash the process).
 *
 * The folder is QUANTLENS_CODE_CACHE, else $XDG_CACHE_HOME/quantlens/code-cache, else ~/.cache/quantlens/code-cache;
 * QUANTLENS_CODE_CACHE set to an empty string turns the cache off.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';

/** The file name of the piece holding src/cli/cli.ts, set by the build. */
declare const CLI_MAIN: string;

/** How a piece names another in its require() calls. */
const PIECE_REQUEST = /^\.\/(cli-[\w-]+\.js)$/;
/**
 * Each cache file: u32 length of V8's data, then the data twice. Comparing the copies (one memcmp) catches a bad
 * block or a cut write as surely as a checksum would, which in JavaScript would cost a fair part of what the cache
 * saves.
 */
const LENGTH_BYTES = 4;
/** Cache files are named `PIECE.V8VERSION-ARCH.cache` (and `.PID.tmp` while they are written). */
const CACHE_FILE = /^cli(-[\w-]+)?\.js\.[\w.-]+\.cache(\.\d+\.tmp)?$/;
/** Cache files not written for this long are removed when a new one is written (most are old builds' pieces). */
const STALE_MS = 7 * 24 * 3600 * 1000;

function cacheFolder(): string | undefined {
  const chosen = process.env.QUANTLENS_CODE_CACHE;
  if (chosen !== undefined) return chosen || undefined;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'quantlens', 'code-cache');
}

/** The cached data in `file` if it is whole and intact, else undefined. */
function readCache(file: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < LENGTH_BYTES) return undefined;
  const length = bytes.readUInt32LE(0);
  if (bytes.length !== LENGTH_BYTES + 2 * length) return undefined;
  const data = bytes.subarray(LENGTH_BYTES, LENGTH_BYTES + length);
  return data.equals(bytes.subarray(LENGTH_BYTES + length)) ? data : undefined;
}

/** Writes `data` framed to `file` through a temporary file, so that a reader never sees half of it. */
function writeCache(file: string, data: Buffer): void {
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32LE(data.length, 0);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([length, data, data]), { mode: 0o600 });
  renameSync(temporary, file);
}

function removeStaleCaches(folder: string, kept: Set<string>): void {
  const now = Date.now();
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (!CACHE_FILE.test(name)) continue;
    if (!kept.has(path) && now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
  }
}

const folder = cacheFolder();
const cacheTag = `${process.versions.v8}-${process.arch}`;
/**
 * CommonJS's require and Module class as this file has them (Node's CommonJS loader runs it): importing node:module
 * for them would also load Node's ES module loader.
 */
const nodeRequire = require;
const Module = module.constructor as typeof import('node:module').Module;
/** Pieces loaded, by file name (also entered in require.cache, as require() would). */
const loaded = new Map<string, NodeJS.Module>();
/** Compiled without usable cached data: their code is cached at exit. */
const uncached: { script: Script; file: string }[] = [];

function requireFromPiece(request: string): unknown {
  const piece = PIECE_REQUEST.exec(request);
  return piece ? loadPiece(piece[1]) : nodeRequire(request);
}

function loadPiece(name: string): unknown {
  const done = loaded.get(name);
  if (done) return done.exports;
  const filename = join(__dirname, name);
  const piece = new Module(filename);
  piece.filename = filename;
  loaded.set(name, piece);
  nodeRequire.cache[filename] = piece;
  const cacheFile = folder && join(folder, `${name}.${cacheTag}.cache`);
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${readFileSync(filename, 'utf8')}\n})`;
  const script = new Script(wrapped, { filename, cachedData });
  if (cacheFile && (!cachedData || script.cachedDataRejected)) uncached.push({ script, file: cacheFile });
  script.runInThisContext()(piece.exports, requireFromPiece, piece, filename, __dirname);
  piece.loaded = true;
  return piece.exports;
}

process.on('exit', () => {
  if (!folder || !uncached.length) return;
  // the cache is only an optimisation: a folder that cannot be written leaves the next run to compile again
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    for (const { script, file } of uncached) writeCache(file, script.createCachedData());
    removeStaleCaches(folder, new Set(uncached.map((u) => u.file)));
  } catch {
    // nothing to do
  }
});

loadPiece(CLI_MAIN);
