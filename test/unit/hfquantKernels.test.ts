/**
 * The WebAssembly code-table kernels of quantized checkpoints against the JavaScript reference decoders (which
 * hfquant.test.ts checks against the reference libraries' values), on [4096, 4096] weights in each library's
 * layout (bench/hfquantCheckpoints.ts): big enough that rows are decoded in several pieces and GPTQ and AWQ are
 * counted in several bands of their stored order. Then small weights whose scales are random 16-bit patterns
 * (float16 subnormal, overflowing and NaN values, bfloat16's whole range), counted by the nibble-group kernels or,
 * for shapes they do not take, value by value: every pattern's count equals the reference's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBenchCheckpoints } from '../../bench/hfquantCheckpoints.ts';
import { buildSafetensorsFile, type SafetensorsTensorOut } from '../../src/core/formats/safetensorsWriter.ts';
import { openQuantizedModel } from '../../src/core/hfquant/open.ts';
import { logicalWeightStats } from '../../src/core/hfquant/stats.ts';
import { f32ToF16Bits } from '../../src/core/quant/encode.ts';
import { setWasmEnabled } from '../../src/core/wasm/kernels.ts';
import { firstBitMismatch } from '../helpers/corpus.ts';
import { ExactMoments, RepeatedFloat32Moments } from '../../src/core/analysis/exactSum.ts';

const DIR = mkdtempSync(join(tmpdir(), 'ql-hfkernels-'));
after(() => rmSync(DIR, { recursive: true, force: true }));

for (const c of writeBenchCheckpoints(DIR)) {
  test(`${c.id}: the kernels' values and stats equal the JavaScript reference's`, async () => {
    const q = await openQuantizedModel(c.folder);
    try {
      const w = q.weights[0];
      assert.equal(w.error, undefined, w.error?.message);
      assert.equal(w.load(), undefined);
      // float32 outputs (LLM.int8) have no 16-bit patterns: their rows' codes are counted instead
      if (w.dtype === 'float32') {
        assert.equal(w.countPatterns(), null);
        assert.ok(
          w.countValues(() => {}),
          'the kernels count the codes of this weight',
        );
      } else assert.ok(w.countPatterns(), 'the kernels count this weight');
      const rows = [0, 1, 777, 2048, 4095];
      const fast = rows.map((r) => w.decodeRows(r, r + 1));
      const fastStats = logicalWeightStats(w, { bins: 97 });
      const fastRange = w.decodeRows(1000, 1300);
      setWasmEnabled(false);
      try {
        const slow = rows.map((r) => w.decodeRows(r, r + 1));
        for (let i = 0; i < rows.length; i++)
          assert.deepEqual(new Uint32Array(fast[i].buffer), new Uint32Array(slow[i].buffer), `row ${rows[i]}`);
        assert.deepEqual(new Uint32Array(fastRange.buffer), new Uint32Array(w.decodeRows(1000, 1300).buffer), 'rows 1000-1300');
        assert.equal(w.countPatterns(), null, 'the reference path decodes');
        assert.equal(
          w.countValues(() => {}),
          false,
          'the reference path decodes',
        );
        assert.deepEqual(fastStats, logicalWeightStats(w, { bins: 97 }));
      } finally {
        setWasmEnabled(true);
      }
    } finally {
      await q.close();
    }
  });
}

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');

/** xorshift32 words: the same in every run. */
function randomWords(n: number, seed: number): Uint32Array {
  const w = new Uint32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  return w;
}
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** NaN in both dtypes, float16 Infinity, bfloat16 Infinity, the smallest subnormals, zero. */
const SPECIAL_HALVES = [0xffff, 0x7c00, 0x7f80, 0x0001, 0x8001, 0x0000];
/** n random 16-bit patterns (any float16 or bfloat16), the special ones first. */
const anyHalves = (n: number, seed: number) => bytes(Uint16Array.from(randomWords(n, seed), (u, i) => SPECIAL_HALVES[i] ?? u >>> 16));

/** anyHalves with float16 NaN patterns made ±Infinity. */
const finiteHalves = (n: number, seed: number) =>
  bytes(Uint16Array.from(new Uint16Array(anyHalves(n, seed).buffer), (h) => ((h & 0x7c00) === 0x7c00 ? h & 0xfc00 : h)));

/** A model folder: the corpus variant's configs and one weight's tensors. */
function checkpoint(name: string, variant: string, tensors: [string, string, number[], Uint8Array][]): string {
  const dir = join(DIR, name);
  mkdirSync(dir);
  for (const f of ['config.json', 'quantize_config.json'])
    if (existsSync(join(CORPUS, variant, f))) copyFileSync(join(CORPUS, variant, f), join(dir, f));
  const out: SafetensorsTensorOut[] = tensors.map(([suffix, dtype, shape, data]) => ({
    name: `model.layers.0.mlp.down_proj.${suffix}`,
    dtype,
    shape,
    data,
  }));
  writeFileSync(join(dir, 'model.safetensors'), buildSafetensorsFile(out, { format: 'pt' }));
  return dir;
}

/** A corpus config with its bits (and group size) changed: `bits` of GPTQ's and MLX's configs. */
function withBits(dir: string, variant: string, bits: number, groupSize?: number): void {
  for (const f of ['config.json', 'quantize_config.json']) {
    if (!existsSync(join(CORPUS, variant, f))) continue;
    const config = JSON.parse(readFileSync(join(CORPUS, variant, f), 'utf8'));
    for (const q of [config.quantization, config.quantization_config, f === 'quantize_config.json' ? config : undefined])
      if (q) Object.assign(q, { bits }, groupSize ? { group_size: groupSize } : {});
    writeFileSync(join(dir, f), JSON.stringify(config));
  }
}

/**
 * Each weight's 16-bit patterns: counted by the kernels, and from the reference decoder's values. `extreme`: what
 * the scales make of some values (NaN unless said; 'finite': neither NaN nor ±Infinity).
 */
interface PatternCase {
  name: string;
  folder: () => string;
  extreme?: 'Infinity' | 'finite';
}
const EXTREME: PatternCase[] = [
  // 2, 3 and 8-bit GPTQ (fields in lanes of four output rows; 42 rows: the last two alone), a last group of 80 (96) inputs
  ...[2, 3, 8].map((bits) => {
    const [N, K] = [42, bits === 3 ? 224 : 208];
    const G = Math.ceil(K / 128);
    return {
      name: `GPTQ int${bits} g128 [${N}, ${K}]`,
      folder: () => {
        const dir = checkpoint(`gptq${bits}`, 'gptq-v1-4bit-sym-g128', [
          ['qweight', 'I32', [(K * bits) / 32, N], bytes(randomWords(((K * bits) / 32) * N, 41))],
          ['qzeros', 'I32', [G, Math.ceil((N * bits) / 32)], bytes(randomWords(G * Math.ceil((N * bits) / 32), 42))],
          ['scales', 'F16', [G, N], anyHalves(G * N, 43)],
          ['g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))],
        ]);
        withBits(dir, 'gptq-v1-4bit-sym-g128', bits);
        return dir;
      },
    };
  }),
  // GPTQ int4 act-order (countGptqActOrderNibbles): g_idx scattered and uneven, group 0 holding 600 of the 1000 inputs
  // (more than its byte counters hold at once), K not a multiple of 128, N = 42 (two blocks of 16 outputs, then 10)
  {
    name: 'GPTQ int4 act-order, uneven scattered g_idx [42, 1000]',
    folder: () => {
      const [N, K, G] = [42, 1000, 4];
      const order = randomWords(K, 49);
      const gIdx = Int32Array.from({ length: K }, (_, k) => (order[k] % 5 < 3 ? 0 : 1 + (order[k] % 3)));
      return checkpoint('gptq-actorder-uneven', 'gptq-v1-4bit-asym-actorder-g128', [
        ['qweight', 'I32', [K / 8, N], bytes(randomWords((K / 8) * N, 50))],
        ['qzeros', 'I32', [G, Math.ceil(N / 8)], bytes(randomWords(G * Math.ceil(N / 8), 51))],
        ['scales', 'F16', [G, N], anyHalves(G * N, 52)],
        ['g_idx', 'I32', [K], bytes(gIdx)],
      ]);
    },
  },
  // GPTQ int2, int3 and int8 act-order (countGptqActOrder, countGptqValuesAnyGroups): g_idx scattered and uneven as
  // above, N = 43 (two blocks of 16 outputs, then 11; 8-bit: four-output lanes, then 3); 8-bit scales without NaN
  // (their arithmetic runs in float32 lanes only for float32 scales: ±Infinity instead, so q = z still gives NaN)
  ...[2, 3, 8].map((bits) => {
    const [N, K, G] = [43, { 2: 1008, 3: 992, 8: 1000 }[bits]!, 4];
    const zWords = Math.ceil((N * bits) / 32);
    return {
      name: `GPTQ int${bits} act-order, uneven scattered g_idx [${N}, ${K}]`,
      folder: () => {
        const order = randomWords(K, 53 + bits);
        const gIdx = Int32Array.from({ length: K }, (_, k) => (order[k] % 5 < 3 ? 0 : 1 + (order[k] % 3)));
        const dir = checkpoint(`gptq${bits}-actorder-uneven`, 'gptq-v1-4bit-asym-actorder-g128', [
          ['qweight', 'I32', [(K * bits) / 32, N], bytes(randomWords(((K * bits) / 32) * N, 54 + bits))],
          ['qzeros', 'I32', [G, zWords], bytes(randomWords(G * zWords, 55 + bits))],
          ['scales', 'F16', [G, N], bits === 8 ? finiteHalves(G * N, 56) : anyHalves(G * N, 56 + bits)],
          ['g_idx', 'I32', [K], bytes(gIdx)],
        ]);
        withBits(dir, 'gptq-v1-4bit-asym-actorder-g128', bits);
        return dir;
      },
    };
  }),
  // compressed-tensors pack-quantized act-order (weight_g_idx; row-major codes transposed into GPTQ's layout for the
  // any-group counters): g_idx scattered and uneven as above, N = 43; int4 asymmetric (zero points packed along N)
  // with bfloat16 scales of any pattern, int2 and int8 symmetric with float16 scales (8-bit: without NaN, as above);
  // K = 1001 and 1002: rows that end inside a word (the value-by-value counter); int4 in contiguous groups of 40 (not
  // a multiple of the bit-plane counter's 32) and int8 in groups of 24, each with a shorter last group
  ...(
    [
      [4, 1000, true],
      [2, 1008, false],
      [8, 1000, false],
      [4, 1001, true],
      [8, 1002, false],
      [4, 1000, true, 40],
      [8, 1000, false, 24],
    ] as [number, number, boolean, number?][]
  ).map(([bits, K, asym, groupSize]) => {
    const N = 43;
    const G = groupSize ? Math.ceil(K / groupSize) : 4;
    const [words, zWords] = [Math.ceil((K * bits) / 32), Math.ceil((N * bits) / 32)];
    const groups = groupSize ? `g${groupSize}` : 'act-order, uneven scattered g_idx';
    return {
      name: `compressed-tensors int${bits} ${asym ? 'asym' : 'sym'} ${groups} [${N}, ${K}]`,
      folder: () => {
        const order = randomWords(K, 70 + bits);
        const gIdx = Int32Array.from({ length: K }, (_, k) => (order[k] % 5 < 3 ? 0 : 1 + (order[k] % 3)));
        const scales = bits === 8 ? finiteHalves(N * G, 71) : asym ? anyHalves(N * G, 72) : anyHalves(N * G, 73 + bits);
        const tensors: [string, string, number[], Uint8Array][] = [
          ['weight_packed', 'I32', [N, words], bytes(randomWords(N * words, 74 + bits))],
          ['weight_scale', asym ? 'BF16' : 'F16', [N, G], scales],
          ['weight_shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))],
        ];
        if (asym) tensors.push(['weight_zero_point', 'I32', [zWords, G], bytes(randomWords(zWords * G, 75))]);
        if (!groupSize) tensors.push(['weight_g_idx', 'I32', [K], bytes(gIdx)]);
        const dir = checkpoint(`ct${bits}-${groupSize ? `g${groupSize}` : 'actorder'}-${K}`, 'ct-w4a16-int4-sym-g128', tensors);
        const config = JSON.parse(readFileSync(join(CORPUS, 'ct-w4a16-int4-sym-g128', 'config.json'), 'utf8'));
        const weights = { num_bits: bits, symmetric: !asym, group_size: groupSize ?? 128, actorder: groupSize ? null : 'group' };
        Object.assign(config.quantization_config.config_groups.group_0.weights, weights);
        writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
        return dir;
      },
    };
  }),
  // GPTQ groups of sizes the group counters do not all take (AutoGPTQ takes any positive size), each with a shorter
  // last group: 4-bit g40 (bit planes, a chunk of 4 packed rows and one of 1; the last group 3 packed rows only),
  // 4-bit g12, 2-bit g40 and 3-bit g48 (one-hot counters per (output, group)), 8-bit g6 (value by value, per field)
  ...[
    [4, 40, 424],
    [4, 12, 200],
    [2, 40, 208],
    [3, 48, 224],
    [8, 6, 100],
  ].map(([bits, gs, K]) => {
    const [N, G] = [42, Math.ceil(K / gs)];
    const zWords = Math.ceil((N * bits) / 32);
    return {
      name: `GPTQ int${bits} g${gs} [${N}, ${K}]`,
      // groups of 6 of 256 codes: no code meets its zero where the scale is infinite
      ...(bits === 8 ? { extreme: 'Infinity' as const } : {}),
      folder: () => {
        const dir = checkpoint(`gptq${bits}-g${gs}`, 'gptq-v1-4bit-sym-g128', [
          ['qweight', 'I32', [(K * bits) / 32, N], bytes(randomWords(((K * bits) / 32) * N, 57 + bits))],
          ['qzeros', 'I32', [G, zWords], bytes(randomWords(G * zWords, 58 + bits))],
          ['scales', 'F16', [G, N], bits === 8 ? finiteHalves(G * N, 59) : anyHalves(G * N, 59 + bits)],
          ['g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => Math.floor(k / gs)))],
        ]);
        withBits(dir, 'gptq-v1-4bit-sym-g128', bits, gs);
        return dir;
      },
    };
  }),
  // MLX 2, 3, 6 and 8-bit (fields in lanes, or value by value), both scale dtypes, one row shorter than a group
  ...[2, 3, 6, 8].flatMap((bits) =>
    [
      [40, 192, 'BF16'],
      [24, 512, 'F16'],
    ].map(([N, K, dtype]) => ({
      name: `MLX affine ${bits}-bit g64 ${dtype} [${N}, ${K}]`,
      folder: () => {
        const [n, k] = [N as number, K as number];
        const dir = checkpoint(`mlx${bits}-${dtype}`, 'mlx-affine-4bit-g64', [
          ['weight', 'U32', [n, (k * bits) / 32], bytes(randomWords((n * k * bits) / 32, 44))],
          ['scales', dtype as string, [n, Math.ceil(k / 64)], anyHalves(n * Math.ceil(k / 64), 45)],
          ['biases', dtype as string, [n, Math.ceil(k / 64)], anyHalves(n * Math.ceil(k / 64), 46)],
        ]);
        withBits(dir, 'mlx-affine-4bit-g64', bits);
        return dir;
      },
    })),
  ),
  // NVFP4 (groups of 16, two a chunk) and MXFP4 of every scale byte: E4M3 NaN (0x7f, 0xff), E8M0 255 (2^128: ±Infinity)
  {
    name: 'compressed-tensors NVFP4 g16, every E4M3 scale byte [64, 512]',
    folder: () =>
      checkpoint('nvfp4-every-scale', 'ct-nvfp4', [
        ['weight_packed', 'U8', [64, 256], bytes(randomWords(64 * 64, 47))],
        ['weight_scale', 'F8_E4M3', [64, 32], Uint8Array.from({ length: 64 * 32 }, (_, i) => (i * 37) & 255)],
        ['weight_global_scale', 'F32', [1], bytes(Float32Array.of(0.3))],
      ]),
  },
  {
    name: 'gpt-oss MXFP4, every E8M0 scale byte [2, 64, 256]',
    extreme: 'Infinity',
    folder: () =>
      checkpoint('mxfp4-every-scale', 'gptoss-mxfp4', [
        ['gate_up_proj_blocks', 'U8', [2, 64, 8, 16], bytes(randomWords((2 * 64 * 8 * 16) / 4, 48))],
        ['gate_up_proj_scales', 'U8', [2, 64, 8], Uint8Array.from({ length: 2 * 64 * 8 }, (_, i) => (i * 37) & 255)],
      ]),
  },
  ...[
    [64, 512],
    [40, 200],
  ].flatMap(([N, K]) => [
    {
      name: `GPTQ int4 g128 [${N}, ${K}]`,
      folder: () =>
        checkpoint(`gptq-${K}`, 'gptq-v1-4bit-sym-g128', [
          ['qweight', 'I32', [K / 8, N], bytes(randomWords((K / 8) * N, 1))],
          ['qzeros', 'I32', [Math.ceil(K / 128), N / 8], bytes(randomWords(Math.ceil(K / 128) * (N / 8), 2))],
          ['scales', 'F16', [Math.ceil(K / 128), N], anyHalves(Math.ceil(K / 128) * N, 3)],
          ['g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))],
        ]),
    },
    {
      name: `AWQ GEMM int4 g128 [${N}, ${K}]`,
      folder: () =>
        checkpoint(`awq-${K}`, 'awq-gemm-4bit-g128', [
          ['qweight', 'I32', [K, N / 8], bytes(randomWords(K * (N / 8), 4))],
          ['qzeros', 'I32', [Math.ceil(K / 128), N / 8], bytes(randomWords(Math.ceil(K / 128) * (N / 8), 5))],
          ['scales', 'F16', [Math.ceil(K / 128), N], anyHalves(Math.ceil(K / 128) * N, 6)],
        ]),
    },
    {
      name: `compressed-tensors int4 g128 [${N}, ${K}]`,
      folder: () =>
        checkpoint(`ct-${K}`, 'ct-w4a16-int4-sym-g128', [
          ['weight_packed', 'I32', [N, K / 8], bytes(randomWords(N * (K / 8), 7))],
          ['weight_scale', 'BF16', [N, Math.ceil(K / 128)], anyHalves(N * Math.ceil(K / 128), 8)],
          ['weight_shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))],
        ]),
    },
    ...(K % 64 ? [] : ['BF16', 'F16']).map((dtype) => ({
      name: `MLX affine 4-bit g64 ${dtype} [${N}, ${K}]`,
      folder: () =>
        checkpoint(`mlx-${dtype}-${K}`, 'mlx-affine-4bit-g64', [
          ['weight', 'U32', [N, K / 8], bytes(randomWords(N * (K / 8), 9))],
          ['scales', dtype, [N, Math.ceil(K / 64)], anyHalves(N * Math.ceil(K / 64), 10)],
          ['biases', dtype, [N, Math.ceil(K / 64)], anyHalves(N * Math.ceil(K / 64), 11)],
        ]),
    })),
  ]),
  ...['bfloat16', 'float16'].flatMap((dtype) => {
    const [N, K] = [64, 512];
    const groups = (N * K) / 64;
    const half = dtype === 'float16' ? 'F16' : 'BF16';
    const text = (s: string) => new TextEncoder().encode(s);
    const state = text(JSON.stringify({ quant_type: 'fp4', blocksize: 64, dtype, shape: [N, K] }));
    const scalar = (x: number) => bytes(Int32Array.of(x));
    return [
      {
        name: `bitsandbytes FP4 ${dtype} [${N}, ${K}]`,
        folder: () =>
          checkpoint(`bnb-${dtype}`, 'bnb-fp4-bf16', [
            ['weight', 'U8', [(N * K) / 2, 1], bytes(randomWords((N * K) / 8, 12))],
            // float32 absmax of any bit pattern but NaN's, and a NaN among the first
            [
              'weight.absmax',
              'F32',
              [groups],
              bytes(Float32Array.from(randomWords(groups, 13), (u, i) => (i === 2 ? NaN : u & 0x7f7fffff))),
            ],
            ['weight.quant_map', 'F32', [16], bytes(Float32Array.from({ length: 16 }, (_, q) => (q - 7.5) / 3))],
            ['weight.quant_state.bitsandbytes__fp4', 'U8', [state.length], state],
          ]),
      },
      {
        name: `HQQ 4-bit g64 ${dtype} [${N}, ${K}]`,
        folder: () =>
          checkpoint(`hqq-${dtype}`, 'hqq-4bit-g64', [
            ['W_q', 'U8', [groups / 2, 64], bytes(randomWords((N * K) / 8, 14))],
            ['scale', half, [groups, 1], anyHalves(groups, 15)],
            ['zero', half, [groups, 1], anyHalves(groups, 16)],
            ['shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))],
            ['axis', 'I32', [], scalar(1)],
            ['group_size', 'I32', [], scalar(64)],
            ['nbits', 'I32', [], scalar(4)],
            ['packing', 'U8', [7], text('4bit_u8')],
            ['compute_dtype', 'U8', [`torch.${dtype}`.length], text(`torch.${dtype}`)],
          ]),
      },
    ];
  }),
];

/**
 * Float16 scales at the edges of the plain lanes of the 6- and 8-bit value counters (codeTables.ts plainLanes): ±0,
 * ±2^-14 (a value s · 1 is binary16's smallest normal), 256 and 255.875 (s · 255 just inside 65504), ordinary ones;
 * `outside` adds 2^-15 (its s · 1 is subnormal) and 60000 (s · 2 overflows), which no plain lane takes.
 */
const PLAIN_EDGE_SCALES = [0, -0, 2 ** -14, -(2 ** -14), 1.5 * 2 ** -14, 256, -256, 255.875, 0.0123, -1.75];
const plainEdgeHalves = (n: number, seed: number, outside: boolean) => {
  const scales = outside ? [...PLAIN_EDGE_SCALES, 2 ** -15, 60000] : PLAIN_EDGE_SCALES;
  return bytes(Uint16Array.from(randomWords(n, seed), (u, i) => f32ToF16Bits(scales[i < scales.length ? i : u % scales.length])));
};
/** bfloat16 finite patterns of any size (the smallest subnormals, the largest finite: s · q overflows), no NaN. */
const finiteBf16 = (n: number, seed: number) =>
  bytes(
    Uint16Array.from(randomWords(n, seed), (u, i) => {
      const h = [0x0001, 0x8001, 0x7f7f, 0xff7f, 0][i] ?? u >>> 16;
      return (h & 0x7f80) === 0x7f80 ? h & 0xff7f : h;
    }),
  );

const PLAIN_EDGES: PatternCase[] = [
  ...[false, true].flatMap((outside) => {
    const where = outside ? 'just outside the plain lanes' : 'at the edges of the plain lanes';
    // 60000 · 2 overflows; inside the edges every value is finite
    const extreme = outside ? ('Infinity' as const) : ('finite' as const);
    const [N, K, G] = [43, 1000, 4];
    const order = randomWords(K, 90);
    const gIdx = Int32Array.from({ length: K }, (_, k) => (order[k] % 5 < 3 ? 0 : 1 + (order[k] % 3)));
    return [
      {
        name: `GPTQ int8 act-order, float16 scales ${where} [${N}, ${K}]`,
        extreme,
        folder: () => {
          const dir = checkpoint(`plain-gptq8-actorder-${outside}`, 'gptq-v1-4bit-asym-actorder-g128', [
            ['qweight', 'I32', [K / 4, N], bytes(randomWords((K / 4) * N, 91))],
            ['qzeros', 'I32', [G, Math.ceil(N / 4)], bytes(randomWords(G * Math.ceil(N / 4), 92))],
            ['scales', 'F16', [G, N], plainEdgeHalves(G * N, 93, outside)],
            ['g_idx', 'I32', [K], bytes(gIdx)],
          ]);
          withBits(dir, 'gptq-v1-4bit-asym-actorder-g128', 8);
          return dir;
        },
      },
      {
        name: `GPTQ int8 g128, float16 scales ${where} [42, 208]`,
        extreme,
        folder: () => {
          const dir = checkpoint(`plain-gptq8-${outside}`, 'gptq-v1-4bit-sym-g128', [
            ['qweight', 'I32', [52, 42], bytes(randomWords(52 * 42, 94))],
            ['qzeros', 'I32', [2, 11], bytes(randomWords(2 * 11, 95))],
            ['scales', 'F16', [2, 42], plainEdgeHalves(2 * 42, 96, outside)],
            ['g_idx', 'I32', [208], bytes(Int32Array.from({ length: 208 }, (_, k) => k >> 7))],
          ]);
          withBits(dir, 'gptq-v1-4bit-sym-g128', 8);
          return dir;
        },
      },
      {
        name: `compressed-tensors int8 sym g128, float16 scales ${where} [43, 1024]`,
        extreme,
        folder: () => {
          const dir = checkpoint(`plain-ct8-${outside}`, 'ct-w4a16-int4-sym-g128', [
            ['weight_packed', 'I32', [43, 256], bytes(randomWords(43 * 256, 97))],
            ['weight_scale', 'F16', [43, 8], plainEdgeHalves(43 * 8, 98, outside)],
            ['weight_shape', 'I64', [2], bytes(BigInt64Array.from([43n, 1024n]))],
          ]);
          const config = JSON.parse(readFileSync(join(CORPUS, 'ct-w4a16-int4-sym-g128', 'config.json'), 'utf8'));
          Object.assign(config.quantization_config.config_groups.group_0.weights, { num_bits: 8, symmetric: true, group_size: 128 });
          writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
          return dir;
        },
      },
    ];
  }),
  // MLX 6-bit and 8-bit, bfloat16 scales and biases of every finite size: plain lanes (no NaN can arise), where
  // products overflow to ±Infinity and subnormals meet
  ...[6, 8].map((bits) => ({
    name: `MLX affine ${bits}-bit g64, finite bfloat16 scales and biases of every size [40, 192]`,
    extreme: 'Infinity' as const,
    folder: () => {
      const dir = checkpoint(`plain-mlx${bits}`, 'mlx-affine-4bit-g64', [
        ['weight', 'U32', [40, (192 * bits) / 32], bytes(randomWords((40 * 192 * bits) / 32, 99))],
        ['scales', 'BF16', [40, 3], finiteBf16(40 * 3, 100)],
        ['biases', 'BF16', [40, 3], finiteBf16(40 * 3, 101)],
      ]);
      withBits(dir, 'mlx-affine-4bit-g64', bits);
      return dir;
    },
  })),
];

for (const c of [...EXTREME.map((e) => ({ ...e, name: `${e.name}, scales of every 16-bit pattern` })), ...PLAIN_EDGES]) {
  test(`${c.name}: the kernels count each value pattern as the reference decodes it`, async () => {
    const q = await openQuantizedModel(c.folder());
    try {
      const w = q.weights[0];
      assert.equal(w.error, undefined, w.error?.message);
      assert.equal(w.load(), undefined);
      const counted = w.countPatterns();
      assert.ok(counted, 'the kernels count this weight');
      const fastStats = logicalWeightStats(w, { bins: 61 });
      setWasmEnabled(false);
      try {
        const pattern = w.dtype === 'float16' ? f32ToF16Bits : (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0] >>> 16;
        const expected = new Float64Array(65536);
        let nan = 0;
        for (const x of w.decode())
          if (Number.isNaN(x)) nan++;
          else expected[pattern(x)]++;
        let countedNan = 0;
        for (let b = 0; b < 65536; b++) {
          const isNan = w.dtype === 'float16' ? (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0 : (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
          if (isNan) countedNan += counted[b];
          else assert.equal(counted[b], expected[b], `pattern 0x${b.toString(16)}`);
        }
        assert.equal(countedNan, nan, 'NaN values');
        const infinite = expected[pattern(Infinity)] + expected[pattern(-Infinity)];
        if (c.extreme === 'finite') assert.ok(nan === 0 && infinite === 0, 'every value is finite');
        else if (c.extreme === 'Infinity')
          assert.ok(nan === 0 && infinite > 0 && infinite < w.nElements, 'the scales make some values infinite, not all');
        else assert.ok(nan > 0 && nan < w.nElements, 'the scales make some values NaN, not all');
        assert.deepEqual(fastStats, logicalWeightStats(w, { bins: 61 }));
      } finally {
        setWasmEnabled(true);
      }
    } finally {
      await q.close();
    }
  });
}

/** bitsandbytes LLM.int8 per the spec (§4.2): f32(f32(code · SCB[row]) · f32(1/127)), written out here. */
function int8Values(codes: Int8Array, scb: Float32Array, K: number): Float32Array {
  const c = new Float32Array(new Uint32Array([0x3c010204]).buffer)[0];
  return Float32Array.from(codes, (a, i) => Math.fround(Math.fround(a * scb[Math.floor(i / K)]) * c));
}

/** LLM.int8 weights whose rows' codes are counted: scales of every kind, zeros of both signs, many rows. */
const INT8_EDGES: { name: string; N: number; K: number; scb: number[]; code: (r: number, k: number, random: number) => number }[] = [
  {
    // zero, −0, the smallest subnormal (every value rounds to ±0), a subnormal, negative, overflowing (±Inf), NaN, ±Inf
    name: 'SCB 0, −0, subnormal, huge, negative, NaN, ±Inf',
    N: 13,
    K: 600,
    scb: [1.5, 0, -0, 2 ** -149, 1e-39, -2.5, 3e38, -3.4e38, NaN, Infinity, -Infinity, 0.0123, 2 ** -126],
    code: (_r, _k, random) => random,
  },
  // every value ≥ 0, so min is a zero: −0 first (−1 · 2^-149 rounds to −0), or +0 first; a negative scale's code 0 is −0
  ...[
    ['−0 first', 255],
    ['+0 first', 1],
  ].map(([first, code0]) => ({
    name: `every value ≥ 0, ${first}`,
    N: 4,
    K: 301,
    scb: [2 ** -149, -1, 1, 0.25],
    code: (r: number, k: number, random: number) =>
      r === 0 ? (k === 0 ? (code0 as number) : [0, 1, 255][random % 3]) : r === 1 ? -(random % 129) & 255 : random & 127,
  })),
  // more than 8 M (value, count) pairs: the codes are counted again for the histogram instead of kept
  { name: '32776 rows', N: 32776, K: 256, scb: Array.from({ length: 32776 }, (_, r) => 0.5 + r / 9000), code: (_r, _k, random) => random },
];

for (const c of INT8_EDGES) {
  test(`bitsandbytes LLM.int8, ${c.name}: the counted codes give the decoded values' stats, bit for bit`, async () => {
    const random = new Uint8Array(randomWords((c.N * c.K + 3) >> 2, 21).buffer);
    const codes = Int8Array.from({ length: c.N * c.K }, (_, i) => c.code(Math.floor(i / c.K), i % c.K, random[i]));
    const scb = Float32Array.from(c.scb);
    const dir = checkpoint(`int8-${INT8_EDGES.indexOf(c)}`, 'bnb-int8', [
      ['weight', 'I8', [c.N, c.K], bytes(codes)],
      ['SCB', 'F32', [c.N], bytes(scb)],
    ]);
    const q = await openQuantizedModel(dir);
    try {
      const w = q.weights[0];
      assert.equal(w.error, undefined, w.error?.message);
      assert.ok(
        w.countValues(() => {}),
        'the kernels count the codes',
      );
      const chunked = c.N * c.K < 1e5 ? { chunkElements: 2 * c.K } : {};
      const counted = logicalWeightStats(w, { bins: 53, ...chunked });
      // the spec's values, independently of the decoders
      const want = int8Values(codes, scb, c.K);
      const finite = want.filter((x) => Number.isFinite(x));
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (const x of finite) {
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
      }
      assert.equal(counted.count, c.N * c.K);
      assert.equal(counted.nan_count, want.filter((x) => Number.isNaN(x)).length);
      assert.equal(counted.posinf_count, want.filter((x) => x === Infinity).length);
      assert.equal(counted.neginf_count, want.filter((x) => x === -Infinity).length);
      assert.equal(counted.zero_count, want.filter((x) => x === 0).length);
      assert.ok(Object.is(counted.min, min) && Object.is(counted.max, max), `min ${counted.min} max ${counted.max}, want ${min} ${max}`);
      const mean = sum / finite.length;
      assert.ok(Math.abs(counted.mean - mean) <= 1e-9 * Math.max(-min, max), `mean ${counted.mean} vs ${mean}`);
      assert.equal(
        counted.histogram!.counts.reduce((a, b) => a + b, 0),
        finite.length,
      );
      setWasmEnabled(false);
      try {
        assert.equal(
          w.countValues(() => {}),
          false,
          'the reference path decodes',
        );
        assert.equal(firstBitMismatch(w.decode(), want), null, 'the reference decoder follows the spec');
        assert.deepEqual(counted, logicalWeightStats(w, { bins: 53, ...chunked }));
      } finally {
        setWasmEnabled(true);
      }
    } finally {
      await q.close();
    }
  });
}

test("counted float32 values' weighted sums (the float64 bins) equal the exact sums of each value added count times", () => {
  const words = randomWords(4000, 31);
  // any finite float32 (subnormal to the largest), counts from 1 to 2^31 − 1 (from 2^29 on they go to the expansion)
  const values = Float32Array.from(words, (u) => new Float32Array(Uint32Array.of(u & 0xff7fffff).buffer)[0]);
  values.set([2 ** -149, -(2 ** -149), 3.4028234663852886e38, -3.4028234663852886e38, 1, -1], 0);
  const count = (i: number) => (i % 7 === 0 ? 2 ** 31 - 1 - 2 * i : 1 + (words[(i * 13) % words.length] % 100000));
  const binned = new ExactMoments();
  const sums = new RepeatedFloat32Moments(binned);
  const expanded = new ExactMoments();
  for (let i = 0; i < values.length; i++) {
    sums.add(values[i], count(i));
    expanded.addRepeated(values[i], count(i));
  }
  sums.flush();
  assert.equal(binned.sum.toBigInt(), expanded.sum.toBigInt(), 'Σ n·x');
  assert.equal(binned.sumSq.toBigInt(), expanded.sumSq.toBigInt(), 'Σ n·x²');
});
