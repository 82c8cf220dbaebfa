/** The contract every quantizer implements (the registry is quantizers.ts; each family file exports its own). */
export interface Quantizer {
  /**
   * Quantize nRows rows of nPerRow float32 values (row-major) into the type's blocks, as
   * ggml_quantize_chunk(type, src, dst, 0, nRows, nPerRow, imatrix) does.
   */
  quantize(src: Float32Array, nRows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array;
  /** ggml refuses to quantize these types without an importance matrix (the type table's requiresImatrix). */
  requiresImatrix?: boolean;
  /** How an importance matrix is treated: used (changes the bytes), ignored (as ggml does for this type), or not implemented yet. */
  imatrix?: 'used' | 'ignored' | 'unsupported';
}
