/** The contract every quantizer implements (the registry is quantizers.ts; each family file exports its own). */
export interface Quantizer {
  /**
   * Quantize nRows rows of nPerRow float32 values (row-major) into the type's blocks, as
   * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) does.
   */
  quantize(src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array;
  /**
   * The same bytes handed to `write` in order, chunk by chunk, each a view valid only during the call (the registry's
   * quantizers have it: the CLI's quantize writes its file from the quantizer's own memory).
   */
  quantizeTo?(src: Float32Array, nRows: number, nPerRow: number, write: (bytes: Uint8Array) => void, imatrix?: Float32Array): void;
  /** ggml refuses to quantize these types without an importance matrix (the type table's requiresImatrix). */
  requiresImatrix?: boolean;
  /** How an importance matrix is treated: used (changes the bytes), ignored (as ggml does for this type), or not implemented yet. */
  imatrix?: 'used' | 'ignored' | 'unsupported';
}
