/**
 * Every quantizer that runs in WebAssembly against ggml itself on edge inputs: ggml_quantize_chunk of the release
 * libggml-base.so (the bench's peer, bench/peer.ts: @node-llama-cpp/linux-x64 driven through bench/ggml-peer/peer.c,
 * compiled with the machine's gcc). The inputs are 32-weight blocks of every kind below (zeros of both signs, NaN
 * and ±Inf at several places, float32 subnormals, values near FLT_MAX, exact rounding ties, constants, gaussian),
 * shuffled into rows, with and without an importance matrix, and the finite kinds alone. Every input of every type
 * goes to ggml in one peer process (bench/peer.ts quantizeJobs: each grid set up once). Where the peer cannot be built here (no package, no
 * gcc, not linux-x64) the test is skipped, saying why.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ggmlType, typesWith } from '../../src/core/types.ts';
import { quantizerFor } from '../../src/core/quant/quantizers.ts';
import { loadPeer, type QuantizeJob } from '../../bench/peer.ts';
import { rng } from '../helpers/rng.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const peer = loadPeer(ROOT);
const skip = typeof peer === 'string' ? peer : false;

const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const FLT_MAX = 3.4028234663852886e38;

/** Kinds of 32-weight blocks (i: the index in the block). */
const KINDS: Record<string, (r: () => number, i: number) => number> = {
  normal: (r) => gauss(r),
  zeros: () => 0,
  negZeros: () => -0,
  mixedZeros: (r) => (r() < 0.5 ? -0 : 0),
  negZeroFirst: (_r, i) => (i === 0 ? -0 : 0),
  nanOne: (r, i) => (i === 13 ? NaN : gauss(r)),
  nanFirst: (r, i) => (i === 0 ? NaN : gauss(r)),
  nanLast: (r, i) => (i === 31 ? NaN : gauss(r)),
  nanAll: () => NaN,
  nanZeros: (_r, i) => (i % 3 === 0 ? NaN : 0),
  infPos: (r, i) => (i === 7 ? Infinity : gauss(r)),
  infNeg: (r, i) => (i === 20 ? -Infinity : gauss(r)),
  infBoth: (r, i) => (i === 3 ? Infinity : i === 29 ? -Infinity : gauss(r)),
  infAll: (_r, i) => (i & 1 ? Infinity : -Infinity),
  infNan: (r, i) => (i === 5 ? Infinity : i === 6 ? NaN : gauss(r)),
  subnormal: (r) => gauss(r) * 1e-40,
  subnormalTiny: (r) => (r() < 0.5 ? 1.4e-45 : -1.4e-45),
  minNormal: (r) => (r() < 0.5 ? 1.1754943508222875e-38 : -1.1754943508222875e-38),
  huge: (r) => gauss(r) * 1e37,
  nearMax: (r) => (r() < 0.5 ? FLT_MAX : -FLT_MAX * r()),
  f16Overflow: (r) => 65504 + r() * 100,
  integers: (r) => Math.round(gauss(r) * 40),
  ties127: (_r, i) => (i === 0 ? 127 : i - 15.5),
  ties8: (_r, i) => (i === 0 ? -8 : (i % 16) - 7.5),
  halves: (r) => Math.round(gauss(r) * 8) / 2,
  constant: () => 0.3,
  constantNeg: () => -2.5,
  positive: (r) => Math.abs(gauss(r)) + 0.01,
  negative: (r) => -Math.abs(gauss(r)) - 0.01,
  offset: (r) => 1000 + r(),
  sparse: (r) => (r() < 0.9 ? 0 : gauss(r)),
  outlier: (r, i) => (i === 17 ? 1e4 : gauss(r) * 0.01),
  wideRange: (r) => gauss(r) * 10 ** (r() * 12 - 6),
  powersOfTwo: (r) => 2 ** Math.floor(r() * 20 - 10) * (r() < 0.5 ? -1 : 1),
  belowPowerOfTwo: (r, i) => (i === 9 ? 4 * (1 - 2 ** -24) : gauss(r)),
  nanPayloads: (r, i) => (i & 1 ? gauss(r) : NaN), // the NaNs are then given payloads (NAN_PAYLOADS)
};
/**
 * Signalling and quiet NaNs with payloads, both signs (written as bits: a JavaScript number may lose them). Only
 * without an importance matrix: with one, a NaN flows through arithmetic (the row's mean square, then the scale
 * search, whose nearest_int turns a NaN's bits into a code), and which operand's payload and sign a NaN result
 * keeps is left open by C (the compiler may swap operands) and by WebAssembly alike.
 */
const NAN_PAYLOADS = [0x7fa00001, 0xffc12345, 0x7f800001, 0xff900000];
const KIND_NAMES = Object.keys(KINDS);
const N_PER_ROW = 1024;

function generate(seed: number, payloads: boolean, kindNames = KIND_NAMES): Float32Array {
  const r = rng(seed);
  const kinds = [...kindNames, ...kindNames].sort(() => r() - 0.5);
  const nRows = Math.ceil((kinds.length * 32) / N_PER_ROW);
  const x = new Float32Array(nRows * N_PER_ROW);
  const bits = new Uint32Array(x.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    const name = kinds[b % kinds.length];
    for (let i = 0; i < 32; i++) x[b * 32 + i] = KINDS[name](r, i);
    if (name === 'nanPayloads' && payloads) for (let i = 0; i < 32; i += 2) bits[b * 32 + i] = NAN_PAYLOADS[(i >> 1) % 4];
  }
  return x;
}

function imatrix(seed: number): Float32Array {
  const r = rng(seed);
  return new Float32Array(N_PER_ROW).map(() => (r() < 0.2 ? 0 : 10 ** (r() * 6 - 3)));
}

/**
 * The kinds whose weights and squares are finite (no NaN, no ±Inf, |x| far below √FLT_MAX): the grid searches of
 * ggml abort on the others, so every type is also compared on these alone.
 */
const FINITE_KINDS = KIND_NAMES.filter((k) => !/^(nan|inf)/.test(k) && k !== 'nearMax' && k !== 'huge');
/** What ggml asserts when a grid search meets a NaN or an infinity (no grid point near a group, a scale that is NaN). */
const GRID_ABORT = /GGML_ASSERT\((grid_index|scale) >= 0\)/;

/** One input of one type: ggml's answer is a job of the single peer run below. */
interface EdgeCase {
  seed: number;
  im?: Float32Array;
  /** every kind (NaN payloads without an importance matrix), then the finite kinds alone */
  inputs: { src: Float32Array; job: number }[];
}

const dir = mkdtempSync(join(tmpdir(), 'quantlens-edge-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const jobs: QuantizeJob[] = [];
const casesByType = new Map<number, EdgeCase[]>();
const imatrixFiles = new Map<number, string>();
for (const id of typesWith('wasmQuantize')) {
  const cases: EdgeCase[] = [];
  for (const seed of [1, 2]) {
    const im = imatrix(seed);
    if (!imatrixFiles.has(seed)) {
      imatrixFiles.set(seed, join(dir, `im${seed}.f32`));
      writeFileSync(imatrixFiles.get(seed)!, im);
    }
    for (const withIm of [false, true]) {
      const c: EdgeCase = { seed, im: withIm ? im : undefined, inputs: [] };
      for (const src of [generate(seed * 1000 + id, !withIm), generate(seed * 1000 + id, false, FINITE_KINDS)]) {
        const name = join(dir, `${id}-${seed}-${withIm ? 'im' : 'none'}-${c.inputs.length}`);
        writeFileSync(`${name}.f32`, src);
        c.inputs.push({ src, job: jobs.length });
        jobs.push({
          typeId: id,
          src: `${name}.f32`,
          nPerRow: N_PER_ROW,
          imatrix: withIm ? imatrixFiles.get(seed) : undefined,
          out: `${name}.out`,
        });
      }
      cases.push(c);
    }
  }
  casesByType.set(id, cases);
}
/** ggml's answers to every job, in one process (each grid set up once), started before the tests run. */
const answers = typeof peer === 'string' ? undefined : peer.quantizeJobs(jobs, join(dir, 'jobs.txt'));

for (const id of typesWith('wasmQuantize')) {
  const ty = ggmlType(id)!;
  test(
    `${ty.name}: ggml's own bytes on edge inputs (NaN, ±Inf, ±0, subnormals, huge, ties), with and without an importance matrix`,
    { skip },
    async () => {
      const aborted = (await answers)!;
      const q = quantizerFor(ty)!;
      for (const { seed, im, inputs } of casesByType.get(id)!) {
        for (const [k, { src, job }] of inputs.entries()) {
          const what = `${ty.name} seed ${seed}${im ? ' imatrix' : ''}${k ? ' finite kinds' : ''}`;
          if (!im && ty.caps.requiresImatrix) {
            // ggml asserts (GGML_ASSERT(imatrix != NULL)); ours refuses with a usage error
            assert.match(aborted[job] ?? '', /GGML_ASSERT\(imatrix != NULL\)/, what);
            assert.throws(() => q.quantize(src, src.length / N_PER_ROW, N_PER_ROW), /needs an importance matrix/, what);
            continue;
          }
          if (aborted[job] !== undefined) {
            // ggml aborts on this input (the grid searches assert a grid point near every group and a scale >= 0):
            // ours refuses it; the finite kinds are always taken
            assert.equal(k, 0, `${what}: ggml takes the finite kinds (${aborted[job]})`);
            assert.match(aborted[job]!, GRID_ABORT, what);
            assert.throws(() => q.quantize(src, src.length / N_PER_ROW, N_PER_ROW, im), /cannot be placed on the grid/, what);
            continue;
          }
          const theirs = readFileSync(jobs[job].out);
          const ours = q.quantize(src, src.length / N_PER_ROW, N_PER_ROW, im);
          assert.equal(ours.length, theirs.length);
          let i = 0;
          while (i < ours.length && ours[i] === theirs[i]) i++;
          if (i < ours.length) {
            const block = Math.floor(i / ty.bytesPerBlock);
            const w = block * ty.blockSize;
            assert.fail(
              `${what}: first difference at byte ${i} (block ${block}, weights ${w}..${w + ty.blockSize - 1}: ${[...src.subarray(w, Math.min(w + 8, w + ty.blockSize))].join(' ')} ...), ours ${ours[i]} ggml ${theirs[i]}`,
            );
          }
        }
      }
    },
  );
}
