// AssemblyScript: the packed sub-block scales of the K-quants, shared by the decoders and the quantizers.

/** The 6-bit scale and min of sub-block j from the 12-byte packed field at q (Q4_K, Q5_K). */
@inline
export function scaleMin(q: usize, j: i32): i32 {
  // 6-bit scale in the low 8 bits, 6-bit min in the next 8 (ggml's get_scale_min_k4)
  // (u8 arithmetic would wrap: widen every byte first)
  const a = <i32>load<u8>(q + j - 4);
  const b = <i32>load<u8>(q + j);
  const c = <i32>load<u8>(q + j + 4);
  if (j < 4) return (b & 63) | ((c & 63) << 8);
  const sc = (c & 0xf) | ((a >> 6) << 4);
  const m = (c >> 4) | ((b >> 6) << 4);
  return sc | (m << 8);
}
