// AssemblyScript: counting 4-bit codes by bit planes, shared by the Q4_K / IQ4_XS pass 2 (stats.ts) and the
// group counters of quantized checkpoints (nibbleGroups.ts). 32 codes are read as four 32-bit planes (bit k of
// every code); the count of code c is the popcount of the AND of the planes (or their complements) that c's bits
// select.

/** Per-lane population count of four 32-bit words. */
@inline
export function popcnt32x4(x: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(x))); // lanes ≤ 16: signed = unsigned
}

/** Lane l (0..3) holds the weights whose two code bits (planes a = low bit, b = high bit) spell l. */
@inline
export function planePairs(a: u32, b: u32): v128 {
  return v128.and(v128.xor(i32x4.splat(a), i32x4(-1, 0, -1, 0)), v128.xor(i32x4.splat(b), i32x4(-1, -1, 0, 0)));
}

/** Bit plane k of 32 codes held in the low (shift 7 − k) or high (shift 3 − k) nibbles of the bytes of a, then b. */
@inline
export function plane(a: v128, b: v128, shift: i32): u32 {
  return <u32>i8x16.bitmask(i16x8.shl(a, shift)) | (<u32>i8x16.bitmask(i16x8.shl(b, shift)) << 16);
}
