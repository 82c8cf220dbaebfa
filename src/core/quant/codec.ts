/**
 * The contract every quant type implements. A codec works on whole blocks; the caller hands it views that
 * start at a block boundary. All values are produced exactly as ggml's scalar `to_float` does in strict
 * binary32 (every intermediate rounded with Math.fround where ggml rounds to float).
 */
export interface QuantCodec {
  /** Decode `nBlocks` blocks from `src` (starting at src[0]) into dst[0 .. nBlocks*blockSize). */
  dequantize(src: Uint8Array, dst: Float32Array, nBlocks: number): void;
  /** Decode the header and codes of the block starting at src[offset], field by field, for the block inspector. */
  decodeBlock?(src: Uint8Array, offset: number): BlockRecord;
  /**
   * Per-block scales for scale-distribution plots, without dequantizing weights. Writes one entry per block
   * into `d` (the super-block or block scale as a float) and, where the type has them, `dmin` and
   * per-sub-block effective scales (`sub`, nBlocks * subBlocksPerBlock floats).
   */
  blockScales?(src: Uint8Array, nBlocks: number, out: BlockScales): void;
  /** Number of sub-block scales per block written by blockScales (0 when the type has none). */
  readonly subBlocksPerBlock?: number;
}

export interface BlockScales {
  d: Float32Array;
  dmin?: Float32Array;
  sub?: Float32Array;
}

/** One field of a decoded block, with the byte range it occupies inside the block. */
export interface BlockField {
  name: string;
  /** Byte offset of the field inside the block, and its size in bytes. */
  offset: number;
  size: number;
  /** Decoded values: a float for scales, integers for codes/indices/signs. */
  values: number[];
  /** What the numbers mean, one short phrase (e.g. "6-bit sub-block scales, unpacked"). */
  note?: string;
}

export interface BlockRecord {
  /** Super-block / block scale d as a float, when the type has one. */
  d?: number;
  dmin?: number;
  fields: BlockField[];
}
