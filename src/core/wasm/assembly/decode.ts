// AssemblyScript (part of dist/kernels.wasm, see kernels.ts): the block decoders, bit-identical to the JavaScript
// codecs of src/core/quant/ (their scalar reference). The block layouts are the type table's (src/core/types.ts), as
// the constants of generated/layout.ts.
import { halfToFloat } from './common/half';
import { scaleMin } from './common/scales';
import * as T from './generated/layout';


/** The 6-bit scale of sub-block ib: 4 bits from scales_l, 2 from scales_h. */
@inline
export function iq4xsScale(o: usize, ib: i32): i32 {
  return ((<i32>load<u8>(o + T.IQ4_XS_SCALES_L + (ib >> 1)) >> (4 * (ib & 1))) & 0xf) | (((<i32>load<u16>(o + T.IQ4_XS_SCALES_H) >> (2 * ib)) & 3) << 4);
}

/** Stores the 16 int8 codes q times `scale` (float32 products, as the JavaScript decoders) at dst. */
@inline
function storeScaled16(dst: usize, q: v128, scale: v128): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(dst, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), scale));
  v128.store(dst + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), scale));
  v128.store(dst + 32, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), scale));
  v128.store(dst + 48, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), scale));
}

/** Q8_0: w = q·d (int8 codes). */
function decodeQ80(src: usize, nBlocks: i32, dst: usize): void {
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q8_0_BYTES;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o + T.Q8_0_D)));
    const y = dst + (<usize>i << 7);
    storeScaled16(y, v128.load(o + T.Q8_0_QS), d);
    storeScaled16(y + 64, v128.load(o + T.Q8_0_QS + 16), d);
  }
}

/**
 * The 16 codes q − 32 of group g (0..3) of a Q6_K half-block at offset l: 4 low bits from ql (a = ql[l..], b =
 * ql[l + 32..]), 2 high bits from qh (h = qh[l..]). Group g's weights are l + 32g .. l + 32g + 15.
 */
@inline
export function q6kCodes(a: v128, b: v128, h: v128, g: i32): v128 {
  const m4 = i8x16.splat(0xf);
  const m2 = i8x16.splat(3);
  let q: v128;
  if (g == 0) q = v128.or(v128.and(a, m4), i8x16.shl(v128.and(h, m2), 4));
  else if (g == 1) q = v128.or(v128.and(b, m4), i8x16.shl(v128.and(i8x16.shr_u(h, 2), m2), 4));
  else if (g == 2) q = v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), m2), 4));
  else q = v128.or(i8x16.shr_u(b, 4), i8x16.shl(i8x16.shr_u(h, 6), 4));
  return i8x16.sub(q, i8x16.splat(32));
}

/** Q6_K: w = (d·scale)·(q − 32), q = 4 low bits from ql, 2 high from qh. */
function decodeQ6K(src: usize, nBlocks: i32, dst: usize): void {
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q6_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.Q6_K_D));
    for (let n = 0; n < 2; n++) {
      const ql = o + T.Q6_K_QL + 64 * n;
      const qh = o + T.Q6_K_QH + 32 * n;
      const sc = o + T.Q6_K_SCALES + 8 * n;
      const y = dst + (<usize>(i * 256 + 128 * n) << 2);
      for (let is = 0; is < 2; is++) {
        const l = 16 * is;
        const a = v128.load(ql + l);
        const b = v128.load(ql + l + 32);
        const h = v128.load(qh + l);
        for (let g = 0; g < 4; g++)
          storeScaled16(y + (<usize>(l + 32 * g) << 2), q6kCodes(a, b, h, g), f32x4.splat(d * <f32>load<i8>(sc + is + 2 * g)));
      }
    }
  }
}

/** Q4_K: w = (d·sc)·q − dmin·m per sub-block of 32. */
function decodeQ4K(src: usize, nBlocks: i32, dst: usize): void {
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q4_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.Q4_K_D));
    const dmin = halfToFloat(<u32>load<u16>(o + T.Q4_K_DMIN));
    const y = dst + (<usize>i << 10);
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + T.Q4_K_QS + 32 * j);
      const b = v128.load(o + T.Q4_K_QS + 16 + 32 * j);
      let sm = scaleMin(o + T.Q4_K_SCALES, 2 * j);
      storeAffine16(y + (<usize>(64 * j) << 2), v128.and(a, m4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      storeAffine16(y + (<usize>(64 * j + 16) << 2), v128.and(b, m4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      sm = scaleMin(o + T.Q4_K_SCALES, 2 * j + 1);
      storeAffine16(y + (<usize>(64 * j + 32) << 2), i8x16.shr_u(a, 4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
      storeAffine16(y + (<usize>(64 * j + 48) << 2), i8x16.shr_u(b, 4), f32x4.splat(d * <f32>(sm & 0xff)), f32x4.splat(dmin * <f32>(sm >> 8)));
    }
  }
}

/** Stores q·d1 − m1 (q·d1 + m1 with plusM) for the 16 unsigned codes q (float32, as the JavaScript decoder) at dst. */
@inline
export function storeAffine16(dst: usize, q: v128, d1: v128, m1: v128, plusM: bool = false): void {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  v128.store(dst, affine4(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo))), m1, plusM));
  v128.store(dst + 16, affine4(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo))), m1, plusM));
  v128.store(dst + 32, affine4(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi))), m1, plusM));
  v128.store(dst + 48, affine4(f32x4.mul(d1, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi))), m1, plusM));
}

/** p − m, or p + m for the legacy _1 types (as their C adds the min: a NaN min keeps its sign). */
@inline
function affine4(p: v128, m: v128, plusM: bool): v128 {
  return plusM ? f32x4.add(p, m) : f32x4.sub(p, m);
}

/** IQ4_XS: w = (d·(ls − 32))·level[q], low nibbles first per sub-block. */
function decodeIQ4XS(src: usize, nBlocks: i32, dst: usize): void {
  const levels = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.IQ4_XS_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.IQ4_XS_D));
    const y = dst + (<usize>i << 10);
    for (let ib = 0; ib < 8; ib++) {
      const dl = f32x4.splat(d * <f32>(iq4xsScale(o, ib) - 32));
      const a = v128.load(o + T.IQ4_XS_QS + 16 * ib);
      storeScaled16(y + (<usize>(32 * ib) << 2), i8x16.swizzle(levels, v128.and(a, m4)), dl);
      storeScaled16(y + (<usize>(32 * ib + 16) << 2), i8x16.swizzle(levels, i8x16.shr_u(a, 4)), dl);
    }
  }
}

/** Q4_0 (w = d·(q − 8)) and IQ4_NL (w = d·level[q]), one block layout: byte j holds weights j, j + 16. */
function decodeQ40(src: usize, nBlocks: i32, dst: usize, nonLinear: bool): void {
  // IQ4_NL's block is Q4_0's: { d; qs[16] }
  const levels = nonLinear ? i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113) : i8x16(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const m4 = i8x16.splat(0xf);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q4_0_BYTES;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o + T.Q4_0_D)));
    const a = v128.load(o + T.Q4_0_QS);
    const y = dst + (<usize>i << 7);
    storeScaled16(y, i8x16.swizzle(levels, v128.and(a, m4)), d);
    storeScaled16(y + 64, i8x16.swizzle(levels, i8x16.shr_u(a, 4)), d);
  }
}

/** The fifth bits 0..15 (half 0) or 16..31 (half 1) of the 32-bit field qh, as 0x10 or 0 per byte. */
@inline
function fifthBits(qh: v128, half: i32): v128 {
  const bytes = half ? i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3) : i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(i8x16.swizzle(qh, bytes), bit), bit), i8x16.splat(0x10));
}

/**
 * The legacy types with 4-bit codes, a fifth bit or a min (Q4_1, Q5_0, Q5_1): w = d·(q − bias) or d·q + m,
 * bytes `bytes` per block, m at minAt (0: none), qh at qhAt (0: none), qs at qsAt.
 */
@inline
function decodeLegacy(src: usize, nBlocks: i32, dst: usize, bytes: i32, minAt: i32, qhAt: i32, qsAt: i32): void {
  const m4 = i8x16.splat(0xf);
  const bias = i8x16.splat(minAt ? 0 : 16);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * bytes;
    const d = f32x4.splat(halfToFloat(<u32>load<u16>(o))); // d first in each
    const a = v128.load(o + qsAt);
    let lo = v128.and(a, m4);
    let hi = i8x16.shr_u(a, 4);
    if (qhAt) {
      const qh = i32x4.splat(load<u32>(o + qhAt));
      lo = v128.or(lo, fifthBits(qh, 0));
      hi = v128.or(hi, fifthBits(qh, 1));
    }
    const y = dst + (<usize>i << 7);
    if (minAt) {
      // d·q + m, as the C and the JavaScript (not d·q − (−m): that flips the sign of a NaN min)
      const m = f32x4.splat(halfToFloat(<u32>load<u16>(o + minAt)));
      storeAffine16(y, lo, d, m, true);
      storeAffine16(y + 64, hi, d, m, true);
    } else {
      storeScaled16(y, i8x16.sub(lo, bias), d);
      storeScaled16(y + 64, i8x16.sub(hi, bias), d);
    }
  }
}

/** Q5_K: as Q4_K, with the fifth bit of weight l of pair j in bit 2j (2j + 1) of qh[l]. */
function decodeQ5K(src: usize, nBlocks: i32, dst: usize): void {
  const m4 = i8x16.splat(0xf);
  const one = i8x16.splat(1);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q5_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.Q5_K_D));
    const dmin = halfToFloat(<u32>load<u16>(o + T.Q5_K_DMIN));
    const h0 = v128.load(o + T.Q5_K_QH);
    const h1 = v128.load(o + T.Q5_K_QH + 16);
    const y = dst + (<usize>i << 10);
    for (let j = 0; j < 4; j++) {
      const a = v128.load(o + T.Q5_K_QS + 32 * j);
      const b = v128.load(o + T.Q5_K_QS + 16 + 32 * j);
      let sm = scaleMin(o + T.Q5_K_SCALES, 2 * j);
      let d1 = f32x4.splat(d * <f32>(sm & 0xff));
      let m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      storeAffine16(y + (<usize>(64 * j) << 2), v128.or(v128.and(a, m4), i8x16.shl(v128.and(i8x16.shr_u(h0, 2 * j), one), 4)), d1, m1);
      storeAffine16(y + (<usize>(64 * j + 16) << 2), v128.or(v128.and(b, m4), i8x16.shl(v128.and(i8x16.shr_u(h1, 2 * j), one), 4)), d1, m1);
      sm = scaleMin(o + T.Q5_K_SCALES, 2 * j + 1);
      d1 = f32x4.splat(d * <f32>(sm & 0xff));
      m1 = f32x4.splat(dmin * <f32>(sm >> 8));
      storeAffine16(y + (<usize>(64 * j + 32) << 2), v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h0, 2 * j + 1), one), 4)), d1, m1);
      storeAffine16(y + (<usize>(64 * j + 48) << 2), v128.or(i8x16.shr_u(b, 4), i8x16.shl(v128.and(i8x16.shr_u(h1, 2 * j + 1), one), 4)), d1, m1);
    }
  }
}

/**
 * Q3_K: 16 × 16, w = (d·(sc − 32))·q with q = 2 bits of qs minus 4 where the
 * weight's hmask bit is clear. Weights 32k + l: qs bits 2(k % 4) of byte 32(k / 4) + l, hmask bit k of byte l.
 */
function decodeQ3K(src: usize, nBlocks: i32, dst: usize): void {
  const m2 = i8x16.splat(3);
  const one = i8x16.splat(1);
  const four = i8x16.splat(4);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q3_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.Q3_K_D));
    const y = dst + (<usize>i << 10);
    for (let s = 0; s < 16; s++) {
      // sub-block s: weights 16s .. 16s + 15, k = s / 2, bytes l = 16(s % 2) ..
      const k = s >> 1;
      const half = 16 * (s & 1);
      const low = s < 8 ? <i32>load<u8>(o + T.Q3_K_SCALES + s) & 0xf : <i32>load<u8>(o + T.Q3_K_SCALES + s - 8) >> 4;
      const high = (<i32>load<u8>(o + T.Q3_K_SCALES + 8 + (s & 3)) >> (2 * (s >> 2))) & 3;
      const dl = f32x4.splat(d * <f32>((low | (high << 4)) - 32));
      const q = v128.and(i8x16.shr_u(v128.load(o + T.Q3_K_QS + 32 * (k >> 2) + half), 2 * (k & 3)), m2);
      const h = i8x16.shl(v128.and(i8x16.shr_u(v128.load(o + T.Q3_K_HMASK + half), k), one), 2);
      storeScaled16(y + (<usize>(16 * s) << 2), i8x16.sub(v128.or(q, h), four), dl);
    }
  }
}

/**
 * Q2_K (4-bit scale | 4-bit min per sub-block): 16 × 16, w = (d·sc)·q − dmin·m, with the
 * codes laid out as Q3_K's qs.
 */
function decodeQ2K(src: usize, nBlocks: i32, dst: usize): void {
  const m2 = i8x16.splat(3);
  for (let i = 0; i < nBlocks; i++) {
    const o = src + <usize>i * T.Q2_K_BYTES;
    const d = halfToFloat(<u32>load<u16>(o + T.Q2_K_D));
    const dmin = halfToFloat(<u32>load<u16>(o + T.Q2_K_DMIN));
    const y = dst + (<usize>i << 10);
    for (let s = 0; s < 16; s++) {
      const k = s >> 1;
      const sc = <i32>load<u8>(o + T.Q2_K_SCALES + s);
      const q = v128.and(i8x16.shr_u(v128.load(o + T.Q2_K_QS + 32 * (k >> 2) + 16 * (s & 1)), 2 * (k & 3)), m2);
      storeAffine16(y + (<usize>(16 * s) << 2), q, f32x4.splat(d * <f32>(sc & 0xf)), f32x4.splat(dmin * <f32>(sc >> 4)));
    }
  }
}

/** Four binary16 patterns (low 16 bits of each i32 lane) as binary32, exactly as halfToFloat. */
@inline
function halfToFloat4(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const bits = i32x4.shl(em, 13);
  // normal and subnormal halves: the shifted bits times 2^112 (exact); Inf and NaN: exponent all ones, payload
  // kept, and the quiet bit set for NaN
  const finite = f32x4.mul(bits, f32x4.splat(reinterpret<f32>(0x77800000)));
  const quiet = v128.and(i32x4.gt_s(em, i32x4.splat(0x7c00)), i32x4.splat(0x00400000));
  const special = v128.or(v128.or(bits, i32x4.splat(0x7f800000)), quiet);
  const value = v128.bitselect(special, finite, i32x4.ge_s(em, i32x4.splat(0x7c00)));
  return v128.or(value, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** n F16 values (halfToFloat4, eight at a time). */
function decodeF16(src: usize, n: i32, dst: usize): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), halfToFloat4(i32x4.extend_low_i16x8_u(h)));
    v128.store(dst + (<usize>i << 2) + 16, halfToFloat4(i32x4.extend_high_i16x8_u(h)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), halfToFloat(<u32>load<u16>(src + (<usize>i << 1))));
}

/** n BF16 values: the upper halves of binary32. */
function decodeBF16(src: usize, n: i32, dst: usize): void {
  const n8 = n & ~7;
  let i = 0;
  for (; i < n8; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(dst + (<usize>i << 2) + 16, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16));
  }
  for (; i < n; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
}

/** nBlocks blocks of ggml type `type` at src, as float32 to dst (F16 and BF16: nBlocks values). */
@inline
export function decodeBlocks(type: i32, src: usize, nBlocks: i32, dst: usize): void {
  switch (type) {
    case T.TYPE_F16: decodeF16(src, nBlocks, dst); break;
    case T.TYPE_Q4_0: decodeQ40(src, nBlocks, dst, false); break;
    case T.TYPE_Q4_1: decodeLegacy(src, nBlocks, dst, T.Q4_1_BYTES, T.Q4_1_M, 0, T.Q4_1_QS); break;
    case T.TYPE_Q5_0: decodeLegacy(src, nBlocks, dst, T.Q5_0_BYTES, 0, T.Q5_0_QH, T.Q5_0_QS); break;
    case T.TYPE_Q5_1: decodeLegacy(src, nBlocks, dst, T.Q5_1_BYTES, T.Q5_1_M, T.Q5_1_QH, T.Q5_1_QS); break;
    case T.TYPE_Q8_0: decodeQ80(src, nBlocks, dst); break;
    case T.TYPE_Q2_K: decodeQ2K(src, nBlocks, dst); break;
    case T.TYPE_Q3_K: decodeQ3K(src, nBlocks, dst); break;
    case T.TYPE_Q4_K: decodeQ4K(src, nBlocks, dst); break;
    case T.TYPE_Q5_K: decodeQ5K(src, nBlocks, dst); break;
    case T.TYPE_Q6_K: decodeQ6K(src, nBlocks, dst); break;
    case T.TYPE_IQ4_NL: decodeQ40(src, nBlocks, dst, true); break;
    case T.TYPE_IQ4_XS: decodeIQ4XS(src, nBlocks, dst); break;
    case T.TYPE_BF16: decodeBF16(src, nBlocks, dst); break;
  }
}

/**
 * Dequantize: nBlocks blocks of ggml type `type` at src to float32 at dst, bit-identical to the JavaScript codecs
 * (src/core/quant/). Types: F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
 */
export function dequantize(type: i32, src: usize, nBlocks: i32, dst: usize): void {
  decodeBlocks(type, src, nBlocks, dst);
}
