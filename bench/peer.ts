/**
 * The bench's peer: ggml as shipped in llama.cpp's release builds, the libggml-base.so of the optional dependency
 * @node-llama-cpp/linux-x64 (pinned), driven through bench/ggml-peer/peer.c. The shim is compiled here with the
 * machine's gcc (-O2, rpath to the library) into bench/ggml-peer/build/ (gitignored), once per source and library.
 * Nothing imports the package: the bundles never contain it.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { GGML_TYPES } from '../src/core/types.ts';

export interface PeerStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  zero: number;
  histogramTotal: number;
}

export interface Peer {
  /** ggml_version() and ggml_commit() of the library. */
  version: string;
  /** ggml type ids with a to_float in ggml's table (F32 is read as a copy). */
  toFloat: Set<number>;
  /** ggml_quantize_requires_imatrix. */
  requiresImatrix: Set<number>;
  /** ggml_quantize_chunk of the float32 file SRC (rows of nPerRow), `reps` times; ms per repetition; output in OUT. */
  quantize(typeId: number, src: string, nPerRow: number, imatrix: string | undefined, out: string, reps: number): number[];
  /**
   * ggml_quantize_chunk of each job in one process (each grid type set up once); per job, in order, undefined when
   * its output is in `out`, or the message ggml aborted with (GGML_ASSERT). The job list is written to `listPath`.
   */
  quantizeJobs(jobs: QuantizeJob[], listPath: string): Promise<(string | undefined)[]>;
  /** Every tensor of a GGUF: to_float + stats, then to_float + histogram; ms per repetition and the first tensor's stats. */
  scan(path: string, bins: number, reps: number): { ms: number[]; stats: PeerStats };
  /** gguf_init_from_file(no_alloc) + gguf_free in one process, `reps` times. */
  header(path: string, reps: number): number[];
  /** argv of a whole `peer` process (for timing it as one). */
  argv(...args: string[]): [string, string[]];
}

/** One ggml_quantize_chunk of the float32 file src (rows of nPerRow) into out; paths without spaces. */
export interface QuantizeJob {
  typeId: number;
  src: string;
  nPerRow: number;
  imatrix?: string;
  out: string;
}

const PACKAGE = '@node-llama-cpp/linux-x64';

function run(bin: string, args: string[]): string {
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
}

const msLines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('ms '))
    .map((l) => Number(l.slice(3)));

/** The peer, or a one-line reason why there is none here. */
export function loadPeer(root: string): Peer | string {
  const pkg = join(root, 'node_modules', PACKAGE);
  const libDir = join(pkg, 'bins', 'linux-x64');
  const lib = join(libDir, 'libggml-base.so');
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `no ggml peer: ${PACKAGE} is for linux-x64, this is ${process.platform}-${process.arch}`;
  if (!existsSync(lib)) return `no ggml peer: ${PACKAGE} is not installed (an optional dependency: npm ci installs it on linux-x64)`;
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'no ggml peer: gcc is not on PATH (it compiles bench/ggml-peer/peer.c)';
  const source = join(root, 'bench', 'ggml-peer', 'peer.c');
  const pkgVersion = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version as string;
  const key = createHash('sha256').update(readFileSync(source)).update(lib).update(pkgVersion).digest('hex').slice(0, 12);
  const buildDir = join(root, 'bench', 'ggml-peer', 'build');
  const bin = join(buildDir, `peer-${key}`);
  if (!existsSync(bin)) {
    mkdirSync(buildDir, { recursive: true });
    // one binary per source and library: the older ones go
    for (const f of readdirSync(buildDir)) if (f.startsWith('peer-')) rmSync(join(buildDir, f));
    const r = spawnSync(
      'gcc',
      ['-O2', '-std=c11', '-Wall', source, '-o', bin, `-L${libDir}`, '-l:libggml-base.so', `-Wl,-rpath,${libDir}`, '-lm'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) return `no ggml peer: gcc failed on bench/ggml-peer/peer.c: ${(r.stderr || r.error?.message || '').split('\n')[0]}`;
  }
  let version = '';
  const toFloat = new Set<number>();
  const requiresImatrix = new Set<number>();
  const mismatches: string[] = [];
  try {
    for (const line of run(bin, ['traits']).split('\n')) {
      const f = line.split(' ');
      if (f[0] === 'version') version = `ggml ${f[1]} (${f[2]})`;
      if (f[0] !== 'type') continue;
      const [id, blck, size, hasToFloat, imatrix] = f.slice(1, 6).map(Number);
      const name = f.slice(6).join(' ');
      if (hasToFloat) toFloat.add(id);
      if (imatrix) requiresImatrix.add(id);
      // the layout check of the shim's struct: ggml's table must agree with Quant Lens's
      const ours = GGML_TYPES.get(id);
      if (ours && (ours.ggmlName !== name || ours.blockSize !== blck || ours.bytesPerBlock !== size))
        mismatches.push(`${id}: ggml ${name}/${blck}/${size}, Quant Lens ${ours.ggmlName}/${ours.blockSize}/${ours.bytesPerBlock}`);
    }
  } catch (e) {
    return `no ggml peer: the shim does not run: ${(e as Error).message.split('\n')[0]}`;
  }
  if (mismatches.length)
    return `no ggml peer: ggml's type table disagrees with Quant Lens's (struct layout or type ids): ${mismatches.join('; ')}`;
  toFloat.add(0);
  return {
    version,
    toFloat,
    requiresImatrix,
    quantize: (typeId, src, nPerRow, imatrix, out, reps) =>
      msLines(run(bin, ['quantize', String(typeId), src, String(nPerRow), imatrix ?? '-', out, String(reps)])),
    async quantizeJobs(jobs, listPath) {
      writeFileSync(listPath, jobs.map((j) => `${j.typeId} ${j.src} ${j.nPerRow} ${j.imatrix ?? '-'} ${j.out}\n`).join(''));
      const { stdout } = await promisify(execFile)(bin, ['quantize-jobs', listPath], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const results = new Map<number, string | undefined>();
      for (const m of stdout.matchAll(/^job (\d+) (?:ok|aborted: (.*))$/gm)) results.set(Number(m[1]), m[2] ?? undefined);
      if (results.size !== jobs.length) throw new Error(`peer quantize-jobs answered ${results.size} of ${jobs.length} jobs`);
      return jobs.map((_, i) => results.get(i));
    },
    scan(path, bins, reps) {
      const out = run(bin, ['scan', path, String(bins), String(reps)]);
      const s = out
        .split('\n')
        .find((l) => l.startsWith('stats '))!
        .split(' ')
        .slice(1)
        .map(Number);
      return { ms: msLines(out), stats: { count: s[0], min: s[1], max: s[2], mean: s[3], std: s[4], zero: s[5], histogramTotal: s[6] } };
    },
    header: (path, reps) => msLines(run(bin, ['header', path, String(reps)])),
    argv: (...args) => [bin, args],
  };
}
