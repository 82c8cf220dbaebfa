/**
 * npm run bench [-- --json] [-- --types Q4_K,Q8_0] [-- --mweights 32] [-- --quantizers Q4_K,Q6_K] [-- --no-whole] [-- --no-hfquant] [-- --hfquant GPTQ,AWQ]
 *   [-- --no-requantize] [-- --requant-layers 1] [-- --no-eval]
 *
 * Every figure is measured in this run, side by side with a real peer: ggml as shipped in llama.cpp's release builds
 * (libggml-base.so of the optional dependency @node-llama-cpp/linux-x64), through the C shim bench/ggml-peer/peer.c
 * that bench/peer.ts compiles with the machine's gcc. Runs alternate (ours, ggml, ours, ggml, ...) and the ratios
 * are printed best against best, with their range over the rounds: the machine may be loaded. Where there is no
 * peer (no package, no gcc), the bench says so in one line and prints ratios to a page-cached read instead.
 *
 * 1. Header: a Llama-3-8B-shaped GGUF header (7.9 MB, 128k vocabulary, 280k merges, 291 tensors) opened by Quant Lens,
 *    @huggingface/gguf and gguf_init_from_file(no_alloc), in process; then `quantlens info --json` and the peer's
 *    header read as whole processes, 10 alternating rounds, each `info` just after a bare `node -e 0`.
 * 2. Scan, one thread: for each type, a large tensor made by tiling the corpus tensor's bytes, scanned as
 *    `quantlens stats` does (dequantize, stats, histogram, two passes) against ggml's to_float + min/max/mean/std +
 *    histogram in C (two passes); both sides' min/max/mean/count are checked against each other.
 * 2b. Quantized safetensors checkpoints (bench/hfquantBench.ts): the exact scan of a [4096, 4096] weight of each
 *    format of bench/hfquantCheckpoints.ts (GPTQ, AWQ, compressed-tensors, MLX, bitsandbytes, HQQ, FP8), per byte
 *    against the Q4_K scan, alternating.
 * 3. Whole process: `quantlens stats` of a 268M-weight multi-tensor file of each of Q4_K, Q6_K, Q8_0, IQ4_XS and F16,
 *    one thread and all cores, against the peer's scan of the same file on one core, as a whole process; then of a
 *    file of one 268M-weight tensor (its rows split across the cores); each row with Quant Lens's peak RSS.
 * 3b. Requantize: a Llama-2-7B-shaped F16 model (--requant-layers of its 32 layers) to Q4_K_M on all cores, as a
 *    whole process: time and peak RSS.
 * 4. Quantizers: each type Quant Lens can write, one thread, against ggml_quantize_chunk, bytes compared
 *    (bench/quantizerBench.ts).
 * 5. Output evaluation: tokens/s through llama.cpp and the share spent reading distributions into JS
 *    (bench/evalBench.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, openSync, writeSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { openModel } from '../src/core/formats/openModel.ts';
import { computeTensorStats, type TensorStats } from '../src/core/analysis/tensorStats.ts';
import { buildGgufHeader } from '../src/core/formats/ggufWriter.ts';
import { typeByName } from '../src/core/types.ts';
import { codecForType } from '../src/core/quant/index.ts';
import { quantizerBench, QUANTIZER_BENCH_TYPES } from './quantizerBench.ts';
import { hfquantBench } from './hfquantBench.ts';
import { loadPeer, type Peer, type PeerStats } from './peer.ts';
import { evalBench } from './evalBench.ts';
import { alternate, bestOfAsync, fmt, processMs, rateRange, ratioText, readMs, timed, versus } from './timing.ts';

const ROOT = join(__dirname, '..');
const CORPUS = join(ROOT, 'test', 'fixtures', 'corpus', 'gguf');
const CLI = join(ROOT, 'dist', 'cli.js');
const BINS = 256;
/** The whole-process scan's types (the issue's five). */
const WHOLE_TYPES = ['Q4_K', 'Q6_K', 'Q8_0', 'IQ4_XS', 'F16'];

const args = process.argv.slice(2);
const json = args.includes('--json');
const typeArg = args.find((a, i) => args[i - 1] === '--types');
const mweights = Number(args.find((a, i) => args[i - 1] === '--mweights') ?? 32);
const quantizerTypes = args.find((a, i) => args[i - 1] === '--quantizers');
/** Only the checkpoint rows whose names contain one of these. */
const hfquantRows = args.find((a, i) => args[i - 1] === '--hfquant')?.split(',');
/** Layers of the Llama-2-7B-shaped requantize row (of 32). */
const requantLayers = Number(args.find((a, i) => args[i - 1] === '--requant-layers') ?? 1);
const types = (
  typeArg ??
  'F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,IQ1_S,IQ1_M,IQ4_NL,IQ4_XS,TQ1_0,TQ2_0,MXFP4,NVFP4,Q1_0,Q2_0'
).split(',');

function log(s: string): void {
  if (!json) process.stdout.write(s + '\n');
}

/** The corpus tensor blk.0.ffn_down.weight of a type: its bytes and shape. */
function corpusTensor(typeName: string): { src: Buffer; ne: number[]; nbytes: number; nElements: number } {
  const expected = JSON.parse(readFileSync(join(CORPUS, `llama-tiny-${typeName}.expected.json`), 'utf8'));
  const t = expected.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_down.weight');
  const src = readFileSync(join(CORPUS, expected.file)).subarray(t.absolute_offset, t.absolute_offset + t.nbytes);
  return { src, ne: t.ne, nbytes: t.nbytes, nElements: t.n_elements };
}

/** A GGUF of nTensors tensors, each the corpus tensor tiled `tiles` times along its rows, written tensor by tensor. */
function tiledGguf(path: string, typeName: string, nTensors: number, tiles: number): { weights: number; bytes: number } {
  const ty = typeByName(typeName)!;
  const t = corpusTensor(typeName);
  const tensorBytes = t.nbytes * tiles;
  const tensors = Array.from({ length: nTensors }, (_, i) => ({
    name: nTensors === 1 ? 'w' : `blk.${i}.ffn_down.weight`,
    shape: [t.ne[0], t.ne[1] * tiles],
    ggmlTypeId: ty.ggmlId!,
    nbytes: tensorBytes,
  }));
  const layout = buildGgufHeader([{ key: 'general.architecture', type: 'STRING', value: 'bench' }], tensors);
  const data = Buffer.allocUnsafe(tensorBytes);
  for (let i = 0; i < tiles; i++) data.set(t.src, i * t.nbytes);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, layout.header);
    for (let i = 0; i < nTensors; i++) writeSync(fd, data, 0, tensorBytes, layout.dataOffset + layout.offsets[i]);
  } finally {
    closeSync(fd);
  }
  return { weights: nTensors * tiles * t.nElements, bytes: layout.fileSize };
}

async function headerBench(dir: string, peer: Peer | undefined) {
  const big = join(dir, 'big-header.gguf');
  execFileSync('python3', [join(ROOT, 'scripts', 'make-big-header.py'), big], { stdio: 'ignore' });
  const ours = await bestOfAsync(5, async () => {
    const m = await openModel(big);
    await m.close();
    return m.tensors.length;
  });
  const hf = await bestOfAsync(2, async () => (await hfGguf(big, { allowLocalFile: true })).tensorInfos.length);
  const peerMs = peer ? Math.min(...peer.header(big, 5)) : undefined;
  log(`header: Llama-3-8B-shaped (7.9 MB header, ${ours.result} tensors), in process, best of 5:`);
  log(
    `  Quant Lens ${ours.ms.toFixed(1)} ms, @huggingface/gguf ${hf.ms.toFixed(1)} ms (ours ${fmt(hf.ms / ours.ms)}x)${peerMs !== undefined ? `, ggml gguf_init_from_file ${peerMs.toFixed(1)} ms (ours ${fmt(peerMs / ours.ms)}x)` : ''}`,
  );
  // bare `node -e 0` runs in the same rounds, just before each `info`: the machine's load falls on both alike
  const bare: number[] = [];
  const info = () => {
    bare.push(processMs(process.execPath, ['-e', '0']));
    return processMs(process.execPath, [CLI, 'info', big, '--json']);
  };
  const beyondNode = (ms: number[]) =>
    `bare node -e 0 ${Math.min(...bare).toFixed(0)} ms (best against best, info ${(Math.min(...ms) - Math.min(...bare)).toFixed(0)} ms beyond it)`;
  let whole;
  if (peer) {
    const ms = alternate(10, info, () => processMs(...peer.argv('header', big, '1')));
    const v = versus(ms);
    whole = { quantLensMs: ms.ours, ggmlMs: ms.peer, ratio: v };
    log(
      `  whole process, 10 rounds: quantlens info --json ${Math.min(...ms.ours).toFixed(0)}-${Math.max(...ms.ours).toFixed(0)} ms, ggml (shim, gguf_init_from_file) ${Math.min(...ms.peer).toFixed(0)}-${Math.max(...ms.peer).toFixed(0)} ms: ours ${ratioText(v)}; ${beyondNode(ms.ours)}`,
    );
  } else {
    const ms = Array.from({ length: 10 }, info);
    whole = { quantLensMs: ms };
    log(
      `  whole process, 10 rounds: quantlens info --json ${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)} ms; ${beyondNode(ms)}`,
    );
  }
  const nodeMs = Math.min(...bare);
  return {
    tensors: ours.result,
    quantLensMs: +ours.ms.toFixed(1),
    huggingfaceGgufMs: +hf.ms.toFixed(1),
    ggmlMs: peerMs,
    nodeStartMs: nodeMs,
    whole,
  };
}

/** Both sides scanned the same weights: count, min and max exactly, mean and std closely (the C sums in float64). */
function statsAgree(ours: TensorStats, theirs: PeerStats): string | undefined {
  const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-30);
  const bad: string[] = [];
  if (ours.count !== theirs.count) bad.push(`count ${ours.count} vs ${theirs.count}`);
  if (Math.fround(ours.min) !== theirs.min || Math.fround(ours.max) !== theirs.max)
    bad.push(`min/max ${ours.min}/${ours.max} vs ${theirs.min}/${theirs.max}`);
  if (!close(ours.mean, theirs.mean, 1e-6) && Math.abs(ours.mean - theirs.mean) > 1e-9 * ours.std)
    bad.push(`mean ${ours.mean} vs ${theirs.mean}`);
  if (!close(ours.std, theirs.std, 1e-6)) bad.push(`std ${ours.std} vs ${theirs.std}`);
  if (ours.zero_count !== theirs.zero) bad.push(`zeros ${ours.zero_count} vs ${theirs.zero}`);
  if (theirs.histogramTotal !== ours.finite_count) bad.push(`ggml histogram total ${theirs.histogramTotal}`);
  return bad.length ? bad.join(', ') : undefined;
}

async function scanBench(dir: string, typeName: string, peer: Peer | undefined) {
  const ty = typeByName(typeName)!;
  if (!codecForType(ty)) return { type: typeName, skipped: 'no decoder' };
  const tiles = Math.max(1, Math.round((mweights * 1e6) / corpusTensor(typeName).nElements));
  const path = join(dir, `scan-${typeName}.gguf`);
  const { bytes } = tiledGguf(path, typeName, 1, tiles);
  const model = await openModel(path);
  try {
    const tensor = model.tensors[0];
    const weights = tensor.nElements;
    const nbytes = bytes - tensor.absoluteOffset;
    const read = readMs(path, tensor.absoluteOffset, nbytes);
    let stats!: TensorStats;
    const ours = () => timed(() => (stats = computeTensorStats(model, tensor, { bins: BINS })));
    const tag = `${typeName.padEnd(8)} ${String(+(weights / 1e6).toFixed(1)).padStart(6)} Mw`;
    const readText = `read ${fmt(weights / read / 1e3).padStart(6)} Mw/s`;
    const withPeer = peer?.toFloat.has(ty.ggmlId!);
    if (!withPeer) {
      const ms = [ours(), ours()];
      log(
        `${tag}  Quant Lens ${rateRange(weights, ms).padStart(11)} Mw/s  ${readText}  scan/read ${(read / Math.min(...ms)).toFixed(3)}${peer ? '  (no to_float in ggml)' : ''}`,
      );
      return { type: typeName, mweights: weights / 1e6, quantLensMs: ms, readMs: read, scanToReadRatio: read / Math.min(...ms) };
    }
    let theirs!: PeerStats;
    const ms = alternate(2, ours, () => {
      const r = peer!.scan(path, BINS, 1);
      theirs = r.stats;
      return r.ms[0];
    });
    const v = versus(ms);
    const disagree = statsAgree(stats, theirs);
    log(
      `${tag}  Quant Lens ${rateRange(weights, ms.ours).padStart(11)} Mw/s  ggml ${rateRange(weights, ms.peer).padStart(11)} Mw/s  ${ratioText(v).padEnd(18)} ${readText}${disagree ? `  *** STATS DIFFER from ggml: ${disagree} ***` : ''}`,
    );
    return {
      type: typeName,
      mweights: weights / 1e6,
      quantLensMs: ms.ours,
      ggmlMs: ms.peer,
      ratio: v,
      readMs: read,
      scanToReadRatio: read / v.ours,
      ...(disagree ? { statsDiffer: disagree } : {}),
    };
  } finally {
    await model.close();
    rmSync(path);
  }
}

/** A preload that writes the process's peak resident set (getrusage maxRSS, every thread) in kB at exit. */
const PEAK_RSS_HOOK = `if (require('node:worker_threads').isMainThread) process.on('exit', () => require('node:fs').writeFileSync(process.env.QUANTLENS_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)));`;

/** Wall time (ms) and peak RSS (MB) of `node args...` as a whole process, through PEAK_RSS_HOOK. */
function nodeProcess(dir: string, args: string[]): { ms: number; peakRssMB: number } {
  const hook = join(dir, 'peak-rss-hook.cjs');
  const rssFile = join(dir, 'peak-rss.txt');
  if (!existsSync(hook)) writeFileSync(hook, PEAK_RSS_HOOK);
  const before = process.env.QUANTLENS_BENCH_RSS_FILE;
  process.env.QUANTLENS_BENCH_RSS_FILE = rssFile;
  try {
    const ms = processMs(process.execPath, ['--require', hook, ...args]);
    return { ms, peakRssMB: Number(readFileSync(rssFile, 'utf8')) / 1024 };
  } finally {
    if (before === undefined) delete process.env.QUANTLENS_BENCH_RSS_FILE;
    else process.env.QUANTLENS_BENCH_RSS_FILE = before;
  }
}

/** Alternating rounds of each whole-process row. */
const WHOLE_ROUNDS = 5;

/**
 * Whole process: `quantlens stats --bins 256 --json` on a multi-tensor file (64 tensors of 4M weights, the corpus
 * tensor tiled), as a user runs it, on one thread and on all cores, with its peak RSS; the peer's scan of the same
 * file on one core as a whole process; a page-cached read of the same file. Then the same on one 268M-weight tensor
 * (`stats --tensor`: its rows split across the cores), whose peak RSS must not grow with the tensor.
 */
function wholeProcessBench(dir: string, typeName: string, peer: Peer | undefined) {
  const row = (shape: 'multi' | 'single') => {
    const path = join(dir, `whole-${shape}-${typeName}.gguf`);
    const { weights, bytes } = shape === 'multi' ? tiledGguf(path, typeName, 64, 32) : tiledGguf(path, typeName, 1, 64 * 32);
    try {
      const read = readMs(path, 0, bytes);
      const cores = availableParallelism();
      const rss: number[] = [];
      const stats = (threads: number) => () => {
        const r = nodeProcess(dir, [CLI, 'stats', path, '--bins', String(BINS), '--json', '--threads', String(threads)]);
        rss.push(r.peakRssMB);
        return r.ms;
      };
      const file = `${typeName}, ${shape === 'multi' ? '64 tensors' : 'one tensor'}, ${(weights / 1e6).toFixed(0)} M weights, ${(bytes / 1e6).toFixed(0)} MB`;
      const readText = `page-cached read ${(bytes / read / 1e6).toFixed(2)} GB/s`;
      // rounds of ours on one thread, ours on all cores, the peer (five: on a shared 2-core machine a round's time
      // can double, and best against best needs a few rounds to find each side's)
      const one: number[] = [];
      const all: number[] = [];
      const peerMs: number[] = [];
      for (let i = 0; i < WHOLE_ROUNDS; i++) {
        one.push(stats(1)());
        all.push(stats(cores)());
        if (peer) peerMs.push(processMs(...peer.argv('scan', path, String(BINS), '1')));
      }
      const peakRssMB = Math.max(...rss);
      const rssText = `peak RSS ${peakRssMB.toFixed(0)} MB`;
      if (!peer) {
        log(
          `${file}: Quant Lens ${rateRange(weights, one)} M w/s on one thread, ${rateRange(weights, all)} M w/s on ${cores} cores; ${readText}, scan/read ${(read / Math.min(...all)).toFixed(3)}; ${rssText}`,
        );
        return { type: typeName, shape, weights, bytes, oneThreadMs: one, allCoresMs: all, readMs: read, peakRssMB };
      }
      const vOne = versus({ ours: one, peer: peerMs });
      const vAll = versus({ ours: all, peer: peerMs });
      log(
        `${file}: ggml C one core ${rateRange(weights, peerMs)} M w/s; Quant Lens one thread ${rateRange(weights, one)} M w/s (${ratioText(vOne)}), ${cores} cores ${rateRange(weights, all)} M w/s (${ratioText(vAll)}); ${readText}; ${rssText}`,
      );
      return {
        type: typeName,
        shape,
        weights,
        bytes,
        oneThreadMs: one,
        allCoresMs: all,
        ggmlMs: peerMs,
        ratioOneThread: vOne,
        ratioAllCores: vAll,
        readMs: read,
        peakRssMB,
      };
    } finally {
      rmSync(path);
    }
  };
  return [row('multi'), row('single')];
}

/** Llama-2-7B's shapes: hidden size, feed-forward size, vocabulary, layers. */
const LLAMA_7B = { hidden: 4096, ffn: 11008, vocab: 32000, layers: 32 };

/**
 * A GGUF with Llama-2-7B's tensors (F16 weights, F32 norms) for `layers` of its 32 layers: gaussian-like weights
 * (std 0.02, a 4 MB random pattern repeated), norms of ones.
 */
function llama7bShapedGguf(path: string, layers: number): { weights: number; bytes: number } {
  const { hidden, ffn, vocab } = LLAMA_7B;
  const F16 = 1;
  const F32 = 0;
  const specs: { name: string; shape: number[]; ggmlTypeId: number }[] = [
    { name: 'token_embd.weight', shape: [hidden, vocab], ggmlTypeId: F16 },
  ];
  for (let i = 0; i < layers; i++) {
    specs.push({ name: `blk.${i}.attn_norm.weight`, shape: [hidden], ggmlTypeId: F32 });
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output'])
      specs.push({ name: `blk.${i}.${p}.weight`, shape: [hidden, hidden], ggmlTypeId: F16 });
    specs.push({ name: `blk.${i}.ffn_norm.weight`, shape: [hidden], ggmlTypeId: F32 });
    specs.push({ name: `blk.${i}.ffn_gate.weight`, shape: [hidden, ffn], ggmlTypeId: F16 });
    specs.push({ name: `blk.${i}.ffn_up.weight`, shape: [hidden, ffn], ggmlTypeId: F16 });
    specs.push({ name: `blk.${i}.ffn_down.weight`, shape: [ffn, hidden], ggmlTypeId: F16 });
  }
  specs.push({ name: 'output_norm.weight', shape: [hidden], ggmlTypeId: F32 });
  specs.push({ name: 'output.weight', shape: [hidden, vocab], ggmlTypeId: F16 });
  const tensors = specs.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    return { ...t, nbytes: n * (t.ggmlTypeId === F16 ? 2 : 4) };
  });
  const layout = buildGgufHeader(
    [
      { key: 'general.architecture', type: 'STRING', value: 'llama' },
      { key: 'llama.block_count', type: 'UINT32', value: layers },
    ],
    tensors,
  );
  // the pattern: sums of uniforms (about gaussian), as float16 bits
  const pattern = new Uint16Array(2 << 20);
  let seed = 12345;
  const uniform = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < pattern.length; i++) {
    f32[0] = (uniform() + uniform() + uniform() + uniform()) * 0.0346;
    const b = u32[0];
    const exp = ((b >>> 23) & 0xff) - 127 + 15;
    pattern[i] = exp <= 0 ? (b >>> 16) & 0x8000 : ((b >>> 16) & 0x8000) | (exp << 10) | ((b >>> 13) & 0x3ff);
  }
  const patternBytes = new Uint8Array(pattern.buffer);
  const ones = new Uint8Array(new Float32Array(hidden).fill(1).buffer);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, layout.header);
    for (const [i, t] of tensors.entries()) {
      const at = layout.dataOffset + layout.offsets[i];
      if (t.ggmlTypeId === F32) writeSync(fd, ones, 0, t.nbytes, at);
      else
        for (let o = 0; o < t.nbytes; o += patternBytes.length)
          writeSync(fd, patternBytes, 0, Math.min(patternBytes.length, t.nbytes - o), at + o);
    }
  } finally {
    closeSync(fd);
  }
  return { weights: tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0), bytes: layout.fileSize };
}

/** llama.cpp's use_more_bits: the layers whose attn_v and ffn_down Q4_K_M keeps at Q6_K. */
function moreBitsLayers(layers: number): number[] {
  return Array.from({ length: layers }, (_, i) => i).filter(
    (i) => i < layers / 8 || i >= (7 * layers) / 8 || (i - Math.floor(layers / 8)) % 3 === 2,
  );
}

/**
 * `quantlens requantize` of a Llama-2-7B-shaped F16 model to Q4_K_M (llama.cpp's recipe as --tensor-type rules:
 * Q4_K, output.weight and the use_more_bits layers' attn_v and ffn_down at Q6_K) on all cores, as a whole process:
 * time and peak RSS. `--requant-layers N` takes N of the 32 layers (the same shapes, the embedding and output
 * whole; 1 by default): the full model is 13.5 GB of F16 to write and, at the 2-5 M weights/s measured on the loaded
 * 2-core machine, 25-60 minutes of quantization; the row prints the full model's time at the measured rate.
 */
function requantizeBench(dir: string, layers: number) {
  const input = join(dir, 'llama-7b-shaped-F16.gguf');
  const output = join(dir, 'llama-7b-shaped-Q4_K_M.gguf');
  const { weights, bytes } = llama7bShapedGguf(input, layers);
  try {
    const more = moreBitsLayers(layers);
    const rules = [
      '.*=Q4_K',
      'output\\.weight=Q6_K',
      ...(more.length ? [`blk\\.(${more.join('|')})\\.(attn_v|ffn_down)\\.weight=Q6_K`] : []),
    ];
    const cores = availableParallelism();
    const r = nodeProcess(dir, [
      CLI,
      'requantize',
      input,
      output,
      ...rules.flatMap((x) => ['--tensor-type', x]),
      '--threads',
      String(cores),
    ]);
    const outBytes = statSync(output).size;
    const { hidden, ffn, vocab } = LLAMA_7B;
    const fullWeights = 2 * hidden * vocab + LLAMA_7B.layers * (4 * hidden * hidden + 3 * hidden * ffn + 2 * hidden);
    log(
      `Llama-2-7B-shaped, ${layers} of ${LLAMA_7B.layers} layers, ${(weights / 1e6).toFixed(0)} M weights, F16 ${(bytes / 1e9).toFixed(2)} GB -> Q4_K_M ${(outBytes / 1e9).toFixed(2)} GB on ${cores} cores: ${(r.ms / 1000).toFixed(1)} s (${fmt(weights / r.ms / 1e3)} M w/s), peak RSS ${r.peakRssMB.toFixed(0)} MB; all 32 layers (${(fullWeights / 1e9).toFixed(2)} G weights) at this rate: ${((r.ms * fullWeights) / weights / 60000).toFixed(0)} min`,
    );
    return { layers, weights, inputBytes: bytes, outputBytes: outBytes, cores, ms: r.ms, peakRssMB: r.peakRssMB };
  } finally {
    rmSync(input, { force: true });
    rmSync(output, { force: true });
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'quantlens-bench-'));
  try {
    const loaded = loadPeer(ROOT);
    const peer = typeof loaded === 'string' ? undefined : loaded;
    log(
      peer
        ? `peer: ${peer.version}, libggml-base.so of @node-llama-cpp/linux-x64, one thread, via bench/ggml-peer/peer.c; ratios are ours/ggml speed, best against best (range over the alternating rounds)\n`
        : `${loaded}; ratios are to a page-cached read instead\n`,
    );
    const header = existsSync(join(ROOT, 'scripts', 'make-big-header.py')) ? await headerBench(dir, peer) : undefined;
    log(`\nexact scan (dequantize + stats + ${BINS}-bin histogram, two passes), one thread, in process:`);
    const scans = [];
    for (const t of types) scans.push(await scanBench(dir, t, peer));
    let hfquant;
    if (!args.includes('--no-hfquant')) {
      const path = join(dir, 'hfquant-reference-Q4_K.gguf');
      const tiles = Math.max(1, Math.round((4096 * 4096) / corpusTensor('Q4_K').nElements));
      const { weights, bytes } = tiledGguf(path, 'Q4_K', 1, tiles);
      const model = await openModel(path);
      try {
        const tensor = model.tensors[0];
        hfquant = await hfquantBench(
          dir,
          { run: () => timed(() => computeTensorStats(model, tensor, { bins: BINS })), bytes: bytes - tensor.absoluteOffset, weights },
          log,
          hfquantRows && ((id) => hfquantRows.some((part) => id.includes(part))),
        );
      } finally {
        await model.close();
        rmSync(path);
      }
    }
    let wholeProcess;
    if (!args.includes('--no-whole')) {
      log(`\nwhole process, quantlens stats --bins ${BINS}${peer ? ' against the ggml shim scanning the same file' : ''}:`);
      wholeProcess = WHOLE_TYPES.filter((t) => !typeArg || types.includes(t)).flatMap((t) => wholeProcessBench(dir, t, peer));
    }
    let requantize;
    if (!args.includes('--no-requantize')) {
      log(`\nrequantize to Q4_K_M, whole process, all cores:`);
      requantize = requantizeBench(dir, requantLayers);
    }
    log(
      `\nquantize, one thread, the corpus float32 source tiled (rows of 512)${peer ? ', against ggml_quantize_chunk, output bytes compared' : ''}:`,
    );
    const quantizers = (quantizerTypes ?? QUANTIZER_BENCH_TYPES).split(',').map((t) => quantizerBench(CORPUS, t, log, peer, dir));
    const ratios = quantizers.flatMap((q) => ('ratioToGgml' in q && q.ratioToGgml ? [q.ratioToGgml.ratio] : []));
    if (ratios.length)
      log(
        `quantizers: geometric mean ${fmt(Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length))}x ggml over ${ratios.length} types; ${quantizers.filter((q) => 'bytesIdentical' in q && q.bytesIdentical === false).length} byte mismatches`,
      );
    let evaluation;
    if (!args.includes('--no-eval')) {
      log('\noutput evaluation through llama.cpp (Q8_0 against F32, tiny llama):');
      evaluation = await evalBench(ROOT, dir, log);
      if (typeof evaluation === 'string') log(`  ${evaluation}`);
    }
    if (json)
      process.stdout.write(
        JSON.stringify(
          {
            node: process.version,
            peer: peer?.version ?? loaded,
            header,
            scans,
            hfquant,
            wholeProcess,
            requantize,
            quantizers,
            evaluation,
          },
          null,
          1,
        ) + '\n',
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
