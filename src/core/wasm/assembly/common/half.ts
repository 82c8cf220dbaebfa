// AssemblyScript: binary16 <-> binary32, shared by the decoders and the quantizers.

/** binary16 bits -> binary32 value (exact, subnormals included; NaN quieted with sign and payload kept, as ggml). */
@inline
export function halfToFloat(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp == 0) {
    const v = <f32>mant * <f32>5.9604644775390625e-8; // mant · 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return reinterpret<f32>(sign | (mant ? 0x7fc00000 : 0x7f800000) | (mant << 13));
  return reinterpret<f32>(sign | ((exp + 112) << 23) | (mant << 13));
}

/** binary32 -> binary16 bits, round to nearest even (F16C's _cvtss_sh; NaN keeps the top mantissa bits, quiet). */
export function f32ToF16(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp == 0xff) return sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0);
  const e = <i32>exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = <u32>(14 - e);
    const half: u32 = 1 << (shift - 1);
    const rest = mant & ((<u32>1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest == half && (h & 1) != 0)) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (<u32>e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++;
  return sign | h;
}

/** Store x as f16 at p and return the float32 value stored (GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(x))). */
@inline
export function putF16(p: usize, x: f32): f32 {
  const h = f32ToF16(x);
  store<u16>(p, <u16>h);
  return halfToFloat(h);
}
