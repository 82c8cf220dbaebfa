/**
 * Quantized Hugging Face checkpoints of a realistic shape for the bench: one [4096, 4096] weight (a 7-8B model's
 * attention projection) per format, in the layout the reference library writes (random codes, plausible scales),
 * next to the corpus variant's config.json, which says the format. Only the shapes and dtypes matter for speed.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSafetensorsFile, type SafetensorsTensorOut } from '../src/core/formats/safetensorsWriter.ts';
import { f32ToBf16, f32ToF16Bits } from '../src/core/quant/encode.ts';

// bundled into dist/bench.js (cjs), run from the repository: the corpus is found from the working directory's checkout
const CORPUS = join(__dirname, '..', 'test', 'fixtures', 'safetensors-quant');
const N = 4096;
const K = 4096;
const NAME = 'model.layers.0.self_attn.q_proj';

/** A small deterministic generator (xorshift32): the same bytes in every run. */
function randomWords(n: number, seed: number): Uint32Array {
  const w = new Uint32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  return w;
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** n 16-bit floats (f16 or bf16 bits) spread over [lo, hi). */
function halves(n: number, lo: number, hi: number, encode: (x: number) => number, seed: number): Uint8Array {
  const r = randomWords(n, seed);
  return bytes(Uint16Array.from(r, (u) => encode(lo + ((hi - lo) * u) / 2 ** 32)));
}

const t = (name: string, dtype: string, shape: number[], data: Uint8Array): SafetensorsTensorOut => ({
  name: `${NAME}.${name}`,
  dtype,
  shape,
  data,
});

/** A small tensor of raw bytes (bitsandbytes' quant state, HQQ's metadata): UTF-8 text or little-endian int32. */
const text = (s: string) => new TextEncoder().encode(s);
const int32 = (x: number) => bytes(Int32Array.of(x));
/** n float32 values evenly spread over [lo, hi]. */
const evenly = (n: number, lo: number, hi: number) => bytes(Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1)));

/** The MLX affine components of one [N, K] weight of `bits`-bit codes, groups of 64. */
const mlxTensors = (bits: number, seed: number) => () => [
  t('weight', 'U32', [N, (K * bits) / 32], bytes(randomWords((N * K * bits) / 32, seed))),
  t('scales', 'BF16', [N, K / 64], halves(N * (K / 64), 0.001, 0.02, f32ToBf16, seed + 1)),
  t('biases', 'BF16', [N, K / 64], halves(N * (K / 64), -0.1, 0.1, f32ToBf16, seed + 2)),
];

/** An MLX config of `bits`-bit codes (its `quantization` and the copy in `quantization_config`). */
const mlxBits = (bits: number) => (config: any) => {
  for (const q of [config.quantization, config.quantization_config]) q.bits = bits;
};

/** E8M0 exponents of 2^-9 .. 2^0 (MXFP4 group scales). */
const e8m0Scales = (n: number, seed: number) => Uint8Array.from(bytes(randomWords(n / 4, seed)), (b) => 118 + (b % 10));

/**
 * The group of each of K input columns quantized in a random order (by importance, as GPTQ's act-order does), in
 * groups of 128 of that order: not monotone.
 */
function actOrderGroups(seed: number): Int32Array {
  const order = randomWords(K, seed);
  const perm = Array.from({ length: K }, (_, k) => k).sort((a, b) => order[a] - order[b] || a - b);
  const gIdx = new Int32Array(K);
  perm.forEach((k, position) => (gIdx[k] = position >> 7));
  return gIdx;
}

/**
 * GPTQ act-order (desc_act) of `bits`-bit codes, groups of 128: the input columns in the order GPTQ quantized them
 * (by importance), so g_idx is not monotone; random zero points.
 */
const gptqActOrder = (bits: number, seed: number) => () => {
  const gIdx = actOrderGroups(seed);
  return [
    t('qweight', 'I32', [(K * bits) / 32, N], bytes(randomWords(((K * bits) / 32) * N, seed + 1))),
    t('qzeros', 'I32', [K / 128, (N * bits) / 32], bytes(randomWords((K / 128) * ((N * bits) / 32), seed + 2))),
    t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, seed + 3)),
    t('g_idx', 'I32', [K], bytes(gIdx)),
  ];
};

/**
 * compressed-tensors pack-quantized act-order (llm-compressor's GPTQ with actorder "group"): `bits`-bit codes
 * row-major along K, groups of 128 of the columns in the order GPTQ quantized them (weight_g_idx not monotone).
 */
const ctActOrder = (bits: number, seed: number) => () => {
  const gIdx = actOrderGroups(seed);
  return [
    t('weight_packed', 'I32', [N, (K * bits) / 32], bytes(randomWords(N * ((K * bits) / 32), seed + 1))),
    t('weight_scale', 'BF16', [N, K / 128], halves(N * (K / 128), 0.001, 0.02, f32ToBf16, seed + 2)),
    t('weight_shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))),
    t('weight_g_idx', 'I32', [K], bytes(gIdx)),
  ];
};

/** A compressed-tensors config of `bits`-bit codes in groups of 128 with actorder "group". */
const ctActOrderConfig = (bits: number) => (config: any) => {
  const weights = config.quantization_config.config_groups.group_0.weights;
  Object.assign(weights, { num_bits: bits, group_size: 128, strategy: 'group', actorder: 'group' });
};

/** A GPTQ config of `bits`-bit codes (and a group size), in config.json's quantization_config and quantize_config.json. */
const gptqConfig =
  (bits: number, groupSize = 128) =>
  (config: any) => {
    const q = config.quantization_config ?? config;
    q.bits = bits;
    q.group_size = groupSize;
  };

/**
 * Each bench format: the corpus variant whose config it borrows (patched by `config`, and `quantizeConfig` for
 * quantize_config.json, where the variant's bits differ), and its components.
 */
export const BENCH_CHECKPOINTS: {
  id: string;
  variant: string;
  /** The folder's name, when several checkpoints borrow one variant. */
  folder?: string;
  config?: (config: any) => void;
  tensors: () => SafetensorsTensorOut[];
}[] = [
  {
    id: 'GPTQ int4 g128',
    variant: 'gptq-v1-4bit-sym-g128',
    tensors: () => [
      t('qweight', 'I32', [K / 8, N], bytes(randomWords((K / 8) * N, 1))),
      t('qzeros', 'I32', [K / 128, N / 8], bytes(new Uint32Array((K / 128) * (N / 8)).fill(0x77777777))),
      t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, 2)),
      t('g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))),
    ],
  },
  {
    id: 'GPTQ int4 g128 act-order',
    variant: 'gptq-v1-4bit-asym-actorder-g128',
    tensors: gptqActOrder(4, 40),
  },
  {
    id: 'AWQ GEMM int4 g128',
    variant: 'awq-gemm-4bit-g128',
    tensors: () => [
      t('qweight', 'I32', [K, N / 8], bytes(randomWords(K * (N / 8), 3))),
      t('qzeros', 'I32', [K / 128, N / 8], bytes(randomWords((K / 128) * (N / 8), 4))),
      t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, 5)),
    ],
  },
  {
    id: 'compressed-tensors int4 g128',
    variant: 'ct-w4a16-int4-sym-g128',
    tensors: () => [
      t('weight_packed', 'I32', [N, K / 8], bytes(randomWords(N * (K / 8), 6))),
      t('weight_scale', 'BF16', [N, K / 128], halves(N * (K / 128), 0.001, 0.02, f32ToBf16, 7)),
      t('weight_shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))),
    ],
  },
  {
    id: 'MLX affine 4-bit g64',
    variant: 'mlx-affine-4bit-g64',
    tensors: () => [
      t('weight', 'U32', [N, K / 8], bytes(randomWords(N * (K / 8), 8))),
      t('scales', 'BF16', [N, K / 64], halves(N * (K / 64), 0.001, 0.02, f32ToBf16, 9)),
      t('biases', 'BF16', [N, K / 64], halves(N * (K / 64), -0.1, 0.1, f32ToBf16, 10)),
    ],
  },
  {
    id: 'bitsandbytes NF4 double-quant',
    variant: 'bnb-nf4-dq-bf16',
    tensors: () => {
      const state = {
        quant_type: 'nf4',
        blocksize: 64,
        dtype: 'bfloat16',
        shape: [N, K],
        nested_blocksize: 256,
        nested_dtype: 'float32',
        nested_offset: 0.06,
      };
      const blocks = (N * K) / 64;
      return [
        t('weight', 'U8', [(N * K) / 2, 1], bytes(randomWords((N * K) / 8, 13))),
        t('weight.absmax', 'U8', [blocks], bytes(randomWords(blocks / 4, 14))),
        t('weight.quant_map', 'F32', [16], evenly(16, -1, 1)),
        t('weight.nested_absmax', 'F32', [blocks / 256], evenly(blocks / 256, 0.001, 0.01)),
        t('weight.nested_quant_map', 'F32', [256], evenly(256, -1, 1)),
        t('weight.quant_state.bitsandbytes__nf4', 'U8', [text(JSON.stringify(state)).length], text(JSON.stringify(state))),
      ];
    },
  },
  {
    id: 'bitsandbytes LLM.int8',
    variant: 'bnb-int8',
    tensors: () => [t('weight', 'I8', [N, K], bytes(randomWords((N * K) / 4, 18))), t('SCB', 'F32', [N], evenly(N, 0.5, 4))],
  },
  {
    id: 'HQQ 4-bit g64',
    variant: 'hqq-4bit-g64',
    tensors: () => {
      const groups = (N * K) / 64;
      const meta: [string, string, Uint8Array][] = [
        ['axis', 'I32', int32(1)],
        ['group_size', 'I32', int32(64)],
        ['nbits', 'I32', int32(4)],
        ['channel_wise', 'U8', Uint8Array.of(1)],
        ['optimize', 'U8', Uint8Array.of(1)],
        ['round_zero', 'U8', Uint8Array.of(1)],
        ['quant_scale', 'U8', Uint8Array.of(0)],
        ['quant_zero', 'U8', Uint8Array.of(0)],
        ['view_as_float', 'U8', Uint8Array.of(0)],
      ];
      return [
        t('W_q', 'U8', [groups / 2, 64], bytes(randomWords((N * K) / 8, 15))),
        t('scale', 'BF16', [groups, 1], halves(groups, 0.001, 0.02, f32ToBf16, 16)),
        t('zero', 'BF16', [groups, 1], halves(groups, 0, 15, f32ToBf16, 17)),
        t('shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))),
        ...meta.map(([name, dtype, data]) => t(name, dtype, [], data)),
        t('packing', 'U8', [7], text('4bit_u8')),
        t('compute_dtype', 'U8', [14], text('torch.bfloat16')),
      ];
    },
  },
  {
    id: 'FP8 E4M3 block 128',
    variant: 'fp8-block128-deepseek',
    tensors: () => [
      // E4M3FN bytes without the two NaN codes (0x7f, 0xff)
      t(
        'weight',
        'F8_E4M3',
        [N, K],
        Uint8Array.from(bytes(randomWords((N * K) / 4, 11)), (b) => ((b & 0x7f) === 0x7f ? b - 1 : b)),
      ),
      t(
        'weight_scale_inv',
        'F32',
        [N / 128, K / 128],
        bytes(Float32Array.from(randomWords((N / 128) * (K / 128), 12), (u) => 1e-4 + u / 2 ** 42)),
      ),
    ],
  },
  {
    id: 'GPTQ int2 g128',
    variant: 'gptq-v1-2bit-sym-g128',
    tensors: () => [
      t('qweight', 'I32', [K / 16, N], bytes(randomWords((K / 16) * N, 19))),
      t('qzeros', 'I32', [K / 128, N / 16], bytes(new Uint32Array((K / 128) * (N / 16)).fill(0x55555555))),
      t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, 20)),
      t('g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))),
    ],
  },
  {
    id: 'compressed-tensors int8 channel',
    variant: 'ct-w8a16-int8-channel',
    tensors: () => [
      t('weight_packed', 'I32', [N, K / 4], bytes(randomWords(N * (K / 4), 21))),
      t('weight_scale', 'BF16', [N, 1], halves(N, 0.001, 0.02, f32ToBf16, 22)),
      t('weight_shape', 'I64', [2], bytes(BigInt64Array.from([BigInt(N), BigInt(K)]))),
    ],
  },
  {
    id: 'MLX affine 8-bit g64',
    variant: 'mlx-affine-8bit-g64',
    tensors: () => [
      t('weight', 'U32', [N, K / 4], bytes(randomWords(N * (K / 4), 23))),
      t('scales', 'BF16', [N, K / 64], halves(N * (K / 64), 0.001, 0.02, f32ToBf16, 24)),
      t('biases', 'BF16', [N, K / 64], halves(N * (K / 64), -0.1, 0.1, f32ToBf16, 25)),
    ],
  },
  {
    id: 'FP8 E4M3 channel',
    variant: 'ct-fp8-channel',
    tensors: () => [
      t(
        'weight',
        'F8_E4M3',
        [N, K],
        Uint8Array.from(bytes(randomWords((N * K) / 4, 26)), (b) => ((b & 0x7f) === 0x7f ? b - 1 : b)),
      ),
      t('weight_scale', 'BF16', [N, 1], halves(N, 0.001, 0.02, f32ToBf16, 27)),
    ],
  },
  {
    id: 'compressed-tensors NVFP4 g16',
    variant: 'ct-nvfp4',
    tensors: () => [
      t('weight_packed', 'U8', [N, K / 2], bytes(randomWords((N * K) / 8, 28))),
      // positive E4M3 scales without NaN (0x7f)
      t(
        'weight_scale',
        'F8_E4M3',
        [N, K / 16],
        Uint8Array.from(bytes(randomWords((N * K) / 64, 29)), (b) => 0x20 + (b % 0x40)),
      ),
      t('weight_global_scale', 'F32', [1], bytes(Float32Array.of(448 * 6))),
      t('input_global_scale', 'F32', [1], bytes(Float32Array.of(448 * 6))),
    ],
  },
  {
    id: 'gpt-oss MXFP4 experts',
    variant: 'gptoss-mxfp4',
    // one expert's gate_up_proj of [4096, 4096]: groups of 32 inputs, 16 bytes each
    tensors: () => [
      {
        name: 'model.layers.0.mlp.experts.gate_up_proj_blocks',
        dtype: 'U8',
        shape: [1, N, K / 32, 16],
        data: bytes(randomWords((N * K) / 8, 30)),
      },
      { name: 'model.layers.0.mlp.experts.gate_up_proj_scales', dtype: 'U8', shape: [1, N, K / 32], data: e8m0Scales((N * K) / 32, 31) },
    ],
  },
  {
    id: 'compressed-tensors MXFP4 g32',
    variant: 'ct-nvfp4',
    folder: 'ct-mxfp4',
    config: (config) => {
      const q = config.quantization_config;
      q.format = 'mxfp4-pack-quantized';
      q.config_groups.group_0.weights = { ...q.config_groups.group_0.weights, group_size: 32, strategy: 'group' };
      q.config_groups.group_0.input_activations = null;
    },
    tensors: () => [
      t('weight_packed', 'U8', [N, K / 2], bytes(randomWords((N * K) / 8, 32))),
      t('weight_scale', 'U8', [N, K / 32], e8m0Scales((N * K) / 32, 33)),
    ],
  },
  {
    id: 'GPTQ int3 g128',
    variant: 'gptq-v1-4bit-sym-g128',
    folder: 'gptq-v1-3bit-sym-g128',
    config: gptqConfig(3),
    // symmetric 3-bit zero points of 4 (stored 3, v1) in a continuous stream: 0b011 repeated, every 3 words the same
    tensors: () => [
      t('qweight', 'I32', [(K * 3) / 32, N], bytes(randomWords(((K * 3) / 32) * N, 49))),
      t(
        'qzeros',
        'I32',
        [K / 128, (N * 3) / 32],
        bytes(Uint32Array.from({ length: (K / 128) * ((N * 3) / 32) }, (_, i) => [0xdb6db6db, 0xb6db6db6, 0x6db6db6d][i % 3])),
      ),
      t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, 50)),
      t('g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))),
    ],
  },
  {
    id: 'GPTQ int8 g128',
    variant: 'gptq-v1-4bit-sym-g128',
    folder: 'gptq-v1-8bit-sym-g128',
    config: gptqConfig(8),
    tensors: () => [
      t('qweight', 'I32', [K / 4, N], bytes(randomWords((K / 4) * N, 34))),
      t('qzeros', 'I32', [K / 128, N / 4], bytes(new Uint32Array((K / 128) * (N / 4)).fill(0x7f7f7f7f))),
      t('scales', 'F16', [K / 128, N], halves((K / 128) * N, 0.001, 0.02, f32ToF16Bits, 35)),
      t('g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => k >> 7))),
    ],
  },
  {
    id: 'MLX affine 2-bit g64',
    variant: 'mlx-affine-4bit-g64',
    folder: 'mlx-affine-2bit-g64',
    config: mlxBits(2),
    tensors: mlxTensors(2, 36),
  },
  {
    id: 'MLX affine 3-bit g64',
    variant: 'mlx-affine-4bit-g64',
    folder: 'mlx-affine-3bit-g64',
    config: mlxBits(3),
    tensors: mlxTensors(3, 39),
  },
  {
    id: 'MLX affine 6-bit g64',
    variant: 'mlx-affine-4bit-g64',
    folder: 'mlx-affine-6bit-g64',
    config: mlxBits(6),
    tensors: mlxTensors(6, 42),
  },
  ...[2, 3, 8].map((bits) => ({
    id: `GPTQ int${bits} g128 act-order`,
    variant: 'gptq-v1-4bit-asym-actorder-g128',
    folder: `gptq-v1-${bits}bit-asym-actorder-g128`,
    config: gptqConfig(bits),
    tensors: gptqActOrder(bits, 60 + 10 * bits),
  })),
  ...[4, 8].map((bits) => ({
    id: `compressed-tensors int${bits} g128 act-order`,
    variant: 'ct-w4a16-int4-sym-g128',
    folder: `ct-w${bits}a16-int${bits}-sym-actorder-g128`,
    config: ctActOrderConfig(bits),
    tensors: ctActOrder(bits, 100 + 10 * bits),
  })),
  {
    // AutoGPTQ and GPTQModel take any positive group size: 48 is not a multiple of the 4-bit group counters' 32
    id: 'GPTQ int4 g48',
    variant: 'gptq-v1-4bit-sym-g128',
    folder: 'gptq-v1-4bit-sym-g48',
    config: gptqConfig(4, 48),
    tensors: () => {
      const G = Math.ceil(K / 48);
      return [
        t('qweight', 'I32', [K / 8, N], bytes(randomWords((K / 8) * N, 90))),
        t('qzeros', 'I32', [G, N / 8], bytes(new Uint32Array(G * (N / 8)).fill(0x77777777))),
        t('scales', 'F16', [G, N], halves(G * N, 0.001, 0.02, f32ToF16Bits, 91)),
        t('g_idx', 'I32', [K], bytes(Int32Array.from({ length: K }, (_, k) => Math.floor(k / 48)))),
      ];
    },
  },
];

/** Writes each checkpoint into its own folder under dir; returns the folders by id. */
export function writeBenchCheckpoints(dir: string): { id: string; folder: string; weights: number }[] {
  return BENCH_CHECKPOINTS.map((c) => {
    const folder = join(dir, c.folder ?? c.variant);
    if (!existsSync(folder)) {
      mkdirSync(folder, { recursive: true });
      for (const file of ['config.json', 'quantize_config.json']) {
        const from = join(CORPUS, c.variant, file);
        if (!existsSync(from)) continue;
        if (!c.config) copyFileSync(from, join(folder, file));
        else {
          const config = JSON.parse(readFileSync(from, 'utf8'));
          c.config(config);
          writeFileSync(join(folder, file), JSON.stringify(config, null, 2));
        }
      }
      writeFileSync(join(folder, 'model.safetensors'), buildSafetensorsFile(c.tensors(), { format: 'pt' }));
    }
    return { id: c.id, folder, weights: N * K };
  });
}
