/**
 * Faults during writes lose nothing. The CLI (bundled from src/ as dist/cli.js ships) requantizes a few-MB GGUF and simulates a few-MB
 * safetensors file while the test injects faults: SIGKILL, SIGTERM and SIGINT at seeded points of the write (triggered when
 * the temporary file reaches N bytes, watched with fs.watch, never by a timer), a destination disk that fills (a
 * 256 KB tmpfs), a read-only destination (a tmpfs remounted read-only), destinations that are the source or a link
 * to it, a source truncated or rewritten while it is read, and two jobs writing one destination. After each: the
 * source is byte-identical, no partial or temporary file is left beside the destination (after the next run's
 * sweep, for SIGKILL), and the destination is absent or byte-identical to an uninterrupted run's output.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  watch,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { buildSafetensorsFile } from '../../src/core/formats/safetensorsWriter.ts';
import { rng } from '../helpers/rng.ts';
import { bundledCli } from '../helpers/bundles.ts';

const CLI = bundledCli();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const shaOf = (path: string) => sha(readFileSync(path));
const counts = {
  kills: 0,
  killsMissed: 0,
  sigtermExits: 0,
  faults: 0,
  changeRefused: 0,
  changeVerified: 0,
  lostOrCorrupted: 0,
  tempLeft: 0,
  leftBySigkill: 0,
};
const mounts: string[] = [];

after(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(work, { recursive: true, force: true });
});

function randomF32(seed: number, n: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() * 2 - 1;
  return out;
}
const bytesOf = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

const work = mkdtempSync(join(tmpdir(), 'ql-faults-'));
const GGUF = join(work, 'big.gguf');
const ST = join(work, 'big.safetensors');
{
  const up = randomF32(1, 1024 * 1024);
  const q = randomF32(2, 1024 * 256);
  const norm = randomF32(3, 1024);
  writeFileSync(
    GGUF,
    buildGgufFile(
      [{ key: 'general.architecture', type: 'STRING', value: 'test' }],
      [
        { name: 'blk.0.ffn_up.weight', shape: [1024, 1024], ggmlTypeId: 0, nbytes: up.byteLength, data: bytesOf(up) },
        { name: 'blk.0.attn_q.weight', shape: [1024, 256], ggmlTypeId: 0, nbytes: q.byteLength, data: bytesOf(q) },
        { name: 'blk.0.attn_norm.weight', shape: [1024], ggmlTypeId: 0, nbytes: norm.byteLength, data: bytesOf(norm) },
      ],
    ),
  );
  writeFileSync(
    ST,
    buildSafetensorsFile([
      { name: 'mlp.up.weight', dtype: 'F32', shape: [1024, 1024], data: bytesOf(up) },
      { name: 'attn.q.weight', dtype: 'F32', shape: [256, 1024], data: bytesOf(q) },
    ]),
  );
}
const SOURCE_SHA = { gguf: shaOf(GGUF), st: shaOf(ST) };

/** The two jobs: requantize rewrites ffn_up and copies the rest; simulate replaces mlp.up and copies attn.q. */
const JOBS = {
  requantize: (out: string, src = GGUF) => ['requantize', src, out, '--tensor-type', 'ffn_up=q8_0', '--threads', '1'],
  simulate: (out: string, src = ST) => ['simulate', src, out, '--tensor-type', 'mlp=q8_0', '--threads', '1'],
};
type Job = keyof typeof JOBS;
const sourceOf = (job: Job) => (job === 'requantize' ? GGUF : ST);
const sourceSha = (job: Job) => (job === 'requantize' ? SOURCE_SHA.gguf : SOURCE_SHA.st);

function runSync(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

/** Temporary files of `dest` in its directory (the writer's `.NAME.<pid>.<time>.tmp`). */
function temporaries(dest: string): string[] {
  return readdirSync(dirname(dest)).filter((n) => n.startsWith(`.${basename(dest)}.`) && n.endsWith('.tmp'));
}

/**
 * Runs the CLI; once its temporary file reaches `atBytes` (seen through fs.watch on the directory), calls `onReached`
 * once (kill it, truncate its source ...). Resolves with the exit and whether the trigger fired, plus the stale
 * temporary files of other processes seen beside the child's own when it first appeared.
 */
function runWatched(args: string[], dest: string, atBytes: number, onReached: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; signal: string | null; fired: boolean; staleSeen: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let fired = false;
    let staleSeen = -1;
    const check = () => {
      if (fired) return;
      const mine = `.${basename(dest)}.${child.pid}.`;
      const temps = temporaries(dest);
      const own = temps.find((n) => n.startsWith(mine));
      if (!own) return;
      if (staleSeen < 0) staleSeen = temps.length - 1;
      let size = 0;
      try {
        size = statSync(join(dirname(dest), own)).size;
      } catch {
        return; // renamed or removed between the listing and the stat
      }
      if (size >= atBytes) {
        fired = true;
        onReached(child);
      }
    };
    const watcher = watch(dirname(dest), check);
    child.on('close', (code, signal) => {
      watcher.close();
      resolve({ code, signal, fired, staleSeen: Math.max(0, staleSeen), stderr });
    });
  });
}

/** The destination is absent or byte-identical to the uninterrupted output; counts a loss otherwise. */
function assertNothingLost(job: Job, dest: string, reference: string, what: string): void {
  const intact = shaOf(sourceOf(job)) === sourceSha(job);
  const destOk = !existsSync(dest) || shaOf(dest) === reference;
  if (!intact || !destOk) counts.lostOrCorrupted++;
  assert.ok(intact, `${what}: the source is byte-identical`);
  assert.ok(destOk, `${what}: the destination is absent or complete`);
}

function assertNoTemporaries(dest: string, what: string): void {
  const left = temporaries(dest);
  counts.tempLeft += left.length;
  assert.deepEqual(left, [], `${what}: no temporary file`);
}

/** Exactly one error line, the last of stderr, matching `why`. */
function assertOneErrorLine(stderr: string, why: RegExp, what: string): void {
  const lines = stderr.trim().split('\n');
  assert.deepEqual(
    lines.filter((l) => l.startsWith('error:')),
    [lines[lines.length - 1]],
    `${what}: ${stderr}`,
  );
  assert.match(lines[lines.length - 1], why, what);
}

const references = new Map<Job, { sha: string; size: number }>();

/** SHA-256 and size of the job's uninterrupted output (computed once, from a clean run). */
function referenceOf(job: Job): { sha: string; size: number } {
  let ref = references.get(job);
  if (!ref) {
    const dest = join(mkdtempSync(join(work, 'ref-')), 'out');
    const res = runSync(JOBS[job](dest));
    assert.equal(res.code, 0, res.stderr);
    references.set(job, (ref = { sha: shaOf(dest), size: statSync(dest).size }));
  }
  return ref;
}

for (const job of ['requantize', 'simulate'] as const) {
  test(`${job}: killed with SIGKILL, SIGTERM and SIGINT at seeded points of the write, nothing is lost or left`, async () => {
    const dir = join(work, `kill-${job}`);
    mkdirSync(dir);
    const dest = join(dir, `out.${job === 'requantize' ? 'gguf' : 'safetensors'}`);
    const ref = referenceOf(job);
    const r = rng(job === 'requantize' ? 2026 : 2027);
    const points = job === 'requantize' ? 5 : 3;
    for (let i = 0; i < 2 * points; i++) {
      const signal = (['SIGKILL', 'SIGTERM', 'SIGINT'] as const)[i % 3];
      // kill points spread over the whole write, from the empty temporary file to the full one being verified
      const atBytes = Math.floor((((i >> 1) + r()) / points) * ref.size);
      rmSync(dest, { force: true });
      const what = `${job} ${signal} at ${atBytes} bytes`;
      const res = await runWatched(JOBS[job](dest), dest, atBytes, (child) => child.kill(signal));
      assert.equal(res.staleSeen, 0, `${what}: stale temporary files of killed runs were swept before this run wrote`);
      if (res.fired) counts.kills++;
      else counts.killsMissed++;
      if (signal !== 'SIGKILL' && res.fired) {
        assert.ok(res.code === (signal === 'SIGTERM' ? 143 : 130) || res.code === 0, `${what}: exit ${res.code} ${res.signal}`);
        if (res.code !== 0) {
          counts.sigtermExits++;
          assertOneErrorLine(res.stderr, new RegExp(`interrupted by ${signal}`), what);
        }
        assertNoTemporaries(dest, what);
      }
      if (signal === 'SIGKILL' && res.fired) {
        assert.ok(res.signal === 'SIGKILL' || res.code === 0, `${what}: exit ${res.code} ${res.signal}`);
        counts.leftBySigkill += temporaries(dest).length; // the next run must sweep these
      }
      assertNothingLost(job, dest, ref.sha, what);
    }
    // the next run sweeps what the last SIGKILL left and completes
    rmSync(dest, { force: true });
    const last = runSync(JOBS[job](dest));
    assert.equal(last.code, 0, last.stderr);
    assert.equal(shaOf(dest), ref.sha);
    assertNoTemporaries(dest, `${job} after the last run`);
    assert.ok(counts.kills >= points, `most kills landed during the write (${counts.kills} landed, ${counts.killsMissed} missed)`);
  });
}

test('destination = source, a symbolic link to it, a hard link to it, or a .. path: refused, source intact', () => {
  const dir = join(work, 'aliases');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (const job of ['requantize', 'simulate'] as const) {
    const src = join(dir, basename(sourceOf(job)));
    copyFileSync(sourceOf(job), src);
    const hard = join(dir, `hard-${basename(src)}`);
    const soft = join(dir, `soft-${basename(src)}`);
    linkSync(src, hard);
    symlinkSync(src, soft);
    const aliases = [src, hard, soft, join(dir, 'sub', '..', basename(src))];
    // every kind for requantize; simulate goes through the same core check (two kinds suffice)
    for (const dest of job === 'requantize' ? aliases : [src, hard]) {
      counts.faults++;
      const res = runSync(JOBS[job](dest, src));
      assert.equal(res.code, 1, res.stderr);
      assertOneErrorLine(res.stderr, /refusing to write .*(source file|symbolic link)/, `${job} -> ${dest}`);
      assert.equal(shaOf(src), sourceSha(job), `${job} -> ${dest}: source intact`);
      assertNoTemporaries(src, `${job} -> ${dest}`);
    }
  }
});

/** A tmpfs of `size` at a new directory (read-only if asked), or undefined when mounting is not possible. */
function mountTmpfs(size: string, readOnly: boolean): string | undefined {
  const dir = mkdtempSync(join(work, 'mnt-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status !== 0) return undefined;
  mounts.push(dir);
  if (readOnly && spawnSync('mount', ['-o', 'remount,ro', dir]).status !== 0) return undefined;
  return dir;
}

test('a destination disk that fills: one-line ENOSPC error, no file left', (t) => {
  const dir = mountTmpfs('256k', false);
  if (!dir) return t.skip('cannot mount a tmpfs here (needs root)');
  for (const job of ['requantize', 'simulate'] as const) {
    counts.faults++;
    const dest = join(dir, `out-${job}`);
    const res = runSync(JOBS[job](dest));
    assert.equal(res.code, 2, res.stderr);
    assertOneErrorLine(res.stderr, /ENOSPC/, `${job} on a full disk`);
    assert.deepEqual(readdirSync(dir), [], `${job}: nothing left on the full disk`);
    assert.equal(shaOf(sourceOf(job)), sourceSha(job));
  }
});

test('a read-only destination directory: one-line error, no file left', (t) => {
  // root ignores permission bits, so the directory is a tmpfs remounted read-only
  const dir = mountTmpfs('1m', true);
  if (!dir) return t.skip('cannot mount a read-only tmpfs here (needs root)');
  for (const job of ['requantize', 'simulate'] as const) {
    counts.faults++;
    const res = runSync(JOBS[job](join(dir, `out-${job}`)));
    assert.equal(res.code, 2, res.stderr);
    assertOneErrorLine(res.stderr, /cannot create a file in .*(EROFS|EACCES)/, `${job} into a read-only directory`);
    assert.deepEqual(readdirSync(dir), []);
  }
});

for (const job of ['requantize', 'simulate'] as const) {
  test(`${job}: a source truncated or rewritten while it is read gives a one-line error or a verified output`, async () => {
    const dir = join(work, `change-${job}`);
    mkdirSync(dir);
    const src = join(dir, basename(sourceOf(job)));
    const dest = join(dir, 'out');
    const ref = referenceOf(job);
    const size = statSync(sourceOf(job)).size;
    const r = rng(job === 'requantize' ? 11 : 12);
    for (const how of ['truncated', 'rewritten'] as const) {
      copyFileSync(sourceOf(job), src);
      rmSync(dest, { force: true });
      const atBytes = Math.floor(r() * 0.6 * ref.size);
      const res = await runWatched(JOBS[job](dest, src), dest, atBytes, () => {
        if (how === 'truncated') truncateSync(src, Math.floor(size / 2));
        else {
          // same size, other bytes, near the end (data not read yet)
          const fd = openSync(src, 'r+');
          writeSync(fd, new Uint8Array(4096).fill(0x7f), 0, 4096, size - 8192);
          closeSync(fd);
        }
      });
      const what = `${job}: source ${how} at ${atBytes} bytes of output`;
      if (res.fired) counts.faults++;
      if (res.code === 0) {
        counts.changeVerified++;
        assert.equal(shaOf(dest), ref.sha, `${what}: exit 0 only with the output of the file as it was read`);
      } else {
        counts.changeRefused++;
        assert.equal(res.code, 2, `${what}: ${res.stderr}`);
        assertOneErrorLine(res.stderr, /(cut short|was modified|changed size|short read)/, what);
        assert.equal(existsSync(dest), false, `${what}: no output`);
        if (!res.fired) assert.fail(`${what}: failed without a fault`);
      }
      assert.equal(shaOf(sourceOf(job)), sourceSha(job), `${what}: the pristine source is untouched`);
      assertNoTemporaries(dest, what);
    }
  });
}

test('two requantize jobs writing one destination at once: one complete, verified file', async () => {
  const dir = join(work, 'concurrent');
  mkdirSync(dir);
  const dest = join(dir, 'out.gguf');
  counts.faults++;
  rmSync(dest, { force: true });
  const both = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [CLI, ...JOBS.requantize(dest)], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr!.on('data', (d) => (stderr += d));
          child.on('close', (code) => resolve({ code, stderr }));
        }),
    ),
  );
  for (const b of both) if (b.code !== 0) assertOneErrorLine(b.stderr, /error: /, 'the job that lost');
  assert.ok(
    both.some((b) => b.code === 0),
    both.map((b) => b.stderr).join('\n'),
  );
  assert.equal(shaOf(dest), referenceOf('requantize').sha, 'the destination is one complete output');
  assertNoTemporaries(dest, 'concurrent writers');
  assert.equal(shaOf(GGUF), SOURCE_SHA.gguf);
});

test('summary', (t) => {
  t.diagnostic(
    `faults: ${counts.kills} kills landed during writes (${counts.killsMissed} came too late; ${counts.sigtermExits} SIGTERM/SIGINT exits 143/130 with the temporary file removed; ${counts.leftBySigkill} temporary files left by SIGKILL, each swept by the next run), ${counts.faults} other faults injected (sources changed mid-read: ${counts.changeRefused} refused, ${counts.changeVerified} finished with the output of the file as read), ${counts.lostOrCorrupted} files lost or corrupted, ${counts.tempLeft} temporary files left`,
  );
  assert.equal(counts.lostOrCorrupted, 0);
  assert.equal(counts.tempLeft, 0);
});
