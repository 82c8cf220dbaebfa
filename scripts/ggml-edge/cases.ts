/**
 * The edge blocks whose ggml dequantization test/fixtures/ggml-edge/expected.json records: built here, byte for
 * byte the same in the generator (scripts/ggml-edge/generate.ts, which feeds them to ggml) and in the unit test
 * (test/unit/ggmlEdgeBlocks.test.ts, which feeds them to Quant Lens's decoders). Every case is one block.
 *
 * - Scale specials: every block scale field (fp16 d, and dmin where the type has one) set to each of the special
 *   binary16 patterns below (for two fields, every pair), the other bytes all 0x00, all 0xff or pseudo-random.
 * - MXFP4: every E8M0 exponent byte; NVFP4: every UE4M3 scale byte (four per block); same three fills.
 * - Scale sweeps: every packed sub-block scale (and min) value of the K-quants and IQ4_XS, codes pseudo-random.
 */
import { createHash } from 'node:crypto';

/** binary16 patterns used as block scales: ±0, subnormal min/max, min normal, 1, ±max, ±Inf, quiet and signalling NaNs. */
export const SPECIAL_HALVES: readonly number[] = [
  0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7d00, 0xfd00, 0x7c01,
];

export interface EdgeCase {
  name: string;
  bytes: Uint8Array;
}

export interface EdgeType {
  ggmlId: number;
  name: string;
  bytesPerBlock: number;
  cases: EdgeCase[];
}

type Fill = 'zero' | 'ones' | 'random';
const FILLS: readonly Fill[] = ['zero', 'ones', 'random'];

/** mulberry32: a small deterministic generator of 32-bit words. */
function random32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A block of `size` bytes filled as `fill` says (random: seeded by the type and case index). */
function filled(size: number, fill: Fill, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  if (fill === 'ones') b.fill(0xff);
  if (fill === 'random') {
    const next = random32(seed);
    for (let i = 0; i < size; i++) b[i] = next() & 0xff;
  }
  return b;
}

function putHalf(b: Uint8Array, at: number, h: number): void {
  b[at] = h & 0xff;
  b[at + 1] = h >> 8;
}

const hex4 = (h: number) => h.toString(16).padStart(4, '0');
const hex2 = (h: number) => h.toString(16).padStart(2, '0');

/** Where a type keeps its fp16 scales: `d` (and `dmin`) byte offsets, or a special setter. */
interface Layout {
  ggmlId: number;
  name: string;
  bytesPerBlock: number;
  halves?: readonly number[];
  /** IQ1_M: the fp16 scale is spread over the top nibbles of the four u16 sub-block scales at byte 48. */
  setScale?: (b: Uint8Array, h: number) => void;
}

const LAYOUTS: readonly Layout[] = [
  { ggmlId: 2, name: 'q4_0', bytesPerBlock: 18, halves: [0] },
  { ggmlId: 3, name: 'q4_1', bytesPerBlock: 20, halves: [0, 2] },
  { ggmlId: 6, name: 'q5_0', bytesPerBlock: 22, halves: [0] },
  { ggmlId: 7, name: 'q5_1', bytesPerBlock: 24, halves: [0, 2] },
  { ggmlId: 8, name: 'q8_0', bytesPerBlock: 34, halves: [0] },
  { ggmlId: 10, name: 'q2_K', bytesPerBlock: 84, halves: [80, 82] },
  { ggmlId: 11, name: 'q3_K', bytesPerBlock: 110, halves: [108] },
  { ggmlId: 12, name: 'q4_K', bytesPerBlock: 144, halves: [0, 2] },
  { ggmlId: 13, name: 'q5_K', bytesPerBlock: 176, halves: [0, 2] },
  { ggmlId: 14, name: 'q6_K', bytesPerBlock: 210, halves: [208] },
  { ggmlId: 16, name: 'iq2_xxs', bytesPerBlock: 66, halves: [0] },
  { ggmlId: 17, name: 'iq2_xs', bytesPerBlock: 74, halves: [0] },
  { ggmlId: 18, name: 'iq3_xxs', bytesPerBlock: 98, halves: [0] },
  { ggmlId: 19, name: 'iq1_s', bytesPerBlock: 50, halves: [0] },
  { ggmlId: 20, name: 'iq4_nl', bytesPerBlock: 18, halves: [0] },
  { ggmlId: 21, name: 'iq3_s', bytesPerBlock: 110, halves: [0] },
  { ggmlId: 22, name: 'iq2_s', bytesPerBlock: 82, halves: [0] },
  { ggmlId: 23, name: 'iq4_xs', bytesPerBlock: 136, halves: [0] },
  {
    ggmlId: 29,
    name: 'iq1_m',
    bytesPerBlock: 56,
    setScale(b, h) {
      for (let k = 0; k < 4; k++) b[48 + 2 * k + 1] = (b[48 + 2 * k + 1] & 0x0f) | (((h >> (4 * k)) & 0xf) << 4);
    },
  },
  { ggmlId: 34, name: 'tq1_0', bytesPerBlock: 54, halves: [52] },
  { ggmlId: 35, name: 'tq2_0', bytesPerBlock: 66, halves: [64] },
  { ggmlId: 39, name: 'mxfp4', bytesPerBlock: 17 },
  { ggmlId: 40, name: 'nvfp4', bytesPerBlock: 36 },
  { ggmlId: 41, name: 'q1_0', bytesPerBlock: 18, halves: [0] },
  { ggmlId: 42, name: 'q2_0', bytesPerBlock: 18, halves: [0] },
];

/** Q4_K / Q5_K: packs eight 6-bit (scale, min) pairs into the 12 scale bytes at `at` (inverse of get_scale_min_k4). */
function packScaleMinK4(b: Uint8Array, at: number, sc: readonly number[], m: readonly number[]): void {
  for (let j = 0; j < 4; j++) {
    b[at + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
    b[at + j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
    b[at + j + 8] = (sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4);
  }
}

/** Q3_K: packs sixteen 6-bit scales into the 12 bytes at `at` (low nibbles in bytes 0..7, high pairs in 8..11). */
function packQ3KScales(b: Uint8Array, at: number, sc: readonly number[]): void {
  b.fill(0, at, at + 12);
  for (let s = 0; s < 16; s++) {
    b[at + (s & 7)] |= (sc[s] & 0xf) << (s < 8 ? 0 : 4);
    b[at + 8 + (s & 3)] |= (sc[s] >> 4) << (2 * (s >> 2));
  }
}

/** IQ4_XS: packs eight 6-bit scales (scales_h u16 at 2, scales_l[4] at 4). */
function packIQ4XSScales(b: Uint8Array, sc: readonly number[]): void {
  let high = 0;
  b.fill(0, 4, 8);
  for (let ib = 0; ib < 8; ib++) {
    b[4 + (ib >> 1)] |= (sc[ib] & 0xf) << (4 * (ib & 1));
    high |= (sc[ib] >> 4) << (2 * ib);
  }
  putHalf(b, 2, high);
}

/** A normal, non-power-of-two d and dmin for the sweeps (1.3330078 and 0.05206299), so products round. */
const SWEEP_D = 0x3d55;
const SWEEP_DMIN = 0x2aaa;

/** The sub-block scale sweeps of one type (empty for types without packed scales). */
function sweeps(layout: Layout, seedBase: number): EdgeCase[] {
  const out: EdgeCase[] = [];
  const block = (i: number) => filled(layout.bytesPerBlock, 'random', seedBase + 100000 + i);
  switch (layout.name) {
    case 'q4_K':
    case 'q5_K':
      // 4096 (scale, min) pairs, eight per block
      for (let i = 0; i < 512; i++) {
        const b = block(i);
        const pairs = Array.from({ length: 8 }, (_, j) => 8 * i + j);
        packScaleMinK4(
          b,
          4,
          pairs.map((p) => p & 63),
          pairs.map((p) => p >> 6),
        );
        putHalf(b, 0, SWEEP_D);
        putHalf(b, 2, SWEEP_DMIN);
        out.push({ name: `scale/min pairs ${8 * i}..${8 * i + 7}`, bytes: b });
      }
      break;
    case 'q3_K':
      for (let i = 0; i < 4; i++) {
        const b = block(i);
        packQ3KScales(
          b,
          96,
          Array.from({ length: 16 }, (_, s) => 16 * i + s),
        );
        putHalf(b, 108, SWEEP_D);
        out.push({ name: `scales ${16 * i}..${16 * i + 15}`, bytes: b });
      }
      break;
    case 'q2_K':
      // 256 (4-bit scale | 4-bit min) bytes, sixteen per block
      for (let i = 0; i < 16; i++) {
        const b = block(i);
        for (let s = 0; s < 16; s++) b[s] = 16 * i + s;
        putHalf(b, 80, SWEEP_D);
        putHalf(b, 82, SWEEP_DMIN);
        out.push({ name: `scale bytes ${16 * i}..${16 * i + 15}`, bytes: b });
      }
      break;
    case 'q6_K':
      // 256 int8 scales, sixteen per block
      for (let i = 0; i < 16; i++) {
        const b = block(i);
        for (let s = 0; s < 16; s++) b[192 + s] = 16 * i + s;
        putHalf(b, 208, SWEEP_D);
        out.push({ name: `scale bytes ${16 * i}..${16 * i + 15}`, bytes: b });
      }
      break;
    case 'iq4_xs':
      for (let i = 0; i < 8; i++) {
        const b = block(i);
        packIQ4XSScales(
          b,
          Array.from({ length: 8 }, (_, s) => 8 * i + s),
        );
        putHalf(b, 0, SWEEP_D);
        out.push({ name: `scales ${8 * i}..${8 * i + 7}`, bytes: b });
      }
      break;
  }
  return out;
}

function casesOf(layout: Layout): EdgeCase[] {
  const seedBase = layout.ggmlId * 1000003;
  const out: EdgeCase[] = [];
  let index = 0;
  const make = (fill: Fill) => filled(layout.bytesPerBlock, fill, seedBase + index++);
  for (const fill of FILLS) {
    if (layout.name === 'mxfp4') {
      for (let e = 0; e < 256; e++) {
        const b = make(fill);
        b[0] = e;
        out.push({ name: `${fill} e=0x${hex2(e)}`, bytes: b });
      }
    } else if (layout.name === 'nvfp4') {
      for (let s = 0; s < 64; s++) {
        const b = make(fill);
        for (let k = 0; k < 4; k++) b[k] = 4 * s + k;
        out.push({ name: `${fill} scales=0x${hex2(4 * s)}..0x${hex2(4 * s + 3)}`, bytes: b });
      }
    } else if (layout.setScale) {
      for (const h of SPECIAL_HALVES) {
        const b = make(fill);
        layout.setScale(b, h);
        out.push({ name: `${fill} d=0x${hex4(h)}`, bytes: b });
      }
    } else if (layout.halves!.length === 1) {
      for (const h of SPECIAL_HALVES) {
        const b = make(fill);
        putHalf(b, layout.halves![0], h);
        out.push({ name: `${fill} d=0x${hex4(h)}`, bytes: b });
      }
    } else {
      for (const h of SPECIAL_HALVES) {
        for (const m of SPECIAL_HALVES) {
          const b = make(fill);
          putHalf(b, layout.halves![0], h);
          putHalf(b, layout.halves![1], m);
          out.push({ name: `${fill} d=0x${hex4(h)} dmin=0x${hex4(m)}`, bytes: b });
        }
      }
    }
  }
  return [...out, ...sweeps(layout, seedBase)];
}

/** Every ggml type with a to_float except F16 and BF16 (their whole tables are stored instead), with its cases. */
export function edgeTypes(): EdgeType[] {
  return LAYOUTS.map((l) => ({ ggmlId: l.ggmlId, name: l.name, bytesPerBlock: l.bytesPerBlock, cases: casesOf(l) }));
}

/**
 * The hash recorded per case: the first 16 hex digits of the sha256 of the block's float32 output (little-endian),
 * every NaN written as 0x7fc00000 first. A NaN that arithmetic makes (Inf·0, NaN·x) has no defined sign or payload:
 * x86 gives 0xffc00000 where ARM gives 0x7fc00000, and WebAssembly leaves it open, so blocks compare NaN as NaN and
 * every other value bit for bit. (The conversion tables, which define NaN bits, are compared bit for bit.)
 */
export function blockHash(values: Uint8Array): string {
  const words = new Uint32Array(values.byteLength / 4);
  new Uint8Array(words.buffer).set(values);
  for (let i = 0; i < words.length; i++) if ((words[i] & 0x7fffffff) > 0x7f800000) words[i] = 0x7fc00000;
  return createHash('sha256').update(new Uint8Array(words.buffer)).digest('hex').slice(0, HASH_HEX_DIGITS);
}

export const HASH_HEX_DIGITS = 16;
