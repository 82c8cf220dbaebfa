/**
 * Generated edge cases for src/core/hfquant: GPTQ 3-bit codes straddling words, the GPTQ v1 overflowed zero, FP8
 * partial edge blocks, every bad-input error (attached to its weight, the others still decode), detection from
 * every config location and from tensor names alone, the ways of opening a folder, row-range decoding, group
 * scales and the group inspector, and the fp16/bf16 rounding helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSafetensorsFile, type SafetensorsTensorOut } from '../../src/core/formats/safetensorsWriter.ts';
import { openQuantizedModel } from '../../src/core/hfquant/open.ts';
import { logicalInfoLines } from '../../src/cli/logicalWeights.ts';
import { f32ToF16Bits, roundBf16, roundF16 } from '../../src/core/hfquant/numeric.ts';
import { F16_TO_F32 } from '../../src/core/quant/scalars.ts';
import { firstBitMismatch } from '../helpers/corpus.ts';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'safetensors-quant');
const tmp = mkdtempSync(join(tmpdir(), 'hfquant-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
function folder(files: Record<string, Uint8Array | object>): string {
  const d = join(tmp, `m${dirs++}`);
  mkdirSync(d);
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(d, name), content instanceof Uint8Array ? content : JSON.stringify(content));
  return d;
}

/** LSB-first b-bit stream of values into 32-bit words (the layout under test, written independently of the decoder). */
function packStream(values: number[], b: number, words: number): Uint32Array {
  const out = new Uint32Array(words);
  values.forEach((v, i) => {
    for (let j = 0; j < b; j++) {
      const bit = i * b + j;
      if ((v >> j) & 1) out[bit >>> 5] |= 1 << (bit & 31);
    }
  });
  return out;
}
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** fp16 bits of small exact values (powers of two and integers below 2048): no rounding anywhere. */
function f16Bits(x: number): number {
  const b = f32ToF16Bits(x);
  assert.equal(F16_TO_F32[b], x, `${x} is exact in fp16`);
  return b;
}

interface GptqSpec {
  N: number;
  K: number;
  bits: number;
  gs: number;
  codes: (n: number, k: number) => number;
  /** stored zero field (before the v1 +1) */
  zstored: (g: number, n: number) => number;
  scale: (g: number, n: number) => number;
  gidx?: number[];
  omit?: string[];
}

/** GPTQ tensors for module m: qweight [K·b/32, N] (column n = a stream over k), qzeros [G, N·b/32], scales, g_idx. */
function gptqTensors(m: string, s: GptqSpec): SafetensorsTensorOut[] {
  const G = Math.ceil(s.K / s.gs);
  const P = (s.K * s.bits) / 32;
  const qweight = new Uint32Array(P * s.N);
  for (let n = 0; n < s.N; n++) {
    const col = packStream(
      Array.from({ length: s.K }, (_, k) => s.codes(n, k)),
      s.bits,
      P,
    );
    for (let p = 0; p < P; p++) qweight[p * s.N + n] = col[p];
  }
  const zw = Math.ceil((s.N * s.bits) / 32);
  const qzeros = new Uint32Array(G * zw);
  for (let g = 0; g < G; g++)
    qzeros.set(
      packStream(
        Array.from({ length: s.N }, (_, n) => s.zstored(g, n)),
        s.bits,
        zw,
      ),
      g * zw,
    );
  const scales = new Uint16Array(G * s.N);
  for (let g = 0; g < G; g++) for (let n = 0; n < s.N; n++) scales[g * s.N + n] = f16Bits(s.scale(g, n));
  const gidx = Int32Array.from(s.gidx ?? Array.from({ length: s.K }, (_, k) => Math.floor(k / s.gs)));
  const all: SafetensorsTensorOut[] = [
    { name: `${m}.qweight`, dtype: 'I32', shape: [P, s.N], data: bytes(qweight) },
    { name: `${m}.qzeros`, dtype: 'I32', shape: [G, zw], data: bytes(qzeros) },
    { name: `${m}.scales`, dtype: 'F16', shape: [G, s.N], data: bytes(scales) },
    { name: `${m}.g_idx`, dtype: 'I32', shape: [s.K], data: bytes(gidx) },
  ];
  return all.filter((t) => !s.omit?.some((o) => t.name.endsWith('.' + o)));
}

function expectedGptq(s: GptqSpec, v1: boolean): Float32Array {
  const out = new Float32Array(s.N * s.K);
  const gidx = s.gidx ?? Array.from({ length: s.K }, (_, k) => Math.floor(k / s.gs));
  for (let n = 0; n < s.N; n++)
    for (let k = 0; k < s.K; k++) out[n * s.K + k] = s.scale(gidx[k], n) * (s.codes(n, k) - (s.zstored(gidx[k], n) + (v1 ? 1 : 0)));
  return out;
}

const gptqConfig = (bits: number, gs: number, extra: object = {}) => ({
  torch_dtype: 'float16',
  quantization_config: { quant_method: 'gptq', bits, group_size: gs, sym: false, desc_act: true, checkpoint_format: 'gptq', ...extra },
});
const plainNorm: SafetensorsTensorOut = {
  name: 'model.norm.weight',
  dtype: 'F16',
  shape: [4],
  data: bytes(Uint16Array.from([0x3c00, 0x3c00, 0x3c00, 0x3c00])),
};

test('GPTQ 3-bit: codes straddling 32-bit words decode exactly, act-order g_idx is used and labelled', async () => {
  // K = 96: 32 codes per 3 words, so codes 10 and 21 of every 32 straddle a word boundary.
  const gidx = Array.from({ length: 96 }, (_, k) => (k * 7) % 3);
  const spec: GptqSpec = {
    N: 32,
    K: 96,
    bits: 3,
    gs: 32,
    codes: (n, k) => (n * 5 + k * 3) % 8,
    zstored: (g, n) => (g + n) % 7,
    scale: (g, n) => 2 ** -(g + (n % 4)),
    gidx,
  };
  const d = folder({
    'config.json': gptqConfig(3, 32),
    'model.safetensors': buildSafetensorsFile([...gptqTensors('model.layers.0.mlp.up_proj', spec), plainNorm]),
  });
  const q = await openQuantizedModel(d, { validate: true });
  try {
    const [w] = q.weights;
    assert.equal(q.weights.length, 1);
    assert.deepEqual(
      q.plain.map((t) => t.name),
      ['model.norm.weight'],
    );
    assert.equal(w.name, 'model.layers.0.mlp.up_proj.weight');
    assert.deepEqual(w.shape, [32, 96]);
    assert.equal(w.scheme, 'GPTQ int3 asym g32 act-order');
    assert.equal(firstBitMismatch(w.decode(), expectedGptq(spec, true)), null);
    assert.ok(w.diagnostics.some((x) => x.startsWith('act-order')));
    // the group inspector shows the two words a straddling code comes from
    const g = w.inspectGroup(3, gidx[10]);
    assert.ok(g.columns.includes(10));
    const qw = q.model.tensors.find((t) => t.name.endsWith('.qweight'))!;
    const offsets = g.sources.filter((s) => s.role === 'qweight').map((s) => s.offset - qw.absoluteOffset);
    assert.ok(offsets.includes((0 * 32 + 3) * 4) && offsets.includes((1 * 32 + 3) * 4), 'code 10 of column 3 straddles words 0 and 1');
    assert.deepEqual(
      g.codes,
      g.columns.map((k) => spec.codes(3, k)),
    );
    assert.equal(g.scale, spec.scale(gidx[10], 3));
    assert.equal(g.zero, spec.zstored(gidx[10], 3) + 1);
  } finally {
    await q.close();
  }
});

test('GPTQ v1 overflowed zero: a stored field of 2^b - 1 decodes as z = 2^b and is reported as lossy', async () => {
  const spec: GptqSpec = {
    N: 8,
    K: 64,
    bits: 4,
    gs: 32,
    codes: (n, k) => (n + k) % 16,
    zstored: (g, n) => (g === 1 && n === 5 ? 15 : 7),
    scale: () => 0.25,
  };
  const d = folder({
    'config.json': gptqConfig(4, 32, { desc_act: false }),
    'model.safetensors': buildSafetensorsFile(gptqTensors('m.q_proj', spec)),
  });
  const q = await openQuantizedModel(d, { validate: true });
  try {
    const [w] = q.weights;
    assert.equal(firstBitMismatch(w.decode(), expectedGptq(spec, true)), null);
    assert.equal(w.groupScales().zeros![5 * 2 + 1], 16);
    assert.ok(
      w.diagnostics.some((x) =>
        /v1 zero-point overflow: 1 z=0 field\(s\) stored as -1 at \(g 1, n 5\) \(read 15, decoded z = 16\): lossy/.test(x),
      ),
      w.diagnostics.join('; '),
    );
    assert.equal(w.scheme, 'GPTQ int4 asym g32');
  } finally {
    await q.close();
  }
});

test('FP8 128x128 blocks with partial edge blocks: every element uses its block scale', async () => {
  const N = 200;
  const K = 300;
  const w8 = new Uint8Array(N * K);
  for (let i = 0; i < w8.length; i++) w8[i] = (i * 37) % 0x7e; // positive E4M3 codes, no NaN
  const grid = Float32Array.from([1, 2, 4, 0.5, 0.25, 8]); // [2, 3]
  const d = folder({
    'config.json': { torch_dtype: 'bfloat16', quantization_config: { quant_method: 'fp8', fmt: 'e4m3', weight_block_size: [128, 128] } },
    'model.safetensors': buildSafetensorsFile([
      { name: 'x.weight', dtype: 'F8_E4M3', shape: [N, K], data: w8 },
      { name: 'x.weight_scale_inv', dtype: 'F32', shape: [2, 3], data: bytes(grid) },
    ]),
  });
  const q = await openQuantizedModel(d, { validate: true });
  try {
    const [w] = q.weights;
    assert.ok(w.diagnostics.some((x) => x.startsWith('partial edge blocks')));
    const v = w.decode();
    const e4m3 = (b: number) => {
      const e = (b >> 3) & 15;
      const m = b & 7;
      return e ? (1 + m / 8) * 2 ** (e - 7) : (m / 8) * 2 ** -6;
    };
    const want = new Float32Array(N * K);
    for (let i = 0; i < N; i++)
      for (let j = 0; j < K; j++) want[i * K + j] = e4m3(w8[i * K + j]) * grid[Math.floor(i / 128) * 3 + Math.floor(j / 128)];
    assert.equal(firstBitMismatch(v, want), null); // E4M3 x power of two is exact in bf16
    assert.equal(w.groupScales().scales[199 * 3 + 2], 8);
    assert.deepEqual(
      w.inspectGroup(199, 2).columns,
      Array.from({ length: 44 }, (_, i) => 256 + i),
    );
  } finally {
    await q.close();
  }
});

test('bad input: each error names its weight and reason, and only that weight is flagged', async () => {
  const ok: GptqSpec = { N: 8, K: 64, bits: 4, gs: 32, codes: (n, k) => (n * k) % 16, zstored: () => 7, scale: () => 0.5 };
  const file = buildSafetensorsFile([
    ...gptqTensors('a.good', ok),
    ...gptqTensors('a.noscale', { ...ok, omit: ['scales'] }),
    ...gptqTensors('a.badgidx', { ...ok, gidx: Array.from({ length: 64 }, (_, k) => (k === 40 ? 2 : Math.floor(k / 32))) }),
    ...gptqTensors('a.badzeros', { ...ok, N: 16 }).map((t) =>
      t.name.endsWith('qzeros') ? { ...t, shape: [2, 1], data: t.data.subarray(0, 8) } : t,
    ),
    plainNorm,
  ]);
  const q = await openQuantizedModel(folder({ 'config.json': gptqConfig(4, 32), 'model.safetensors': file }), { validate: true });
  try {
    const by = (n: string) => q.weight(`a.${n}.weight`)!;
    assert.equal(by('good').error, undefined);
    assert.equal(firstBitMismatch(by('good').decode(), expectedGptq(ok, true)), null);
    assert.equal(by('noscale').error?.code, 'bad-tensor');
    assert.match(by('noscale').error!.message, /^a\.noscale\.weight: missing component scales/);
    assert.throws(() => by('noscale').decode(), /missing component scales/);
    assert.match(by('badgidx').error!.message, /^a\.badgidx\.weight: a\.badgidx\.g_idx\[40\] = 2 is out of range: there are 2 groups/);
    assert.match(by('badzeros').error!.message, /^a\.badzeros\.weight: qzeros \[2, 1\] .*contradict the packed shapes/);
    assert.deepEqual(
      q.plain.map((t) => t.name),
      ['model.norm.weight'],
    );
  } finally {
    await q.close();
  }
  // config bits that contradict the packed shapes: 8-bit config over 4-bit tensors
  const q8 = await openQuantizedModel(
    folder({ 'config.json': gptqConfig(8, 32), 'model.safetensors': buildSafetensorsFile(gptqTensors('b.x', ok)) }),
  );
  try {
    assert.match(
      q8.weights[0].error!.message,
      /^b\.x\.weight: config bits 8 give 32 input columns from qweight \[8, 8\], but g_idx has 64/,
    );
  } finally {
    await q8.close();
  }
  // unknown quant_method: weights found by fingerprint are flagged, plain tensors still listed
  const qu = await openQuantizedModel(
    folder({
      'config.json': { quantization_config: { quant_method: 'frobnicate', bits: 4 } },
      'model.safetensors': buildSafetensorsFile([...gptqTensors('c.x', ok), plainNorm]),
    }),
  );
  try {
    assert.equal(qu.detection.unknownMethod, 'frobnicate');
    assert.equal(qu.weights[0].error?.code, 'unknown-type');
    assert.match(
      qu.weights[0].error!.message,
      /^c\.x\.weight: config\.json quantization_config names quant_method "frobnicate", which Quant Lens does not know; its tensors look like GPTQ/,
    );
    assert.equal(qu.plain.length, 1);
  } finally {
    await qu.close();
  }
});

test('bad input in other formats: FP8 without weight_scale, AWQ scales of the wrong shape, MLX override contradicting shapes', async () => {
  const fp8 = await openQuantizedModel(
    folder({
      'config.json': {
        quantization_config: {
          quant_method: 'compressed-tensors',
          format: 'float-quantized',
          config_groups: { g: { targets: ['Linear'], weights: { num_bits: 8, type: 'float', strategy: 'channel' } } },
        },
      },
      'model.safetensors': buildSafetensorsFile([
        { name: 'f.a.weight', dtype: 'F8_E4M3', shape: [2, 4], data: new Uint8Array(8).fill(0x38) },
        { name: 'f.a.weight_scale', dtype: 'BF16', shape: [2, 1], data: bytes(Uint16Array.from([0x3f80, 0x4000])) },
        { name: 'f.b.weight', dtype: 'F8_E4M3', shape: [2, 4], data: new Uint8Array(8).fill(0x38) },
      ]),
    }),
  );
  try {
    assert.deepEqual(Array.from(fp8.weight('f.a.weight')!.decode()), [1, 1, 1, 1, 2, 2, 2, 2]);
    assert.match(fp8.weight('f.b.weight')!.error!.message, /^f\.b\.weight: missing component weight_scale/);
  } finally {
    await fp8.close();
  }
  const awq = await openQuantizedModel(
    folder({
      'config.json': { quantization_config: { quant_method: 'awq', bits: 4, group_size: 32, version: 'gemm', zero_point: true } },
      'model.safetensors': buildSafetensorsFile([
        { name: 'w.qweight', dtype: 'I32', shape: [64, 1], data: new Uint8Array(256) },
        { name: 'w.qzeros', dtype: 'I32', shape: [2, 1], data: new Uint8Array(8) },
        { name: 'w.scales', dtype: 'F16', shape: [2, 4], data: new Uint8Array(16) },
      ]),
    }),
  );
  try {
    assert.match(awq.weights[0].error!.message, /^w\.weight: w\.scales has shape \[2, 4\], expected \[2, 8\]/);
  } finally {
    await awq.close();
  }
  const mlxT = (m: string, bits: number): SafetensorsTensorOut[] => [
    { name: `${m}.weight`, dtype: 'U32', shape: [2, (64 * bits) / 32], data: new Uint8Array((2 * 64 * bits) / 8) },
    { name: `${m}.scales`, dtype: 'BF16', shape: [2, 1], data: bytes(Uint16Array.from([0x3f80, 0x3f80])) },
    { name: `${m}.biases`, dtype: 'BF16', shape: [2, 1], data: bytes(Uint16Array.from([0xbf80, 0x3f80])) },
  ];
  const mlx = await openQuantizedModel(
    folder({
      'config.json': { quantization: { group_size: 64, bits: 4, mode: 'affine', 'l.b': { bits: 8, group_size: 64 } } },
      'model.safetensors': buildSafetensorsFile([...mlxT('l.a', 4), ...mlxT('l.b', 4)]),
    }),
  );
  try {
    assert.deepEqual(
      Array.from(mlx.weight('l.a.weight')!.decodeRows(0, 2)).filter((_, i) => i % 64 === 0),
      [-1, 1],
    );
    assert.match(
      mlx.weight('l.b.weight')!.error!.message,
      /^l\.b\.weight: l\.b\.scales \[2, 1\] does not match 8-bit group-64 weight \[2, 8\] .*contradict the packed shapes/,
    );
  } finally {
    await mlx.close();
  }
});

test('no config: a qweight without scales is still a (flagged) quantized weight, never plain numbers', async () => {
  const ok: GptqSpec = { N: 8, K: 64, bits: 4, gs: 32, codes: () => 1, zstored: () => 7, scale: () => 1 };
  const q = await openQuantizedModel(
    folder({ 'model.safetensors': buildSafetensorsFile(gptqTensors('x', { ...ok, omit: ['scales', 'g_idx'] })) }),
  );
  try {
    assert.equal(q.weights.length, 1);
    assert.equal(q.plain.length, 0);
    assert.match(q.weights[0].error!.message, /^x\.weight: missing component scales/);
  } finally {
    await q.close();
  }
});

test('EXL2, EXL3 and marlin-24 are detected and labelled not decodable', async () => {
  const t = (name: string, dtype: string, shape: number[]) => ({
    name,
    dtype,
    shape,
    data: new Uint8Array(shape.reduce((a, b) => a * b, 1) * (dtype === 'I32' ? 4 : dtype === 'U8' ? 1 : 2)),
  });
  for (const [method, tensors, label] of [
    [
      'exl2',
      [
        t('e.q_weight', 'I32', [16, 8]),
        t('e.q_scale', 'I32', [1, 1]),
        t('e.q_scale_max', 'F16', [1]),
        t('e.q_groups', 'I16', [2]),
        t('e.q_invperm', 'I32', [128]),
      ],
      'EXL2',
    ],
    ['exl3', [t('e.trellis', 'I16', [2, 1, 64]), t('e.suh', 'F16', [32]), t('e.svh', 'F16', [16])], 'EXL3'],
    [
      'compressed-tensors',
      [t('e.weight_packed', 'I32', [4, 4]), t('e.scale_packed', 'F16', [4]), t('e.meta', 'I16', [4])],
      'compressed-tensors marlin-24',
    ],
  ] as const) {
    const q = await openQuantizedModel(
      folder({
        'config.json': { quantization_config: { quant_method: method, bits: 4, format: 'marlin-24' } },
        'model.safetensors': buildSafetensorsFile([...tensors]),
      }),
      { validate: true },
    );
    try {
      assert.equal(q.weights.length, 1, method);
      const [w] = q.weights;
      assert.equal(w.format.label, label);
      assert.equal(w.decodable, false);
      assert.equal(w.error?.code, 'not-decodable');
      assert.match(w.error!.message, /is detected but not decodable here/);
      assert.equal(q.plain.length, 0);
    } finally {
      await q.close();
    }
  }
});

/** A corpus variant with only some of its files (safetensors linked, configs rewritten). */
function variantWith(v: string, configs: Record<string, object | null>): string {
  const d = join(tmp, `v${dirs++}`);
  mkdirSync(d);
  for (const f of readdirSync(join(CORPUS, v))) if (/\.safetensors(\.index\.json)?$/.test(f)) symlinkSync(join(CORPUS, v, f), join(d, f));
  for (const [name, content] of Object.entries(configs)) if (content) writeFileSync(join(d, name), JSON.stringify(content));
  return d;
}
const readConfig = (v: string, f = 'config.json') => JSON.parse(readFileSync(join(CORPUS, v, f), 'utf8'));
const expectedOf = (v: string) => JSON.parse(readFileSync(join(CORPUS, v, 'expected.json'), 'utf8'));
const expectedValues = (v: string, e: any) => {
  const f = readFileSync(join(CORPUS, v, 'expected.f32'));
  return new Float32Array(f.buffer.slice(f.byteOffset + 4 * e.f32_offset, f.byteOffset + 4 * (e.f32_offset + e.f32_count)));
};

test('no config: tensor fingerprints find the same logical weights (and decode those the config does not change)', async () => {
  /** format id per variant; variants whose decode needs the config (v2 zeros, MLX bits) are only grouped. */
  const cases: [string, string, boolean][] = [
    ['gptq-v1-4bit-sym-g128', 'gptq', true],
    ['gptq-v2-4bit-asym-g128', 'gptq', false],
    ['awq-gemm-4bit-g128', 'awq-gemm', true],
    ['awq-gemv-4bit-g128', 'awq-gemv', true],
    ['bnb-nf4-dq-bf16', 'bnb-4bit', true],
    ['bnb-int8', 'bnb-int8', true],
    ['fp8-block128-deepseek', 'fp8-block', true],
    ['ct-fp8-channel', 'fp8-scaled', true],
    ['ct-w4a16-int4-sym-g128', 'ct-pack-quantized', true],
    ['ct-nvfp4', 'ct-nvfp4', true],
    ['modelopt-nvfp4', 'modelopt-nvfp4', true],
    ['gptoss-mxfp4', 'gptoss-mxfp4', true],
    ['hqq-4bit-g64', 'hqq', true],
    ['mlx-affine-4bit-g64', 'mlx-affine', false],
  ];
  for (const [v, id, decodes] of cases) {
    const q = await openQuantizedModel(variantWith(v, {}), { validate: true });
    try {
      assert.equal(q.detection.family, undefined);
      const exp = expectedOf(v);
      assert.deepEqual(q.weights.map((w) => w.name).sort(), exp.weights.map((w: any) => w.name).sort(), v);
      assert.ok(
        q.weights.every((w) => w.format.id === id),
        `${v}: ${q.weights.map((w) => w.format.id)}`,
      );
      if (decodes) {
        const e = exp.weights.find((x: any) => x.f32_offset !== null);
        assert.equal(firstBitMismatch(q.weight(e.name)!.decode(), expectedValues(v, e)), null, v);
      } else
        assert.ok(
          v.startsWith('mlx')
            ? q.weights.every((w) => w.error)
            : q.weights.every((w) => w.diagnostics.some((x) => x.includes('v1 zero points'))),
          v,
        );
    } finally {
      await q.close();
    }
  }
});

test('config locations: text_config, compression_config, quantize_config.json, quant_config.json, hf_quant_config.json', async () => {
  const check = async (v: string, configs: Record<string, object | null>, source: string) => {
    const q = await openQuantizedModel(variantWith(v, configs), { validate: true });
    try {
      assert.equal(q.detection.source, source, v);
      const exp = expectedOf(v);
      for (const e of exp.weights.filter((x: any) => x.f32_offset !== null))
        assert.equal(firstBitMismatch(q.weight(e.name)!.decode(), expectedValues(v, e)), null, `${v} ${e.name}`);
    } finally {
      await q.close();
    }
  };
  const ct = readConfig('ct-w4a16-int4-sym-g128');
  await check(
    'ct-w4a16-int4-sym-g128',
    { 'config.json': { text_config: { quantization_config: ct.quantization_config } } },
    'config.json text_config.quantization_config',
  );
  const { quant_method: _m, ...oldCt } = ct.quantization_config;
  await check('ct-w4a16-int4-sym-g128', { 'config.json': { compression_config: oldCt } }, 'config.json compression_config');
  await check(
    'gptq-v2-4bit-asym-g128',
    { 'quantize_config.json': readConfig('gptq-v2-4bit-asym-g128', 'quantize_config.json') },
    'quantize_config.json',
  );
  await check(
    'awq-gemv-4bit-g128',
    { 'quant_config.json': { zero_point: true, q_group_size: 128, w_bit: 4, version: 'gemv' } },
    'quant_config.json',
  );
  await check('modelopt-nvfp4', { 'hf_quant_config.json': readConfig('modelopt-nvfp4', 'hf_quant_config.json') }, 'hf_quant_config.json');
});

test('config.json quantization_config and quantize_config.json / quant_config.json disagreeing: a warning, and a note of every weight', async () => {
  const check = async (v: string, configs: Record<string, object>, expected: string[]) => {
    const q = await openQuantizedModel(variantWith(v, configs), { validate: true });
    try {
      assert.deepEqual(q.detection.disagreements, expected, v);
      for (const line of expected) assert.ok(q.detection.warnings.includes(line), `${v}: a detection warning`);
      const info = logicalInfoLines(q);
      for (const line of expected) assert.ok(info.includes(`warning: ${line}`), `${v}: info's warning line`);
      const exp = expectedOf(v);
      for (const e of exp.weights.filter((x: any) => x.f32_offset !== null)) {
        const w = q.weight(e.name)!;
        for (const line of expected) assert.ok(w.diagnostics.includes(line), `${e.name}: listed with the note`);
        // decoded with config.json's settings, as transformers does: still the reference's values
        assert.equal(firstBitMismatch(w.decode(), expectedValues(v, e)), null, `${v} ${e.name}`);
        for (const line of expected) assert.ok(w.diagnostics.includes(line), `${e.name}: the note stays once loaded`);
      }
      if (expected.length)
        assert.ok(
          info.some((l) => l === `    note: ${expected[0]}`),
          "info's note lines",
        );
    } finally {
      await q.close();
    }
  };
  const gptq = 'gptq-v1-4bit-sym-g128';
  const gq = readConfig(gptq, 'quantize_config.json');
  await check(gptq, { 'config.json': readConfig(gptq), 'quantize_config.json': gq }, []);
  await check(gptq, { 'config.json': readConfig(gptq), 'quantize_config.json': { ...gq, group_size: 64, desc_act: true } }, [
    "config.json quantization_config and quantize_config.json disagree (group_size 128 vs 64, desc_act false vs true); the weights are decoded with config.json quantization_config's, as transformers reads it",
  ]);
  const awq = 'awq-gemm-4bit-g128';
  await check(
    awq,
    { 'config.json': readConfig(awq), 'quant_config.json': { zero_point: false, q_group_size: 128, w_bit: 8, version: 'gemm' } },
    [
      "config.json quantization_config and quant_config.json disagree (bits 4 vs 8, zero_point true vs false); the weights are decoded with config.json quantization_config's, as transformers reads it",
    ],
  );
});

test('opening a folder, its index, any shard or a single file gives the same logical weights', async () => {
  const names = async (p: string) => {
    const q = await openQuantizedModel(p, { validate: true });
    try {
      return q.weights.map((w) => `${w.name}:${w.components.length}:${w.error?.message ?? ''}`);
    } finally {
      await q.close();
    }
  };
  const v = join(CORPUS, 'fp8-block128-deepseek');
  const all = await names(v);
  assert.equal(all.length, 14);
  for (const p of ['model.safetensors.index.json', 'model-00001-of-00003.safetensors', 'model-00003-of-00003.safetensors'])
    assert.deepEqual(await names(join(v, p)), all, p);
  const mlx = join(CORPUS, 'mlx-affine-4bit-g64');
  assert.deepEqual(await names(join(mlx, 'model.safetensors')), await names(mlx));
});

test('row ranges, chunks, group scales and the group inspector agree with the whole decode', async () => {
  for (const v of [
    'gptq-v1-4bit-asym-actorder-g128',
    'awq-gemm-4bit-g128',
    'bnb-nf4-dq-bf16',
    'mlx-affine-8bit-g64',
    'hqq-4bit-g64',
    'gptoss-mxfp4',
    'ct-nvfp4',
    'bnb-int8',
  ]) {
    const q = await openQuantizedModel(join(CORPUS, v), { validate: true });
    try {
      const w = q.weights[0];
      const whole = w.decode();
      for (const [r0, r1] of [
        [0, 1],
        [3, 17],
        [w.rows - 5, w.rows],
      ])
        assert.equal(firstBitMismatch(w.decodeRows(r0, r1), whole.subarray(r0 * w.cols, r1 * w.cols)), null, `${v} rows ${r0}-${r1}`);
      const chunks = new Float32Array(whole.length);
      w.forEachChunk((vals, first) => chunks.set(vals, first * w.cols), 7);
      assert.equal(firstBitMismatch(chunks, whole), null, `${v} chunks`);
      const gsc = w.groupScales();
      assert.equal(gsc.scales.length, w.rows * gsc.groupsPerRow);
      const r = Math.min(5, w.rows - 1);
      const g = Math.min(1, gsc.groupsPerRow - 1);
      const rec = w.inspectGroup(r, g);
      assert.equal(rec.scale, gsc.scales[r * gsc.groupsPerRow + g]);
      assert.deepEqual(
        rec.values,
        rec.columns.map((k) => whole[r * w.cols + k]),
        `${v} inspector values`,
      );
      assert.equal(rec.codes.length, rec.columns.length);
      for (const s of rec.sources) {
        const f = readFileSync(s.file);
        assert.deepEqual(s.bytes, new Uint8Array(f.buffer, f.byteOffset + s.offset, s.length), `${v} ${s.role} bytes`);
      }
      assert.ok(
        rec.sources.some((s) => s.role === w.roles[0]),
        `${v}: the codes' bytes are listed`,
      );
      assert.throws(() => w.decodeRows(0, w.rows + 1), /outside/);
    } finally {
      await q.close();
    }
  }
});

test('scheme labels, effective bits per weight and diagnostics of the corpus', async () => {
  const want: Record<string, [string, number]> = {
    'gptq-v1-4bit-asym-actorder-g128': ['GPTQ int4 asym g128 act-order', 4 + (16 + 4) / 128 + 32 / 256],
    'gptq-v2-4bit-asym-g128': ['GPTQ v2 int4 asym g128', 4 + (16 + 4) / 128 + 32 / 256],
    'awq-gemm-4bit-g128': ['AWQ GEMM int4 asym g128', 4 + (16 + 4) / 128],
    'bnb-nf4-dq-bf16': ['bitsandbytes NF4 blocksize 64 double-quant', NaN],
    'fp8-block128-deepseek': ['FP8 E4M3 block 128x128', 8 + 32 / (128 * 128)],
    'ct-fp8-tensor': ['FP8 E4M3 per-tensor', NaN],
    'ct-w4a16-int4-sym-g128': ['compressed-tensors int4 sym g128', NaN],
    'modelopt-nvfp4': ['NVFP4 E2M1 g16 (E4M3 scales x weight_scale_2)', 4 + 8 / 16 + 32 / 65536],
    'mlx-affine-4bit-g64': ['MLX affine 4-bit g64', 4 + 32 / 64],
  };
  for (const [v, [scheme, bpw]] of Object.entries(want)) {
    const q = await openQuantizedModel(join(CORPUS, v), { validate: true });
    try {
      const w = q.weight('model.layers.0.self_attn.q_proj.weight')!;
      assert.equal(w.scheme, scheme, v);
      if (!Number.isNaN(bpw)) assert.ok(Math.abs(w.bitsPerWeight - bpw) < 1e-12, `${v} bpw ${w.bitsPerWeight} vs ${bpw}`);
      assert.ok(w.bitsPerWeight > w.bits, v);
    } finally {
      await q.close();
    }
  }
  const q = await openQuantizedModel(join(CORPUS, 'gptq-v1-4bit-asym-actorder-g128'), { validate: true });
  try {
    // the corpus README: q_proj of layer 0 and k_proj of layer 1 have one z=0 each, stored as -1
    assert.ok(
      q
        .weight('model.layers.0.self_attn.q_proj.weight')!
        .diagnostics.some((d) =>
          d.startsWith(
            'v1 zero-point overflow: 1 z=0 field(s) stored as -1 at (g 0, n 206) (read 15, decoded z = 16), which set 1 higher field(s)',
          ),
        ),
    );
    assert.ok(q.weight('model.layers.1.self_attn.k_proj.weight')!.diagnostics.some((d) => d.includes('at (g 1, n 102)')));
    assert.ok(!q.weight('model.layers.0.self_attn.k_proj.weight')!.diagnostics.some((d) => /overflow/.test(d)));
  } finally {
    await q.close();
  }
  const mlx = await openQuantizedModel(join(CORPUS, 'mlx-affine-4bit-g64'), { validate: true });
  try {
    assert.equal(mlx.weight('lm_head.weight')!.bits, 6);
    assert.equal(mlx.weight('lm_head.weight')!.groupScales().zeroKind, 'bias');
    assert.ok(mlx.weights[0].diagnostics.some((d) => d.includes('negative')));
  } finally {
    await mlx.close();
  }
});

/** Reference binary16 rounding of a float32 value, by exact arithmetic on the quantum. */
function refF16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  const r = a / q;
  const f = Math.floor(r);
  const d = r - f;
  const n = d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
  const v = n * q;
  return Math.sign(x) * (v >= 65520 ? Infinity : v);
}

test('roundF16 and roundBf16 round float32 values to nearest-even, ties and subnormals included', () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const samples: number[] = [65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14 - 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  for (let h = 0; h < 0x7c00; h += 7) samples.push(F16_TO_F32[h] + (F16_TO_F32[h + 1] - F16_TO_F32[h]) / 2); // midpoints
  for (let i = 0; i < 200000; i++) {
    u[0] = next();
    samples.push(f[0]);
  }
  for (const s of samples) {
    f[0] = s;
    const x = f[0];
    if (Number.isNaN(x)) continue;
    assert.ok(Object.is(roundF16(x), refF16(x)), `roundF16(${x}) = ${roundF16(x)}, want ${refF16(x)}`);
    // bf16: the same construction with 8 significant bits and float32's exponent range
    const a = Math.abs(x);
    if (a === 0 || !Number.isFinite(a)) continue;
    let e = Math.floor(Math.log2(a));
    while (2 ** e > a) e--;
    while (2 ** (e + 1) <= a) e++;
    const q = 2 ** (Math.max(e, -126) - 7);
    const r = a / q;
    const fl = Math.floor(r);
    const d = r - fl;
    const n = d > 0.5 || (d === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
    const want = Math.sign(x) * (n * q >= 2 ** 128 - 2 ** 119 ? Infinity : n * q);
    assert.ok(Object.is(roundBf16(x), want), `roundBf16(${x}) = ${roundBf16(x)}, want ${want}`);
  }
});

test('logicalWeightStats streams with progress and equals the one-chunk result; tensorRows compares with original/', async () => {
  const { logicalWeightStats, compareLogicalWeight, tensorRows } = await import('../../src/core/hfquant/stats.ts');
  const { openModel } = await import('../../src/core/formats/openModel.ts');
  const q = await openQuantizedModel(join(CORPUS, 'ct-w8a16-int8-channel'), { validate: true });
  const orig = await openModel(join(CORPUS, 'original', 'model.safetensors'));
  try {
    const w = q.weight('model.layers.0.mlp.down_proj.weight')!;
    let last = [0, 0];
    const a = logicalWeightStats(w, { chunkElements: 3000, onProgress: (d, t) => (last = [d, t]) });
    assert.deepEqual(last, [2 * w.rows * w.cols, 2 * w.rows * w.cols]);
    assert.deepEqual(logicalWeightStats(w), a);
    const e = expectedOf('ct-w8a16-int8-channel').weights.find((x: any) => x.name === w.name);
    const m = compareLogicalWeight(
      w,
      tensorRows(
        orig,
        orig.tensors.find((t) => t.name === w.name)!,
        w,
      ),
      5,
    );
    assert.equal(m.max_abs, e.vs_original.max_abs_err);
    assert.ok(Math.abs(m.rmse - e.vs_original.rmse) <= 1e-9 * e.vs_original.rmse);
    assert.throws(() => logicalWeightStats(w, { isCancelled: () => true }), /cancelled/);
  } finally {
    await q.close();
    await orig.close();
  }
});

test('GPTQModel dynamic overrides bits and group size per module; pack_dtype other than int32 is flagged', async () => {
  const four: GptqSpec = { N: 8, K: 64, bits: 4, gs: 32, codes: (n, k) => (n + 3 * k) % 16, zstored: () => 3, scale: () => 0.125 };
  const eight: GptqSpec = { N: 8, K: 64, bits: 8, gs: 64, codes: (n, k) => (n * 7 + k) % 256, zstored: () => 100, scale: () => 2 ** -7 };
  const file = buildSafetensorsFile([
    ...gptqTensors('model.layers.0.mlp.up_proj', four),
    ...gptqTensors('model.layers.0.mlp.down_proj', eight),
  ]);
  const config = {
    quantization_config: {
      quant_method: 'gptq',
      bits: 4,
      group_size: 32,
      checkpoint_format: 'gptq_v2',
      dynamic: { '+:.*down_proj': { bits: 8, group_size: 64 } },
    },
  };
  const q = await openQuantizedModel(folder({ 'config.json': config, 'model.safetensors': file }), { validate: true });
  try {
    assert.equal(firstBitMismatch(q.weight('model.layers.0.mlp.up_proj.weight')!.decode(), expectedGptq(four, false)), null);
    const down = q.weight('model.layers.0.mlp.down_proj.weight')!;
    assert.equal(down.error, undefined, down.error?.message);
    assert.equal(down.scheme, 'GPTQ v2 int8 asym g64');
    assert.equal(firstBitMismatch(down.decode(), expectedGptq(eight, false)), null);
  } finally {
    await q.close();
  }
  const q16 = await openQuantizedModel(
    folder({
      'config.json': { quantization_config: { quant_method: 'gptq', bits: 4, group_size: 32, pack_dtype: 'int16' } },
      'model.safetensors': buildSafetensorsFile(gptqTensors('m.x', four)),
    }),
  );
  try {
    assert.equal(q16.weights[0].error?.code, 'not-decodable');
    assert.match(q16.weights[0].error!.message, /pack_dtype "int16"/);
  } finally {
    await q16.close();
  }
});

test('compressed-tensors int-quantized (W8A8 INT8): unpacked I8 codes, per-channel scales, optional zero point', async () => {
  const q = await openQuantizedModel(
    folder({
      'config.json': {
        torch_dtype: 'bfloat16',
        quantization_config: {
          quant_method: 'compressed-tensors',
          format: 'int-quantized',
          config_groups: { g: { targets: ['Linear'], weights: { num_bits: 8, type: 'int', strategy: 'channel', symmetric: true } } },
        },
      },
      'model.safetensors': buildSafetensorsFile([
        { name: 'l.weight', dtype: 'I8', shape: [2, 3], data: bytes(Int8Array.from([-128, 0, 127, 5, -5, 1])) },
        { name: 'l.weight_scale', dtype: 'BF16', shape: [2, 1], data: bytes(Uint16Array.from([0x3f00, 0x4000])) }, // 0.5, 2
        { name: 'l.input_scale', dtype: 'BF16', shape: [1], data: bytes(Uint16Array.from([0x3f80])) },
        { name: 'a.weight', dtype: 'I8', shape: [1, 2], data: bytes(Int8Array.from([10, 20])) },
        { name: 'a.weight_scale', dtype: 'F32', shape: [1], data: bytes(Float32Array.from([0.25])) },
        { name: 'a.weight_zero_point', dtype: 'I8', shape: [1], data: bytes(Int8Array.from([-2])) },
      ]),
    }),
  );
  try {
    const l = q.weight('l.weight')!;
    assert.deepEqual(Array.from(l.decode()), [-64, 0, 63.5, 10, -10, 2]);
    assert.deepEqual(l.roles, ['weight', 'weight_scale', 'input_scale']);
    assert.equal(l.scheme, 'compressed-tensors int8 sym per-channel');
    assert.deepEqual(Array.from(q.weight('a.weight')!.decode()), [3, 5.5]);
  } finally {
    await q.close();
  }
});

test('HQQ axis 0 (groups strided through the weight) and the MSB-first 3-bit packing decode exactly', async () => {
  const u8 = (s: string) => new TextEncoder().encode(s);
  const meta = (m: string, nbits: number, gs: number, axis: number, shape: number[], packing: string): SafetensorsTensorOut[] => [
    { name: `${m}.nbits`, dtype: 'I32', shape: [], data: bytes(Int32Array.from([nbits])) },
    { name: `${m}.group_size`, dtype: 'I32', shape: [], data: bytes(Int32Array.from([gs])) },
    { name: `${m}.axis`, dtype: 'I32', shape: [], data: bytes(Int32Array.from([axis])) },
    { name: `${m}.shape`, dtype: 'I64', shape: [2], data: bytes(BigInt64Array.from(shape.map(BigInt))) },
    { name: `${m}.packing`, dtype: 'U8', shape: [packing.length], data: u8(packing) },
    { name: `${m}.compute_dtype`, dtype: 'U8', shape: [14], data: u8('torch.bfloat16') },
  ];
  const bf = (xs: number[]) => bytes(Uint16Array.from(xs.map((x) => new Uint32Array(Float32Array.from([x]).buffer)[0] >>> 16)));
  // axis 0, 4-bit: shape [4, 8], group 4 -> view [4 rows (gs), 8 cols (groups)]; element f at view (f >> 3, f & 7)
  const V = Array.from({ length: 4 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i * 5 + j * 3) % 16));
  const wq0 = new Uint8Array(2 * 8);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 8; j++) wq0[i * 8 + j] = (V[i][j] << 4) | V[i + 2][j];
  const z0 = Array.from({ length: 8 }, (_, j) => j - 0.5);
  const s0 = Array.from({ length: 8 }, (_, j) => 2 ** -(j % 3));
  // axis 1, 3-bit: shape [4, 5], group 5 -> view [4, 5]; 10 row-tenths MSB-first in an I32, rows padded to 10
  const V3 = Array.from({ length: 4 }, (_, i) => Array.from({ length: 5 }, (_, j) => (i * 3 + j) % 8));
  const wq3 = new Int32Array(5);
  for (let j = 0; j < 5; j++) for (let p = 0; p < 4; p++) wq3[j] |= V3[p][j] << (27 - 3 * p);
  const q = await openQuantizedModel(
    folder({
      'config.json': { quantization_config: { quant_method: 'hqq' } },
      'model.safetensors': buildSafetensorsFile([
        { name: 'h.a.W_q', dtype: 'U8', shape: [2, 8], data: wq0 },
        { name: 'h.a.scale', dtype: 'BF16', shape: [1, 8], data: bf(s0) },
        { name: 'h.a.zero', dtype: 'BF16', shape: [1, 8], data: bf(z0) },
        ...meta('h.a', 4, 4, 0, [4, 8], '4bit_u8'),
        { name: 'h.b.W_q', dtype: 'I32', shape: [1, 5], data: bytes(wq3) },
        { name: 'h.b.scale', dtype: 'BF16', shape: [4, 1], data: bf([1, 0.5, 2, 0.25]) },
        { name: 'h.b.zero', dtype: 'BF16', shape: [4, 1], data: bf([3, 4, 0, 1]) },
        ...meta('h.b', 3, 5, 1, [4, 5], '3bit_32'),
      ]),
    }),
  );
  try {
    const a = q.weight('h.a.weight')!;
    assert.equal(a.error, undefined, a.error?.message);
    const wantA = Array.from({ length: 32 }, (_, f) => (V[f >> 3][f & 7] - z0[f & 7]) * s0[f & 7]);
    assert.deepEqual(Array.from(a.decode()), wantA);
    assert.deepEqual(Array.from(a.decodeRows(2, 3)), wantA.slice(16, 24));
    const b = q.weight('h.b.weight')!;
    assert.equal(b.scheme, 'HQQ 3-bit g5 axis 1');
    assert.deepEqual(
      Array.from(b.decode()),
      Array.from(
        { length: 20 },
        (_, f) => (V3[Math.floor(f / 5)][f % 5] - [3, 4, 0, 1][Math.floor(f / 5)]) * [1, 0.5, 2, 0.25][Math.floor(f / 5)],
      ),
    );
  } finally {
    await q.close();
  }
});

test('without validate only headers and metadata are read: data-level checks run when a weight is first used', async () => {
  // listing reads no g_idx, so its range check (and the act-order label) waits for load()
  const ok: GptqSpec = { N: 8, K: 2048, bits: 4, gs: 1024, codes: (n, k) => (n * k) % 16, zstored: () => 7, scale: () => 0.5 };
  const bad: GptqSpec = { ...ok, gidx: Array.from({ length: 2048 }, (_, k) => (k === 1500 ? 2 : (k * 5) % 2)) };
  const d = folder({
    'config.json': gptqConfig(4, 1024, { desc_act: false }),
    'model.safetensors': buildSafetensorsFile([
      ...gptqTensors('a.good', { ...ok, gidx: Array.from({ length: 2048 }, (_, k) => (k * 5) % 2) }),
      ...gptqTensors('a.bad', bad),
    ]),
  });
  const q = await openQuantizedModel(d);
  try {
    const good = q.weight('a.good.weight')!;
    const b = q.weight('a.bad.weight')!;
    assert.equal(good.loaded, false);
    assert.equal(b.decodable, true, 'the headers are consistent');
    assert.equal(good.scheme, 'GPTQ int4 asym g1024');
    good.decodeRows(0, 1);
    assert.equal(good.loaded, true);
    assert.equal(good.scheme, 'GPTQ int4 asym g1024 act-order', 'the config said desc_act false; g_idx shows act-order');
    assert.match(b.load()!.message, /g_idx\[1500\] = 2 is out of range/);
    assert.equal(b.decodable, false);
    assert.throws(() => b.decode(), /out of range/);
    assert.equal(
      firstBitMismatch(good.decode(), expectedGptq({ ...ok, gidx: Array.from({ length: 2048 }, (_, k) => (k * 5) % 2) }, true)),
      null,
    );
  } finally {
    await q.close();
  }
});

test('an unquantized checkpoint has no logical weights; a config file names its folder; a GGUF is refused', async () => {
  const q = await openQuantizedModel(join(CORPUS, 'original', 'config.json'));
  try {
    assert.equal(q.weights.length, 0);
    assert.equal(q.plain.length, q.model.tensors.length);
    assert.match(q.summary, /^no quantized weights; quantization config|^no quantized weights; no quantization config/);
  } finally {
    await q.close();
  }
  await assert.rejects(
    openQuantizedModel(join(import.meta.dirname, '..', 'fixtures', 'corpus', 'gguf', 'llama-tiny-Q4_0.gguf')),
    /is GGUF, not a safetensors checkpoint/,
  );
});
