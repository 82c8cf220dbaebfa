/**
 * npm run bench [-- --json] [-- --types Q4_K,Q8_0] [-- --mweights 64] [-- --quantizers Q4_K,Q6_K] [-- --no-whole]
 *
 * 1. Header: open a Llama-3-8B-shaped GGUF header (7.9 MB, 128k vocabulary, 280k merges, 291 tensors) with
 *    Quant Lens and with @huggingface/gguf, side by side.
 * 2. Scan: for each type, a large tensor made by tiling the corpus tensor's bytes, scanned exactly as
 *    `quantlens stats` does (dequantize, float64 stats, histogram, two passes); throughput in M weights/s and as
 *    a ratio to a plain page-cached read of the same bytes, measured in the same run.
 * 3. Whole process: `quantlens stats` on a 604 MB Q4_K file, one thread and all cores.
 * 4. Quantizers: M weights/s per type next to ggml's reference quantizers (bench/quantizerBench.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { openModel } from '../src/core/formats/openModel.ts';
import { computeTensorStats } from '../src/core/analysis/tensorStats.ts';
import { buildGgufHeader } from '../src/core/formats/ggufWriter.ts';
import { typeByName } from '../src/core/types.ts';
import { codecForType } from '../src/core/quant/index.ts';
import { quantizerBench, QUANTIZER_BENCH_TYPES } from './quantizerBench.ts';

const ROOT = join(__dirname, '..');
const CORPUS = join(ROOT, 'test', 'fixtures', 'corpus', 'gguf');
/** ggml's own C on one core of this machine, exact scan as `quantlens stats` does it, G weights/s. */
const GGML_SCAN_YARDSTICK: Record<string, number> = { Q4_K: 0.4, Q8_0: 0.33, Q6_K: 0.26, IQ4_XS: 0.29, F16: 0.23 };

const args = process.argv.slice(2);
const json = args.includes('--json');
const typeArg = args.find((a, i) => args[i - 1] === '--types');
const mweights = Number(args.find((a, i) => args[i - 1] === '--mweights') ?? 64);
const quantizerTypes = args.find((a, i) => args[i - 1] === '--quantizers');
const types = (typeArg ?? 'F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,IQ1_S,IQ1_M,IQ4_NL,IQ4_XS,TQ1_0,TQ2_0,MXFP4,NVFP4,Q1_0,Q2_0').split(',');

function log(s: string): void {
  if (!json) process.stdout.write(s + '\n');
}

function bestOf<T>(n: number, f: () => T): { ms: number; result: T } {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

async function bestOfAsync<T>(n: number, f: () => Promise<T>): Promise<{ ms: number; result: T }> {
  let best = Infinity;
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = await f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

/** Plain page-cached read of [offset, offset + nbytes) in 4 MB chunks: the speed floor for any scan. */
function readSpeed(path: string, offset: number, nbytes: number): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    return bestOf(3, () => {
      let sum = 0;
      for (let at = 0; at < nbytes; at += buf.length) sum += readSync(fd, buf, 0, Math.min(buf.length, nbytes - at), offset + at);
      return sum;
    }).ms;
  } finally {
    closeSync(fd);
  }
}

async function headerBench(dir: string) {
  const big = join(dir, 'big-header.gguf');
  execFileSync('python3', [join(ROOT, 'scripts', 'make-big-header.py'), big], { stdio: 'ignore' });
  const ours = await bestOfAsync(5, async () => {
    const m = await openModel(big);
    await m.close();
    return m.tensors.length;
  });
  const theirs = await bestOfAsync(2, async () => (await hfGguf(big, { allowLocalFile: true })).tensorInfos.length);
  const row = { quantLensMs: +ours.ms.toFixed(1), huggingfaceGgufMs: +theirs.ms.toFixed(1), speedup: +(theirs.ms / ours.ms).toFixed(1), tensors: ours.result };
  log(`header: Llama-3-8B-shaped (7.9 MB header, ${ours.result} tensors): Quant Lens ${row.quantLensMs} ms, @huggingface/gguf ${row.huggingfaceGgufMs} ms (${row.speedup}x)`);
  return row;
}

async function scanBench(dir: string, typeName: string) {
  const ty = typeByName(typeName)!;
  if (!codecForType(ty)) return { type: typeName, skipped: 'no decoder' };
  const expected = JSON.parse(require('node:fs').readFileSync(join(CORPUS, `llama-tiny-${typeName}.expected.json`), 'utf8'));
  const t = expected.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_down.weight');
  const src = require('node:fs').readFileSync(join(CORPUS, expected.file)).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
  const rowLen = t.ne[0];
  const rowsPerTile = t.ne[1];
  const tiles = Math.max(1, Math.round((mweights * 1e6) / t.n_elements));
  const nbytes = t.nbytes * tiles;
  const layout = buildGgufHeader([{ key: 'general.architecture', type: 'STRING', value: 'bench' }], [{ name: 'w', shape: [rowLen, rowsPerTile * tiles], ggmlTypeId: ty.ggmlId!, nbytes }]);
  const path = join(dir, `scan-${typeName}.gguf`);
  const data = Buffer.allocUnsafe(layout.fileSize);
  data.set(layout.header);
  for (let i = 0; i < tiles; i++) data.set(src, layout.dataOffset + i * t.nbytes);
  writeFileSync(path, data);
  const model = await openModel(path);
  try {
    const tensor = model.tensors[0];
    const weights = tensor.nElements;
    const readMs = readSpeed(path, tensor.absoluteOffset, nbytes);
    const scan = bestOf(2, () => computeTensorStats(model, tensor, { bins: 256 }));
    const mws = weights / scan.ms / 1e3;
    const yard = GGML_SCAN_YARDSTICK[typeName];
    const row = {
      type: typeName,
      mweights: +(weights / 1e6).toFixed(1),
      scanMWeightsPerS: +mws.toFixed(1),
      readMWeightsPerS: +(weights / readMs / 1e3).toFixed(0),
      readGBPerS: +(nbytes / readMs / 1e6).toFixed(2),
      scanToReadRatio: +(readMs / scan.ms).toFixed(3),
      ...(yard ? { ggmlScanMWeightsPerS: yard * 1000, ratioToGgml: +(mws / (yard * 1000)).toFixed(2) } : {}),
    };
    log(`${typeName.padEnd(8)} ${String(row.mweights).padStart(6)} Mw  scan ${String(row.scanMWeightsPerS).padStart(7)} Mw/s  read ${String(row.readMWeightsPerS).padStart(7)} Mw/s (${row.readGBPerS} GB/s)  scan/read ${row.scanToReadRatio.toFixed(3)}${yard ? `  vs ggml C ${row.ratioToGgml}x` : ''}`);
    return row;
  } finally {
    await model.close();
    rmSync(path);
  }
}

/**
 * Whole process: `quantlens stats --bins 256 --json` on a multi-tensor Q4_K file (256 tensors of 4M weights, the
 * corpus tensor tiled), as a user runs it, with all cores; next to a page-cached read of the same file.
 */
async function wholeProcessBench(dir: string) {
  const expected = JSON.parse(require('node:fs').readFileSync(join(CORPUS, 'llama-tiny-Q4_K.expected.json'), 'utf8'));
  const t = expected.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_down.weight');
  const src = require('node:fs').readFileSync(join(CORPUS, expected.file)).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
  const tilesPerTensor = 32;
  const nTensors = 256;
  const tensorBytes = t.nbytes * tilesPerTensor;
  const tensors = Array.from({ length: nTensors }, (_, i) => ({ name: `blk.${i}.ffn_down.weight`, shape: [t.ne[0], t.ne[1] * tilesPerTensor], ggmlTypeId: 12, nbytes: tensorBytes }));
  const layout = buildGgufHeader([{ key: 'general.architecture', type: 'STRING', value: 'bench' }], tensors);
  const path = join(dir, 'whole-Q4_K.gguf');
  const fd = require('node:fs').openSync(path, 'w');
  require('node:fs').writeSync(fd, layout.header);
  const tensorData = Buffer.allocUnsafe(tensorBytes);
  for (let i = 0; i < tilesPerTensor; i++) tensorData.set(src, i * t.nbytes);
  for (let i = 0; i < nTensors; i++) require('node:fs').writeSync(fd, tensorData, 0, tensorBytes, layout.dataOffset + layout.offsets[i]);
  require('node:fs').closeSync(fd);
  const weights = nTensors * t.n_elements * tilesPerTensor;
  const bytes = layout.fileSize;
  const readMs = readSpeed(path, 0, bytes);
  const cli = join(ROOT, 'dist', 'cli.js');
  const run = (threads: number) => bestOf(2, () => execFileSync(process.execPath, [cli, 'stats', path, '--bins', '256', '--json', '--threads', String(threads)], { stdio: ['ignore', 'ignore', 'ignore'] })).ms;
  const oneMs = run(1);
  const allMs = run(require('node:os').availableParallelism());
  const row = {
    file: `${nTensors} Q4_K tensors, ${(weights / 1e6).toFixed(0)} M weights, ${(bytes / 1e6).toFixed(0)} MB`,
    oneThreadGWeightsPerS: +(weights / oneMs / 1e6).toFixed(3),
    allCoresGWeightsPerS: +(weights / allMs / 1e6).toFixed(3),
    ggmlYardstickGWeightsPerS: GGML_SCAN_YARDSTICK.Q4_K,
    ratioToGgml: +(weights / allMs / 1e6 / GGML_SCAN_YARDSTICK.Q4_K).toFixed(2),
    readGBPerS: +(bytes / readMs / 1e6).toFixed(2),
    scanToReadRatio: +(readMs / allMs).toFixed(4),
  };
  log(`\nwhole process, quantlens stats --bins 256 on ${row.file}: ${row.oneThreadGWeightsPerS} G w/s on one thread, ${row.allCoresGWeightsPerS} G w/s on all cores (${row.ratioToGgml}x ggml's ${row.ggmlYardstickGWeightsPerS}); page-cached read ${row.readGBPerS} GB/s, scan/read ${row.scanToReadRatio}`);
  rmSync(path);
  return row;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'quantlens-bench-'));
  try {
    const header = existsSync(join(ROOT, 'scripts', 'make-big-header.py')) ? await headerBench(dir) : undefined;
    log(`\nexact scan (dequantize + float64 stats + 256-bin histogram, two passes), one thread:`);
    const scans = [];
    for (const t of types) scans.push(await scanBench(dir, t));
    const wholeProcess = args.includes('--no-whole') ? undefined : await wholeProcessBench(dir);
    log(`\nquantize (ggml_quantize_chunk, byte-identical), one thread, on the corpus float32 source tiled:`);
    const quantizers = (quantizerTypes ?? QUANTIZER_BENCH_TYPES).split(',').map((t) => quantizerBench(CORPUS, t, log));
    if (json) process.stdout.write(JSON.stringify({ node: process.version, header, scans, wholeProcess, quantizers }, null, 1) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
