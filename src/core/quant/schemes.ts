/**
 * Textbook quantization schemes, for teaching and what-if comparisons next to ggml's types: round-to-nearest
 * integer quantization at 2–8 bits, symmetric (scale = absmax / qmax) or asymmetric (scale and zero-point from
 * min/max), per tensor, per output channel (row) or per group; NF4; FP8 with a per-tensor scale.
 * `simulate` quantizes and dequantizes (float32 results), `bitsPerWeight` counts the stored bits including scales.
 */
import { e4m3ToNumber, e5m2ToNumber } from './scalars.ts';
import { roundHalfAway } from './encode.ts';

export type Granularity = 'tensor' | 'channel' | { group: number };

export type Scheme =
  | { kind: 'int'; bits: number; symmetric: boolean; granularity: Granularity }
  | { kind: 'nf4'; group: number }
  | { kind: 'fp8'; format: 'E4M3' | 'E5M2' };

/** Scales and zero-points are counted as 16-bit values (fp16), as most formats store them. */
const SCALE_BITS = 16;

export function schemeName(s: Scheme): string {
  if (s.kind === 'nf4') return `NF4 (absmax per ${s.group})`;
  if (s.kind === 'fp8') return `FP8 ${s.format} (per tensor)`;
  const g = s.granularity === 'tensor' ? 'per tensor' : s.granularity === 'channel' ? 'per channel' : `per ${s.granularity.group}`;
  return `INT${s.bits} ${s.symmetric ? 'sym' : 'asym'} ${g}`;
}

export function bitsPerWeight(s: Scheme, rowLength: number, rows: number): number {
  const n = rowLength * rows;
  if (s.kind === 'nf4') return 4 + SCALE_BITS / s.group;
  if (s.kind === 'fp8') return 8 + 32 / n;
  const groups = s.granularity === 'tensor' ? 1 : s.granularity === 'channel' ? rows : Math.ceil(rowLength / s.granularity.group) * rows;
  const perGroup = s.symmetric ? SCALE_BITS : 2 * SCALE_BITS;
  return s.bits + (groups * perGroup) / n;
}

/** The 16 NF4 levels: quantiles of N(0,1) normalised to [-1, 1], with an exact zero (QLoRA). */
export const NF4_LEVELS = Float32Array.from([
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
]);

function nearestLevel(levels: Float32Array, x: number): number {
  let best = 0;
  let bestErr = Infinity;
  for (let i = 0; i < levels.length; i++) {
    const e = Math.abs(levels[i] - x);
    if (e < bestErr) {
      bestErr = e;
      best = i;
    }
  }
  return levels[best];
}

/** min and max over the values a scheme's scale is computed from. */
export interface ValueRange {
  min: number;
  max: number;
}

function rangeOf(src: Float32Array, from: number, to: number): ValueRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const x = src[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
}

function quantizeGroupInt(
  src: Float32Array,
  dst: Float32Array,
  from: number,
  to: number,
  bits: number,
  symmetric: boolean,
  range = rangeOf(src, from, to),
): void {
  const { min, max } = range;
  if (symmetric) {
    const qmax = 2 ** (bits - 1) - 1;
    const scale = Math.max(Math.abs(min), Math.abs(max)) / qmax;
    for (let i = from; i < to; i++) dst[i] = scale === 0 ? 0 : Math.max(-qmax - 1, Math.min(qmax, roundHalfAway(src[i] / scale))) * scale;
  } else {
    const levels = 2 ** bits - 1;
    const scale = (max - min) / levels;
    const zero = scale === 0 ? 0 : roundHalfAway(-min / scale);
    for (let i = from; i < to; i++)
      dst[i] = scale === 0 ? min : (Math.max(0, Math.min(levels, roundHalfAway(src[i] / scale) + zero)) - zero) * scale;
  }
}

/**
 * Quantize then dequantize `src` (rows of `rowLength`) with a scheme. Per-tensor schemes take their scale from
 * `tensorRange` when `src` is only a chunk of the tensor.
 */
export function simulate(s: Scheme, src: Float32Array, rowLength: number, tensorRange?: ValueRange): Float32Array {
  const dst = new Float32Array(src.length);
  const rows = src.length / rowLength;
  if (s.kind === 'fp8') {
    const decode = s.format === 'E4M3' ? e4m3ToNumber : e5m2ToNumber;
    const levels = Float32Array.from({ length: 256 }, (_, b) => decode(b))
      .filter((v) => Number.isFinite(v))
      .sort();
    const fmax = levels[levels.length - 1];
    const r = tensorRange ?? rangeOf(src, 0, src.length);
    const absmax = Math.max(Math.abs(r.min), Math.abs(r.max));
    const scale = absmax === 0 ? 1 : absmax / fmax;
    for (let i = 0; i < src.length; i++) dst[i] = nearestLevel(levels, src[i] / scale) * scale;
    return dst;
  }
  if (s.kind === 'nf4') {
    for (let from = 0; from < src.length; from += s.group) {
      const to = Math.min(src.length, from + s.group);
      let absmax = 0;
      for (let i = from; i < to; i++) absmax = Math.max(absmax, Math.abs(src[i]));
      for (let i = from; i < to; i++) dst[i] = absmax === 0 ? 0 : nearestLevel(NF4_LEVELS, src[i] / absmax) * absmax;
    }
    return dst;
  }
  const g = s.granularity;
  if (g === 'tensor') quantizeGroupInt(src, dst, 0, src.length, s.bits, s.symmetric, tensorRange);
  else {
    const size = g === 'channel' ? rowLength : g.group;
    for (let r = 0; r < rows; r++) {
      for (let from = r * rowLength; from < (r + 1) * rowLength; from += size) {
        quantizeGroupInt(src, dst, from, Math.min((r + 1) * rowLength, from + size), s.bits, s.symmetric);
      }
    }
  }
  return dst;
}

/** Parse a candidate name: int4-sym-g32, int8-asym-channel, int3-sym-tensor, nf4, nf4-g128, fp8-e4m3, fp8-e5m2. */
export function parseScheme(name: string): Scheme | undefined {
  const n = name.toLowerCase();
  let m = /^int([2-8])-(sym|asym)-(tensor|channel|g(\d+))$/.exec(n);
  if (m) {
    const granularity: Granularity = m[3] === 'tensor' ? 'tensor' : m[3] === 'channel' ? 'channel' : { group: Number(m[4]) };
    if (typeof granularity === 'object' && !(granularity.group > 0)) return undefined;
    return { kind: 'int', bits: Number(m[1]), symmetric: m[2] === 'sym', granularity };
  }
  m = /^nf4(?:-g(\d+))?$/.exec(n);
  if (m) return { kind: 'nf4', group: m[1] ? Number(m[1]) : 64 };
  m = /^fp8-(e4m3|e5m2)$/.exec(n);
  if (m) return { kind: 'fp8', format: m[1].toUpperCase() as 'E4M3' | 'E5M2' };
  return undefined;
}

/** The canonical candidate name of a scheme (inverse of parseScheme). */
export function schemeId(s: Scheme): string {
  if (s.kind === 'nf4') return s.group === 64 ? 'nf4' : `nf4-g${s.group}`;
  if (s.kind === 'fp8') return `fp8-${s.format.toLowerCase()}`;
  const g = s.granularity === 'tensor' ? 'tensor' : s.granularity === 'channel' ? 'channel' : `g${s.granularity.group}`;
  return `int${s.bits}-${s.symmetric ? 'sym' : 'asym'}-${g}`;
}
